"""The client list's order with the supervisor's visibility, in one index: deep pages without reading skipped rows

Page 2,000 of a supervisor's list (ORDER BY name, id OFFSET 49,975, hidden and deactivated clients left out)
walked ix_client_name and read each of the 50,000 skipped clients' rows to check `hidden` and `status`. An
index on (name, id, hidden, status) answers the same walk from the index alone; it replaces ix_client_name,
whose uses (the name order, the search's page) it serves as well.

Revision ID: a1f0c2d4e6b8
Revises: c4d6e8f0a2b4
"""
from alembic import op

revision = "a1f0c2d4e6b8"
down_revision = "c4d6e8f0a2b4"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("client") as batch:
        batch.create_index("ix_client_name_visible", ["name", "id", "hidden", "status"], unique=False)
        batch.drop_index("ix_client_name")


def downgrade():
    with op.batch_alter_table("client") as batch:
        batch.create_index("ix_client_name", ["name"], unique=False)
        batch.drop_index("ix_client_name_visible")
