"""Tasks as the source of truth: a job per attempt, heartbeats, retries scheduled on the row

Revision ID: f1a2b3c4d5e6
Revises: e5b8c2d4a6f1
"""
import sqlalchemy as sa
from alembic import op

revision = "f1a2b3c4d5e6"
down_revision = "e5b8c2d4a6f1"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("task") as batch:
        batch.add_column(sa.Column("job_id", sa.String(36)))
        batch.add_column(sa.Column("language", sa.String(5)))
        batch.add_column(sa.Column("queued_at", sa.DateTime()))
        batch.add_column(sa.Column("retry_at", sa.DateTime()))
        batch.add_column(sa.Column("retries_left", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("worker", sa.String(100)))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime()))
    op.execute("UPDATE task SET job_id = id, queued_at = created_at")  # until now, the job id was the task id


def downgrade():
    with op.batch_alter_table("task") as batch:
        for column in ("heartbeat_at", "worker", "attempts", "retries_left", "retry_at", "queued_at", "language", "job_id"):
            batch.drop_column(column)
