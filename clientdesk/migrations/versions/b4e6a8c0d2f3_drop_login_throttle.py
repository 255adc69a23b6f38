"""Drop login_throttle: failed sign-ins are counted in Redis, per address and per account (login_throttle.py)

The table held a hard lock per e-mail (5 failures, 15 minutes) that anyone could set off on any account.

Revision ID: b4e6a8c0d2f3
Revises: d6f8a0c2e4b7
Create Date: 2026-12-07 19:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = "b4e6a8c0d2f3"
down_revision = "d6f8a0c2e4b7"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_table("login_throttle")


def downgrade():
    op.create_table(
        "login_throttle",
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failure_at", sa.DateTime(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("email", name=op.f("pk_login_throttle")),
    )
