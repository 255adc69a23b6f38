"""What a load of the company register changed for the firm's clients: the name, the seat address, or the status (an
enterprise that left the register: stopped or struck off) of a client's enterprise, as the register had it before the
load and after. Each change is a RegisterChange row that staff apply to the client or dismiss on the client page
(admin/client_register.py); a load never changes a client's own fields.

Only the enterprises of our clients are compared (`snapshot` before the load, `flag_clients` after it): a few
indexed queries per 500 clients, whatever the register's size. One open row per client and field: a later load
that changes it again updates that row (and removes it when the register is back at the value the row started
from)."""
import json

import sqlalchemy as sa
from flask_babel import gettext as _

from . import notifications, rules
from .errors import Refused
from .extensions import db
from .i18n import language_of_locale
from .models import Client, NotificationKind, RegisterChange, RegisterChangeState, RegisterField, RegisterLoad, User, utcnow
from .models.audit import audit_action
from .services.register import LocalRegister

ACTIVE, STOPPED = "active", "stopped"
ADDRESS_FIELDS = ("street", "house_number", "box", "postal_code", "city")
NOT_IN_REGISTER = {"status": STOPPED, "name": None, "address": None}


def _clients(numbers=None) -> dict[str, tuple[int, str]]:
    """{enterprise number: (client id, language of its names)} of the Belgian clients with a number (among `numbers`)."""
    query = sa.select(Client.enterprise_number, Client.id, Client.language).where(
        Client.country == "BE", Client.enterprise_number.is_not(None))
    rows = db.session.execute(query).all()
    wanted = None if numbers is None else set(numbers)
    return {number: (client_id, language_of_locale(language) or "fr") for number, client_id, language in rows
            if wanted is None or number in wanted}


def snapshot(numbers=None) -> dict[str, dict]:
    """What the register in use says of our clients' enterprises (those among `numbers`, when given):
    {enterprise number: {"status", "name", "address"}}; an enterprise it does not have is "stopped"."""
    clients = _clients(numbers)
    by_language = {}
    for number, (_client_id, language) in clients.items():
        by_language.setdefault(language, []).append(number)
    register, found = LocalRegister(), {}
    for language, wanted in by_language.items():
        for number, company in register.get_many(wanted, language).items():
            address = {field: getattr(company, field) for field in ADDRESS_FIELDS}
            address["country"] = company.foreign_country
            found[number] = {"status": ACTIVE, "name": company.name,
                             "address": address if any(address.values()) else None}
    return {number: found.get(number, NOT_IN_REGISTER) for number in clients}


def flag_clients(load: RegisterLoad, before: dict[str, dict]) -> list[RegisterChange]:
    """After `load`: a RegisterChange for each client whose enterprise's name, seat address or status differs from
    `before` (a `snapshot` taken before the load). Returns the rows created or updated; the caller commits."""
    if not before:
        return []
    after = snapshot(before)
    clients = _clients(before)
    ids = [client_id for client_id, _language in clients.values()]
    open_rows = {}
    for start in range(0, len(ids), 500):
        for row in db.session.scalars(sa.select(RegisterChange).where(
                RegisterChange.client_id.in_(ids[start:start + 500]), RegisterChange.state == RegisterChangeState.OPEN.value)):
            open_rows[(row.client_id, row.field)] = row
    flagged = []
    with audit_action("register_update"):
        for number, old in before.items():
            if number not in clients:
                continue
            client_id, new = clients[number][0], after.get(number, NOT_IN_REGISTER)
            for field in RegisterField:
                if field != RegisterField.STATUS and STOPPED in (old["status"], new["status"]):
                    continue  # an enterprise that left the register (or came back): its status says it
                existing = open_rows.get((client_id, field.value))
                if existing is not None:
                    if new[field] == existing.old_value:
                        db.session.delete(existing)  # back to what it was when flagged
                    elif new[field] != existing.new_value:
                        existing.new_json, existing.register_load, existing.detected_at = json.dumps(new[field]), load, utcnow()
                        flagged.append(existing)
                elif old[field] != new[field] and not (field == RegisterField.STATUS and old["status"] == STOPPED):
                    change = RegisterChange(client_id=client_id, register_load=load, field=field.value,
                                            old_json=json.dumps(old[field]), new_json=json.dumps(new[field]))
                    db.session.add(change)
                    flagged.append(change)
        db.session.flush()
    _notify(flagged)
    return flagged


