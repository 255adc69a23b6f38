"""A trial-ending reminder: one row per client, day mark (TRIAL_REMINDER_DAYS) and recipient (the client's primary
contact, the firm contact), made before its e-mail leaves (once.py), so that each is sent at most once."""
from flask_babel import lazy_gettext as _l

from ..extensions import db
from .base import LabelledEnum, Timestamps, choice_check
from .invitation import ReminderStatus


class TrialReminderRecipient(LabelledEnum):
    CLIENT = "client", _l("Client")
    FIRM = "firm", _l("Firm contact")


class TrialReminder(Timestamps, db.Model):
    __tablename__ = "trial_reminder"
    __audit__ = False  # recorded as the client's trial_reminder events
    __table_args__ = (db.UniqueConstraint("client_id", "days_before", "recipient", name="uq_trial_reminder_client_days_recipient"),
                      choice_check("status", ReminderStatus), choice_check("recipient", TrialReminderRecipient))

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.ForeignKey("client.id", ondelete="CASCADE"), nullable=False)
    days_before = db.Column(db.Integer, nullable=False)
    recipient = db.Column(db.String(8), nullable=False)
    status = db.Column(db.String(8), nullable=False, default=ReminderStatus.PENDING.value)
    sent_at = db.Column(db.DateTime)
    error = db.Column(db.String(500))
    task_id = db.Column(db.String(36))

    client = db.relationship("Client")
