"""The e-invoicing mandate as the client gave it in the portal: when, by whom, from which address

Revision ID: d5f7b9c1e3a4
Revises: c3e5a7b9d1f2
Create Date: 2026-12-07 20:10:00

"""
import sqlalchemy as sa
from alembic import op

revision = "d5f7b9c1e3a4"
down_revision = "c3e5a7b9d1f2"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.add_column(sa.Column("e_invoicing_mandate_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("e_invoicing_mandate_by", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("e_invoicing_mandate_address", sa.String(length=45), nullable=True))


def downgrade():
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.drop_column("e_invoicing_mandate_address")
        batch_op.drop_column("e_invoicing_mandate_by")
        batch_op.drop_column("e_invoicing_mandate_at")
