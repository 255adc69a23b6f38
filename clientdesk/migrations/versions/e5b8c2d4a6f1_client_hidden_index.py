"""client.hidden indexed on its own: the count behind every supervisor's client list

A supervisor's list counts every client that is not hidden; through ix_client_scope that count reads the wide
(group, hidden, status, name) entries of 100,000 clients (SQLite 6.3 ms, PostgreSQL 11.6 ms); through an index on
`hidden` alone, 2.9 and 4.6 ms.

Revision ID: e5b8c2d4a6f1
Revises: d3a9e5c1f7b2
Create Date: 2026-12-06 21:50:00

"""
from alembic import op


revision = 'e5b8c2d4a6f1'
down_revision = 'd3a9e5c1f7b2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('client', schema=None) as batch_op:
        batch_op.create_index('ix_client_hidden', ['hidden'], unique=False)


def downgrade():
    with op.batch_alter_table('client', schema=None) as batch_op:
        batch_op.drop_index('ix_client_hidden')
