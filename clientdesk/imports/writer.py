"""Writing a checked import, all in the caller's transaction (the caller commits or rolls back).

New clients, their primary contacts, bank accounts and template integrations go in table by table at the
driver level (executemany on SQLite, COPY on PostgreSQL), far faster than the ORM for thousands of rows.
Those bypass the ORM's audit and search hooks, so their search text is filled here by the same rule
(search.search_text), and each inserted row gets its audit event, action "import", as the audit's flush hook
writes one for a row it creates (models/audit.py). A template that turns Peppol on sets the switches as the
Peppol switches would (state pending), and the registration is launched after the commit. The existing
clients a file changes are updated through the ORM, so the hooks record them as usual, and the Peppol
switches set theirs.
"""
import contextlib
import functools
import operator
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from .. import rules
from ..einvoicing import switch_as_template
from ..extensions import db
from ..forms.validators import format_iban
from ..models import AuditEvent, BankAccount, Client, ClientIntegration, ClientStatus, Contact, ContactSource, Group, utcnow
from ..models.audit import audit_action, audit_stamp, inserted_events
from ..models.client import new_inbound_address
from ..search import bulk_client_inserts, search_text
from .validate import CLIENT_FIELDS, CONTACT_FIELDS, Lookups, Plan, Row

AUDIT_ACTION = "import"
CHUNK = 2000  # new clients built and inserted at a time (what one chunk's rows take in memory)


def write(plan: Plan, lookups: Lookups, batch_id: int) -> list[int]:
    """Create the plan's new clients and update its changed ones, in the session's transaction; the ids of the
    clients whose row asks for an invitation."""
    to_invite = []
    fallback_group_id = Group.default().id
    stamp = audit_stamp(AUDIT_ACTION)
    new_clients = sa.select(Client.id).where(Client.import_batch_id == batch_id)
    with bulk_client_inserts(db.session, new_clients):
        connection = db.session.connection()
        counts = {
            Client: len(plan.new), Contact: len(plan.new), BankAccount: sum("iban" in row.values for row in plan.new),
            ClientIntegration: sum(lookups.defaults(row).integration is not None for row in plan.new),
        }
        ids = {model: iter(new_ids(model.__table__, count, connection)) for model, count in counts.items()}
        for start in range(0, len(plan.new), CHUNK):
            rows = plan.new[start:start + CHUNK]
            tables = _chunk_inserts(rows, ids, lookups, fallback_group_id, batch_id)
            to_invite += [client["id"] for row, client in zip(rows, tables[0].rows) if row.values.get("invitation")]
            insert_audited(connection, stamp, tables)
    _update_changed(plan, lookups, batch_id)
    return to_invite + plan.invite_existing


def new_ids(table: sa.Table, count: int, connection: sa.Connection) -> list[int]:
    """`count` ids for rows about to be inserted into `table`, so that every table of a chunk is built without
    reading anything back. PostgreSQL: from the id column's sequence. SQLite: those after the highest id, which no
    other writer can take meanwhile: the transaction holds SQLite's one write lock (search.bulk_client_inserts has
    written already)."""
    if not count:
        return []
    if connection.dialect.name == "postgresql":
        return list(connection.scalars(
            sa.select(sa.func.nextval(sa.func.pg_get_serial_sequence(table.name, "id")).label("id"))
            .select_from(sa.func.generate_series(1, count)).order_by(sa.text("id"))))
    highest = connection.scalar(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0)))
    return list(range(highest + 1, highest + 1 + count))


