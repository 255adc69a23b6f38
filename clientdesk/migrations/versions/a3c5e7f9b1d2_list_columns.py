"""Chosen list columns: one row per user and list, and the columns a saved view was saved with

Revision ID: a3c5e7f9b1d2
Revises: b7e2d4a9c1f3
"""
import sqlalchemy as sa
from alembic import op

revision = "a3c5e7f9b1d2"
down_revision = "b7e2d4a9c1f3"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "list_columns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.String(40), nullable=False),
        sa.Column("columns", sa.String(1000), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_list_columns_user_id_user"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_list_columns")),
        sa.UniqueConstraint("user_id", "endpoint", name="uq_list_columns_user_endpoint"),
    )
    with op.batch_alter_table("saved_filter") as batch:
        batch.add_column(sa.Column("columns", sa.String(1000)))


def downgrade():
    with op.batch_alter_table("saved_filter") as batch:
        batch.drop_column("columns")
    op.drop_table("list_columns")
