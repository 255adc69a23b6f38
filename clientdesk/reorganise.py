"""Reorganising: one change to many clients (their group, firm contact, client-facing contact, a template's
defaults) and the hand-over of a deactivated staff user's clients.

`decide(change, clients, user)` is the one place that says, client by client, what a change does: the column
values it writes, or why the client is left as it is. The preview page shows its answer before anything runs,
and the task (jobs/reorganise.py) asks it again, chunk by chunk, as the rows stand then, so what the preview
promised is what the task does, and a row that changed meanwhile is decided on its current state.
`write(change, decisions)` writes the decided values: one UPDATE per distinct set of values with one audit row
per client (a reassignment of thousands of clients is a few statements), or, for a template, through
the template's defaults and the Peppol switches.
"""
from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy.orm import joinedload, load_only, selectinload

from . import rules, scoping
from .einvoicing import PeppolRefused, PeppolSwitches
from .extensions import db
from .models import AuditEvent, Client, ConfigTemplate, Group, Role, User
from .models.audit import audit_action, bulk_updated_events

# change -> (the role that may make it, the client column it sets, its audit action)
CHANGES = {
    "group": (Role.SUPERVISOR, "group_id", "change_group"),
    "firm_contact": (Role.SUPERVISOR, "firm_contact_id", "change_firm_contact"),
    "client_facing_contact": (Role.ADMIN, "client_facing_contact_id", "change_client_facing_contact"),
    "template": (Role.SUPERVISOR, "template_id", "apply_template"),
    "hand_over": (Role.ADMIN, None, "hand_over"),
}
CHANGE_LABELS = {
    "group": _l("Change group"), "firm_contact": _l("Change firm contact"),
    "client_facing_contact": _l("Change client-facing contact"), "template": _l("Apply a template"),
    "hand_over": _l("Hand over a deactivated user's clients"),
}


class Unknown(ValueError):
    """A change or target that does not exist, or that the user may not use."""


@dataclass
class Change:
    """One reorganisation: `kind` (a CHANGES key) towards `target` (a Group, a User or a ConfigTemplate); for a
    hand-over, `leaving` (the deactivated user) and `successors` (firm contact, client-facing contact)."""
    kind: str
    target: object = None
    leaving: User | None = None
    successors: tuple = (None, None)
    config: dict = field(default_factory=dict)

    @property
    def audit_action(self) -> str:
        return CHANGES[self.kind][2]

    def args(self) -> list:
        """What a job needs to build this change again (ids)."""
        if self.kind == "hand_over":
            return [self.kind, [self.leaving.id, *(user.id if user else None for user in self.successors)]]
        return [self.kind, self.target.id]


def allowed(kind: str, user) -> bool:
    return kind in CHANGES and user.has_role(CHANGES[kind][0])


def targets(kind: str, user) -> list[tuple[int, str]]:
    """The choices of a change's target: the groups `user` may put clients in, active staff users, or templates."""
    if kind == "group":
        return [(group.id, group.name) for group in db.session.scalars(scoping.assignable_groups(user))]
    if kind in ("firm_contact", "client_facing_contact"):
        return [(staff.id, str(staff)) for staff in db.session.scalars(scoping.staff_users())]
    if kind == "template":
        return [(template.id, template.name) for template in db.session.scalars(sa.select(ConfigTemplate)
                                                                                .order_by(ConfigTemplate.name))]
    raise Unknown(kind)


def build(kind: str, target_ids, user, config) -> Change:
    """The change from a kind and the ids a form or a job carries; Unknown when it does not exist or the user may
    not make it (a deactivated user as a contact, a role too low)."""
    if not allowed(kind, user):
        raise Unknown(kind)
    if kind == "hand_over":
        leaving_id, *successor_ids = target_ids
        leaving = db.session.get(User, leaving_id)
        successors = tuple(_active_user(pk) if pk is not None else None for pk in successor_ids)
        if leaving is None:
            raise Unknown(kind)
        return Change(kind, leaving=leaving, successors=successors, config=config)
    if kind == "group":
        target = db.session.scalar(scoping.assignable_groups(user).where(Group.id == target_ids))
    elif kind == "template":
        target = db.session.get(ConfigTemplate, target_ids)
    else:
        target = _active_user(target_ids)
    if target is None:
        raise Unknown(kind)
    return Change(kind, target=target, config=config)


