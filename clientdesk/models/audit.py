"""The audit trail: who changed what, written in the same transaction as the change.

Every ORM insert, update and delete of a model is recorded by the app's session's flush, whatever made it
(admin screen, CLI, import, job), except models that set `__audit__ = False`; rows written with Core (bulk
invitations, the import's inserts) are recorded by their writers through `bulk_updated_events` and
`inserted_events`. Every path builds an event's changes with `row_changes`: one event per row,
{field: [old, new]}; columns named in `__audit_secret__` are recorded as SECRET, without their values;
columns named in `__audit_ignore__` (bookkeeping such as a last-login time) are not recorded.
"""
import contextlib
import contextvars
import functools
import json
from datetime import date, datetime

import sqlalchemy as sa
from flask import has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import PASSIVE_NO_INITIALIZE, get_history

from ..extensions import db
from .base import utcnow
from .client import Client

# Fields no event records: the row's id (the event names its object), bookkeeping and derived columns.
SKIPPED_FIELDS = {"id", "created_at", "updated_at", "search_text"}
SECRET = "(changed)"  # what an event records of a secret field that changed, instead of its values
SYSTEM = "system"  # the actor of changes made outside a request by no one in particular

# What people read for the recorded codes (a code missing here is shown as it is).
ACTION_LABELS = {
    "create": _l("Creation"), "update": _l("Modification"), "delete": _l("Deletion"), "invite": _l("Invitation"),
    "resend": _l("Invitation resent"), "accept": _l("Invitation accepted"), "activate": _l("Activation"),
    "deactivate": _l("Deactivation"), "reactivate": _l("Reactivation"), "replace_contact": _l("Primary contact replaced"),
    "void_invitation": _l("Invitation voided"), "invite_colleague": _l("Colleague invited"),
    "invitation_failed": _l("Invitation e-mail not sent"), "retry_delivery": _l("Invitation e-mail sent again"),
    "reminder": _l("Invitation reminder"), "reminder_failed": _l("Invitation reminder not sent"),
    "trial_reminder": _l("Trial-ending reminder"), "trial_reminder_failed": _l("Trial-ending reminder not sent"),
    "peppol_on": _l("Peppol on"), "peppol_off": _l("Peppol off"),
    "peppol_retry": _l("Peppol registration retried"), "peppol_sync": _l("Peppol registration"),
    "vat_recheck": _l("VAT number re-checked"), "import": _l("Import"), "import.imported": _l("Import"),
    "import.checked": _l("Import check"), "import.invalid": _l("Import refused"), "import.failed": _l("Import failed"),
    "hide": _l("Hidden from staff"), "unhide": _l("Visible to staff again"),
    "end_sessions": _l("Signed out everywhere"),
    "change_group": _l("Group changed"), "change_firm_contact": _l("Firm contact changed"),
    "change_client_facing_contact": _l("Client-facing contact changed"), "apply_template": _l("Template applied"),
    "hand_over": _l("Clients handed over"),
    "propose": _l("Correction proposed"), "accept_proposal": _l("Correction accepted"),
    "refuse_proposal": _l("Correction refused"), "withdraw_proposal": _l("Correction withdrawn"),
}
OBJECT_LABELS = {
    "client": _l("Client"), "contact": _l("Contact"), "bank_account": _l("Bank account"),
    "allowed_sender": _l("Allowed sender"), "client_integration": _l("Accounting software"), "document": _l("Document"),
    "group": _l("Group"), "user": _l("User"), "client_user": _l("Client user"), "config_template": _l("Configuration template"),
    "integration_product": _l("Integration catalogue"), "import_batch": _l("Import"), "client_note": _l("Note"),
    "firm_settings": _l("Firm settings"), "change_proposal": _l("Proposed correction"),
}

# changes_json: compact, and without the check for circular references (changes are plain values built here).
_to_json = json.JSONEncoder(check_circular=False, separators=(",", ":")).encode

_actor = contextvars.ContextVar("audit_actor", default=None)
_action = contextvars.ContextVar("audit_action", default=None)


