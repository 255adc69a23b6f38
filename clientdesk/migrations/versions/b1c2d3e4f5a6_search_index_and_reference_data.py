"""search index on clients, the default group and the integration catalogue

Revision ID: b1c2d3e4f5a6
Revises: d8756beb0df7
"""
from datetime import datetime, UTC

import sqlalchemy as sa
from alembic import op

from clientdesk.models.integration import CATALOGUE
from clientdesk.search import POSTGRESQL_DDL, POSTGRESQL_DROP, SQLITE_DDL, SQLITE_DROP

revision = "b1c2d3e4f5a6"
down_revision = "d8756beb0df7"
branch_labels = None
depends_on = None


def upgrade():
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE_DDL, "postgresql": POSTGRESQL_DDL}.get(dialect, []):
        op.execute(statement)
    now = datetime.now(UTC).replace(tzinfo=None)
    group = sa.table("group", sa.column("name"), sa.column("description"), sa.column("created_at"), sa.column("updated_at"))
    op.bulk_insert(group, [{"name": "Everyone", "description": "Default team for new clients", "created_at": now, "updated_at": now}])
    product = sa.table(
        "integration_product", sa.column("name"), sa.column("delivery_methods"), sa.column("sender_whitelist_required"),
        sa.column("created_at"), sa.column("updated_at"),
    )
    op.bulk_insert(product, [
        {"name": name, "delivery_methods": methods, "sender_whitelist_required": whitelist, "created_at": now, "updated_at": now}
        for name, methods, whitelist in CATALOGUE
    ])


def downgrade():
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE_DROP, "postgresql": POSTGRESQL_DROP}.get(dialect, []):
        op.execute(statement)
    op.execute(sa.text("DELETE FROM integration_product"))
    op.execute(sa.text("DELETE FROM \"group\" WHERE name = 'Everyone'"))
