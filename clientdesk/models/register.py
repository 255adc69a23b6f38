"""The company register (KBO/BCE open data) kept locally, and the history of its loads.

The register lives in plain tables (`kbo_*`) that only `kbo load` writes. A load never touches the
live tables: it builds a complete new set beside them (`kbo_*__new`, no indexes while rows stream
in), indexes it, then swaps it in by renaming in one short transaction (`swap_in`), together with
the `register_load` row that says which extract is in use; the replaced set is dropped afterwards.

Why staging tables and a rename rather than generations in shared tables: the rows are bulk-copied
into bare tables (the fastest path on both databases) and indexed once; the switch is a catalogue
change of milliseconds whatever the size; searches keep reading the old set until it commits; and
the old set goes away by DROP TABLE (about a second for two million enterprises) instead of a
DELETE of ten million rows and their index entries, with the vacuum debt that leaves behind.
Index names carry a random tag per load, because SQLite cannot rename an index and names must stay
unique while both sets exist.
"""
import json
import secrets
from types import SimpleNamespace

import sqlalchemy as sa
from flask_babel import gettext as _, lazy_gettext as _l

from ..extensions import db
from .base import LabelledEnum, choice_check, utcnow

NEW, OLD = "__new", "__old"
SEARCH_TABLE = "kbo_name_search"  # SQLite only: FTS5 index of kbo_denomination.search (rowid = id)


class RegisterLoadStatus(LabelledEnum):
    LOADING = "loading", _l("Loading")
    ACTIVE = "active", _l("In use")
    REPLACED = "replaced", _l("Replaced")
    FAILED = "failed", _l("Failed")


class ExtractType(LabelledEnum):
    FULL = "full", _l("Full extract")
    UPDATE = "update", _l("Update extract")


class RegisterLoad(db.Model):
    """One `kbo load`: which extract, when, what it held; the `active` one is what searches read."""

    __tablename__ = "register_load"
    __audit__ = False
    __table_args__ = (choice_check("status", RegisterLoadStatus), choice_check("extract_type", ExtractType))

    id = db.Column(db.Integer, primary_key=True)
    source = db.Column(db.String(500), nullable=False)
    extract_number = db.Column(db.String(20))
    snapshot_date = db.Column(db.Date)
    status = db.Column(db.String(8), nullable=False, default=RegisterLoadStatus.LOADING.value, index=True)
    started_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    finished_at = db.Column(db.DateTime)
    extract_type = db.Column(db.String(6), nullable=False, default=ExtractType.FULL.value)
    enterprises = db.Column(db.Integer, nullable=False, default=0)  # in the register once loaded
    # Update extracts: enterprises that left the register, that entered it, and that stayed with other data.
    enterprises_deleted = db.Column(db.Integer, nullable=False, default=0)
    enterprises_inserted = db.Column(db.Integer, nullable=False, default=0)
    enterprises_changed = db.Column(db.Integer, nullable=False, default=0)
    skipped_rows = db.Column(db.Integer, nullable=False, default=0)
    report_json = db.Column(db.Text, nullable=False, default="{}")

    def __str__(self) -> str:
        from ..i18n import localdate  # here: i18n reads the models (the firm's today), which load this module

        what = _("extract %(number)s", number=self.extract_number) if self.extract_number else self.source
        if self.snapshot_date:
            return _("KBO %(what)s of %(date)s", what=what, date=localdate(self.snapshot_date))
        return f"KBO {what}"

    @property
    def report(self) -> dict:
        return json.loads(self.report_json)

    @classmethod
    def active(cls) -> "RegisterLoad | None":
        return db.session.scalars(sa.select(cls).where(cls.status == RegisterLoadStatus.ACTIVE.value)).first()


# The register tables: one column list, used for the DDL of each load and for the queries.
COLUMNS = {
    "kbo_enterprise": (
        ("number", sa.String(10)), ("kind", sa.String(1)), ("legal_form", sa.String(3)),
        ("situation", sa.String(3)), ("start_date", sa.Date()),
    ),
    "kbo_denomination": (
        ("id", sa.Integer()), ("number", sa.String(10)), ("language", sa.String(1)), ("kind", sa.String(3)),
        ("name", sa.String(320)), ("search", sa.Text()),
    ),
    "kbo_address": (
        ("number", sa.String(10)), ("country_nl", sa.String(100)), ("country_fr", sa.String(100)),
        ("zipcode", sa.String(20)), ("municipality_nl", sa.String(200)), ("municipality_fr", sa.String(200)),
        ("street_nl", sa.String(200)), ("street_fr", sa.String(200)), ("house_number", sa.String(22)),
        ("box", sa.String(20)), ("extra", sa.String(200)),
    ),
    "kbo_contact": (("number", sa.String(10)), ("kind", sa.String(5)), ("value", sa.String(254))),
    "kbo_code": (("category", sa.String(40)), ("code", sa.String(10)), ("language", sa.String(2)), ("description", sa.Text())),
}
TABLE_NAMES = tuple(COLUMNS)


