"""Invitation links: random token, stored hashed, valid 21 days, single use."""
import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.attributes import set_committed_value

from ..extensions import db
from .base import LabelledEnum, Timestamps, choice_check, utcnow

INVITATION_VALID_DAYS = 21


class InvitationStatus(LabelledEnum):
    PENDING = "pending", _l("Sending")
    SENT = "sent", _l("Sent")
    FAILED = "failed", _l("Sending failed")
    ACCEPTED = "accepted", _l("Accepted")
    VOIDED = "voided", _l("Voided")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Invitation(Timestamps, db.Model):
    __tablename__ = "invitation"
    __audit__ = False  # recorded as the client's invite/resend/accept events
    __table_args__ = (choice_check("status", InvitationStatus),)

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
    error = db.Column(db.String(500))
    created_by_id = db.Column(db.ForeignKey("user.id", ondelete="SET NULL"))
    # The task that sends it: a rerun of that task may re-issue it if its e-mail never left.
    task_id = db.Column(db.String(36))

    client = db.relationship("Client", back_populates="invitations")
    contact = db.relationship("Contact")
    created_by = db.relationship("User")

    def __str__(self) -> str:
        return f"Invitation #{self.id} ({self.status})"

    @classmethod
    def issue_many(cls, clients, by=None, task_id: str | None = None) -> list[tuple["Invitation", str]]:
        """A new invitation for each client, to its primary contact, all valid until the same moment, and its
        clear-text token (only ever in the e-mail): one INSERT, whose RETURNING gives the objects (no flush;
        the clients' `invitations` lists do not show them until reloaded)."""
        expires_at = utcnow() + timedelta(days=INVITATION_VALID_DAYS)
        contacts = [client.primary_contact for client in clients]
        tokens = [secrets.token_urlsafe(32) for _client in clients]
        rows = [{"client_id": client.id, "contact_id": contact.id, "token_hash": hash_token(token),
                 "expires_at": expires_at, "created_by_id": by.id if by is not None else None, "task_id": task_id}
                for client, contact, token in zip(clients, contacts, tokens)]
        invitations = db.session.scalars(sa.insert(cls).returning(cls, sort_by_parameter_order=True), rows).all()
        for invitation, client, contact in zip(invitations, clients, contacts):
            set_committed_value(invitation, "client", client)  # as loaded: no change to flush
            set_committed_value(invitation, "contact", contact)
        return list(zip(invitations, tokens))

    @classmethod
    def by_token(cls, token: str) -> "Invitation | None":
        return db.session.execute(db.select(cls).filter_by(token_hash=hash_token(token))).scalar_one_or_none()

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= utcnow()

    @property
    def days_left(self) -> int:
        return max(0, (self.expires_at - utcnow()).days)

    @property
    def is_usable(self) -> bool:
        return self.status in (InvitationStatus.PENDING, InvitationStatus.SENT) and not self.is_expired
