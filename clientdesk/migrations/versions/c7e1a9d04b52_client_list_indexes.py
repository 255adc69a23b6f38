"""client list indexes: one index for the visibility rule (group, hidden) and the status filter

Every list, count and export of clients filters on `group_id` (staff) and `hidden` (everyone but
admins), often with `status`; with these three columns in one index the counts are answered from the
index alone. It replaces the indexes on `group_id` and `(group_id, status)`, whose leading columns
it shares.

Revision ID: c7e1a9d04b52
Revises: b1c2d3e4f5a6
"""
from alembic import op

revision = "c7e1a9d04b52"
down_revision = "b1c2d3e4f5a6"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.create_index("ix_client_scope", ["group_id", "hidden", "status"], unique=False)
        batch_op.drop_index("ix_client_group_status")
        batch_op.drop_index("ix_client_group_id")


def downgrade():
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.create_index("ix_client_group_id", ["group_id"], unique=False)
        batch_op.create_index("ix_client_group_status", ["group_id", "status"], unique=False)
        batch_op.drop_index("ix_client_scope")
