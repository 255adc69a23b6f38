"""Invitation links: valid 21 days, single use, and the delivery of their e-mail.

Two kinds, told apart by `role`: the company's invitation (`role` NULL), which the firm sends to the client's
primary contact and whose acceptance activates the client and makes that contact its first owner; and a colleague's
(`role` set: the role the new client user gets), which an owner sends from the portal to another person of an active
company, kept as one of its non-primary contacts (portal/colleagues.py). rules.py says what holds for each.

A link's token is derived from a random nonce kept on the row (HMAC-SHA256 with the app's SECRET_KEY), so
the same link can be e-mailed again (after a crash, a failed delivery, a "Resend") without voiding one that
may already be in the contact's mailbox. Only the token's hash is stored for looking it up.
"""
import base64
import hashlib
import hmac
import secrets
from datetime import timedelta
from enum import StrEnum

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.attributes import set_committed_value

from ..extensions import db
from ..retries import after_failure
from .base import LabelledEnum, Timestamps, choice_check, utcnow
from .client_user import ClientUserRole

INVITATION_VALID_DAYS = 21


class InvitationStatus(LabelledEnum):
    PENDING = "pending", _l("Sending")
    SENT = "sent", _l("Sent")
    FAILED = "failed", _l("Sending failed")
    ACCEPTED = "accepted", _l("Accepted")
    VOIDED = "voided", _l("Voided")


OPEN_INVITATIONS = (InvitationStatus.PENDING, InvitationStatus.SENT, InvitationStatus.FAILED)


class Delivery(StrEnum):
    """Where an invitation's e-mail stands (a retrying one is pending), as exported."""
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def derive_token(nonce: str) -> str:
    digest = hmac.new(current_app.config["SECRET_KEY"].encode(), nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class Invitation(Timestamps, db.Model):
    __tablename__ = "invitation"
    __audit__ = False  # recorded as the client's invite/resend/accept events
    __table_args__ = (choice_check("status", InvitationStatus), choice_check("role", ClientUserRole, nullable=True))

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.ForeignKey("client.id", ondelete="CASCADE"), nullable=False, index=True)
    contact_id = db.Column(db.ForeignKey("contact.id", ondelete="CASCADE"), nullable=False)
    # Unique and set by the app: it ties the rows of a many-row INSERT ... RETURNING to their parameters, so
    # SQLite (which does not promise their order) takes a batch of invitations in one statement, not one each.
    token_hash = db.Column(db.String(64), nullable=False, unique=True, insert_sentinel=True)
    status = db.Column(db.String(8), nullable=False, default=InvitationStatus.PENDING.value)
    expires_at = db.Column(db.DateTime, nullable=False)
    sent_at = db.Column(db.DateTime)
    accepted_at = db.Column(db.DateTime)
    voided_at = db.Column(db.DateTime)
    # The token's source (see derive_token); NULL on invitations issued before tokens were derived.
    nonce = db.Column(db.String(43))
    # Delivery: the mail server's last reply when it failed; a failure for a passing reason is tried again at
    # `retry_at` (clientdesk/retries.py) while the invitation stays pending.
    error = db.Column(db.String(500))
    failed_attempts = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    first_failed_at = db.Column(db.DateTime)
    retry_at = db.Column(db.DateTime, index=True)
    created_by_id = db.Column(db.ForeignKey("user.id", ondelete="SET NULL"))
    # A colleague's invitation: the role to give, and the client user (an owner) who sent it; NULL on the company's.
    role = db.Column(db.String(6))
    invited_by_id = db.Column(db.ForeignKey("client_user.id", ondelete="SET NULL"))
    # The task that sends it: a rerun of that task e-mails it again if its outcome was never recorded.
    task_id = db.Column(db.String(36))

    client = db.relationship("Client", back_populates="invitations")
    contact = db.relationship("Contact")
    created_by = db.relationship("User")
    invited_by = db.relationship("ClientUser")

    def __str__(self) -> str:
        return f"Invitation #{self.id} ({self.status})"

    @property
    def is_colleague(self) -> bool:
        return self.role is not None

    @property
    def role_label(self) -> str | None:
        return ClientUserRole(self.role).label if self.role else None

    @classmethod
    def of_company(cls) -> sa.ColumnElement:
        """The company's invitations (to its primary contact), not colleagues'."""
        return cls.role.is_(None)

    @staticmethod
    def valid_until():
        return utcnow() + timedelta(days=INVITATION_VALID_DAYS)

    @classmethod
    def issue_many(cls, clients, expires_at, by=None, task_id: str | None = None) -> list["Invitation"]:
        """A new invitation for each client, to its primary contact, valid until `expires_at`: one INSERT, whose
        RETURNING gives the objects (no flush; the clients' `invitations` lists do not show them until reloaded)."""
        if not clients:
            return []
        contacts = [client.primary_contact for client in clients]
        nonces = [secrets.token_urlsafe(32) for _client in clients]
        rows = [{"client_id": client.id, "contact_id": contact.id, "nonce": nonce,
                 "token_hash": hash_token(derive_token(nonce)), "expires_at": expires_at,
                 "created_by_id": by.id if by is not None else None, "task_id": task_id}
                for client, contact, nonce in zip(clients, contacts, nonces)]
        invitations = db.session.scalars(sa.insert(cls).returning(cls, sort_by_parameter_order=True), rows).all()
        for invitation, client, contact in zip(invitations, clients, contacts):
            set_committed_value(invitation, "client", client)  # as loaded: no change to flush
            set_committed_value(invitation, "contact", contact)
        return invitations

    @classmethod
    def renew_many(cls, invitations, expires_at, task_id: str | None = None) -> None:
        """The same links, to be e-mailed again: pending, valid until `expires_at`, their delivery history
        cleared; one UPDATE (the loaded objects get the new values too)."""
        if invitations:
            db.session.execute(sa.update(cls).where(cls.id.in_([invitation.id for invitation in invitations])).values(
                status=InvitationStatus.PENDING.value, expires_at=expires_at, task_id=task_id, sent_at=None,
                error=None, failed_attempts=0, first_failed_at=None, retry_at=None))

    @classmethod
    def by_token(cls, token: str) -> "Invitation | None":
        return db.session.execute(db.select(cls).filter_by(token_hash=hash_token(token))).scalar_one_or_none()

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= utcnow()

    @property
    def is_usable(self) -> bool:
        """Whether its link works. "Failed" is about an e-mail, not the link: a Resend whose e-mail failed must not
        kill the link that an earlier e-mail delivered."""
        return self.status in OPEN_INVITATIONS and not self.is_expired

    @property
    def token(self) -> str | None:
        """The link's token, derived again; None when it cannot be (issued before tokens were derived, or under
        another SECRET_KEY): such a link is never e-mailed again, the client gets a new invitation instead."""
        if self.nonce is None:
            return None
        token = derive_token(self.nonce)
        return token if hash_token(token) == self.token_hash else None

    @property
    def can_send_again(self) -> bool:
        """Its link may be e-mailed again, unchanged: still open, not expired, and its token derivable."""
        return self.status in OPEN_INVITATIONS and not self.is_expired and self.token is not None

    def void(self) -> None:
        self.status, self.voided_at, self.retry_at = InvitationStatus.VOIDED.value, utcnow(), None

    def record_failure(self, reason: str, transient: bool, at) -> None:
        """A failed attempt: tried again later (clientdesk/retries.py) when it failed for a passing reason and
        the retry window is not over, else failed for good."""
        self.error = reason[:500]
        retry = after_failure(self.first_failed_at, self.failed_attempts, transient, at)
        self.first_failed_at, self.failed_attempts, self.retry_at = retry.first_failed_at, retry.failed_attempts, retry.retry_at
        if self.retry_at is None:
            self.status = InvitationStatus.FAILED.value

    @property
    def is_retrying(self) -> bool:
        return self.status == InvitationStatus.PENDING and self.first_failed_at is not None

    @property
    def is_undelivered(self) -> bool:
        """As undelivered_condition: failed for good, or retrying."""
        return self.status == InvitationStatus.FAILED or self.is_retrying

    @classmethod
    def delivery_expression(cls) -> sa.ColumnElement:
        """The Delivery of an invitation's e-mail, in SQL: failed covers the invitations voided before their e-mail left
        (it never will)."""
        return sa.case((sa.or_(cls.sent_at.is_not(None), cls.status == InvitationStatus.ACCEPTED.value), Delivery.SENT.value),
                       (cls.status == InvitationStatus.PENDING.value, Delivery.PENDING.value), else_=Delivery.FAILED.value)

    @classmethod
    def of_latest(cls, client_id, expression) -> sa.ScalarSelect:
        """`expression` of the latest company invitation of the client `client_id` (a correlated column), NULL without one."""
        return (sa.select(expression).where(cls.client_id == client_id, cls.of_company()).order_by(cls.id.desc()).limit(1)
                .scalar_subquery())

    @classmethod
    def undelivered_condition(cls) -> sa.ColumnElement:
        """Failed for good, or retrying (is_retrying): what the client list's "not delivered" filter shows."""
        return sa.or_(cls.status == InvitationStatus.FAILED.value,
                      sa.and_(cls.status == InvitationStatus.PENDING.value, cls.first_failed_at.is_not(None)))


