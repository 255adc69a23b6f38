"""The e-mail log: one row per attempt at an e-mail the app sent (services/mail.py `Mailer.send_many` writes them,
in the transaction of the sender's own delivery state). Never the body nor the link: its tokens are secrets."""
from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..retries import after_failure
from .base import LabelledEnum, choice_check, utcnow

REPLY_LENGTH = 500


class MailKind(LabelledEnum):
    INVITATION = "invitation", _l("Invitation")
    COLLEAGUE_INVITATION = "colleague_invitation", _l("Colleague invitation")
    REMINDER = "reminder", _l("Invitation reminder")
    PASSWORD_RESET = "password_reset", _l("Password reset")
    DOCUMENT = "document", _l("Document")
    TRIAL_REMINDER = "trial_reminder", _l("Trial-ending reminder")
    NOTIFICATION_DIGEST = "notification_digest", _l("Notification digest")


class MailOutcome(LabelledEnum):
    SENT = "sent", _l("Sent")
    REFUSED = "refused", _l("Refused by the server")
    RETRYING = "retrying", _l("Tried again later")
    FAILED = "failed", _l("Failed after retries")


class MailLog(db.Model):
    __tablename__ = "mail_log"
    __audit__ = False
    __table_args__ = (
        choice_check("kind", MailKind),
        choice_check("outcome", MailOutcome),
        db.Index("ix_mail_log_client_at", "client_id", "at"),
    )

    id = db.Column(db.Integer, primary_key=True)
    at = db.Column(db.DateTime, nullable=False, default=utcnow, index=True)
    kind = db.Column(db.String(30), nullable=False)
    recipient = db.Column(db.String(320), nullable=False, index=True)
    subject = db.Column(db.String(300), nullable=False)
    # Not a foreign key, as the audit's: the log of a deleted client stays readable.
    client_id = db.Column(db.Integer)
    outcome = db.Column(db.String(20), nullable=False)
    reply = db.Column(db.String(REPLY_LENGTH))  # the mail server's reply, or what kept the message from leaving

    @property
    def kind_label(self):
        return MailKind(self.kind).label

    @property
    def outcome_label(self):
        return MailOutcome(self.outcome).label


def record_sends(mails, undelivered) -> None:
    """Log a batch's e-mails by one statement, in the session's transaction (the sender commits it with its own delivery
    state). A passing failure is "retrying" while the sender's retry window lasts (retries.after_failure, as its row
    decides), else "failed"; any other failure is "refused"."""
    now = utcnow()
    failures = {id(failure.mail): failure for failure in undelivered}
    rows = []
    for mail in mails:
        log, failure = mail.log, failures.get(id(mail))
        outcome, reply = MailOutcome.SENT.value, None
        if failure is not None:
            reply = failure.reason[:REPLY_LENGTH]
            outcome = MailOutcome.REFUSED.value
            if failure.transient:
                retry_at = after_failure(log.first_failed_at, log.failed_attempts, True, now).retry_at
                retrying = retry_at is not None and (log.retry_until is None or retry_at < log.retry_until)
                outcome = MailOutcome.RETRYING.value if retrying else MailOutcome.FAILED.value
        rows.append({"at": now, "kind": MailKind(log.kind).value, "recipient": mail.to[:320], "subject": mail.subject[:300],
                     "client_id": log.client_id, "outcome": outcome, "reply": reply})
    if rows:
        db.session.execute(db.insert(MailLog), rows)
