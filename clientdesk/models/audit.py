"""The audit trail: who changed what, written by the same flush (so the same transaction) as the change.

Every ORM insert, update and delete of a model is recorded, whatever made it (admin screen, CLI,
import, job), except models that set `__audit__ = False`. Column values named in
`__audit_secret__` are recorded as changed without their values; columns named in
`__audit_ignore__` (bookkeeping such as a last-login time) are not recorded.
"""
import contextlib
import contextvars
import json
from datetime import date, datetime

import sqlalchemy as sa
from flask import has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import PASSIVE_NO_INITIALIZE, get_history

from ..extensions import db
from .base import utcnow

SKIPPED_FIELDS = {"created_at", "updated_at", "search_text"}
SYSTEM = "system"  # the actor of changes made outside a request by no one in particular

# What people read for the recorded codes (a code missing here is shown as it is).
ACTION_LABELS = {
    "create": _l("Creation"), "update": _l("Modification"), "delete": _l("Deletion"), "invite": _l("Invitation"),
    "resend": _l("Invitation resent"), "accept": _l("Invitation accepted"), "activate": _l("Activation"),
    "deactivate": _l("Deactivation"), "reactivate": _l("Reactivation"), "replace_contact": _l("Primary contact replaced"),
    "invitation_failed": _l("Invitation e-mail not sent"), "peppol_on": _l("Peppol on"), "peppol_off": _l("Peppol off"),
    "peppol_retry": _l("Peppol registration retried"), "peppol_sync": _l("Peppol registration"),
    "vat_recheck": _l("VAT number re-checked"), "import": _l("Import"), "import.imported": _l("Import"),
    "import.checked": _l("Import check"), "import.invalid": _l("Import refused"), "import.failed": _l("Import failed"),
}
OBJECT_LABELS = {
    "client": _l("Client"), "contact": _l("Contact"), "bank_account": _l("Bank account"),
    "allowed_sender": _l("Allowed sender"), "client_integration": _l("Accounting software"), "document": _l("Document"),
    "group": _l("Group"), "user": _l("User"), "config_template": _l("Configuration template"),
    "integration_product": _l("Integration catalogue"), "import_batch": _l("Import"),
}

_actor = contextvars.ContextVar("audit_actor", default=None)
_action = contextvars.ContextVar("audit_action", default=None)


class AuditEvent(db.Model):
    __tablename__ = "audit_event"
    __audit__ = False

    id = db.Column(db.Integer, primary_key=True)
    at = db.Column(db.DateTime, nullable=False, default=utcnow, index=True)
    actor_id = db.Column(db.ForeignKey("user.id", ondelete="SET NULL"), index=True)
    actor = db.Column(db.String(254), nullable=False)
    action = db.Column(db.String(40), nullable=False)
    object_type = db.Column(db.String(40), nullable=False)
    object_id = db.Column(db.String(40), nullable=False)
    object_repr = db.Column(db.String(200), nullable=False)
    # Not a foreign key: the trail of a deleted client stays readable.
    client_id = db.Column(db.Integer, index=True)
    changes_json = db.Column(db.Text, nullable=False, default="{}")

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
        return _l("system") if self.actor == SYSTEM else self.actor

    @property
    def changes(self) -> dict:
        return json.loads(self.changes_json)


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


def _plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _audited_fields(cls) -> tuple[set, tuple]:
    """The fields of a model the audit leaves out, and those it records as "(changed)" only."""
    return SKIPPED_FIELDS.union(getattr(cls, "__audit_ignore__", ())), getattr(cls, "__audit_secret__", ())


def _column_changes(obj, kind: str) -> dict:
    state = sa.inspect(obj)
    skipped, secret = _audited_fields(type(obj))
    columns, relationships = state.mapper.column_attrs, state.mapper.relationships
    if kind == "update":  # only attributes set since the last flush can have changed (not all ~50 of a client)
        columns = [attr for attr in columns if attr.key in state.committed_state]
        relationships = [rel for rel in relationships if rel.key in state.committed_state]
    changes = {}
    for attr in columns:
        key = attr.key
        if key in skipped or key not in state.dict and kind != "delete":
            continue
        history = get_history(obj, key, PASSIVE_NO_INITIALIZE)  # state.attrs would build all ~60 attribute states
        if kind == "update":
            if not history.has_changes():
                continue
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
        elif kind == "create":
            old, new = None, state.dict.get(key)
            if new is None:
                continue
        else:
            old, new = state.dict.get(key), None
            if old is None:
                continue
        changes[key] = "(changed)" if key in secret else [_plain(old), _plain(new)]
    for rel in relationships:
        if rel.uselist and rel.secondary is not None:  # many-to-many membership
            history = get_history(obj, rel.key, PASSIVE_NO_INITIALIZE)
            if history.added or history.deleted:
                changes[rel.key] = {"added": [str(o) for o in history.added], "removed": [str(o) for o in history.deleted]}
    return changes


