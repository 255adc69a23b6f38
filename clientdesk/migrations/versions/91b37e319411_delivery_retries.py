"""Retry state of Peppol registrations and document deliveries: when the next attempt is due, since when it fails

A registration or delivery that failed for a passing reason (unreachable, timeout, 5xx, SMTP 4xx) stays pending
(client: peppol_state pending; document: inbox) with the reply, and is tried again at its retry time until
DELIVERY_RETRY_HOURS after its first failure. The retry times are indexed: the reconciler looks for due rows
every few seconds.

Revision ID: 91b37e319411
Revises: f2a7c9e4b1d3
Create Date: 2026-12-07 16:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "91b37e319411"
down_revision = "f2a7c9e4b1d3"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.add_column(sa.Column("peppol_retry_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("peppol_first_failed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("peppol_failed_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index("ix_client_peppol_retry_at", ["peppol_retry_at"], unique=False)

    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retry_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("first_failed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("failed_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index("ix_document_retry_at", ["retry_at"], unique=False)


def downgrade():
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_index("ix_document_retry_at")
        batch_op.drop_column("failed_attempts")
        batch_op.drop_column("first_failed_at")
        batch_op.drop_column("retry_at")

    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.drop_index("ix_client_peppol_retry_at")
        batch_op.drop_column("peppol_failed_attempts")
        batch_op.drop_column("peppol_first_failed_at")
        batch_op.drop_column("peppol_retry_at")
