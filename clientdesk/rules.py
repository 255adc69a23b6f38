"""Every rule about a client as it would be saved, in one place.

`problems(client)` answers "what is wrong with this client as it would be saved": {field: message}, in the
language in force. Every path that creates or changes a client asks it before the change is written: the
admin screens, the new-client wizard, template application, the import (each row merged with its
template), the Peppol switches, the lifecycle. A path without a Client object (the import's
rows) passes the values as a mapping of column names. The demo data's bulk load writes only clients that keep
every rule by construction (demo.make_client; tests/test_demo.py checks them).

Each rule is also written in SQL: `violations()` lists every row of the database that breaks one, with
what the lifecycle keeps true besides (one primary contact, at most one usable invitation) and what client_users.py
keeps (where a colleague's invitation may be; an active owner, check_owner). The test suite
runs it after every test, on SQLite and PostgreSQL, so a path that bypasses these rules fails the suite.
"""
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import aliased
from stdnum.be import vat as be_vat

from .errors import Refused
from .extensions import db
from .models import (
    BankAccount,
    Client,
    ClientStatus,
    ClientUser,
    ClientUserRole,
    ConfigTemplate,
    Contact,
    Document,
    DocumentStatus,
    Invitation,
    PeppolState,
    SubscriptionMode,
)
from .models.invitation import InvitationStatus

# What the rules read when a mapping of values leaves it out: a new client's defaults.
DEFAULTS = {
    "country": "BE", "enterprise_number": None, "vat_number": None, "subscription_mode": SubscriptionMode.FULL.value,
    "e_invoicing_mandate": False, "peppol_send": False, "peppol_receive": False, "peppol_state": PeppolState.OFF.value,
    "status": ClientStatus.CREATED.value, "invited_at": None, "activated_at": None, "deactivated_at": None,
    "bank_accounts": 0, "contacts": 0, "primary_contacts": 0, "id": None, "parent_id": None,
    "billing_same_as_address": True, "billing_street": None, "billing_postal_code": None, "billing_city": None,
}
# How far up a chain of parent companies the database check looks for a loop (rules.violations).
PARENT_CHAIN_DEPTH = 100


class RuleViolation(Refused):
    """A client that would break a rule; `problems` is {field: message}."""

    def __init__(self, problems: dict[str, str]):
        super().__init__(" ".join(problems.values()))
        self.problems = problems


def kept(rows) -> list:
    """The rows of a collection that are not being deleted (a form's deletions stay in the list until the
    session is flushed, and a flushed deletion stays until the commit)."""
    return [row for row in rows if not (sa.inspect(row).deleted or sa.inspect(row).was_deleted or row in db.session.deleted)]


class ClientFacts(Mapping):
    """A Client as the rules read it: its columns, its bank accounts and contacts counted as they would be saved,
    and `changes` (column -> value about to be set) over them. Read lazily: a rule reads the bank accounts only
    of a client managed by the firm."""

    COUNTS = {
        "bank_accounts": lambda client: len(kept(client.bank_accounts)),
        "contacts": lambda client: len(kept(client.contacts)),
        "primary_contacts": lambda client: sum(1 for contact in kept(client.contacts) if contact.is_primary),
        # A form sets the relationship; parent_id follows it only at the flush.
        "parent_id": lambda client: client.parent.id if client.parent is not None else None,
    }

    def __init__(self, client: Client, **changes):
        self.client, self.changes = client, changes

    def __getitem__(self, key):
        if key in self.changes:
            return self.changes[key]
        if key in self.COUNTS:
            return self.COUNTS[key](self.client)
        value = getattr(self.client, key)
        return DEFAULTS.get(key) if value is None and key in DEFAULTS else value

    def __iter__(self):
        return iter(DEFAULTS)

    def __len__(self):
        return len(DEFAULTS)


@dataclass(frozen=True)
class Rule:
    field: str  # what the message is about (a column, or "bank_accounts" / "contacts")
    broken: Callable[[Mapping], bool] | None  # on a client's values; None: kept by the lifecycle, checked in SQL only
    message: Callable[[], str]
    violated: Callable[..., sa.ColumnElement]  # the clients that break it, as a condition on Client
    # A template's defaults must keep it too: it reads only what a template sets, and `violated(ConfigTemplate)`
    # gives the templates that break it.
    on_templates: bool = False


def _peppol_on(values) -> bool:
    return bool(values["peppol_send"] or values["peppol_receive"])


