"""Writing a checked import, all in the caller's transaction (the caller commits or rolls back).

New clients, their primary contacts, bank accounts and template integrations go in as one batch
per table at the driver level (executemany; COPY on PostgreSQL), an order of magnitude faster than the
ORM for thousands of rows. Those bypass the ORM's audit and search hooks, so their search text is filled here by the
same rule (search.search_text) and each new client gets one audit event, action "import", holding
its own values and those of the contact, bank account and integration created with it. The few
existing clients a file changes are updated through the ORM, so the hooks record them as usual.

A chunk's new clients take their ids before any of its rows is written, so that the chunk, every table of it, is
built without reading anything back; on PostgreSQL the chunks are copied, by a thread of their own, while the rest of
the file is checked (see ImportWriter).
"""
import contextlib
import functools
import logging
import operator
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import AuditEvent, BankAccount, Client, ClientIntegration, ClientStatus, ConfigTemplate, Contact, Group, utcnow
from ..models.audit import audit_action, audit_stamp, bulk_created_events
from ..models.client import new_inbound_address
from ..search import bulk_client_inserts, search_text
from .validate import CLIENT_FIELDS, CONTACT_FIELDS, Lookups, Plan, Row, lookup_chunks, one_of

log = logging.getLogger(__name__)

AUDIT_ACTION = "import"


class TemplateDefaults:
    """What a configuration template puts on a new client, worked out once per template by letting
    `ConfigTemplate.apply_to` (the one place of that rule) fill a throwaway client."""

    def __init__(self, template: ConfigTemplate | None, default_group: Group | None):
        probe = Client()
        if default_group is not None:
            probe.group = default_group  # an explicit group wins over the template's
        if template is not None:
            template.apply_to(probe)
        self.client = _column_values(probe)
        integration = probe.integration
        self.integration = _column_values(integration) if integration is not None else None
        self.integration_repr = str(integration) if integration is not None else ""


def _column_values(obj) -> dict:
    """The column values set on a transient object, foreign keys taken from its many-to-one relationships."""
    state = sa.inspect(obj)
    values = {attr.key: state.dict[attr.key] for attr in state.mapper.column_attrs if attr.key in state.dict}
    for relationship in state.mapper.relationships:
        target = state.dict.get(relationship.key)
        if target is not None and relationship.direction.name == "MANYTOONE":
            for local, remote in relationship.local_remote_pairs:
                values[local.key] = getattr(target, remote.key)
    return values


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


class ChunkSender:
    """Inserts chunks of rows, each a list of (table, rows) written in that order, at the driver level: one
    executemany per table on SQLite, one COPY on PostgreSQL. On PostgreSQL a chunk is copied by a thread of its
    own while the caller goes on (checking and building the next chunk): the server's work on the rows (indexes,
    foreign keys) takes longer than checking and building them (10,000 clients: ~0.9 s against ~0.45 s and ~0.35 s).
    The connection serves one chunk at a time: `send` waits for the chunk before, and nothing else may use the session
    until `wait` (or the end of the `with` block) returns. A failure of a chunk is raised by the next `send` or `wait`."""

    def __init__(self, connection: sa.Connection):
        self.connection = connection
        self.dialect = connection.dialect
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-copy") \
            if self.dialect.name == "postgresql" else None
        self._pending = None

    def __enter__(self):
        return self

    def __exit__(self, error_type, error, traceback):
        try:
            self.wait()  # a chunk still on its way out finishes before the caller may roll back
        except Exception as chunk_error:
            if error is None:
                raise
            log.warning("import chunk failed too, after %r: %r", error, chunk_error)
        finally:
            if self._thread is not None:
                self._thread.shutdown()

    def send(self, batches: list[tuple[sa.Table, list[dict]]]) -> None:
        prepared = [(table, *_prepared(self.dialect, table, rows)) for table, rows in batches if rows]
        self.wait()
        if self._thread is None:
            self._write(prepared)
        else:
            self._pending = self._thread.submit(self._write, prepared)

    def wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _write(self, prepared) -> None:
        quote = self.dialect.identifier_preparer
        for table, columns, values in prepared:
            names = ", ".join(quote.format_column(c) for c in columns)
            if self.dialect.name == "postgresql":
                statement = f"COPY {quote.format_table(table)} ({names}) FROM STDIN"
                try:
                    with self.connection.connection.driver_connection.cursor() as cursor:
                        with cursor.copy(statement) as copy:
                            for row in values:
                                copy.write_row(row)
                except self.dialect.dbapi.Error as error:  # as SQLAlchemy raises it for its own statements
                    raise sa.exc.DBAPIError.instance(statement, None, error, self.dialect.dbapi.Error) from error
            else:
                placeholders = ", ".join("?" * len(columns))
                self.connection.exec_driver_sql(f"INSERT INTO {quote.format_table(table)} ({names}) VALUES ({placeholders})", values)


def _new_ids(table: sa.Table, count: int, connection) -> list[int]:
    """`count` ids for rows about to be inserted into `table`, read through `connection` (or a session).
    PostgreSQL: from the id column's sequence, which any connection may use (a sequence is outside transactions).
    SQLite: those after the highest id, which no other writer can take meanwhile: the transaction holds SQLite's one
    write lock (search.bulk_client_inserts has written already); were it not so, an insert in between would make
    this one fail on the primary key, never mix the two."""
    if not count:
        return []
    if db.engine.dialect.name == "postgresql":
        return list(connection.scalars(
            sa.select(sa.func.nextval(sa.func.pg_get_serial_sequence(table.name, "id")).label("id"))
            .select_from(sa.func.generate_series(1, count)).order_by(sa.text("id"))))
    highest = connection.scalar(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0)))
    return list(range(highest + 1, highest + 1 + count))


