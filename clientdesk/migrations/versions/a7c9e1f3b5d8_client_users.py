"""Client users: the accounts that sign in to the client portal, in place of a password on the contact

Each contact who accepted an invitation (a password on the contact) becomes its client's owner, with that
password; the contact keeps `accepted_at`.

Revision ID: a7c9e1f3b5d8
Revises: b4e6a8c0d2f3
Create Date: 2026-12-07 19:45:00

"""
import secrets

import sqlalchemy as sa
from alembic import op

revision = "a7c9e1f3b5d8"
down_revision = "b4e6a8c0d2f3"
branch_labels = None
depends_on = None

UI_LANGUAGES = ("en", "fr", "nl")


def upgrade():
    op.create_table(
        "client_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("full_name", sa.String(length=161), nullable=False),
        sa.Column("role", sa.String(length=6), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("ui_language", sa.String(length=5), nullable=True),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        sa.Column("session_token", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("role IN ('owner', 'member')", name=op.f("ck_client_user_role_valid")),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"], name=op.f("fk_client_user_client_id_client"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"], name=op.f("fk_client_user_contact_id_contact"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_user")),
        sa.UniqueConstraint("email", name=op.f("uq_client_user_email")),
    )
    with op.batch_alter_table("client_user", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_client_user_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_client_user_contact_id"), ["contact_id"], unique=False)

    connection = op.get_bind()
    accepted = connection.execute(sa.text(
        "SELECT id, client_id, first_name, last_name, email, language, password_hash, accepted_at, created_at "
        "FROM contact WHERE password_hash IS NOT NULL")).all()
    # Untyped columns: the dates go back as the database gave them (SQLite: text).
    client_user = sa.table("client_user", *(sa.column(name) for name in (
        "client_id", "contact_id", "full_name", "role", "email", "password_hash", "active", "ui_language", "session_token",
        "created_at", "updated_at")))
    if accepted:
        op.bulk_insert(client_user, [{
            "client_id": row.client_id, "contact_id": row.id, "full_name": f"{row.first_name} {row.last_name}".strip(),
            "role": "owner", "email": row.email.strip().lower(), "password_hash": row.password_hash, "active": True,
            "ui_language": next((code for code in UI_LANGUAGES if (row.language or "").startswith(code)), None),
            "session_token": secrets.token_urlsafe(24), "created_at": row.accepted_at or row.created_at,
            "updated_at": row.accepted_at or row.created_at,
        } for row in accepted])

    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_column("password_hash")


def downgrade():
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_hash", sa.String(length=255), nullable=True))
    op.execute("UPDATE contact SET password_hash = (SELECT password_hash FROM client_user "
               "WHERE client_user.contact_id = contact.id ORDER BY client_user.id LIMIT 1)")
    with op.batch_alter_table("client_user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_client_user_contact_id"))
        batch_op.drop_index(batch_op.f("ix_client_user_client_id"))
    op.drop_table("client_user")
