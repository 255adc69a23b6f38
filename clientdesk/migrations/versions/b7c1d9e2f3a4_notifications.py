"""Notifications of staff users, each user's choice of bell or daily digest, the users to notify of a client and of a
template; the digest's e-mails in the e-mail log

Revision ID: b7c1d9e2f3a4
Revises: a3c5e7f9b1d2
"""
import sqlalchemy as sa
from alembic import op

revision = "b7c1d9e2f3a4"
down_revision = "a3c5e7f9b1d2"
branch_labels = None
depends_on = None

MAIL_KINDS = "'invitation', 'colleague_invitation', 'reminder', 'password_reset', 'document', 'trial_reminder'"
NOTIFICATION_KINDS = ("'invitation_accepted', 'invitation_undelivered', 'documents_undelivered', 'peppol_failed', "
                      "'import_finished', 'import_failed', 'task_failed', 'changes_proposed', 'register_change'")


def _mail_kinds(kinds: str) -> None:
    with op.batch_alter_table("mail_log") as batch:
        batch.drop_constraint(op.f("ck_mail_log_kind_valid"), type_="check")
        batch.create_check_constraint(op.f("ck_mail_log_kind_valid"), f"kind IN ({kinds})")


def _watchers(table: str, owner: str, owner_table: str) -> None:
    op.create_table(
        table,
        sa.Column(owner, sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint([owner], [f"{owner_table}.id"], name=op.f(f"fk_{table}_{owner}_{owner_table}"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f(f"fk_{table}_user_id_user"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint(owner, "user_id", name=op.f(f"pk_{table}")),
    )
    op.create_index(op.f(f"ix_{table}_user_id"), table, ["user_id"])


def upgrade():
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("client_id", sa.Integer()),
        sa.Column("task_id", sa.String(36)),
        sa.Column("params_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("read_at", sa.DateTime()),
        sa.Column("emailed_at", sa.DateTime()),
        sa.CheckConstraint(f"kind IN ({NOTIFICATION_KINDS})", name=op.f("ck_notification_kind_valid")),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_notification_user_id_user"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"], name=op.f("fk_notification_client_id_client"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"], name=op.f("fk_notification_task_id_task"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
    )
    op.create_index("ix_notification_user_read", "notification", ["user_id", "read_at"])
    op.create_index(op.f("ix_notification_client_id"), "notification", ["client_id"])
    op.create_index(op.f("ix_notification_created_at"), "notification", ["created_at"])
    _watchers("client_watcher", "client_id", "client")
    _watchers("config_template_watcher", "template_id", "config_template")
    with op.batch_alter_table("user") as batch:
        batch.add_column(sa.Column("notify_by", sa.String(8), nullable=False, server_default="bell"))
        batch.create_check_constraint(op.f("ck_user_notify_by_valid"), "notify_by IN ('bell', 'digest', 'both')")
    _mail_kinds(MAIL_KINDS + ", 'notification_digest'")


def downgrade():
    op.execute("DELETE FROM mail_log WHERE kind = 'notification_digest'")
    _mail_kinds(MAIL_KINDS)
    with op.batch_alter_table("user") as batch:
        batch.drop_constraint(op.f("ck_user_notify_by_valid"), type_="check")
        batch.drop_column("notify_by")
    op.drop_table("config_template_watcher")
    op.drop_table("client_watcher")
    op.drop_table("notification")
