"""In-app notifications of staff users (clientdesk/notifications.py decides who gets which): what happened (a kind and
the facts its message is written from, in the reader's language when it is shown), the client or task it concerns,
when it was read, and when the daily digest e-mailed it."""
import json

from flask_babel import lazy_gettext as _l

from ..extensions import db
from .base import LabelledEnum, choice_check, utcnow


class NotificationKind(LabelledEnum):
    INVITATION_ACCEPTED = "invitation_accepted", _l("Invitation accepted")
    INVITATION_UNDELIVERED = "invitation_undelivered", _l("Invitation e-mail not delivered")
    DOCUMENTS_UNDELIVERED = "documents_undelivered", _l("Documents not delivered")
    PEPPOL_FAILED = "peppol_failed", _l("Peppol registration failed")
    IMPORT_FINISHED = "import_finished", _l("Import finished")
    IMPORT_FAILED = "import_failed", _l("Import failed")
    TASK_FAILED = "task_failed", _l("Task failed")
    CHANGES_PROPOSED = "changes_proposed", _l("Changes proposed by a client")
    REGISTER_CHANGE = "register_change", _l("Company register change")


class NotifyBy(LabelledEnum):
    """How a staff user is told: the bell alone, a daily e-mail instead (the notifications are listed, read already), or
    both."""
    BELL = "bell", _l("The bell only")
    DIGEST = "digest", _l("A daily e-mail instead of the bell")
    BOTH = "both", _l("The bell and a daily e-mail")


class Notification(db.Model):
    __tablename__ = "notification"
    __audit__ = False  # a message to one person about an event that is audited where it happens
    __table_args__ = (choice_check("kind", NotificationKind), db.Index("ix_notification_user_read", "user_id", "read_at"))

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.ForeignKey("user.id", ondelete="CASCADE"), nullable=False)
    kind = db.Column(db.String(30), nullable=False)
    client_id = db.Column(db.ForeignKey("client.id", ondelete="CASCADE"), index=True)
    task_id = db.Column(db.ForeignKey("task.id", ondelete="SET NULL"))
    params_json = db.Column(db.Text, nullable=False, default="{}")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow, index=True)
    read_at = db.Column(db.DateTime)
    emailed_at = db.Column(db.DateTime)

    user = db.relationship("User")
    client = db.relationship("Client")
    task = db.relationship("Task")

    @property
    def params(self) -> dict:
        return json.loads(self.params_json)

    @property
    def kind_label(self):
        return NotificationKind(self.kind).label
