"""Writing a checked import, all in the caller's transaction (the caller commits or rolls back).

New clients, their primary contacts, bank accounts and template integrations go in table by table at the
driver level (executemany on SQLite, COPY on PostgreSQL), an order of magnitude faster than the ORM for
thousands of rows. Those bypass the ORM's audit and search hooks, so their search text is filled here by
the same rule (search.search_text) and each new client gets one audit event, action "import", holding its
own values and those of the contact, bank account and integration created with it. A template that turns
Peppol on sets the switches as the Peppol switches would (state pending), and the registration is launched
after the commit. The existing clients a file changes are updated through the ORM, so the hooks record them
as usual, and the Peppol switches set theirs.
"""
import functools
import operator
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ..einvoicing import switch_as_template
from ..extensions import db
from ..models import AuditEvent, BankAccount, Client, ClientIntegration, ClientStatus, Contact, Group, utcnow
from ..models.audit import audit_action, audit_stamp, bulk_created_events
from ..models.client import new_inbound_address
from ..search import bulk_client_inserts, search_text
from .validate import CLIENT_FIELDS, CONTACT_FIELDS, Lookups, Plan, Row

AUDIT_ACTION = "import"
CHUNK = 2000  # new clients built and inserted at a time (what one chunk's rows take in memory)


@dataclass
class Written:
    to_invite: list[int] = field(default_factory=list)  # clients whose row asked for an invitation
    to_register: list[int] = field(default_factory=list)  # clients whose template turned Peppol on


def write(plan: Plan, lookups: Lookups, batch_id: int) -> Written:
    """Create the plan's new clients and update its changed ones, in the session's transaction."""
    written = Written()
    fallback_group_id = Group.default().id
    stamp = audit_stamp(AUDIT_ACTION)
    new_clients = sa.select(Client.id).where(Client.import_batch_id == batch_id)
    with bulk_client_inserts(db.session, new_clients):
        connection = db.session.connection()
        ids = _new_ids(Client.__table__, len(plan.new), connection)
        for start in range(0, len(plan.new), CHUNK):
            rows, chunk_ids = plan.new[start:start + CHUNK], ids[start:start + CHUNK]
            for table, values in _chunk_rows(rows, chunk_ids, lookups, fallback_group_id, batch_id, stamp):
                _insert(connection, table, values)
            for row, client_id in zip(rows, chunk_ids):
                if row.values.get("invitation"):
                    written.to_invite.append(client_id)
                if lookups.defaults(row).peppol:
                    written.to_register.append(client_id)
    written.to_register += _update_changed(plan, lookups, batch_id)
    written.to_invite += plan.invite_existing
    return written


def _new_ids(table: sa.Table, count: int, connection: sa.Connection) -> list[int]:
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


def _default(column: sa.Column):
    default = column.default
    if default is None:
        return None
    return default.arg(None) if default.is_callable else default.arg


def _prepared(dialect, table: sa.Table, rows: list[dict]) -> tuple[list[sa.Column], list[tuple]]:
    """The columns to insert and `rows` (dicts of column values) as tuples of those, a missing value taking the
    column's default. On SQLite a value goes through its column type's bind processor (what Core would apply),
    once per distinct value: Core's executemany spends longer preparing each row's parameters than SQLite takes
    to insert the row. psycopg adapts the Python values itself."""
    present = set().union(*rows)
    columns = [c for c in table.columns if c.key in present or (c.default is not None and not c.primary_key)]
    processors = [] if dialect.name == "postgresql" else [
        (c.key, functools.lru_cache(maxsize=1024, typed=True)(processor)) for c in columns
        if (processor := c.type.dialect_impl(dialect).bind_processor(dialect)) is not None
    ]
    for row in rows:
        if len(row) != len(columns):
            row.update((c.key, _default(c)) for c in columns if c.key not in row)
        for key, processor in processors:
            if row[key] is not None:
                row[key] = processor(row[key])
    pick = operator.itemgetter(*(c.key for c in columns))
    return columns, [pick(row) for row in rows] if len(columns) > 1 else [(pick(row),) for row in rows]


