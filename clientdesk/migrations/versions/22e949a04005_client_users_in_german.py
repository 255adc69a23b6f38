"""German-speaking client users get the portal in German, now that it speaks it

Client users took their interface language from their contact's locale when the portal spoke English, French and
Dutch only: a `de-BE` contact's client user was left without one (and saw the browser's). They get German, as a
client user made from now on does; a language they chose themselves is kept.

Revision ID: 22e949a04005
Revises: e8a1c3f5b7d9
Create Date: 2026-12-07 21:35:00

"""
from alembic import op

revision = "22e949a04005"
down_revision = "e8a1c3f5b7d9"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("UPDATE client_user SET ui_language = 'de' WHERE ui_language IS NULL AND contact_id IN "
               "(SELECT id FROM contact WHERE lower(language) LIKE 'de%')")


def downgrade():
    op.execute("UPDATE client_user SET ui_language = NULL WHERE ui_language = 'de'")
