"""A company's client users after its first owner: colleagues an owner invites from the portal (with the company
invitations' single-use 21-day links and their e-mail's delivery), their acceptance, and removal (deactivation) by
an owner or by the firm.

A colleague is kept as one of the client's contacts (not the primary one), as the firm keeps every person of a
client: the invitation is for that contact, and the contact's e-mail becomes the client user's. The rules of both
kinds of invitation, and "a company keeps an active owner", are in rules.py; every change here is checked by them
and audited on the client's trail under whoever made it (the signed-in owner, the staff user, or the colleague
who accepts).
"""
import secrets

from flask_babel import gettext as _

from . import rules
from .errors import Refused
from .extensions import db
from .lifecycle import LifecycleError, account_of, claim_invitation
from .models import Client, ClientStatus, ClientUser, ClientUserRole, Contact, Invitation, User
from .models.audit import acting_as, audit_action, record
from .models.invitation import OPEN_INVITATIONS, derive_token, hash_token


class NotAllowed(Refused):
    """Only owners invite and remove users."""


def open_invitations(client: Client) -> list[Invitation]:
    """The colleague invitations of `client` whose link still works, newest first."""
    return [invitation for invitation in client.invitations if invitation.is_colleague and invitation.is_usable]


def _email_problem(client: Client, email: str) -> str | None:
    if ClientUser.by_email(email) is not None:
        return _("%(email)s already signs in to a client space: a deactivated user can be given access again by your "
                 "accountant.", email=email)
    if User.by_email(email) is not None:
        return _("%(email)s belongs to a user of the firm: invite your colleague at another address.", email=email)
    if rules.contacts_using([email]).get(email, client.id) != client.id:
        return _("%(email)s is already used by a contact of another company: invite your colleague at another "
                 "address.", email=email)
    return None


def _require_owner(by: ClientUser) -> None:
    if not by.is_owner:
        raise NotAllowed(_("Only an owner invites and removes users."))


def invite(client: Client, by: ClientUser, first_name: str, last_name: str, email: str, role: str,
           language: str) -> Invitation:
    """`by` (an owner) invites a colleague as a client user with `role`: a new invitation (the colleague's earlier
    open one voided) for the client's contact with this e-mail, made a contact first if the firm does not keep them
    yet. Refused for an e-mail that already signs in somewhere, or another company's contact's. The caller commits,
    then launches the e-mail (jobs/lifecycle.run_send_invitations)."""
    _require_owner(by)
    if client.status != ClientStatus.ACTIVE:
        raise LifecycleError(_("%(name)s is not active: colleagues are invited once it is.", name=client.name))
    role = ClientUserRole(role).value
    problem = _email_problem(client, email)
    if problem:
        raise Refused(problem)
    with audit_action("invite_colleague"):
        contact = next((contact for contact in client.contacts if contact.email == email), None)
        if contact is None:
            contact = Contact(first_name=first_name, last_name=last_name, email=email, language=language, is_primary=False)
            client.contacts.append(contact)
        elif contact.is_primary or contact.accepted_at is not None:
            raise Refused(_("%(email)s is the company's primary contact: your accountant invites them.", email=email)
                          if contact.is_primary else _("%(email)s already has access.", email=email))
        for invitation in client.invitations:
            if invitation.is_colleague and invitation.contact is contact and invitation.status in OPEN_INVITATIONS:
                invitation.void()
        db.session.flush()  # the earlier link is void before the new one is usable
        nonce = secrets.token_urlsafe(32)
        invitation = Invitation(client=client, contact=contact, role=role, invited_by=by, nonce=nonce,
                                token_hash=hash_token(derive_token(nonce)), expires_at=Invitation.valid_until())
        db.session.add(invitation)
        record("invite_colleague", client, {"to": email, "role": role})
        db.session.flush()
    return invitation


def accept(invitation: Invitation, password: str) -> ClientUser:
    """The colleague accepts: they become a client user of the company with the invitation's role and this
    password (WeakPassword when the password rule refuses it). Returns the new client user."""
    client = invitation.client
    if not invitation.is_usable or client.status != ClientStatus.ACTIVE:
        raise LifecycleError(_("This invitation link can no longer be used."))
    claim_invitation(invitation)
    client_user = account_of(invitation, invitation.role, password)
    with acting_as(client_user), audit_action("accept"):
        rules.check_owner(client)  # a member joins a company that still has an active owner
        db.session.flush()
    return client_user


def _set_active(client_user: ClientUser, active: bool) -> None:
    with audit_action("reactivate" if active else "deactivate"):
        client_user.active = active  # a deactivation ends the user's sessions (Account)
        try:
            rules.check_owner(client_user.client)
        except rules.RuleViolation:
            if active:
                raise
            raise Refused(_("%(name)s is the company's last active owner: another owner is needed first.",
                            name=client_user)) from None
        db.session.flush()


def remove(client_user: ClientUser, by: ClientUser) -> None:
    """An owner removes a user of their company: the account is deactivated (its sessions end), never deleted."""
    _require_owner(by)
    if not client_user.active:
        raise Refused(_("%(name)s was already removed.", name=client_user))
    _set_active(client_user, False)


def set_active(client_user: ClientUser, active: bool) -> None:
    """The firm deactivates a client user (their sessions end) or gives them access again."""
    _set_active(client_user, active)
