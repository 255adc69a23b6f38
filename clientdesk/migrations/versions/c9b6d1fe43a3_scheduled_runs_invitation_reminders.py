"""Scheduled runs keyed by schedule and due time; invitation reminders

Revision ID: c9b6d1fe43a3
Revises: 5571c71a4ec3
"""
import sqlalchemy as sa
from alembic import op

revision = "c9b6d1fe43a3"
down_revision = "5571c71a4ec3"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("task") as batch:
        batch.add_column(sa.Column("schedule", sa.String(40)))
        batch.add_column(sa.Column("scheduled_for", sa.DateTime()))
        batch.create_unique_constraint("uq_task_schedule_scheduled_for", ["schedule", "scheduled_for"])
    op.create_table(
        "invitation_reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invitation_id", sa.Integer(), nullable=False),
        sa.Column("days_before", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("sent_at", sa.DateTime()),
        sa.Column("error", sa.String(500)),
        sa.Column("failed_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("first_failed_at", sa.DateTime()),
        sa.Column("retry_at", sa.DateTime()),
        sa.Column("task_id", sa.String(36)),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name=op.f("ck_invitation_reminder_status_valid")),
        sa.ForeignKeyConstraint(["invitation_id"], ["invitation.id"], name=op.f("fk_invitation_reminder_invitation_id_invitation"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitation_reminder")),
        sa.UniqueConstraint("invitation_id", "days_before", name="uq_invitation_reminder_invitation_days"),
    )
    op.create_index(op.f("ix_invitation_reminder_retry_at"), "invitation_reminder", ["retry_at"])


def downgrade():
    op.drop_index(op.f("ix_invitation_reminder_retry_at"), table_name="invitation_reminder")
    op.drop_table("invitation_reminder")
    with op.batch_alter_table("task") as batch:
        batch.drop_constraint("uq_task_schedule_scheduled_for", type_="unique")
        batch.drop_column("scheduled_for")
        batch.drop_column("schedule")