def _active_user(pk) -> User:
    user = db.session.scalar(scoping.staff_users().where(User.id == pk))
    if user is None:
        raise Unknown(pk)
    return user


def clients_of(leaving: User) -> list[int]:
    """The clients a leaving user is the firm contact or the client-facing contact of."""
    return list(db.session.scalars(sa.select(Client.id).where(sa.or_(
        Client.firm_contact_id == leaving.id, Client.client_facing_contact_id == leaving.id)).order_by(Client.id)))


def templates_of(leaving: User) -> list[ConfigTemplate]:
    """The configuration templates whose assigned staff (the firm contact of the clients made with them) is `leaving`."""
    return list(db.session.scalars(sa.select(ConfigTemplate).where(ConfigTemplate.assigned_user_id == leaving.id)
                                   .order_by(ConfigTemplate.name)))


def hand_over_templates(leaving: User, successors: tuple) -> int:
    """The templates of `leaving` go to the successors (firm contact, client-facing contact; a template whose
    client-facing contact was `leaving` loses it when there is no successor for that role), audited as the hand-over;
    in the session (the caller commits, with the user's deactivation). Returns how many had `leaving` as their
    assigned staff."""
    templates = templates_of(leaving)
    facing = db.session.scalars(sa.select(ConfigTemplate).where(ConfigTemplate.client_facing_contact_id == leaving.id))
    with audit_action(CHANGES["hand_over"][2]):
        for template in templates:
            template.assigned_user = successors[0]
        for template in facing:
            template.client_facing_contact = successors[1]
        db.session.flush()
    return len(templates)


@dataclass
class Decision:
    client_id: int
    client: Client | None  # None: not a client the user may act on (hidden, outside their groups, deleted)
    values: dict | None = None  # the columns to write; None: left as it is
    reason: str | None = None  # why it is left as it is
    unchanged: bool = False  # left as it is because it already is as the change says

    @property
    def changes(self) -> bool:
        return self.values is not None


# What deciding a reassignment or a hand-over reads of a client (and the audit's str(client)).
LIGHT_COLUMNS = (Client.id, Client.name, Client.group_id, Client.firm_contact_id, Client.client_facing_contact_id)


def load(change: Change, client_ids, user) -> dict[int, Client]:
    """The clients among `client_ids` that `user` may act on (the one base query of scoping.py), with what
    deciding `change` reads."""
    query = scoping.scope_clients(sa.select(Client).where(Client.id.in_(
        sa.bindparam("ids", list(client_ids), expanding=True, literal_execute=True))), user)
    if change.kind == "template":  # the rules read contacts and bank accounts; the defaults the group and contact
        query = query.options(selectinload(Client.contacts), selectinload(Client.bank_accounts),
                              selectinload(Client.integration), joinedload(Client.group), joinedload(Client.firm_contact),
                              joinedload(Client.client_facing_contact))
    else:
        query = query.options(load_only(*LIGHT_COLUMNS))
    return {client.id: client for client in db.session.scalars(query)}


def decide(change: Change, client_ids: list[int], user) -> list[Decision]:
    """What `change` does to each of `client_ids` (in their order), as the rows stand now, for `user`."""
    loaded = load(change, client_ids, user)
    decisions = []
    for client_id in client_ids:
        client = loaded.get(client_id)
        if client is None:
            decisions.append(Decision(client_id, None, reason=_("not a client you can act on (hidden, outside your "
                                                                  "groups, or deleted)")))
            continue
        decisions.append(DECIDERS[change.kind](change, client))
    return decisions


