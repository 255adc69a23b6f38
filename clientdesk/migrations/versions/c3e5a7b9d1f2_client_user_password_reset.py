"""Password reset links for client users too: a link is for a staff user or a client user, never both

Revision ID: c3e5a7b9d1f2
Revises: a7c9e1f3b5d8
Create Date: 2026-12-07 20:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "c3e5a7b9d1f2"
down_revision = "a7c9e1f3b5d8"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("password_reset", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_user_id", sa.Integer(), nullable=True))
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(batch_op.f("fk_password_reset_client_user_id_client_user"), "client_user",
                                    ["client_user_id"], ["id"], ondelete="CASCADE")
        batch_op.create_index(batch_op.f("ix_password_reset_client_user_id"), ["client_user_id"], unique=False)
        batch_op.create_check_constraint("one_account", "(user_id IS NULL) <> (client_user_id IS NULL)")


def downgrade():
    op.execute("DELETE FROM password_reset WHERE user_id IS NULL")
    with op.batch_alter_table("password_reset", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_password_reset_one_account"), type_="check")
        batch_op.drop_index(batch_op.f("ix_password_reset_client_user_id"))
        batch_op.drop_constraint(batch_op.f("fk_password_reset_client_user_id_client_user"), type_="foreignkey")
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("client_user_id")