@contextlib.contextmanager
def secondary_indexes_set_aside(connection: sa.Connection, tables: list[sa.Table]):
    """PostgreSQL: drop the non-unique indexes of `tables` for the block and build them again after it, all in the
    connection's transaction, for a load that adds more rows than the tables hold: one build of an index (sorted,
    the trigram index in one pass) is many times cheaper than keeping it up to date row by row. The unique ones
    stay, so that they still refuse a duplicate. The tables are locked against every other session until the
    commit, and analysed at the end (their statistics are those of the loaded rows at once). Elsewhere: nothing."""
    if connection.dialect.name != "postgresql":
        yield
        return
    names = [table.name for table in tables]
    indexes = connection.execute(sa.text(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class t ON t.oid = i.indrelid WHERE t.relname = ANY(:names) AND NOT i.indisunique "
        "AND t.relnamespace = to_regnamespace(current_schema())::oid"), {"names": names}).all()
    for name, _definition in indexes:
        connection.exec_driver_sql(f"DROP INDEX {name}")
    yield
    connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
    for _name, definition in indexes:
        connection.exec_driver_sql(definition)
    quote = connection.dialect.identifier_preparer
    connection.exec_driver_sql("ANALYZE " + ", ".join(quote.format_table(table) for table in tables))


def insert_audited(connection: sa.Connection, stamp: dict, tables) -> None:
    """Insert the rows of each NewRows of `tables` with one audit event per row, as the flush hook records a created
    row: the events are built from the rows completed with every column's default, so they name what the hook's
    would."""
    events = []
    for new in tables:
        _completed(new.model.__table__, new.rows)
        events += inserted_events(stamp, new.model, new.rows, new.names)
        insert_rows(connection, new.model.__table__, new.rows)
    insert_rows(connection, AuditEvent.__table__, events)


def _default(column: sa.Column):
    default = column.default
    if default is None:
        return None
    return default.arg(None) if default.is_callable else default.arg


def _completed(table: sa.Table, rows: list[dict]) -> list[sa.Column]:
    """The columns to insert for `rows` (dicts of column values), each row completed with every one of them: a
    missing value takes the column's default (as the ORM would give it)."""
    present = set().union(*rows)
    columns = [c for c in table.columns if c.key in present or (c.default is not None and not c.primary_key)]
    for row in rows:
        if len(row) != len(columns):
            row.update((c.key, _default(c)) for c in columns if c.key not in row)
    return columns