def _one_column(change: Change, client: Client) -> Decision:
    column = CHANGES[change.kind][1]
    if getattr(client, column) == change.target.id:
        return Decision(client.id, client, reason=ALREADY[change.kind](), unchanged=True)
    return Decision(client.id, client, values={column: change.target.id})


ALREADY = {
    "group": lambda: _("already in that group"),
    "firm_contact": lambda: _("already has that firm contact"),
    "client_facing_contact": lambda: _("already has that client-facing contact"),
}


def _hand_over(change: Change, client: Client) -> Decision:
    values = {}
    for column, successor in zip(("firm_contact_id", "client_facing_contact_id"), change.successors):
        if getattr(client, column) == change.leaving.id:
            values[column] = successor.id if successor is not None else None
    if not values:
        return Decision(client.id, client, reason=_("no longer one of the user's clients"), unchanged=True)
    return Decision(client.id, client, values=values)


def _template(change: Change, client: Client) -> Decision:
    """The template's defaults as ConfigTemplate.defaults_for says (the client's own mandate kept), its
    integration, and the Peppol switches it turns on, checked by the client rules."""
    template = change.target
    values = {column: value for column, value in template.defaults_for(client, mandate=False).items()
              if getattr(client, column) != value}
    switches = {switch: True for switch in template.peppol_switches if not getattr(client, f"peppol_{switch}")}
    try:
        peppol = PeppolSwitches.changes(change.config, **switches) if switches else {}
    except PeppolRefused as refusal:
        return Decision(client.id, client, reason=str(refusal))
    problems = rules.problems(client, **values, **peppol)
    known = rules.problems(client)
    new = [message for name, message in problems.items() if known.get(name) != message]
    if new:
        return Decision(client.id, client, reason=" ".join(new))
    integration = template.integration_defaults()
    current = client.integration
    integration_changes = integration is not None and (
        current is None or any(getattr(current, column) != value for column, value in integration.items()))
    if not (values or peppol or integration_changes or template.watchers_to_add(client)):
        return Decision(client.id, client, reason=_("already set as the template says"), unchanged=True)
    return Decision(client.id, client, values={**values, **peppol})


DECIDERS = {"group": _one_column, "firm_contact": _one_column, "client_facing_contact": _one_column,
            "template": _template, "hand_over": _hand_over}


def write(change: Change, decisions: list[Decision]) -> list[int]:
    """Write the decided changes in the session (the caller commits), audited per client; returns the ids of the
    clients whose Peppol switches changed (their registration is the caller's to launch)."""
    changing = [decision for decision in decisions if decision.changes]
    if not changing:
        return []
    if change.kind == "template":
        return _apply_template(change, changing)
    by_values = defaultdict(list)
    for decision in changing:
        by_values[tuple(sorted(decision.values.items()))].append(decision.client)
    for values, clients in by_values.items():
        values = dict(values)
        events = bulk_updated_events(change.audit_action, clients, values)
        db.session.execute(sa.update(Client).where(Client.id.in_(
            sa.bindparam("ids", [client.id for client in clients], expanding=True, literal_execute=True)))
            .values(values).execution_options(synchronize_session=False))
        db.session.execute(sa.insert(AuditEvent.__table__), events)
    return []


def _apply_template(change: Change, changing: list[Decision]) -> list[int]:
    """A template onto existing clients, through its defaults (ConfigTemplate.apply_to) and the Peppol switches:
    rows that each create or change an integration, so written through the session, audited by its flush."""
    template, switched = change.target, []
    with audit_action(change.audit_action):
        for decision in changing:
            template.apply_to(decision.client, mandate=False)
        db.session.flush()
    for decision in changing:  # audited as Peppol switches ("peppol_on"), as a person pressing them would be
        client = decision.client
        switches = {switch: True for switch in template.peppol_switches if not getattr(client, f"peppol_{switch}")}
        if switches:
            PeppolSwitches.set(client, change.config, **switches)
            switched.append(client.id)
    return switched