def kbo_tables(suffix: str = "") -> SimpleNamespace:
    """Core tables for the live register (or a load's `__new` set), for queries and inserts."""
    metadata = sa.MetaData()
    tables = {name: sa.Table(name + suffix, metadata, *(sa.Column(c, t) for c, t in columns))
              for name, columns in COLUMNS.items()}
    return SimpleNamespace(**{name.removeprefix("kbo_"): table for name, table in tables.items()})


LIVE = kbo_tables()


def _names(dialect: str) -> tuple[str, ...]:
    return TABLE_NAMES + ((SEARCH_TABLE,) if dialect == "sqlite" else ())


def create_staging(connection) -> None:
    """Create the empty `__new` set: bare tables (primary keys only where SQLite needs them inline)."""
    dialect = connection.dialect
    for name, columns in COLUMNS.items():
        parts = []
        for column, type_ in columns:
            ddl = f"{column} {type_.compile(dialect=dialect)}"
            if dialect.name == "sqlite" and (name, column) in {("kbo_enterprise", "number"), ("kbo_denomination", "id")}:
                ddl += " NOT NULL PRIMARY KEY"
            elif dialect.name == "postgresql" and column == "search":
                ddl += ' COLLATE "C"'  # byte order, so `search >= 'bras' AND search < 'bras\uffff'` is a prefix range
            parts.append(ddl)
        suffix = " WITHOUT ROWID" if dialect.name == "sqlite" and name == "kbo_enterprise" else ""
        connection.exec_driver_sql(f"CREATE TABLE {name}{NEW} ({', '.join(parts)}){suffix}")
    if dialect.name == "sqlite":
        # Contentless: the text is in kbo_denomination.search; prefix indexes make 2- and 3-letter prefixes cheap.
        connection.exec_driver_sql(
            f"CREATE VIRTUAL TABLE {SEARCH_TABLE}{NEW} USING fts5(search, content='', detail=column, prefix='2 3')"
        )


def index_statements(dialect: str) -> list[str]:
    """The indexes of a `__new` set, built once its rows are in (names unique per load, see above)."""
    tag = secrets.token_hex(4)
    statements = [
        f"CREATE INDEX ix_kbo_denomination_number_{tag} ON kbo_denomination{NEW} (number)",
        f"CREATE INDEX ix_kbo_denomination_search_{tag} ON kbo_denomination{NEW} (search)",
        f"CREATE INDEX ix_kbo_address_number_{tag} ON kbo_address{NEW} (number)",
        f"CREATE INDEX ix_kbo_contact_number_{tag} ON kbo_contact{NEW} (number)",
    ]
    if dialect == "postgresql":
        statements = [
            f"ALTER TABLE kbo_enterprise{NEW} ADD CONSTRAINT pk_kbo_enterprise_{tag} PRIMARY KEY (number)",
            *statements,
            f"CREATE INDEX ix_kbo_denomination_words_{tag} ON kbo_denomination{NEW} "
            "USING gin (to_tsvector('simple', search))",
        ]
        statements += [f"ANALYZE {name}{NEW}" for name in TABLE_NAMES]
    else:
        statements.append(f"INSERT INTO {SEARCH_TABLE}{NEW}({SEARCH_TABLE}{NEW}) VALUES ('optimize')")
    return statements


def _existing(connection) -> set[str]:
    return set(sa.inspect(connection).get_table_names())


def swap_in(connection, load_id: int) -> None:
    """In the caller's transaction: the `__new` set becomes the live one and load `load_id` the active one."""
    existing = _existing(connection)
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL lock_timeout = '30s'")
    for name in _names(connection.dialect.name):
        if name in existing:
            connection.exec_driver_sql(f"ALTER TABLE {name} RENAME TO {name}{OLD}")
        connection.exec_driver_sql(f"ALTER TABLE {name}{NEW} RENAME TO {name}")
    loads = RegisterLoad.__table__
    connection.execute(
        loads.update().where(loads.c.status == RegisterLoadStatus.ACTIVE.value).values(status=RegisterLoadStatus.REPLACED.value)
    )
    connection.execute(
        loads.update().where(loads.c.id == load_id).values(status=RegisterLoadStatus.ACTIVE.value, finished_at=utcnow())
    )


def create_live(connection) -> None:
    """In the caller's transaction: an empty live register (for an update applied with no Full extract loaded)."""
    create_staging(connection)
    for statement in index_statements(connection.dialect.name):
        connection.exec_driver_sql(statement)
    for name in _names(connection.dialect.name):
        connection.exec_driver_sql(f"ALTER TABLE {name}{NEW} RENAME TO {name}")


def drop_set(connection, suffix: str) -> None:
    """Drop the `__new` or `__old` set, one table per transaction (SQLite writers wait at most one DROP)."""
    existing = _existing(connection)
    connection.commit()
    for name in _names(connection.dialect.name):
        if name + suffix in existing:
            with connection.begin():
                connection.exec_driver_sql(f"DROP TABLE {name}{suffix}")
