"""import files kept for a while: when a batch's stored file was removed

Revision ID: d3a9e5c1f7b2
Revises: c421d67e21f2
Create Date: 2026-12-04 18:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'd3a9e5c1f7b2'
down_revision = 'c421d67e21f2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('file_removed_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.drop_column('file_removed_at')
