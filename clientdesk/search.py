"""Client search: one folded text column per client, indexed for substring search.

`client.search_text` holds the folded (lower-case, accent-free) name, numbers, references and contact
e-mails; it is kept current here on every flush. SQLite indexes it with an FTS5 trigram table
(`client_search`, kept in sync by triggers) and PostgreSQL with a pg_trgm GIN index; both are created
by the migrations, and both answer substring queries without scanning the table.
"""
import contextlib
import re
import unicodedata

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .models import Client, Contact

_NUMBER = re.compile(r"^(be)?[\d.\s/-]{7,}$")

SQLITE_DDL = [
    "CREATE VIRTUAL TABLE client_search USING fts5("
    "search_text, content='client', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER client_search_insert AFTER INSERT ON client BEGIN "
    "INSERT INTO client_search(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER client_search_delete AFTER DELETE ON client BEGIN "
    "INSERT INTO client_search(client_search, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER client_search_update AFTER UPDATE OF search_text ON client BEGIN "
    "INSERT INTO client_search(client_search, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO client_search(rowid, search_text) VALUES (new.id, new.search_text); END",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS client_search_update",
    "DROP TRIGGER IF EXISTS client_search_delete",
    "DROP TRIGGER IF EXISTS client_search_insert",
    "DROP TABLE IF EXISTS client_search",
]
# What the list checks and sorts the FTS matches on (visibility, name), readable without the client rows:
# a search for a common word ("peeters": 6% of 100k clients) reads 6,000 index entries, not 6,000 rows.
SQLITE_SEARCH_SCOPE_INDEX = "CREATE INDEX ix_client_search_scope ON client (id, hidden, group_id, name)"
POSTGRESQL_DDL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_client_search_text_trgm ON client USING gin (search_text gin_trgm_ops)",
]
POSTGRESQL_DROP = ["DROP INDEX IF EXISTS ix_client_search_text_trgm"]


def sqlite_search_again(execute) -> None:
    """For a migration whose batch operation copied the client table into a new one (SQLite), without the triggers
    that keep the search index in step with it: make them again and rebuild the index from the copy. `execute`
    runs one statement (alembic's op.execute)."""
    for statement in SQLITE_DROP[:3] + SQLITE_DDL[1:]:
        execute(statement)
    execute("INSERT INTO client_search(client_search) VALUES ('rebuild')")
    execute(SQLITE_SEARCH_SCOPE_INDEX.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS"))


def include_in_migrations(obj, name, type_, reflected, compare_to) -> bool:
    """Keep autogenerate away from what the models do not describe: the search tables and indexes, and the
    company register's tables (built by each `kbo load`, see models/register.py)."""
    search_table = type_ == "table" and name.startswith(("client_search", "kbo_"))
    search_index = type_ == "index" and name.startswith("ix_client_search")
    return not (search_table or search_index)


def fold(text: str | None) -> str:
    """Lower-case without accents: what search compares (Ö and o, É and e match)."""
    if not text or text.isascii():
        return (text or "").lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def search_terms(query: str) -> list[str]:
    """Folded terms; an enterprise or VAT number typed with dots or spaces becomes its digits."""
    query = fold(query).strip()
    if _NUMBER.match(query):
        return [re.sub(r"\D", "", query)]
    return [t.lstrip("^=") for t in query.split() if t.lstrip("^=")]


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def client_search_condition(query: str, dialect: str):
    """A condition on Client that keeps the clients whose search text contains every term."""
    terms = search_terms(query)
    conditions = []
    indexed = [t for t in terms if len(t) >= 3] if dialect == "sqlite" else []
    if indexed:
        match = " ".join('"' + t.replace('"', '""') + '"' for t in indexed)
        fts = sa.table("client_search", sa.column("rowid"))
        matching = sa.select(fts.c.rowid).where(sa.text("client_search MATCH :match").bindparams(match=match))
        conditions.append(Client.id.in_(matching))
    for term in terms:
        if term not in indexed:
            conditions.append(Client.search_text.like(_like(term), escape="\\"))
    return sa.and_(sa.true(), *conditions)


def search_counted_with_page(dialect: str) -> bool:
    """Whether the client list counts a search's matches with its page (count(*) OVER ()) rather than by a
    query of their own. SQLite: yes, its full-text index is then read once instead of twice. PostgreSQL: no,
    the page alone walks the name index and stops at its 25th match, where a count beside it has every match
    read and sorted."""
    return dialect == "sqlite"


def search_text(name, enterprise_number, vat_number, external_reference, internal_reference, emails) -> str:
    """What a client's search text holds (also used by the import, whose inserts bypass the ORM)."""
    parts = [name, enterprise_number, vat_number, external_reference, internal_reference, *emails]
    return fold(" ".join(p for p in parts if p))


def refresh_search_text(client: Client, removed_contacts=()) -> None:
    client.search_text = search_text(
        client.name, client.enterprise_number, client.vat_number, client.external_reference,
        client.internal_reference, [c.email for c in client.contacts if c not in removed_contacts],
    )


def _before_flush(session: Session, flush_context, instances) -> None:
    with session.no_autoflush:
        clients = {o for o in session.new | session.dirty if isinstance(o, Client)}
        contacts = [o for o in session.new | session.dirty | session.deleted if isinstance(o, Contact)]
        clients |= {c.client for c in contacts if c.client is not None}
        for client in clients:
            if client not in session.deleted:
                refresh_search_text(client, removed_contacts=session.deleted)


@contextlib.contextmanager
def bulk_client_inserts(session: Session, new_clients):
    """Around many client inserts in one transaction (`new_clients`: a select of their ids).

    On SQLite the per-row index trigger costs more than the inserts themselves: it is dropped for the
    block, the new rows are indexed in one statement, and it is created again, all in the caller's
    transaction (SQLite has one writer at a time, so no other insert can miss the index meanwhile).
    """
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    driver = session.connection().connection.driver_connection
    if not driver.in_transaction:
        driver.execute("BEGIN")  # pysqlite opens a transaction only before DML; the DDL must be inside it
    session.execute(sa.text("DROP TRIGGER client_search_insert"))
    yield
    fts = sa.table("client_search", sa.column("rowid"), sa.column("search_text"))
    rows = sa.select(Client.id, Client.search_text).where(Client.id.in_(new_clients))
    session.execute(sa.insert(fts).from_select(["rowid", "search_text"], rows))
    session.execute(sa.text(SQLITE_DDL[1]))


def init_app(app) -> None:
    """Keep the search text current on every flush of the app's sessions (not of other sessions). Idempotent."""
    session = app.extensions["sqlalchemy"].session
    if not sa.event.contains(session, "before_flush", _before_flush):
        sa.event.listen(session, "before_flush", _before_flush)