def insert_rows(connection: sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    """Insert `rows` (dicts of column values; a missing value takes its column's default) into `table` at the
    driver level, in the connection's transaction: COPY on PostgreSQL,
    one executemany on SQLite. On SQLite a value goes through its column type's bind processor (what Core would
    apply), once per distinct value: Core's executemany spends longer preparing each row's parameters than SQLite
    takes to insert the row. psycopg adapts the Python values itself."""
    if not rows:
        return
    columns = _completed(table, rows)
    dialect = connection.dialect
    pick = operator.itemgetter(*(c.key for c in columns))
    quote = dialect.identifier_preparer
    names = ", ".join(quote.format_column(c) for c in columns)
    if dialect.name != "postgresql":
        processors = [
            (c.key, functools.lru_cache(maxsize=1024, typed=True)(processor)) for c in columns
            if (processor := c.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        ]
        for row in rows:
            for key, processor in processors:
                if row[key] is not None:
                    row[key] = processor(row[key])
        values = [pick(row) for row in rows] if len(columns) > 1 else [(pick(row),) for row in rows]
        placeholders = ", ".join("?" * len(columns))
        connection.exec_driver_sql(f"INSERT INTO {quote.format_table(table)} ({names}) VALUES ({placeholders})", values)
        return
    statement = f"COPY {quote.format_table(table)} ({names}) FROM STDIN"
    try:
        with connection.connection.driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(pick(row))
    except dialect.dbapi.Error as error:  # as SQLAlchemy raises it for its own statements
        raise sa.exc.DBAPIError.instance(statement, None, error, dialect.dbapi.Error) from error


@dataclass
class NewRows:
    """The rows to insert into one model's table, and what the audit calls each (its object's str())."""

    model: type
    rows: list[dict] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    def add(self, values: dict, name: str) -> None:
        self.rows.append(values)
        self.names.append(name)


def _chunk_inserts(rows: list[Row], ids: dict, lookups: Lookups, fallback_group_id: int,
                   batch_id: int) -> tuple[NewRows, ...]:
    """The rows to insert for new clients, table by table (clients first, in the order of `rows`); each row's id
    is the next of its model's `ids`."""
    now = utcnow()
    clients, contacts = NewRows(Client), NewRows(Contact)
    accounts, integrations = NewRows(BankAccount), NewRows(ClientIntegration)
    for row in rows:
        values, defaults = row.values, lookups.defaults(row)
        client_id = next(ids[Client])
        client = {"id": client_id, **defaults.client}
        client.update({attribute: values[key] for key, attribute in CLIENT_FIELDS.items() if key in values})
        client.update(defaults.peppol)
        client.setdefault("group_id", fallback_group_id)
        if "plan" in values:
            client["plan_id"] = values["plan"].id
        client.update(
            language=values["contact_language"], status=ClientStatus.CREATED.value, import_batch_id=batch_id,
            inbound_email=new_inbound_address(), created_at=now, updated_at=now,
            search_text=search_text(client["name"], client.get("enterprise_number"), client.get("vat_number"),
                                    client.get("external_reference"), None, [values["contact_email"]]),
        )
        clients.add(client, client["name"])
        contact = {attribute: values[key] for key, attribute in CONTACT_FIELDS.items() if key in values}
        contact.setdefault("source", ContactSource.IMPORT.value)
        contacts.add({"id": next(ids[Contact]), **contact, "client_id": client_id, "is_primary": True,
                      "created_at": now, "updated_at": now},
                     Contact.describe(contact["first_name"], contact["last_name"], contact["email"]))
        if "iban" in values:
            accounts.add({"id": next(ids[BankAccount]), "client_id": client_id, "iban": values["iban"],
                          "created_at": now, "updated_at": now}, format_iban(values["iban"]))
        if defaults.integration is not None:
            integrations.add({"id": next(ids[ClientIntegration]), **defaults.integration, "client_id": client_id,
                              "created_at": now, "updated_at": now}, defaults.integration_repr)
    return clients, contacts, accounts, integrations


def _update_changed(plan: Plan, lookups: Lookups, batch_id: int) -> None:
    """Update the existing clients the file changes, CHUNK at a time, each checked by the client rules as it is
    now (the file was checked against the clients as they were: a change made meanwhile raises RuleViolation);
    then the Peppol switches of a new template."""
    for start in range(0, len(plan.changed), CHUNK):
        changed = plan.changed[start:start + CHUNK]
        query = (sa.select(Client).where(Client.id.in_([existing.id for _, existing, _ in changed]))
                 .options(selectinload(Client.contacts), selectinload(Client.bank_accounts), selectinload(Client.integration)))
        clients = {client.id: client for client in db.session.scalars(query)}
        with audit_action(AUDIT_ACTION):
            for row, existing, changes in changed:
                client = clients[existing.id]
                known = rules.problems(client)
                _update(client, row.values, changes, lookups)
                client.import_batch_id = batch_id
                rules.check(client, known=known)
            db.session.flush()
        for row, existing, changes in changed:
            if "template" in changes:
                switch_as_template(row.values["template"], clients[existing.id], lookups.config)


def _update(client: Client, values: dict, changes: dict, lookups: Lookups) -> None:
    if "template" in changes:
        values["template"].apply_to(client)  # first, so that the row's own values override it
    for key, attribute in CLIENT_FIELDS.items():
        if key in values:
            setattr(client, attribute, values[key])
    if "parent" in values:
        client.parent = db.session.get(Client, values["parent"])  # the relationship too: the rules read it
    client.settle_billing_address()
    if "group" in changes:
        client.group = values.get("group") or lookups.default_group
    if "plan" in changes:
        client.plan = values["plan"]
    contact = client.primary_contact
    if contact is None:
        contact = Contact(is_primary=True)
        client.contacts.append(contact)
    for key, attribute in CONTACT_FIELDS.items():
        if key in values:
            setattr(contact, attribute, values[key])
    if "iban" in changes:
        client.bank_accounts.append(BankAccount(iban=values["iban"]))