class ImportWriter:
    """Writes one import in the session's transaction: the new clients chunk by chunk as the check hands them over
    (`add`), then the changed ones (`finish`); the caller commits, or rolls back if the check found an error.

    PostgreSQL: each chunk is copied as soon as it is checked (ChunkSender), so the server's work on the rows overlaps
    the check of the rest of the file. The session's connection is the sender's meanwhile: the check reads through
    `reads`, a connection of its own (and the job records its progress through another: tasks.progress_apart).
    SQLite: the chunks are kept and written by `finish`; SQLite has one writer at a time, and holding its lock
    through the check would stop every other write, the job's progress included."""

    def __init__(self, lookups: Lookups, batch_id: int):
        self.lookups, self.batch_id = lookups, batch_id
        self.writes_while_checking = db.engine.dialect.name == "postgresql"
        self._templates: dict = {}
        self._kept: list[list[Row]] = []
        self._client_ids: list[int] = []  # of the new clients written, in the order of plan.new

    def __enter__(self):
        self._fallback_group_id = Group.default().id
        self._stamp = audit_stamp(AUDIT_ACTION)
        with contextlib.ExitStack() as stack:  # closed here if the sender cannot start, else by __exit__
            if self.writes_while_checking:
                self.reads = stack.enter_context(db.engine.connect())
                self._sender = stack.enter_context(ChunkSender(db.session.connection()))
            else:
                self.reads = db.session
            self._exit = stack.pop_all()
        return self

    def __exit__(self, *error):
        return self._exit.__exit__(*error)

    def add(self, rows: list[Row]) -> None:
        """New clients, checked."""
        if not self.writes_while_checking:
            self._kept.append(rows)
            return
        ids = _new_ids(Client.__table__, len(rows), self.reads)
        if any(self._template_key(row) not in self._templates for row in rows):
            self._sender.wait()  # reading a template's settings may load them through the session
        self._send(self._sender, rows, ids)

    def finish(self, plan: Plan) -> list[int]:
        """Write what is left, all of the plan's new clients having been added; the ids of the clients to invite."""
        if self.writes_while_checking:
            self._sender.wait()
        else:
            new_clients = sa.select(Client.id).where(Client.import_batch_id == self.batch_id)
            with bulk_client_inserts(db.session, new_clients), ChunkSender(db.session.connection()) as sender:
                ids, start = _new_ids(Client.__table__, sum(map(len, self._kept)), db.session), 0
                for rows in self._kept:
                    self._send(sender, rows, ids[start:start + len(rows)])
                    start += len(rows)
        _update_changed(plan, self.lookups, self.batch_id)
        to_invite = [client_id for row, client_id in zip(plan.new, self._client_ids) if row.values.get("invitation")]
        return to_invite + plan.invite_existing

    def _send(self, sender: ChunkSender, rows: list[Row], ids: list[int]) -> None:
        templates = [self._template_defaults(row) for row in rows]
        sender.send(_chunk_rows(rows, ids, templates, self._fallback_group_id, self.batch_id, self._stamp))
        self._client_ids.extend(ids)

    def _template_key(self, row: Row) -> tuple:
        return row.values.get("template"), row.values.get("group") or self.lookups.default_group

    def _template_defaults(self, row: Row) -> TemplateDefaults:
        key = self._template_key(row)
        if key not in self._templates:
            self._templates[key] = TemplateDefaults(*key)
        return self._templates[key]


def _chunk_rows(rows: list[Row], client_ids: list[int], templates: list[TemplateDefaults], fallback_group_id: int,
                batch_id: int, stamp: dict) -> list[tuple[sa.Table, list[dict]]]:
    """The rows to insert for new clients, table by table (pure Python: see ChunkSender)."""
    now = utcnow()
    clients, contacts, accounts, integrations, events = [], [], [], [], []
    for row, client_id, template in zip(rows, client_ids, templates):
        values = row.values
        client = dict(template.client)
        client.update({attribute: values[key] for key, attribute in CLIENT_FIELDS.items() if key in values})
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
        if template.integration is not None:
            integrations.append({**template.integration, "client_id": client_id, "created_at": now, "updated_at": now})
            created["integration"] = template.integration_repr
        events.append((client_id, created["name"], client_id, created))
    return [
        (Client.__table__, clients), (Contact.__table__, contacts), (BankAccount.__table__, accounts),
        (ClientIntegration.__table__, integrations),
        (AuditEvent.__table__, bulk_created_events(stamp, "client", events)),
    ]


def _update_changed(plan: Plan, lookups: Lookups, batch_id: int) -> None:
    ids = [existing.id for _, existing, _ in plan.changed]
    clients = {}
    for chunk in lookup_chunks(ids):
        query = (
            sa.select(Client).where(one_of(Client.id, chunk))
            .options(selectinload(Client.contacts), selectinload(Client.bank_accounts), selectinload(Client.integration))
        )
        clients.update((c.id, c) for c in db.session.scalars(query))
    with audit_action(AUDIT_ACTION):
        for row, existing, changes in plan.changed:
            _update(clients[existing.id], row.values, changes, lookups)
            clients[existing.id].import_batch_id = batch_id
        db.session.flush()


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
