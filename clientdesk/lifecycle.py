"""Client status changes: the one place that decides what may happen to a client, and records it.

    created ──invite──▶ invited ──accept──▶ active
       │                  │  ▲ resend          │
       │ activate (managed by the firm, admin) ▶ active
       ▼                  ▼                    ▼
    delete            deactivate ◀──────── deactivate ──▶ deactivated ──reactivate──▶ active / created

Each method changes the client in the caller's session; the audit record is written by the same
flush under the action's name (models/audit.py). The caller commits, then sends mail or enqueues.
`apply_many` is the bulk form of a transition: the same checks and changes, one flush for all clients.
Invite and resend, which bulk tasks run by the thousand, write without the flush, for one client or many:
one INSERT of the invitations, one UPDATE of the clients and their audit rows (a fraction of the CPU the
flush takes for the same changes).
`check_<action>` raises LifecycleError with the reason a client is not eligible, which bulk tasks
report per row.

A client never has two working links, and a link that may have reached the contact is not voided while it can
still be used: invite, resend and retry_delivery e-mail the client's current link again when it can be
(Invitation.can_send_again), and issue a new one only when it cannot (expired, accepted, voided).
"""
from datetime import timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from . import notifications
from .errors import Refused
from .extensions import db
from .i18n import language_of_locale
from .models import (
    AuditEvent,
    Client,
    ClientStatus,
    ClientUser,
    ClientUserRole,
    Invitation,
    InvitationStatus,
    NotificationKind,
    SubscriptionMode,
    today,
    utcnow,
)
from .models.audit import audit_action, bulk_updated_events
from .models.client import TRIAL_DAYS
from .models.invitation import OPEN_INVITATIONS
from .models.plan import Plan

USABLE_INVITATIONS = tuple(status.value for status in OPEN_INVITATIONS)  # Invitation.is_usable, in SQL


class LifecycleError(Refused):
    """A transition that the client's current state does not allow; str() says why."""


class AccessTaken(Refused):
    """The invited contact's e-mail already signs in to the portal (a client user kept from an earlier company)."""


def _status(client: Client) -> str:
    return client.status_label.lower()


def _require_contact(client: Client) -> None:
    if client.primary_contact is None:
        raise LifecycleError(_("%(name)s has no contact to invite: add one first.", name=client.name))


def _void_open_invitations(client: Client) -> None:
    for invitation in client.invitations:
        if invitation.status in OPEN_INVITATIONS:
            invitation.void()


def _send_invitations(action: str, clients: list[Client], by, task_id: str | None, values: dict) -> list[Invitation]:
    """An invitation to e-mail for each client, valid a full INVITATION_VALID_DAYS from now: its current one again
    when it can be sent again, else a new one (the others voided). `values` with the invitation dates are written
    to the clients by one UPDATE for all of them (the loaded objects get the new values too), audited under
    `action`. Returns the invitations in the clients' order."""
    if not clients:
        return []
    expires_at = Invitation.valid_until()
    again = {client.id: client.current_invitation for client in clients
             if client.current_invitation is not None and client.current_invitation.can_send_again}
    fresh = [client for client in clients if client.id not in again]
    for client in fresh:
        _void_open_invitations(client)
    db.session.flush()
    Invitation.renew_many(list(again.values()), expires_at, task_id)
    issued = dict(zip([client.id for client in fresh], Invitation.issue_many(fresh, expires_at, by=by, task_id=task_id)))
    values = {**values, "invited_at": utcnow(), "invitation_expires_at": expires_at}
    events = bulk_updated_events(action, clients, values)
    db.session.execute(sa.update(Client).where(Client.id.in_([client.id for client in clients])).values(values))
    db.session.execute(sa.insert(AuditEvent.__table__), events)
    for client in fresh:
        db.session.expire(client, ["invitations"])  # reloaded with the new invitation when next read
    return [again.get(client.id) or issued[client.id] for client in clients]


