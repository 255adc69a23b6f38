"""Inbound mail's sender authentication: the verdict on each document (SPF/DKIM), and the firm's settings with
what to do with mail from an allowed address that is not authenticated (keep it, marked, or refuse it)

Revision ID: a3d5f7b9c1e2
Revises: c7d2e8a41f90
Create Date: 2026-12-07 19:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "a3d5f7b9c1e2"
down_revision = "c7d2e8a41f90"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sender_verdict", sa.String(length=4), nullable=True))
        batch_op.add_column(sa.Column("sender_authentication", sa.String(length=200), nullable=True))
        batch_op.create_check_constraint(op.f("ck_document_sender_verdict_valid"), "sender_verdict IS NULL OR sender_verdict IN ('pass', 'fail')")

    op.create_table(
        "firm_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unauthenticated_mail", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("unauthenticated_mail IN ('keep', 'refuse')", name=op.f("ck_firm_settings_unauthenticated_mail_valid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firm_settings")),
    )
    op.execute("INSERT INTO firm_settings (id, unauthenticated_mail, created_at, updated_at) "
               "VALUES (1, 'keep', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")


def downgrade():
    op.drop_table("firm_settings")
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_document_sender_verdict_valid"), type_="check")
        batch_op.drop_column("sender_authentication")
        batch_op.drop_column("sender_verdict")