def _valid_belgian_number(number: str) -> bool:
    return len(number) == 10 and number.isdigit() and be_vat.is_valid(number)


def _check_digits_wrong(number) -> sa.ColumnElement:
    """SQL: a stored Belgian enterprise number that is not 10 digits starting with 0 or 1 with its mod-97 check."""
    first_eight = sa.cast(sa.func.substr(number, 1, 8), sa.BigInteger)
    check = sa.cast(sa.func.substr(number, 9, 2), sa.Integer)
    return sa.case((~number.regexp_match("^[01][0-9]{9}$"), True), else_=(first_eight % 97 + check != 97))


def _has(model, *conditions) -> sa.ColumnElement:
    return sa.exists().where(model.client_id == Client.id, *conditions)


def _primary_contacts() -> sa.ScalarSelect:
    return (sa.select(sa.func.count()).where(Contact.client_id == Client.id, Contact.is_primary.is_(True))
            .correlate(Client).scalar_subquery())


def _parent_loops(values) -> bool:
    """Whether the client would be its own parent company, directly or up a chain of parents (read from the
    database: only a client that exists can have subsidiaries)."""
    client_id, parent_id = values["id"], values["parent_id"]
    if parent_id is None or client_id is None:
        return False
    seen = set()
    with db.session.no_autoflush:
        while parent_id is not None and parent_id not in seen:
            if parent_id == client_id:
                return True
            seen.add(parent_id)
            parent_id = db.session.scalar(sa.select(Client.parent_id).where(Client.id == parent_id))
    return False


def _in_parent_loop() -> sa.ColumnElement:
    """SQL: a client found up its own chain of parent companies (within PARENT_CHAIN_DEPTH levels)."""
    chain = (sa.select(Client.id.label("start"), Client.parent_id.label("ancestor"), sa.literal(1).label("depth"))
             .where(Client.parent_id.is_not(None)).cte("parent_chain", recursive=True))
    parent = aliased(Client)
    chain = chain.union_all(
        sa.select(chain.c.start, parent.parent_id, chain.c.depth + 1)
        .join(parent, parent.id == chain.c.ancestor)
        .where(parent.parent_id.is_not(None), chain.c.start != chain.c.ancestor, chain.c.depth < PARENT_CHAIN_DEPTH))
    return Client.id.in_(sa.select(chain.c.start).where(chain.c.start == chain.c.ancestor))


def _unfilled(column) -> sa.ColumnElement:
    return sa.func.coalesce(column, "") == ""


BILLING_REQUIRED = ("billing_street", "billing_postal_code", "billing_city")

_USABLE = (InvitationStatus.PENDING.value, InvitationStatus.SENT.value)


def _colleague_invitation_misplaced() -> sa.ColumnElement:
    """SQL: a client with a usable colleague invitation that is not where one may be (see its rule)."""
    usable = (Invitation.status.in_(_USABLE), Invitation.role.is_not(None))
    other = aliased(Invitation)
    return sa.or_(
        sa.and_(Client.status != ClientStatus.ACTIVE.value, _has(Invitation, *usable)),
        _has(Invitation, *usable, Invitation.contact.has(sa.or_(
            Contact.is_primary.is_(True), Contact.accepted_at.is_not(None), Contact.client_id != Invitation.client_id))),
        _has(Invitation, *usable, sa.select(sa.func.count()).where(
            other.contact_id == Invitation.contact_id, other.status.in_(_USABLE), other.role.is_not(None))
            .scalar_subquery() > 1))


# Asked by the paths that change client users (check_owner), not by every check of a client.
OWNER_RULE = Rule(
    "client_users",
    None,
    lambda: _("A company with client users keeps at least one active owner: the owner invites and removes the others."),
    lambda: sa.and_(_has(ClientUser), ~_has(ClientUser, ClientUser.active.is_(True), ClientUser.role == ClientUserRole.OWNER.value)))

