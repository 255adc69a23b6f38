"""Allowed senders and the accounting documents in a client's inbox."""
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..extensions import db
from .base import LabelledEnum, Timestamps, choice_check, utcnow


class DocumentStatus(LabelledEnum):
    INBOX = "inbox", _l("Inbox")
    SENT = "sent", _l("Sent")
    FAILED = "failed", _l("Failed")


class DocumentType(LabelledEnum):
    PURCHASE = "purchase", _l("Purchase")
    SALES = "sales", _l("Sales")
    MISC = "misc", _l("Miscellaneous")
    CREDIT_CARD = "credit_card", _l("Credit-card statement")


class SenderVerdict(LabelledEnum):
    """Whether SPF or DKIM vouched for the allowed address a document came from (services/sender_auth.py)."""

    AUTHENTICATED = "pass", _l("Sender authenticated")
    UNAUTHENTICATED = "fail", _l("Sender not authenticated")


class AllowedSender(Timestamps, db.Model):
    """An e-mail address, or an `@domain` pattern, whose documents a client's inbox accepts."""

    __tablename__ = "allowed_sender"
    __table_args__ = (sa.UniqueConstraint("client_id", "pattern", name="uq_allowed_sender_client_pattern"),)

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.ForeignKey("client.id", ondelete="CASCADE"), nullable=False, index=True)
    pattern = db.Column(db.String(254), nullable=False)

    client = db.relationship("Client", back_populates="allowed_senders")

    def __str__(self) -> str:
        return self.pattern

    def matches(self, address: str) -> bool:
        address = address.strip().lower()
        if self.pattern.startswith("@"):
            return address.endswith(self.pattern)
        return address == self.pattern


class RefusedSender(db.Model):
    """A message the inbound mailbox refused because its sender is not an allowed sender."""

    __tablename__ = "refused_sender"
    __audit__ = False  # a log in itself

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.ForeignKey("client.id", ondelete="CASCADE"), nullable=False)
    at = db.Column(db.DateTime, nullable=False, default=utcnow)
    envelope_sender = db.Column(db.String(254))
    header_from = db.Column(db.String(254))
    subject = db.Column(db.String(200))

    client = db.relationship("Client", back_populates="refused_senders")

    __table_args__ = (sa.Index("ix_refused_sender_client_at", "client_id", "at"),)

    def __str__(self) -> str:
        return self.header_from or self.envelope_sender or ""


class Document(Timestamps, db.Model):
    __tablename__ = "document"
    __audit_ignore__ = ("retry_at", "first_failed_at", "failed_attempts")  # bookkeeping: the status and reply are recorded
    __table_args__ = (
        choice_check("status", DocumentStatus),
        choice_check("doc_type", DocumentType),
        choice_check("sender_verdict", SenderVerdict, nullable=True),
        sa.Index("ix_document_client_status", "client_id", "status"),
        sa.Index("ix_document_client_message", "client_id", "message_id"),
    )

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.ForeignKey("client.id", ondelete="CASCADE"), nullable=False)
    filename = db.Column(db.String(255), nullable=False)
    content_type = db.Column(db.String(100), nullable=False, default="application/octet-stream")
    size = db.Column(db.Integer, nullable=False, default=0)
    # Relative to DOCUMENTS_DIR.
    storage_path = db.Column(db.String(500), nullable=False)
    # A UBL invoice that came with the file (same message), attached on e-mail delivery when asked.
    ubl_storage_path = db.Column(db.String(500))
    ubl_filename = db.Column(db.String(255))
    sender = db.Column(db.String(254))
    # Received by e-mail: whether the sender was authenticated (empty for documents from before the check), and
    # what SPF and DKIM said, in the Authentication-Results notation.
    sender_verdict = db.Column(db.String(4))
    sender_authentication = db.Column(db.String(200))
    message_id = db.Column(db.String(255))
    doc_type = db.Column(db.String(12), nullable=False, default=DocumentType.PURCHASE.value)
    status = db.Column(db.String(8), nullable=False, default=DocumentStatus.INBOX.value)
    received_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    sent_at = db.Column(db.DateTime)
    error = db.Column(db.String(500))
    attempts = db.Column(db.Integer, nullable=False, default=0)
    last_attempt_at = db.Column(db.DateTime)
    delivered_to = db.Column(db.String(300))
    # A delivery that failed for a passing reason (status inbox, the reply in `error`) is tried again at retry_at,
    # until DELIVERY_RETRY_HOURS after the first failure (retries.py).
    retry_at = db.Column(db.DateTime, index=True)
    first_failed_at = db.Column(db.DateTime)
    failed_attempts = db.Column(db.Integer, nullable=False, default=0)

    client = db.relationship("Client", back_populates="documents")

    def __str__(self) -> str:
        return self.filename