class ReminderStatus(LabelledEnum):
    PENDING = "pending", _l("Sending")
    SENT = "sent", _l("Sent")
    FAILED = "failed", _l("Sending failed")


class InvitationReminder(Timestamps, db.Model):
    """A reminder e-mail of an open invitation, with its link, so many days before it expires (INVITATION_REMINDER_DAYS):
    one row per invitation and day mark, made before the e-mail leaves, so that each is sent at most once; and the
    delivery of that e-mail, as an invitation's (a passing failure is tried again at `retry_at`)."""
    __tablename__ = "invitation_reminder"
    __audit__ = False  # recorded as the client's reminder events
    __table_args__ = (sa.UniqueConstraint("invitation_id", "days_before", name="uq_invitation_reminder_invitation_days"),
                      choice_check("status", ReminderStatus))

    id = db.Column(db.Integer, primary_key=True)
    invitation_id = db.Column(db.ForeignKey("invitation.id", ondelete="CASCADE"), nullable=False)
    days_before = db.Column(db.Integer, nullable=False)
    status = db.Column(db.String(8), nullable=False, default=ReminderStatus.PENDING.value)
    sent_at = db.Column(db.DateTime)
    error = db.Column(db.String(500))
    failed_attempts = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    first_failed_at = db.Column(db.DateTime)
    retry_at = db.Column(db.DateTime, index=True)
    task_id = db.Column(db.String(36))  # the task that sends it: a rerun of it sends what it left pending

    invitation = db.relationship("Invitation")

    def record_failure(self, reason: str, transient: bool, at) -> None:
        """As Invitation.record_failure."""
        self.error = reason[:500]
        retry = after_failure(self.first_failed_at, self.failed_attempts, transient, at)
        self.first_failed_at, self.failed_attempts, self.retry_at = retry.first_failed_at, retry.failed_attempts, retry.retry_at
        if self.retry_at is None:
            self.status = ReminderStatus.FAILED.value