RULES = (
    Rule("bank_accounts",
         lambda c: c["subscription_mode"] == SubscriptionMode.MANAGED and not c["bank_accounts"],
         lambda: _("A client managed by the firm needs at least one bank account: enter its IBAN."),
         lambda: sa.and_(Client.subscription_mode == SubscriptionMode.MANAGED.value, ~_has(BankAccount))),
    Rule("e_invoicing_mandate",
         lambda c: c["peppol_receive"] and not c["e_invoicing_mandate"],
         lambda: _("Receiving e-invoices through Peppol needs the e-invoicing mandate, signed by the client: tick "
                   "“E-invoicing mandate”, or turn Peppol receiving off."),
         lambda model=Client: sa.and_(model.peppol_receive.is_(True), model.e_invoicing_mandate.is_(False)),
         on_templates=True),
    Rule("enterprise_number",
         lambda c: _peppol_on(c) and not (c["country"] == "BE" and c["enterprise_number"]),
         lambda: _("Peppol registers the client under its Belgian enterprise number (0208:<number>): a client without "
                   "one cannot be on Peppol."),
         lambda: sa.and_(sa.or_(Client.peppol_send, Client.peppol_receive),
                         sa.or_(Client.country != "BE", Client.enterprise_number.is_(None)))),
    Rule("peppol_state",
         lambda c: _peppol_on(c) and c["peppol_state"] == PeppolState.OFF,
         lambda: _("Peppol is switched on but its registration was never started: use the Peppol switches."),
         lambda: sa.and_(sa.or_(Client.peppol_send, Client.peppol_receive), Client.peppol_state == PeppolState.OFF.value)),
    Rule("peppol_state",
         None,
         lambda: _("A Peppol registration is scheduled to be tried again only while it is pending, after a first failure."),
         lambda: sa.and_(Client.peppol_retry_at.is_not(None),
                         sa.or_(Client.peppol_state != PeppolState.PENDING.value, Client.peppol_first_failed_at.is_(None)))),
    Rule("documents",
         None,
         lambda: _("A document delivery is scheduled to be tried again only while the document waits in the inbox, "
                   "after a first failure."),
         lambda: _has(Document, Document.retry_at.is_not(None),
                      sa.or_(Document.status != DocumentStatus.INBOX.value, Document.first_failed_at.is_(None)))),
    Rule("enterprise_number",
         lambda c: c["country"] == "BE" and bool(c["enterprise_number"]) and not _valid_belgian_number(c["enterprise_number"]),
         lambda: _("A Belgian enterprise number has 10 digits, starts with 0 or 1 and ends with its check digits."),
         lambda: sa.and_(Client.country == "BE", Client.enterprise_number.is_not(None),
                         _check_digits_wrong(Client.enterprise_number))),
    Rule("vat_number",
         lambda c: c["country"] == "BE" and bool(c["vat_number"]) and c["vat_number"] != f"BE{c['enterprise_number']}",
         lambda: _("A Belgian VAT number is BE followed by the enterprise number."),
         lambda: sa.and_(Client.country == "BE", Client.vat_number.is_not(None),
                         sa.or_(Client.enterprise_number.is_(None), Client.vat_number != "BE" + Client.enterprise_number))),
    Rule("parent",
         _parent_loops,
         lambda: _("A client cannot be its own parent company, nor the parent company of its own parent company: "
                   "choose another parent company."),
         _in_parent_loop),
    Rule("billing_same_as_address",
         lambda c: not c["billing_same_as_address"] and not all(c[name] for name in BILLING_REQUIRED),
         lambda: _("A separate billing address needs at least its street, postal code and city; or choose “Same as "
                   "the company address”."),
         lambda: sa.and_(Client.billing_same_as_address.is_(False),
                         sa.or_(*(_unfilled(getattr(Client, name)) for name in BILLING_REQUIRED)))),
    Rule("contacts",
         lambda c: c["contacts"] > 0 and c["primary_contacts"] != 1,
         lambda: _("A client's contacts have exactly one primary contact, who receives the invitation."),
         lambda: sa.and_(_has(Contact), _primary_contacts() != 1)),
    Rule("status",
         lambda c: (c["status"] == ClientStatus.INVITED and not c["invited_at"]
                    or c["status"] == ClientStatus.ACTIVE and not c["activated_at"]
                    or c["status"] == ClientStatus.DEACTIVATED and not c["deactivated_at"]),
         lambda: _("A client's status comes with its date (invited on, activated on, deactivated on): change the status "
                   "with the lifecycle actions."),
         lambda: sa.or_(sa.and_(Client.status == ClientStatus.INVITED.value, Client.invited_at.is_(None)),
                        sa.and_(Client.status == ClientStatus.ACTIVE.value, Client.activated_at.is_(None)),
                        sa.and_(Client.status == ClientStatus.DEACTIVATED.value, Client.deactivated_at.is_(None)))),
    # The company's invitation (Invitation.role NULL): the firm's, to the primary contact, while the client is invited.
    Rule("status",
         None,
         lambda: _("Only an invited client has a usable invitation link, and at most one."),
         lambda: sa.or_(
             sa.and_(Client.status != ClientStatus.INVITED.value,
                     _has(Invitation, Invitation.status.in_(_USABLE), Invitation.role.is_(None))),
             sa.select(sa.func.count()).where(Invitation.client_id == Client.id, Invitation.status.in_(_USABLE),
                                              Invitation.role.is_(None))
             .correlate(Client).scalar_subquery() > 1)),
    Rule("contacts",
         None,
         lambda: _("An invitation link works only for the client's primary contact."),
         lambda: _has(Invitation, Invitation.status.in_(_USABLE), Invitation.role.is_(None),
                      ~Invitation.contact.has(Contact.is_primary.is_(True)))),
    # A colleague's invitation (role set): an owner's, from the portal, to another person of the company.
    Rule("client_users",
         None,
         lambda: _("A colleague's invitation link works only while the client is active, for one of its contacts who is "
                   "not the primary one and has no access yet, and only one at a time for each."),
         _colleague_invitation_misplaced),
    OWNER_RULE,
)