def _invite(clients: list[Client], by, task_id) -> list[Invitation]:
    return _send_invitations("invite", clients, by, task_id, {"status": ClientStatus.INVITED.value})


def _resend(clients: list[Client], by, task_id) -> list[Invitation]:
    return _send_invitations("resend", clients, by, task_id, {})


def _retry_delivery(clients: list[Client], by, task_id) -> list[Invitation]:
    return _send_invitations("retry_delivery", clients, by, task_id, {})


def _activate(client: Client, by, task_id) -> None:
    _void_open_invitations(client)
    client.status = ClientStatus.ACTIVE.value
    client.activated_at = utcnow()
    client.invitation_expires_at = None


def _deactivate(client: Client, by, task_id) -> None:
    _void_open_invitations(client)
    client.status = ClientStatus.DEACTIVATED.value
    client.deactivated_at = utcnow()
    client.invitation_expires_at = None


def _reactivate(client: Client, by, task_id) -> None:
    client.status = (ClientStatus.ACTIVE if client.activated_at else ClientStatus.CREATED).value
    client.deactivated_at = None


# What each transition changes, once its check has passed (ClientLifecycle runs them under their audit name).
_CHANGES = {"activate": _activate, "deactivate": _deactivate, "reactivate": _reactivate}
# The transitions that e-mail invitations, for a list of clients at once; each returns [invitation to e-mail].
_INVITING = {"invite": _invite, "resend": _resend, "retry_delivery": _retry_delivery}


