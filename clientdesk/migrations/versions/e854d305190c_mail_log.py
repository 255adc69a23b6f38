"""The e-mail log: every e-mail sent, its recipient, client, kind and outcome

Revision ID: e854d305190c
Revises: c9b6d1fe43a3
"""
import sqlalchemy as sa
from alembic import op

revision = "e854d305190c"
down_revision = "c9b6d1fe43a3"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "mail_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("client_id", sa.Integer()),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("reply", sa.String(500)),
        sa.CheckConstraint("kind IN ('invitation', 'colleague_invitation', 'reminder', 'password_reset', 'document')",
                           name=op.f("ck_mail_log_kind_valid")),
        sa.CheckConstraint("outcome IN ('sent', 'refused', 'retrying', 'failed')", name=op.f("ck_mail_log_outcome_valid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_log")),
    )
    op.create_index(op.f("ix_mail_log_at"), "mail_log", ["at"])
    op.create_index(op.f("ix_mail_log_recipient"), "mail_log", ["recipient"])
    op.create_index("ix_mail_log_client_at", "mail_log", ["client_id", "at"])


def downgrade():
    op.drop_index("ix_mail_log_client_at", table_name="mail_log")
    op.drop_index(op.f("ix_mail_log_recipient"), table_name="mail_log")
    op.drop_index(op.f("ix_mail_log_at"), table_name="mail_log")
    op.drop_table("mail_log")