def check_owner(client: Client) -> None:
    """Raise RuleViolation when `client`'s client users, as they would be saved, leave it without an active owner."""
    users = kept(client.client_users)
    if users and not any(user.active and user.is_owner for user in users):
        raise RuleViolation({OWNER_RULE.field: OWNER_RULE.message()})


def problems(client: "Client | Mapping", **changes) -> dict[str, str]:
    """What is wrong with `client` (a Client, or a mapping of its column values) with `changes` applied:
    {field: message}; empty when it may be saved."""
    if isinstance(client, Client):
        values = ClientFacts(client, **changes)
    else:
        values = {**DEFAULTS, **client, **changes}
    found = {}
    for rule in RULES:
        if rule.broken is not None and rule.broken(values):
            found[rule.field] = " ".join(filter(None, (found.get(rule.field), rule.message())))
    return found


def check(client: "Client | Mapping", *, known: dict | None = None, **changes) -> None:
    """Raise RuleViolation when `client` with `changes` applied breaks a rule, but for the problems in `known`:
    those the client had before this change (problems(client) then) are not this change's to refuse, so that a
    client whose data predates a rule can still be edited, switched off or deactivated."""
    found = {field: message for field, message in problems(client, **changes).items()
             if (known or {}).get(field) != message}
    if found:
        raise RuleViolation(found)


def template_problems(template: ConfigTemplate) -> dict[str, str]:
    """What is wrong with a configuration template's defaults, whatever client it is applied to."""
    values = {**DEFAULTS, **{key: getattr(template, key) for key in DEFAULTS if hasattr(template, key)}}
    return {rule.field: rule.message() for rule in RULES if rule.on_templates and rule.broken(values)}


def contact_email_problems(emails: Mapping, client_id: int | None) -> dict:
    """Contact e-mail addresses are unique across the whole system. `emails`: key (a field) -> address, the
    contacts of one client (`client_id`, None for a new one) as they would be saved. {key: message}."""
    found, first = {}, {}
    for key, email in emails.items():
        if email in first:
            found[key] = _("This e-mail address appears twice.")
        first.setdefault(email, key)
    owners = contacts_using(list(first))
    for email, key in first.items():
        if owners.get(email, client_id) != client_id:
            found[key] = _("This e-mail address is already used by a contact of another client: each contact needs "
                           "their own.")
    return found


def contacts_using(emails: list[str]) -> dict[str, int]:
    """e-mail -> the id of the client whose contact has it, for those of `emails` that are taken."""
    if not emails:
        return {}
    return dict(db.session.execute(sa.select(Contact.email, Contact.client_id).where(Contact.email.in_(emails))).all())


def violations() -> list[str]:
    """Every row of the database that breaks a rule, described ("client 12: <message>"); empty when all hold."""
    found = []
    with db.session.no_autoflush:
        for rule in RULES:
            ids = db.session.scalars(sa.select(Client.id).where(rule.violated()).order_by(Client.id)).all()
            found += [f"client {client_id}: {rule.message()}" for client_id in ids]
            if rule.on_templates:
                ids = db.session.scalars(sa.select(ConfigTemplate.id).where(rule.violated(ConfigTemplate))).all()
                found += [f"template {template_id}: {rule.message()}" for template_id in ids]
    return found
