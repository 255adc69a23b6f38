"""Colleague invitations: the role an invitation gives, and the client user who sent it

Revision ID: a93cfc8cf105
Revises: 842b5f6d378f
Create Date: 2026-12-07 21:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = "a93cfc8cf105"
down_revision = "842b5f6d378f"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=6), nullable=True))
        batch_op.add_column(sa.Column("invited_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_invitation_invited_by_id_client_user"), "client_user",
                                    ["invited_by_id"], ["id"], ondelete="SET NULL")
        batch_op.create_check_constraint("role_valid", "role IS NULL OR role IN ('owner', 'member')")


def downgrade():
    op.execute("DELETE FROM invitation WHERE role IS NOT NULL")
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_invitation_role_valid"), type_="check")
        batch_op.drop_constraint(batch_op.f("fk_invitation_invited_by_id_client_user"), type_="foreignkey")
        batch_op.drop_column("invited_by_id")
        batch_op.drop_column("role")
