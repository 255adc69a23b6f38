"""Background tasks: one row per piece of background work, shown in the UI; the RQ jobs that run it come
and go (a new job, with a new id, for each attempt): see tasks.py."""
import json

from flask_babel import lazy_gettext as _l

from ..extensions import db
from .base import LabelledEnum, choice_check, utcnow


class TaskStatus(LabelledEnum):
    QUEUED = "queued", _l("Queued")
    STARTED = "started", _l("Running")
    FINISHED = "finished", _l("Finished")
    FAILED = "failed", _l("Failed")


class TaskKind(LabelledEnum):
    """What a task does: the code tasks.launch stores, the label the task screens show."""
    BULK_INVITE = "bulk_invite", _l("Invite clients")
    BULK_RESEND = "bulk_resend", _l("Resend invitations")
    BULK_RETRY_DELIVERY = "bulk_retry_delivery", _l("Retry undelivered invitation e-mails")
    BULK_ACTIVATE = "bulk_activate", _l("Activate clients without invitation")
    BULK_DEACTIVATE = "bulk_deactivate", _l("Deactivate clients")
    BULK_PEPPOL_ON = "bulk_peppol_on", _l("Turn Peppol on")
    BULK_PEPPOL_OFF = "bulk_peppol_off", _l("Turn Peppol off")
    CLIENT_INVITE = "client_invite", _l("Invite a client")
    CLIENT_RESEND = "client_resend", _l("Resend an invitation")
    CLIENT_RETRY_DELIVERY = "client_retry_delivery", _l("Send an invitation e-mail again")
    INVITATION_RETRY = "invitation_retry", _l("Invitation e-mails tried again")
    COLLEAGUE_INVITE = "colleague_invite", _l("Invite a colleague (portal)")
    IMPORT = "import", _l("Client import")
    PEPPOL_SYNC = "peppol_sync", _l("Peppol registration")
    SEND_DOCUMENTS = "send_documents", _l("Document delivery")
    PASSWORD_RESET = "password_reset", _l("Password reset e-mail")
    PASSWORD_RESET_RETRY = "password_reset_retry", _l("Password reset e-mails tried again")
    VAT_RECHECK = "vat_recheck", _l("VAT numbers re-checked")
    REORGANISE = "reorganise", _l("Reorganise clients")
    HAND_OVER = "hand_over", _l("Hand over a deactivated user's clients")
    INVITATION_REMINDERS = "invitation_reminders", _l("Invitation reminders")
    INVITATION_REMINDER_RETRY = "invitation_reminder_retry", _l("Invitation reminders tried again")
    PURGE_IMPORTS = "purge_imports", _l("Old import files deleted")
    TRIAL_REMINDERS = "trial_reminders", _l("Trial-ending reminders")
    NOTIFICATION_DIGEST = "notification_digest", _l("Notification digest")
    KBO_UPDATES = "kbo_updates", _l("Company register updates")


class Task(db.Model):
    __tablename__ = "task"
    __audit__ = False
    # A scheduled run (schedule.py) is keyed by its schedule and the time it is due: the key is unique, so when two
    # schedulers enqueue the same run, the second finds it taken.
    __table_args__ = (choice_check("status", TaskStatus),
                      db.UniqueConstraint("schedule", "scheduled_for", name="uq_task_schedule_scheduled_for"))

    id = db.Column(db.String(36), primary_key=True)
    kind = db.Column(db.String(40), nullable=False, index=True)
    queue = db.Column(db.String(20), nullable=False, default="default")
    description = db.Column(db.String(255), nullable=False, default="")
    status = db.Column(db.String(8), nullable=False, default=TaskStatus.QUEUED.value, index=True)
    progress_done = db.Column(db.Integer, nullable=False, default=0)
    progress_total = db.Column(db.Integer, nullable=False, default=0)
    result_json = db.Column(db.Text)
    # What to run again on a retry: the job function's dotted path and its arguments after the task id.
    job_func = db.Column(db.String(200))
    job_args_json = db.Column(db.Text)
    job_id = db.Column(db.String(36))  # the RQ job of the current attempt; a job with another id may not run it
    language = db.Column(db.String(5))  # of the request that launched it: the job writes its messages in it
    queued_at = db.Column(db.DateTime)
    retry_at = db.Column(db.DateTime)  # queued again after a failure: when the next attempt is due
    retries_left = db.Column(db.Integer, nullable=False, default=0)
    attempts = db.Column(db.Integer, nullable=False, default=0)  # times a worker started it
    worker = db.Column(db.String(100))  # the worker running it, which beats on `heartbeat_at` while it does
    heartbeat_at = db.Column(db.DateTime)
    error = db.Column(db.Text)
    client_id = db.Column(db.ForeignKey("client.id", ondelete="CASCADE"), index=True)
    user_id = db.Column(db.ForeignKey("user.id", ondelete="SET NULL"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow, index=True)
    started_at = db.Column(db.DateTime)
    ended_at = db.Column(db.DateTime)
    schedule = db.Column(db.String(40))  # the schedule (schedule.SCHEDULES) whose run it is
    scheduled_for = db.Column(db.DateTime)  # the time that run was due (pressed, for "Run now")

    client = db.relationship("Client")
    user = db.relationship("User")

    def __str__(self) -> str:
        return self.description or self.kind

    @property
    def result(self) -> dict:
        return json.loads(self.result_json) if self.result_json else {}

    @result.setter
    def result(self, value: dict) -> None:
        self.result_json = json.dumps(value, default=str)

    @property
    def percent(self) -> int:
        if self.status == TaskStatus.FINISHED:
            return 100
        return int(100 * self.progress_done / self.progress_total) if self.progress_total else 0

    @property
    def is_done(self) -> bool:
        return self.status in (TaskStatus.FINISHED, TaskStatus.FAILED)

    @property
    def status_label(self) -> str:
        return TaskStatus(self.status).label