def claim_invitation(invitation: Invitation) -> None:
    """Mark `invitation` accepted in the database at once, unless its address already signs in to a client space
    (AccessTaken) or another request accepted it a moment ago (LifecycleError)."""
    if ClientUser.by_email(invitation.contact.email) is not None:
        raise AccessTaken(_("%(email)s already signs in to a client space. Ask your accountant to invite you at "
                            "another address.", email=invitation.contact.email))
    claimed = db.session.execute(
        sa.update(Invitation).where(Invitation.id == invitation.id, Invitation.status.in_(USABLE_INVITATIONS))
        .values(status=InvitationStatus.ACCEPTED.value, accepted_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
    if not claimed:
        raise LifecycleError(_("This invitation link can no longer be used."))


def account_of(invitation: Invitation, role: str, password: str) -> ClientUser:
    """The client user the invited contact becomes, with `role` and `password` (WeakPassword when the password rule
    refuses it); the contact and the invitation (claimed by claim_invitation) marked accepted."""
    contact = invitation.contact
    client_user = ClientUser(client=invitation.client, contact=contact, email=contact.email.strip().lower(),
                             full_name=contact.full_name, role=role, ui_language=language_of_locale(contact.language))
    client_user.set_password(password)
    db.session.add(client_user)
    contact.accepted_at = utcnow()
    invitation.status, invitation.accepted_at = InvitationStatus.ACCEPTED.value, utcnow()  # as claimed
    return client_user


class ClientLifecycle:
    # Eligibility
    @staticmethod
    def check_invite(client: Client) -> None:
        if client.status != ClientStatus.CREATED:
            raise LifecycleError(_("%(name)s is %(status)s: only new clients can be invited (use Resend for invited ones).",
                                   name=client.name, status=_status(client)))
        _require_contact(client)

    @staticmethod
    def check_resend(client: Client) -> None:
        if client.status != ClientStatus.INVITED:
            raise LifecycleError(_("%(name)s is %(status)s: only invited clients get a new link.",
                                   name=client.name, status=_status(client)))
        _require_contact(client)

    @staticmethod
    def check_retry_delivery(client: Client) -> None:
        invitation = client.current_invitation
        if client.status != ClientStatus.INVITED or invitation is None or not invitation.is_undelivered:
            raise LifecycleError(_("%(name)s has no invitation e-mail waiting to be delivered.", name=client.name))
        _require_contact(client)

    @staticmethod
    def check_activate(client: Client) -> None:
        if client.status not in (ClientStatus.CREATED, ClientStatus.INVITED):
            raise LifecycleError(_("%(name)s is already %(status)s.", name=client.name, status=_status(client)))
        if client.subscription_mode != SubscriptionMode.MANAGED:
            raise LifecycleError(_("%(name)s is not managed by the firm: invite it instead, so the client accepts.",
                                   name=client.name))

    @staticmethod
    def check_deactivate(client: Client) -> None:
        if client.status not in (ClientStatus.INVITED, ClientStatus.ACTIVE):
            raise LifecycleError(_("%(name)s is %(status)s: only invited or active clients can be deactivated.",
                                   name=client.name, status=_status(client)))

    @staticmethod
    def check_reactivate(client: Client) -> None:
        if client.status != ClientStatus.DEACTIVATED:
            raise LifecycleError(_("%(name)s is not deactivated.", name=client.name))

    @staticmethod
    def check_delete(client: Client) -> None:
        if client.status != ClientStatus.CREATED or client.invited_at is not None:
            raise LifecycleError(_("%(name)s was invited before: deactivate it instead of deleting it.", name=client.name))

    @staticmethod
    def check_replace_primary_contact(client: Client) -> None:
        if client.status not in (ClientStatus.CREATED, ClientStatus.INVITED):
            raise LifecycleError(_("%(name)s is %(status)s: its primary contact can no longer be replaced.",
                                   name=client.name, status=_status(client)))

    @staticmethod
    def settle_contacts(client: Client, contacts: list, primary_before) -> None:
        """The rules for a client's contacts after an edit on any screen: it keeps at least one, exactly one
        is primary (a contact just made primary wins; the first is promoted if none is), and the primary
        only changes before the client is active. Flushes, so the flags move without two primaries at once."""
        if not contacts:
            if primary_before is not None:
                raise LifecycleError(_("A client's last contact cannot be removed."))
            return
        primaries = [c for c in contacts if c.is_primary] or contacts[:1]
        newly_primary = [c for c in primaries if c is not primary_before]
        primary = newly_primary[0] if newly_primary else primaries[0]
        if primary_before is not None and primary is not primary_before and client.status not in (
                ClientStatus.CREATED, ClientStatus.INVITED):
            raise LifecycleError(_("%(name)s is %(status)s: its primary contact can no longer be replaced.",
                                   name=client.name, status=_status(client)))
        for contact in contacts:
            if not (contact is primary and primary is primary_before):  # a primary that stays keeps its flag untouched
                contact.is_primary = False
        db.session.flush()  # at most one primary per client: the old flag goes before the new one is set
        primary.is_primary = True

    # Transitions
    @classmethod
    def invite(cls, client: Client, by=None) -> Invitation:
        """created → invited. Returns the invitation to e-mail."""
        return cls._transition("invite", client, by)

    @classmethod
    def resend(cls, client: Client, by=None) -> Invitation:
        """The invitation e-mailed again to an invited client, valid a full INVITATION_VALID_DAYS from now: with the
        same link while it can still be used, else with a new one (expired or voided: the old one stays dead)."""
        return cls._transition("resend", client, by)

    @classmethod
    def retry_delivery(cls, client: Client, by=None) -> Invitation:
        """An invitation whose e-mail failed or waits for its next attempt, e-mailed again now, as resend does."""
        return cls._transition("retry_delivery", client, by)

    @classmethod
    def activate(cls, client: Client) -> None:
        """An admin activates a client managed by the firm, without invitation or e-mail."""
        cls._transition("activate", client)

    @classmethod
    def deactivate(cls, client: Client) -> None:
        cls._transition("deactivate", client)

    @classmethod
    def reactivate(cls, client: Client) -> None:
        """Back to active if the client had accepted before, else back to created (to be invited again)."""
        cls._transition("reactivate", client)

    @classmethod
    def apply_many(cls, action: str, clients, by=None, task_id: str | None = None) -> tuple[list, list]:
        """`action` (invite, resend, activate, deactivate, reactivate) on every client that allows it, written
        by one flush (invite, resend: a few statements) and audit rows for all of them, not statements per
        client. `task_id`: the task that e-mails the new invitations. Returns ([(client, what the single
        transition returns)], [(client, LifecycleError saying why it was refused)])."""
        eligible, refused = [], []
        for client in clients:
            try:
                getattr(cls, f"check_{action}")(client)
            except LifecycleError as error:
                refused.append((client, error))
                continue
            eligible.append(client)
        with audit_action(action):
            if action in _INVITING:
                done = list(zip(eligible, _INVITING[action](eligible, by, task_id)))
            else:
                done = [(client, _CHANGES[action](client, by, task_id)) for client in eligible]
            db.session.flush()
        return done, refused

    @classmethod
    def _transition(cls, action: str, client: Client, by=None):
        getattr(cls, f"check_{action}")(client)
        with audit_action(action):
            result = _INVITING[action]([client], by, None)[0] if action in _INVITING else _CHANGES[action](client, by, None)
            db.session.flush()
        return result

    @classmethod
    def unsent_of_task(cls, clients, task_id: str, by=None) -> list[tuple[Client, Invitation]]:
        """For a rerun of task `task_id` after a crash: the invitations that task left pending without an outcome
        (their e-mail may or may not have left), to be e-mailed again with the same link; one from before derived
        links cannot be, and is re-issued. Returns [(client, invitation)] for the clients among `clients` that had
        one; the others have nothing to complete."""
        unsent = [client for client in clients if client.status == ClientStatus.INVITED
                  and (current := client.current_invitation) is not None and current.task_id == task_id
                  and current.status == InvitationStatus.PENDING and current.first_failed_at is None]
        underivable = [client for client in unsent if client.current_invitation.token is None]
        with audit_action("resend"):
            reissued = dict(zip(underivable, _resend(underivable, by, task_id)))
        return [(client, reissued.get(client) or client.current_invitation) for client in unsent]

    @staticmethod
    def accept(invitation: Invitation, password: str) -> ClientUser:
        """The contact accepts: they become the client's owner user, with this password (WeakPassword when the
        password rule refuses it); the client becomes active with a 30-day trial. Returns the new client user."""
        if not invitation.is_usable:
            raise LifecycleError(_("This invitation link can no longer be used."))
        claim_invitation(invitation)
        client = invitation.client
        plan = client.plan or Plan.default()  # read before the changes: a query inside would flush them halfway
        with audit_action("accept"):
            client_user = account_of(invitation, ClientUserRole.OWNER.value, password)
            client.status = ClientStatus.ACTIVE.value
            client.activated_at = utcnow()
            client.invitation_expires_at = None
            client.plan = plan
            client.trial_end = today() + timedelta(days=TRIAL_DAYS)
            db.session.flush()
        notifications.notify_client_event(NotificationKind.INVITATION_ACCEPTED, client)
        return client_user

    @classmethod
    def delete(cls, client: Client) -> None:
        cls.check_delete(client)
        with audit_action("delete"):
            db.session.delete(client)
            db.session.flush()

    @classmethod
    def replace_primary_contact(cls, client: Client, new_contact) -> None:
        """Make `new_contact` the primary contact in place of the current one (which is removed); its open
        invitations are voided with it (invitations.py)."""
        cls.check_replace_primary_contact(client)
        with audit_action("replace_contact"):
            old = client.primary_contact
            if old is not None and old is not new_contact:
                client.contacts.remove(old)
                db.session.flush()  # the old row goes first: the new contact may keep its e-mail address
            new_contact.is_primary = True
            if new_contact not in client.contacts:
                client.contacts.append(new_contact)
            db.session.flush()
