"""client list indexes: the visibility rule with the status filter and the name order; search matches

Every list, count and export of clients filters on `group_id` (staff) and `hidden` (everyone but
admins), often with `status`, and sorts by name by default: with these columns in one index, counts
and filtered pages are answered from the index alone. It replaces the indexes on `group_id` and
`(group_id, status)`, whose leading columns it shares. On SQLite, the FTS matches of a search are
checked and sorted through a second index (see search.SQLITE_SEARCH_SCOPE_INDEX).

Revision ID: c7e1a9d04b52
Revises: c4e8a2f19d37
"""
from alembic import op

from clientdesk.search import SQLITE_SEARCH_SCOPE_INDEX

revision = "c7e1a9d04b52"
down_revision = "c4e8a2f19d37"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.create_index("ix_client_scope", ["group_id", "hidden", "status", "name"], unique=False)
        batch_op.drop_index("ix_client_group_status")
        batch_op.drop_index("ix_client_group_id")
    if op.get_bind().dialect.name == "sqlite":
        op.execute(SQLITE_SEARCH_SCOPE_INDEX)


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP INDEX IF EXISTS ix_client_search_scope")
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.create_index("ix_client_group_id", ["group_id"], unique=False)
        batch_op.create_index("ix_client_group_status", ["group_id", "status"], unique=False)
        batch_op.drop_index("ix_client_scope")
