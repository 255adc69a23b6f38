"""User session token: part of every session's id, replaced to end all of a user's sessions

Sessions opened before this migration hold no token and stop working: everyone signs in again once.

Revision ID: d6f8a0c2e4b7
Revises: a3d5f7b9c1e2
Create Date: 2026-12-07 19:00:00

"""
import secrets

import sqlalchemy as sa
from alembic import op

revision = "d6f8a0c2e4b7"
down_revision = "a3d5f7b9c1e2"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_token", sa.String(length=32), nullable=True))
    user = sa.table("user", sa.column("id", sa.Integer), sa.column("session_token", sa.String))
    connection = op.get_bind()
    for (user_id,) in connection.execute(sa.select(user.c.id)).all():
        connection.execute(sa.update(user).where(user.c.id == user_id).values(session_token=secrets.token_urlsafe(24)))
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.alter_column("session_token", existing_type=sa.String(length=32), nullable=False)


def downgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("session_token")
