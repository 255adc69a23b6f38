"""Client imports: one row per file run through the import (web upload or CLI), whatever its outcome."""
import json

from flask_babel import lazy_gettext as _l

from ..extensions import db
from .base import LabelledEnum, choice_check, utcnow


class ImportStatus(LabelledEnum):
    QUEUED = "queued", _l("Waiting")
    RUNNING = "running", _l("Running")
    CHECKED = "checked", _l("Checked, nothing imported")  # a dry run without errors
    IMPORTED = "imported", _l("Imported")
    INVALID = "invalid", _l("Refused: errors in the file")
    FAILED = "failed", _l("Failed")


FINISHED = (ImportStatus.CHECKED, ImportStatus.IMPORTED, ImportStatus.INVALID, ImportStatus.FAILED)


class ImportBatch(db.Model):
    __tablename__ = "import_batch"
    # Recorded explicitly (models/audit.py `record`) when it ends: its errors would swamp the audit trail.
    __audit__ = False
    __table_args__ = (choice_check("status", ImportStatus),)

    id = db.Column(db.Integer, primary_key=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow, index=True)
    finished_at = db.Column(db.DateTime)
    user_id = db.Column(db.ForeignKey("user.id", ondelete="SET NULL"), index=True)
    # Who ran it, kept readable when the user is deleted.
    user_email = db.Column(db.String(254), nullable=False)
    filename = db.Column(db.String(255), nullable=False)
    stored_path = db.Column(db.String(500), nullable=False)
    # When the stored copy was deleted, IMPORT_FILES_KEEP_DAYS after the import (imports.remove_old_files).
    file_removed_at = db.Column(db.DateTime)
    file_size = db.Column(db.Integer, nullable=False, default=0)
    dry_run = db.Column(db.Boolean, nullable=False, default=False)
    # The group every new client joins unless the file's group column says otherwise (--group).
    group_id = db.Column(db.ForeignKey("group.id", ondelete="SET NULL"))
    status = db.Column(db.String(8), nullable=False, default=ImportStatus.QUEUED.value, index=True)
    task_id = db.Column(db.String(36))
    rows_count = db.Column(db.Integer, nullable=False, default=0)
    new_count = db.Column(db.Integer, nullable=False, default=0)
    unchanged_count = db.Column(db.Integer, nullable=False, default=0)
    changed_count = db.Column(db.Integer, nullable=False, default=0)
    error_count = db.Column(db.Integer, nullable=False, default=0)
    invite_count = db.Column(db.Integer, nullable=False, default=0)
    # [{"row": 7, "column": "TVA", "letter": "H", "message": "..."}, ...]; row 0: the file itself.
    errors_json = db.Column(db.Text, nullable=False, default="[]")
    # [{"row": 9, "client_id": 4, "client": "Name", "changes": {"city": ["Gent", "Brugge"]}}, ...]
    changes_json = db.Column(db.Text, nullable=False, default="[]")
    # Clients whose row asked for an invitation, invited after the commit (see imports.invite_after_import)
    # by the lifecycle's bulk task `invite_task_id`; `invite_error` says why it could not be started.
    invite_client_ids_json = db.Column(db.Text, nullable=False, default="[]")
    invite_task_id = db.Column(db.String(36))
    invite_error = db.Column(db.String(500))
    failure = db.Column(db.Text)

    user = db.relationship("User")
    group = db.relationship("Group")

    def __str__(self) -> str:
        return f"Import #{self.id} {self.filename}"

    @property
    def file_kept(self) -> bool:
        return self.file_removed_at is None

    @property
    def errors(self) -> list[dict]:
        return json.loads(self.errors_json)

    @errors.setter
    def errors(self, value: list[dict]) -> None:
        self.errors_json = json.dumps(value, ensure_ascii=False)
        self.error_count = len(value)

    @property
    def changes(self) -> list[dict]:
        return json.loads(self.changes_json)

    @changes.setter
    def changes(self, value: list[dict]) -> None:
        self.changes_json = json.dumps(value, ensure_ascii=False, default=str)

    @property
    def invite_client_ids(self) -> list[int]:
        return json.loads(self.invite_client_ids_json)

    @invite_client_ids.setter
    def invite_client_ids(self, value: list[int]) -> None:
        self.invite_client_ids_json = json.dumps(sorted(value))
        self.invite_count = len(value)

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def status_label(self) -> str:
        return ImportStatus(self.status).label
