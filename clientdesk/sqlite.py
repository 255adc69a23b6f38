"""SQLite connections of the app: their settings, and query-planner statistics kept current.

Each new connection enforces foreign keys (as PostgreSQL does), lets readers work during a write (WAL) and
waits for another process's write lock rather than failing at once.

Without statistics SQLite takes any indexed equality (`group_id IN (...)`, `hidden = 0`) for a
selective one, so a staff user's list sorts every row of their groups instead of walking the name or
trial-end index for the 25 rows of the page. SQLite's own recommendation is `PRAGMA optimize`, which
ANALYZEs only the tables that queries on this connection used and whose statistics are missing or stale
(25x growth), and otherwise does next to nothing.
It runs when a connection goes back to the pool, after the request that used it.
"""
import sqlite3

import sqlalchemy as sa

# Rows read per index by ANALYZE: a whole index of the client table. A small sample misleads: the first 1,000 entries
# of the (group_id, ...) index all belong to one group, so groups would look 20 times more selective.
ANALYSIS_LIMIT = 1_000_000


def _on_connect(dbapi_connection, connection_record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _on_checkin(dbapi_connection, connection_record) -> None:
    if dbapi_connection is None:  # invalidated
        return
    try:
        dbapi_connection.execute(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
        dbapi_connection.execute("PRAGMA optimize")
    except sqlite3.Error:
        pass  # e.g. another process holds the write lock: the next check-in tries again


def init_app(app) -> None:
    """On the app's SQLite engines (not on other engines in the process). Idempotent."""
    with app.app_context():
        engines = app.extensions["sqlalchemy"].engines.values()
    for engine in engines:
        if engine.dialect.name == "sqlite" and not sa.event.contains(engine, "connect", _on_connect):
            sa.event.listen(engine, "connect", _on_connect)
            sa.event.listen(engine, "checkin", _on_checkin)