def _client_id(obj):
    from .client import Client

    return obj.id if isinstance(obj, Client) else getattr(obj, "client_id", None)


def audit_stamp(action: str) -> dict:
    """What the audit rows of one write share: when, who, under which action."""
    actor = current_actor()
    return {"at": utcnow(), "actor_id": actor.id if actor is not None else None,
            "actor": actor.email if actor is not None else SYSTEM, "action": action}


def _event_row(stamp: dict, obj, object_id, changes: dict) -> dict:
    return {**stamp, "object_type": obj.__tablename__, "object_id": str(object_id), "object_repr": str(obj)[:200],
            "client_id": _client_id(obj), "changes_json": json.dumps(changes, default=str)}


def _record(session: Session, flush_context) -> None:
    action = _action.get()
    stamps = {}  # made for the first row of each kind: most flushes (a task's progress) audit nothing
    rows = []
    for kind, objects in (("create", session.new), ("update", session.dirty), ("delete", session.deleted)):
        for obj in objects:
            if not getattr(type(obj), "__audit__", True) or not hasattr(obj, "__table__"):
                continue
            changes = _column_changes(obj, kind)
            if kind == "update" and not changes:
                continue
            identity = sa.inspect(obj).identity
            if kind not in stamps:
                stamps[kind] = audit_stamp(action or kind)
            rows.append(_event_row(stamps[kind], obj, identity[0] if identity else "", changes))
    if rows:
        session.connection().execute(sa.insert(AuditEvent.__table__), rows)


_AS_IS = (str, int, bool, dict)  # values json writes as they are (a dict: a row created with the object)


def bulk_created_events(stamp: dict, object_type: str, objects) -> list[dict]:
    """Audit rows for rows inserted with Core (which bypasses the flush hook), in the hook's format.

    `stamp`: audit_stamp(action); `objects` yields (object_id, object_repr, client_id, inserted column values;
    a dict value holds the values of a row created with it); insert the result into `audit_event` in the same
    transaction.
    """
    common = {**stamp, "object_type": object_type}
    return [
        {
            **common,
            "object_id": str(object_id),
            "object_repr": str(object_repr)[:200],
            "client_id": client_id,
            "changes_json": json.dumps(
                {k: [None, v if v.__class__ in _AS_IS else _plain(v)] for k, v in values.items()
                 if v is not None and k not in SKIPPED_FIELDS}, default=str
            ),
        }
        for object_id, object_repr, client_id, values in objects
    ]


def bulk_updated_events(action: str, objects, values: dict) -> list[dict]:
    """Audit rows for `values` written to the loaded `objects` by one UPDATE (which bypasses the flush hook), in
    the hook's format: only the values that change. Call it before the UPDATE, while the objects hold the old
    values; insert the result into `audit_event` in the same transaction."""
    stamp = audit_stamp(action)
    events = []
    for obj in objects:
        skipped, secret = _audited_fields(type(obj))
        changes = {key: "(changed)" if key in secret else [_plain(getattr(obj, key)), _plain(value)]
                   for key, value in values.items() if key not in skipped and getattr(obj, key) != value}
        if changes:
            events.append(_event_row(stamp, obj, obj.id, changes))
    return events


def record(action: str, obj, changes: dict | None = None) -> None:
    """An explicit audit event for something that is not a row change (e.g. an e-mail sent)."""
    db.session.add(AuditEvent(**_event_row(audit_stamp(action), obj, obj.id, changes or {})))


def install() -> None:
    if not sa.event.contains(Session, "after_flush", _record):
        sa.event.listen(Session, "after_flush", _record)