def _insert(connection: sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    """Insert `rows` into `table` at the driver level: COPY on PostgreSQL, one executemany on SQLite."""
    if not rows:
        return
    dialect = connection.dialect
    columns, values = _prepared(dialect, table, rows)
    quote = dialect.identifier_preparer
    names = ", ".join(quote.format_column(c) for c in columns)
    if dialect.name != "postgresql":
        placeholders = ", ".join("?" * len(columns))
        connection.exec_driver_sql(f"INSERT INTO {quote.format_table(table)} ({names}) VALUES ({placeholders})", values)
        return
    statement = f"COPY {quote.format_table(table)} ({names}) FROM STDIN"
    try:
        with connection.connection.driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in values:
                copy.write_row(row)
    except dialect.dbapi.Error as error:  # as SQLAlchemy raises it for its own statements
        raise sa.exc.DBAPIError.instance(statement, None, error, dialect.dbapi.Error) from error


def _chunk_rows(rows: list[Row], client_ids: list[int], lookups: Lookups, fallback_group_id: int, batch_id: int,
                stamp: dict) -> list[tuple[sa.Table, list[dict]]]:
    """The rows to insert for new clients, table by table."""
    now = utcnow()
    clients, contacts, accounts, integrations, events = [], [], [], [], []
    for row, client_id in zip(rows, client_ids):
        values, defaults = row.values, lookups.defaults(row)
        client = dict(defaults.client)
        client.update({attribute: values[key] for key, attribute in CLIENT_FIELDS.items() if key in values})
        client.update(defaults.peppol)
        client.setdefault("group_id", fallback_group_id)
        client.update(
            language=values["contact_language"], status=ClientStatus.CREATED.value, import_batch_id=batch_id,
            inbound_email=new_inbound_address(), created_at=now, updated_at=now,
            search_text=search_text(client["name"], client.get("enterprise_number"), client.get("vat_number"),
                                    client.get("external_reference"), None, [values["contact_email"]]),
        )
        created = dict(client)  # what the row set, before the columns' defaults are added
        clients.append({"id": client_id, **client})
        contact = {attribute: values[key] for key, attribute in CONTACT_FIELDS.items()}
        created["contact"] = dict(contact)
        contacts.append({**contact, "client_id": client_id, "is_primary": True, "created_at": now, "updated_at": now})
        if "iban" in values:
            accounts.append({"client_id": client_id, "iban": values["iban"], "created_at": now, "updated_at": now})
            created["bank_account"] = {"iban": values["iban"]}
        if defaults.integration is not None:
            integrations.append({**defaults.integration, "client_id": client_id, "created_at": now, "updated_at": now})
            created["integration"] = defaults.integration_repr
        events.append((client_id, created["name"], client_id, created))
    return [
        (Client.__table__, clients), (Contact.__table__, contacts), (BankAccount.__table__, accounts),
        (ClientIntegration.__table__, integrations),
        (AuditEvent.__table__, bulk_created_events(stamp, "client", events)),
    ]


def _update_changed(plan: Plan, lookups: Lookups, batch_id: int) -> list[int]:
    """Update the existing clients the file changes; the ids of those whose new template turned Peppol on."""
    ids = [existing.id for _, existing, _ in plan.changed]
    query = (sa.select(Client).where(Client.id.in_(ids))
             .options(selectinload(Client.contacts), selectinload(Client.bank_accounts), selectinload(Client.integration)))
    clients = {client.id: client for client in db.session.scalars(query)}
    with audit_action(AUDIT_ACTION):
        for row, existing, changes in plan.changed:
            _update(clients[existing.id], row.values, changes, lookups)
            clients[existing.id].import_batch_id = batch_id
        db.session.flush()
    switched = []
    for row, existing, changes in plan.changed:
        if "template" in changes and switch_as_template(row.values["template"], clients[existing.id], lookups.config):
            switched.append(existing.id)
    return switched


def _update(client: Client, values: dict, changes: dict, lookups: Lookups) -> None:
    if "template" in changes:
        values["template"].apply_to(client)  # first, so that the row's own values override it
    for key, attribute in CLIENT_FIELDS.items():
        if key in values:
            setattr(client, attribute, values[key])
    if "group" in changes:
        client.group = values.get("group") or lookups.default_group
    contact = client.primary_contact
    if contact is None:
        contact = Contact(is_primary=True)
        client.contacts.append(contact)
    for key, attribute in CONTACT_FIELDS.items():
        if key in values:
            setattr(contact, attribute, values[key])
    if "iban" in changes:
        client.bank_accounts.append(BankAccount(iban=values["iban"]))