def _notify(flagged: list[RegisterChange]) -> None:
    """One notification per client, naming the fields that changed."""
    fields = {}
    for change in flagged:
        fields.setdefault(change.client_id, set()).add(change.field)
    for client_id, changed in fields.items():
        notifications.notify_client_event(NotificationKind.REGISTER_CHANGE, db.session.get(Client, client_id),
                                          fields=sorted(changed))


def display(field: str, value) -> str:
    """A register value as staff read it."""
    if value is None:
        return _("(none)") if field != RegisterField.ADDRESS else _("(no seat address)")
    if field == RegisterField.STATUS:
        return _("in the register") if value == ACTIVE else _("no longer in the register (stopped or struck off)")
    if field == RegisterField.ADDRESS:
        street = " ".join(p for p in (value.get("street"), value.get("house_number")) if p)
        if street and value.get("box"):
            street = _("%(street)s box %(box)s", street=street, box=value["box"])
        town = " ".join(p for p in (value.get("postal_code"), value.get("city")) if p)
        return ", ".join(p for p in (street, town, value.get("country")) if p)
    return value


def client_values(change: RegisterChange) -> dict:
    """The client's fields `change` would set, {column: value}; Refused when it has nothing to copy."""
    new = change.new_value
    if change.field == RegisterField.STATUS:
        raise Refused(_("A change of status has nothing to copy to the client: dismiss it once the client is dealt with."))
    if change.field == RegisterField.NAME:
        values = {"name": new}
    elif new is None:
        raise Refused(_("The register has no seat address for this enterprise any more: there is nothing to copy."))
    elif new.get("country"):
        raise Refused(_("The seat is abroad (%(country)s): change the client's address and country by hand.",
                        country=new["country"]))
    else:
        values = {field: new.get(field) for field in ADDRESS_FIELDS}
    for field, value in values.items():
        limit = Client.__table__.c[field].type.length
        if value and len(value) > limit:
            raise Refused(_("The register's value is longer than the %(num)d characters the client's field takes: edit "
                            "the client by hand.", num=limit))
    return values


def apply(change: RegisterChange, user: User) -> None:
    """Copy the register's new value into the client's fields, as an edit in the admin form would (the client rules,
    audited), and acknowledge the change."""
    _require_open(change)
    values = client_values(change)
    client = change.client
    known = rules.problems(client)
    rules.check(client, known=known, **values)
    with audit_action("apply_register_change"):
        for field, value in values.items():
            setattr(client, field, value)
        _acknowledge(change, user, RegisterChangeState.APPLIED)


def dismiss(change: RegisterChange, user: User) -> None:
    """Acknowledge the change without touching the client."""
    _require_open(change)
    with audit_action("dismiss_register_change"):
        _acknowledge(change, user, RegisterChangeState.DISMISSED)


def _require_open(change: RegisterChange) -> None:
    if change.state != RegisterChangeState.OPEN:
        raise Refused(_("This register change was already %(state)s.", state=change.state_label.lower()))


def _acknowledge(change: RegisterChange, user: User, state: RegisterChangeState) -> None:
    change.state, change.acknowledged_by, change.acknowledged_at = state.value, user, utcnow()
    db.session.flush()


def open_and_reviewed(client: Client, limit: int = 10) -> tuple[list[RegisterChange], list[RegisterChange]]:
    """The client's open register changes, oldest first, and its `limit` latest reviewed ones, newest first: one
    statement."""
    is_open = RegisterChange.state == RegisterChangeState.OPEN.value
    latest_reviewed = (sa.select(RegisterChange.id).where(RegisterChange.client_id == client.id, ~is_open)
                       .order_by(RegisterChange.acknowledged_at.desc(), RegisterChange.id.desc()).limit(limit))
    # Open rows sort on the first two keys, reviewed ones (NULL there) on the last two.
    shown = db.session.scalars(sa.select(RegisterChange).where(
        RegisterChange.client_id == client.id, is_open | RegisterChange.id.in_(latest_reviewed))
        .order_by(sa.case((is_open, RegisterChange.detected_at)), sa.case((is_open, RegisterChange.id)),
                  RegisterChange.acknowledged_at.desc(), RegisterChange.id.desc())).all()
    return ([change for change in shown if change.state == RegisterChangeState.OPEN.value],
            [change for change in shown if change.state != RegisterChangeState.OPEN.value])


def open_condition():
    """Clients with register changes that staff have not yet applied or dismissed."""
    return sa.exists().where(RegisterChange.client_id == Client.id, RegisterChange.state == RegisterChangeState.OPEN.value)
