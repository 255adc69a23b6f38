"""Corrections a client user proposes in the portal (portal/corrections.py) to what only the firm edits: the legal
name, the address, the contacts; staff accept or refuse each on the client page (admin/client_proposals.py).

A proposal holds values already through the shared validators (forms/validators.py, as the back office's forms). It is
checked when it is made and again when it is accepted, by the client rules and the contact e-mail rule as an edit in
the admin form is: one that could not be saved is refused with the reason, and nothing is written. Accepting applies
it as that edit does (the contact rules of the lifecycle, the client rules), audited on the client's trail under the
action's name; so are proposing, refusing and withdrawing."""
import json

from flask_babel import gettext as _, lazy_gettext as _l

from . import notifications, rules
from .errors import Refused
from .extensions import db
from .lifecycle import ClientLifecycle
from .models import ChangeProposal, Client, ClientUser, Contact, NotificationKind, ProposalState, ProposalSubject, User, utcnow
from .models.audit import audit_action

COMPANY_FIELDS = ("name", "street", "house_number", "box", "address_line2", "postal_code", "city")
CONTACT_FIELDS = ("first_name", "last_name", "email", "job_title", "phone", "mobile", "switchboard_phone")
FIELD_LABELS = {
    "name": _l("Legal name"), "street": _l("Street"), "house_number": _l("Number"), "box": _l("Box"),
    "postal_code": _l("Postal code"), "city": _l("City"), "first_name": _l("First name"), "last_name": _l("Last name"),
    "email": _l("E-mail"), "job_title": _l("Job title"), "phone": _l("Direct phone"), "mobile": _l("Mobile"),
    "address_line2": _l("Address line 2"), "switchboard_phone": _l("Switchboard phone"),
}


def fields_of(subject: str) -> tuple[str, ...]:
    return COMPANY_FIELDS if subject == ProposalSubject.COMPANY else CONTACT_FIELDS


def current_values(client: Client, subject: str, contact: Contact | None) -> dict:
    """What the firm keeps now of what a proposal on `subject` corrects (a new contact: nothing yet)."""
    row = client if subject == ProposalSubject.COMPANY else contact
    return {field: getattr(row, field) if row is not None else None for field in fields_of(subject)}


def lines(proposal: ChangeProposal) -> list[tuple[str, object, object, object]]:
    """(label, value when proposed, value now, proposed value) for each field the proposal changes."""
    now = current_values(proposal.client, proposal.subject, proposal.contact)
    return [(FIELD_LABELS[field], before, now[field], after) for field, (before, after) in proposal.changes.items()]


def propose(client: Client, by: ClientUser, subject: str, values: dict, contact: Contact | None = None,
            comment: str | None = None) -> ChangeProposal:
    """A proposal of `values` ({field: stored value or None}) for the company, one of its contacts, or a new contact;
    only the fields that differ from what the firm keeps. Raises Refused when there is nothing to change or when it
    could not be accepted."""
    before = current_values(client, subject, contact)
    changes = {field: [before[field], values.get(field)] for field in fields_of(subject)
               if values.get(field) != before[field]}
    if not changes:
        raise Refused(_("Nothing to correct: these are the values the firm keeps."))
    proposal = ChangeProposal(client=client, proposed_by=by, subject=subject, contact=contact,
                              changes_json=json.dumps(changes), comment=comment or None)
    check(proposal)
    with audit_action("propose"):
        db.session.add(proposal)
        db.session.flush()
    notifications.notify_client_event(NotificationKind.CHANGES_PROPOSED, client, subject=subject)
    return proposal


def check(proposal: ChangeProposal) -> None:
    """Raise Refused with the reason when the proposal, applied now, could not be saved."""
    client = proposal.client
    new = {field: after for field, (_before, after) in proposal.changes.items()}
    if proposal.subject == ProposalSubject.COMPANY:
        rules.check(client, known=rules.problems(client), **new)
        return
    if proposal.subject == ProposalSubject.CONTACT and (proposal.contact is None or proposal.contact.client_id != client.id):
        raise Refused(_("This contact is no longer one of the company's contacts."))
    if "email" in new:
        others = {contact.id: contact.email for contact in rules.kept(client.contacts) if contact is not proposal.contact}
        problems = rules.contact_email_problems({**others, "email": new["email"]}, client.id)
        if "email" in problems:
            raise Refused(problems["email"])


def accept(proposal: ChangeProposal, user: User) -> None:
    """Apply an open proposal as an edit in the admin form would, and record the decision."""
    _require_open(proposal)
    check(proposal)
    client = proposal.client
    new = {field: after for field, (_before, after) in proposal.changes.items()}
    known, primary_before = rules.problems(client), client.primary_contact
    with audit_action("accept_proposal"):
        if proposal.subject == ProposalSubject.COMPANY:
            for field, value in new.items():
                setattr(client, field, value)
        elif proposal.subject == ProposalSubject.CONTACT:
            for field, value in new.items():
                setattr(proposal.contact, field, value)
        else:
            client.contacts.append(Contact(language=client.language, **new))
        ClientLifecycle.settle_contacts(client, rules.kept(client.contacts), primary_before)
        rules.check(client, known=known)
        _decide(proposal, user, ProposalState.ACCEPTED)


def refuse(proposal: ChangeProposal, user: User, reason: str) -> None:
    _require_open(proposal)
    reason = (reason or "").strip()
    if not reason:
        raise Refused(_("Say why the correction is refused: the client reads it."))
    with audit_action("refuse_proposal"):
        _decide(proposal, user, ProposalState.REFUSED, reason)


def withdraw(proposal: ChangeProposal) -> None:
    """The client user takes back an open proposal."""
    _require_open(proposal)
    with audit_action("withdraw_proposal"):
        db.session.delete(proposal)
        db.session.flush()


def _require_open(proposal: ChangeProposal) -> None:
    if proposal.state != ProposalState.OPEN:
        raise Refused(_("This correction was already %(state)s.", state=proposal.state_label.lower()))


def _decide(proposal: ChangeProposal, user: User, state: ProposalState, reason: str | None = None) -> None:
    proposal.state, proposal.decided_by, proposal.decided_at, proposal.reason = state.value, user, utcnow(), reason
    db.session.flush()


def open_and_decided(client: Client, limit: int = 10) -> tuple[list[ChangeProposal], list[ChangeProposal]]:
    """The client's open proposals, oldest first, and its `limit` latest decided ones, newest first: one statement."""
    is_open = ChangeProposal.state == ProposalState.OPEN.value
    latest_decided = (db.select(ChangeProposal.id).where(ChangeProposal.client_id == client.id, ~is_open)
                      .order_by(ChangeProposal.decided_at.desc(), ChangeProposal.id.desc()).limit(limit))
    # Open rows sort on the first two keys, decided ones (NULL there) on the last two.
    shown = db.session.scalars(db.select(ChangeProposal).where(
        ChangeProposal.client_id == client.id, is_open | ChangeProposal.id.in_(latest_decided))
        .order_by(db.case((is_open, ChangeProposal.created_at)), db.case((is_open, ChangeProposal.id)),
                  ChangeProposal.decided_at.desc(), ChangeProposal.id.desc())).all()
    return ([proposal for proposal in shown if proposal.state == ProposalState.OPEN.value],
            [proposal for proposal in shown if proposal.state != ProposalState.OPEN.value])