class AuditEvent(db.Model):
    __tablename__ = "audit_event"
    __audit__ = False

    id = db.Column(db.Integer, primary_key=True)
    at = db.Column(db.DateTime, nullable=False, default=utcnow, index=True)
    actor_id = db.Column(db.ForeignKey("user.id", ondelete="SET NULL"), index=True)
    client_user_id = db.Column(db.ForeignKey("client_user.id", ondelete="SET NULL"), index=True)
    actor = db.Column(db.String(254), nullable=False)  # the e-mail, kept when the account is gone
    action = db.Column(db.String(40), nullable=False)
    object_type = db.Column(db.String(40), nullable=False)
    object_id = db.Column(db.String(40), nullable=False)
    object_repr = db.Column(db.String(200), nullable=False)
    # Not a foreign key: the trail of a deleted client stays readable.
    client_id = db.Column(db.Integer, index=True)
    changes_json = db.Column(db.Text, nullable=False, default="{}")

    client_user = db.relationship("ClientUser", lazy="selectin")

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.object_type} {self.object_repr}"

    @property
    def action_label(self) -> str:
        return ACTION_LABELS.get(self.action, self.action)

    @property
    def object_label(self) -> str:
        return OBJECT_LABELS.get(self.object_type, self.object_type)

    @property
    def actor_label(self) -> str:
        if self.client_user is not None:
            return _l("%(name)s (client user, %(email)s)", name=self.client_user, email=self.actor)
        return _l("system") if self.actor == SYSTEM else self.actor

    @property
    def changes(self) -> dict:
        return json.loads(self.changes_json)


def changed(field: str):
    """A condition on events: their changes include `field` (as row_changes records it, "field":[old,new])."""
    return AuditEvent.changes_json.contains(_to_json(field) + ":[")


@contextlib.contextmanager
def acting_as(user):
    """Attribute changes made outside a web request (CLI, jobs) to `user` (None: the system)."""
    token = _actor.set(user)
    try:
        yield
    finally:
        _actor.reset(token)


@contextlib.contextmanager
def audit_action(action: str):
    """Record the changes made inside the block under a named action (e.g. "invite") instead of "update"."""
    token = _action.set(action)
    try:
        yield
    finally:
        _action.reset(token)


def current_actor():
    actor = _actor.get()
    if actor is None and has_request_context():
        from flask_login import current_user

        if current_user and current_user.is_authenticated:
            actor = current_user._get_current_object()
    return actor


_AS_IS = (str, int, bool, float)  # values the audit's JSON holds as they are (None too)


def _plain(value):
    """A value as the audit's JSON holds it: dates and datetimes (UTC) as ISO strings."""
    if value is None or value.__class__ in _AS_IS:
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


@functools.cache
def _field_rules(cls) -> tuple[frozenset, frozenset]:
    """The fields of a model the audit leaves out, and those it records as SECRET."""
    return (frozenset(SKIPPED_FIELDS.union(getattr(cls, "__audit_ignore__", ()))),
            frozenset(getattr(cls, "__audit_secret__", ())))


def row_changes(cls, old: dict, new: dict) -> dict:
    """What the audit records of a row of `cls` whose fields went from `old` to `new` (a created row: `old`
    empty; a deleted one: `new` empty): {field: [old, new]}, SECRET for a secret field; nothing for a field the
    model's audit leaves out, or that holds no value before or after."""
    skipped, secret = _field_rules(cls)
    if not old:  # a created row (the import's thousands): its values alone
        return {key: SECRET if key in secret else [None, value if value.__class__ in _AS_IS else _plain(value)]
                for key, value in new.items() if value is not None and key not in skipped}
    changes = {}
    for key in {**old, **new}:
        before, after = old.get(key), new.get(key)
        if key in skipped or before is None and after is None:
            continue
        changes[key] = SECRET if key in secret else [_plain(before), _plain(after)]
    return changes


def _flushed_changes(obj, kind: str) -> dict:
    """The changes of an object the session is flushing (kind: create, update or delete)."""
    state = sa.inspect(obj)
    columns, relationships = state.mapper.column_attrs, state.mapper.relationships
    if kind == "update":  # only attributes set since the last flush can have changed (not all ~50 of a client)
        old, new = {}, {}
        for key in state.committed_state:
            if key in columns and key in state.dict:
                history = get_history(obj, key, PASSIVE_NO_INITIALIZE)  # state.attrs would build every attribute's state
                if history.has_changes():
                    old[key] = history.deleted[0] if history.deleted else None
                    new[key] = history.added[0] if history.added else None
        relationships = [rel for rel in relationships if rel.key in state.committed_state]
    else:
        values = {attr.key: state.dict[attr.key] for attr in columns if attr.key in state.dict}
        old, new = ({}, values) if kind == "create" else (values, {})
    changes = row_changes(type(obj), old, new)
    skipped = _field_rules(type(obj))[0]
    for rel in relationships:
        if rel.uselist and rel.secondary is not None and rel.key not in skipped:  # a many-to-many membership
            history = get_history(obj, rel.key, PASSIVE_NO_INITIALIZE)
            if history.added or history.deleted:
                changes[rel.key] = {"added": [str(o) for o in history.added], "removed": [str(o) for o in history.deleted]}
    return changes


