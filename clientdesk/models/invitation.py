"""Invitation links: random token, stored hashed, valid 21 days, single use."""
import hashlib
import secrets
from datetime import timedelta

from flask_babel import lazy_gettext as _l

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
    token_hash = db.Column(db.String(64), nullable=False, unique=True)
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
    def issue(cls, client, contact, by=None) -> tuple["Invitation", str]:
        """A new invitation of `client` (first in its invitations, newest first) and its clear-text token
        (only ever in the e-mail)."""
        token = secrets.token_urlsafe(32)
        invitation = cls(
            contact=contact,
            token_hash=hash_token(token),
            expires_at=utcnow() + timedelta(days=INVITATION_VALID_DAYS),
            created_by=by,
        )
        client.invitations.insert(0, invitation)  # also sets invitation.client, and adds it to the client's session
        return invitation, token

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
