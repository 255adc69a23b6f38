"""Trial-ending reminders: one row per client, day mark and recipient; their e-mails' kind in the e-mail log

Revision ID: 4f4b4de603f0
Revises: e854d305190c
"""
import sqlalchemy as sa
from alembic import op

revision = "4f4b4de603f0"
down_revision = "e854d305190c"
branch_labels = None
depends_on = None

KINDS = "'invitation', 'colleague_invitation', 'reminder', 'password_reset', 'document'"


def _mail_kinds(kinds: str) -> None:
    with op.batch_alter_table("mail_log") as batch:
        batch.drop_constraint(op.f("ck_mail_log_kind_valid"), type_="check")
        batch.create_check_constraint(op.f("ck_mail_log_kind_valid"), f"kind IN ({kinds})")


def upgrade():
    op.create_table(
        "trial_reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("days_before", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(8), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("sent_at", sa.DateTime()),
        sa.Column("error", sa.String(500)),
        sa.Column("task_id", sa.String(36)),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name=op.f("ck_trial_reminder_status_valid")),
        sa.CheckConstraint("recipient IN ('client', 'firm')", name=op.f("ck_trial_reminder_recipient_valid")),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"], name=op.f("fk_trial_reminder_client_id_client"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trial_reminder")),
        sa.UniqueConstraint("client_id", "days_before", "recipient", name="uq_trial_reminder_client_days_recipient"),
    )
    _mail_kinds(KINDS + ", 'trial_reminder'")


def downgrade():
    op.execute("DELETE FROM mail_log WHERE kind = 'trial_reminder'")
    _mail_kinds(KINDS)
    op.drop_table("trial_reminder")
