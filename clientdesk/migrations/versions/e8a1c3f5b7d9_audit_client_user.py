"""Audit events name the client user who acted in the portal

Revision ID: e8a1c3f5b7d9
Revises: d5f7b9c1e3a4
Create Date: 2026-12-07 21:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = "e8a1c3f5b7d9"
down_revision = "d5f7b9c1e3a4"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_user_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_audit_event_client_user_id"), ["client_user_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_audit_event_client_user_id_client_user"), "client_user",
                                    ["client_user_id"], ["id"], ondelete="SET NULL")
    # Events recorded before this revision name the client user by e-mail only.
    op.execute("UPDATE audit_event SET client_user_id = (SELECT client_user.id FROM client_user"
               " WHERE client_user.email = audit_event.actor AND client_user.client_id = audit_event.client_id)"
               " WHERE actor_id IS NULL AND actor <> 'system'")


def downgrade():
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_audit_event_client_user_id_client_user"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_audit_event_client_user_id"))
        batch_op.drop_column("client_user_id")
