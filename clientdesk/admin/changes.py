"""An audit event's changes as people read them, for every screen that shows the audit trail.

Each field is named as the admin screens name it (their `column_labels`), in the user's language; its values
as the screens show them: Yes/No, dates and times in local time (the audit's JSON holds ISO strings in UTC),
an enum's label for its code, the name of the row a foreign key points to, — for nothing, and "(changed)" for
a secret. `AuditFields` works this out once per app, from the model views (`build_admin`).
"""
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy.orm import MANYTOONE

from ..extensions import db
from ..i18n import localdate, localdatetime
from ..models.audit import SECRET

EXTENSION = "clientdesk.audit_fields"

# Labels of what no model view lists: the facts explicit events record (audit.record) and unlisted models.
OTHER_LABELS = {
    "client": {"to": _l("Recipient"), "error": _l("Error")},
    "client_note": {"client": _l("Client"), "author": _l("Author"), "text": _l("Note")},
    "change_proposal": {
        "client_id": _l("Client"), "proposed_by_id": _l("Proposed by"), "subject": _l("Subject"), "contact_id": _l("Contact"),
        "changes_json": _l("Changes"), "comment": _l("Comment"), "state": _l("State"), "decided_by_id": _l("Decided by"),
        "decided_at": _l("Decided on"), "reason": _l("Reason"),
    },
    "client_user": {
        "client_id": _l("Client"), "contact_id": _l("Contact"), "full_name": _l("Name"), "role": _l("Role"),
        "email": _l("E-mail"), "password_hash": _l("Password"), "active": _l("Active"), "ui_language": _l("Language"),
    },
    "register_change": {
        "client_id": _l("Client"), "register_load_id": _l("Register extract"), "field": _l("Field"),
        "old_json": _l("Before, in the register"), "new_json": _l("Now, in the register"), "detected_at": _l("Found on"),
        "state": _l("State"), "acknowledged_by_id": _l("Reviewed by"), "acknowledged_at": _l("Reviewed on"),
    },
    "import_batch": {
        "file": _l("File"), "dry_run": _l("Check only"), "rows": _l("Rows"), "new": _l("New clients"),
        "changed": _l("Updated"), "unchanged": _l("Unchanged"), "errors": _l("Errors"),
    },
}


@dataclass(frozen=True)
class ShownChange:
    label: str
    values: tuple[str, ...]  # before and after; one value for a created or deleted row, or an explicit fact


class AuditFields:
    """The label and the way of showing every field an audit event may name, by object type (table name)."""

    def __init__(self, model_views):
        self.labels = {object_type: dict(labels) for object_type, labels in OTHER_LABELS.items()}
        self.shows = {}
        for view in model_views:
            self.labels.setdefault(view.model.__tablename__, {}).update(view.column_labels or {})
        for mapper in db.Model.registry.mappers:
            labels = self.labels.setdefault(mapper.local_table.name, {})
            self.shows[mapper.local_table.name] = _value_shows(mapper)
            for relationship in mapper.relationships:  # a foreign key is named as its relationship
                if relationship.direction is MANYTOONE and relationship.key in labels:
                    for column in relationship.local_columns:
                        labels.setdefault(column.key, labels[relationship.key])

    def label(self, object_type: str, field: str) -> str:
        return self.labels.get(object_type, {}).get(field, field)

    def shown(self, object_type: str, field: str, value) -> str:
        if value is None:
            return "—"
        if value is True or value is False:
            return _("Yes") if value else _("No")
        if value == SECRET:
            return _("(changed)")
        if isinstance(value, dict) and value.keys() == {"added", "removed"}:  # a many-to-many membership
            parts = [_("added: %(names)s", names=", ".join(value["added"])) if value["added"] else "",
                     _("removed: %(names)s", names=", ".join(value["removed"])) if value["removed"] else ""]
            return "; ".join(part for part in parts if part)
        show = self.shows.get(object_type, {}).get(field)
        return show(value) if show is not None else str(value)


def _value_shows(mapper) -> dict:
    """How the values of a model's fields are shown, where not as they are: {field: function of the JSON value}."""
    shows = {}
    for column in mapper.local_table.columns:
        if isinstance(column.type, sa.DateTime):
            shows[column.key] = lambda value: localdatetime(datetime.fromisoformat(value))
        elif isinstance(column.type, sa.Date):
            shows[column.key] = lambda value: localdate(date.fromisoformat(value))
    for constraint in mapper.local_table.constraints:
        if "choices" in constraint.info:  # models.base.choice_check
            shows[constraint.info["column"]] = _label_of(constraint.info["choices"])
    for relationship in mapper.relationships:
        if relationship.direction is MANYTOONE:
            for column in relationship.local_columns:
                shows[column.key] = _row_named(relationship.mapper.class_)
    return shows


def _label_of(choices):
    def show(code) -> str:
        try:
            return str(choices(code).label)
        except ValueError:  # a code no longer in use
            return code
    return show


def _row_named(model):
    def show(id_) -> str:
        row = db.session.get(model, id_)  # the rows an event names are few, and read once per session
        return str(row) if row is not None else f"#{id_}"
    return show


def shown_changes(event, only: tuple[str, ...] | None = None) -> list[ShownChange]:
    """The changes of an audit event (models/audit.py), each as its label and its values shown; `only`: of these fields."""
    fields = current_app.extensions[EXTENSION]
    changes = event.changes
    if only is not None:
        changes = {field: change for field, change in changes.items() if field in only}
    pairs = [change for change in changes.values() if isinstance(change, list)]
    # A created row holds nothing before, a deleted one nothing after: only the side that holds values is shown.
    side = 1 if all(old is None for old, _new in pairs) else 0 if all(new is None for _old, new in pairs) else None
    shown = []
    for field, change in changes.items():
        values = change if isinstance(change, list) else [change]
        if isinstance(change, list) and side is not None:
            values = [change[side]]
        shown.append(ShownChange(fields.label(event.object_type, field),
                                 tuple(fields.shown(event.object_type, field, value) for value in values)))
    return shown