def _client_id(model, object_id, client_id):
    """The client an event concerns: a client's own id, else the row's client (if it belongs to one)."""
    return object_id if issubclass(model, Client) else client_id


def audit_stamp(action: str) -> dict:
    """What the audit rows of one write share: when, who, under which action."""
    actor = current_actor()
    from .client_user import ClientUser
    from .user import User

    return {"at": utcnow(), "actor_id": actor.id if isinstance(actor, User) else None,
            "client_user_id": actor.id if isinstance(actor, ClientUser) else None,
            "actor": actor.email if actor is not None else SYSTEM, "action": action}


def event_row(stamp: dict, object_type: str, object_id, object_repr: str, client_id: int | None, changes: dict) -> dict:
    """One row of `audit_event`: `stamp` (audit_stamp) and `changes` (row_changes) on one object."""
    return {**stamp, "object_type": object_type, "object_id": str(object_id), "object_repr": object_repr[:200],
            "client_id": client_id, "changes_json": _to_json(changes)}


def _object_row(stamp: dict, obj, object_id, changes: dict) -> dict:
    client_id = _client_id(type(obj), object_id, getattr(obj, "client_id", None))
    return event_row(stamp, obj.__tablename__, object_id, str(obj), client_id, changes)


def _record(session: Session, flush_context) -> None:
    action = _action.get()
    stamps = {}  # made for the first row of each kind: most flushes (a task's progress) audit nothing
    rows = []
    for kind, objects in (("create", session.new), ("update", session.dirty), ("delete", session.deleted)):
        for obj in objects:
            if not getattr(type(obj), "__audit__", True) or not hasattr(obj, "__table__"):
                continue
            changes = _flushed_changes(obj, kind)
            if kind == "update" and not changes:
                continue
            if kind not in stamps:
                stamps[kind] = audit_stamp(action or kind)
            object_id = sa.inspect(obj).mapper.primary_key_from_instance(obj)[0]  # a new object has no identity yet
            rows.append(_object_row(stamps[kind], obj, object_id, changes))
    if rows:
        session.connection().execute(sa.insert(AuditEvent.__table__), rows)


def inserted_events(stamp: dict, model, rows: list[dict], names: list[str]) -> list[dict]:
    """Audit rows for `rows` (every column's value, ids included) inserted into `model`'s table with Core, which
    bypasses the flush hook, as the hook writes them for the objects it creates; `names`: what each row's object
    is called (its str()). Insert the result into `audit_event` in the same transaction."""
    object_type = model.__tablename__
    return [event_row(stamp, object_type, row["id"], name, _client_id(model, row["id"], row.get("client_id")),
                      row_changes(model, {}, row))
            for row, name in zip(rows, names)]


def bulk_updated_events(action: str, objects, values: dict) -> list[dict]:
    """Audit rows for `values` written to the loaded `objects` by one UPDATE (which bypasses the flush hook), as
    the hook writes them: only the values that change. Call it before the UPDATE, while the objects hold the old
    values; insert the result into `audit_event` in the same transaction."""
    stamp = audit_stamp(action)
    events = []
    for obj in objects:
        changed = {key: value for key, value in values.items() if getattr(obj, key) != value}
        changes = row_changes(type(obj), {key: getattr(obj, key) for key in changed}, changed)
        if changes:
            events.append(_object_row(stamp, obj, obj.id, changes))
    return events


def record(action: str, obj, facts: dict | None = None) -> None:
    """An explicit audit event for something that is not a row change (e.g. an e-mail sent), with `facts`
    ({name: value}); a fact named as a field the model's audit leaves out or keeps secret is treated as that field."""
    skipped, secret = _field_rules(type(obj))
    recorded = {key: SECRET if key in secret else _plain(value) for key, value in (facts or {}).items() if key not in skipped}
    db.session.add(AuditEvent(**_object_row(audit_stamp(action), obj, obj.id, recorded)))


def init_app(app) -> None:
    """Audit every flush of the app's sessions. Flask-SQLAlchemy's session makes sessions of a class of its own,
    so other sessions in the process are not audited. Idempotent: create_app may run more than once."""
    session = app.extensions["sqlalchemy"].session
    if not sa.event.contains(session, "after_flush", _record):
        sa.event.listen(session, "after_flush", _record)
