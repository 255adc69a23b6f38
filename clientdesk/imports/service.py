"""Running an import: the one function the CLI (inline) and the web upload (RQ job) both call.

`create_batch` keeps a copy of the file and records who imports what; `run_batch` reads the file,
checks every row, and, when nothing is wrong and it is not a dry run, writes everything in one
transaction together with the batch's result and audit record; then it launches the invitations
(Invitation = Oui) as one lifecycle task, and the Peppol registration of the clients whose template turned
Peppol on. The copies are kept IMPORT_FILES_KEEP_DAYS days (they hold the clients' personal data):
`remove_old_files` deletes older ones, after each import and from the CLI.
"""
import logging
import shutil
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _, ngettext
from sqlalchemy.exc import IntegrityError

from .. import notifications
from ..errors import Refused
from ..extensions import db
from ..models import Client, Group, ImportBatch, ImportStatus, NotificationKind, PeppolState, User, utcnow
from ..models.audit import acting_as, record
from ..models.import_batch import FINISHED
from . import reader, validate, writer
from .columns import BY_KEY

log = logging.getLogger(__name__)


def imports_folder() -> Path:
    folder = Path(current_app.config["INSTANCE_PATH"]) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def create_batch(source, filename: str, user: User, group: Group | None = None, dry_run: bool = False) -> ImportBatch:
    """Store a copy of the file (a path, or an uploaded FileStorage) and add its batch to the session."""
    stored = imports_folder() / f"{uuid.uuid4().hex}.xlsx"
    if hasattr(source, "save"):
        source.save(stored)
    else:
        shutil.copyfile(source, stored)
    batch = ImportBatch(
        user=user, user_email=user.email, filename=Path(filename or "upload.xlsx").name[:255], stored_path=str(stored),
        file_size=stored.stat().st_size, dry_run=dry_run, group=group,
    )
    db.session.add(batch)
    return batch


def import_checked_file(checked: ImportBatch, user: User) -> ImportBatch:
    """A new batch that imports the file of a dry run (the same stored copy; checked again when it runs)."""
    batch = ImportBatch(user=user, user_email=user.email, filename=checked.filename, stored_path=checked.stored_path,
                        file_size=checked.file_size, dry_run=False, group_id=checked.group_id)
    db.session.add(batch)
    return batch


def run_batch(batch_id: int, progress: Callable[[int, int], None] | None = None) -> ImportBatch:
    """Check the batch's file and, if every row is valid and it is not a dry run, import it."""
    batch = db.session.get(ImportBatch, batch_id)
    if batch is None:
        raise LookupError(f"import batch {batch_id} does not exist")
    if batch.is_finished:  # a job run again: the outcome is recorded; what follows it may be left to launch
        if batch.status == ImportStatus.IMPORTED:
            register_after_import(batch)
            if batch.invite_client_ids and batch.invite_task_id is None:
                invite_after_import(batch)
        return batch
    batch.status = ImportStatus.RUNNING.value
    db.session.commit()
    with acting_as(batch.user):
        try:
            _run(batch, progress)
        except (IntegrityError, Refused) as error:
            # Someone created or changed one of these clients or e-mail addresses while the file was being checked.
            reason = error.orig.__class__.__name__ if isinstance(error, IntegrityError) else str(error)
            fail_batch(batch_id, _("Nothing was imported: another change to the same clients happened at the same time "
                                   "(%(error)s). Run the import again.", error=reason))
        except Exception as error:
            fail_batch(batch_id, _("Nothing was imported: unexpected error %(error)s",
                                   error=f"{error.__class__.__name__}: {error}"))
            raise
    batch = db.session.get(ImportBatch, batch_id)
    if batch.status == ImportStatus.IMPORTED:
        register_after_import(batch)
        if batch.invite_client_ids:
            invite_after_import(batch)
    try:
        remove_old_files()
    except Exception:  # the import stands; `clients purge-imports` (or the next import) deletes them later
        db.session.rollback()
        log.exception("the files of old imports could not be deleted")
    return batch


def remove_old_files() -> int:
    """Delete the stored files of the finished imports made more than IMPORT_FILES_KEEP_DAYS days ago (a file that a
    dry run and its import share goes when both are that old); their records stay. The number of files deleted."""
    cutoff = utcnow() - timedelta(days=current_app.config["IMPORT_FILES_KEEP_DAYS"])
    finished = [status.value for status in FINISHED]
    still_needed = db.select(ImportBatch.stored_path).where(
        db.or_(ImportBatch.created_at >= cutoff, ImportBatch.status.not_in(finished)))
    old = db.session.scalars(db.select(ImportBatch).where(
        ImportBatch.file_removed_at.is_(None), ImportBatch.created_at < cutoff, ImportBatch.status.in_(finished),
        ImportBatch.stored_path.not_in(still_needed))).all()
    now = utcnow()
    for batch in old:
        batch.file_removed_at = now
    db.session.commit()  # first: a page never offers a file that is gone
    paths = {batch.stored_path for batch in old}
    for path in paths:
        try:
            Path(path).unlink(missing_ok=True)
        except OSError as error:
            log.warning("import file %s could not be deleted: %s", path, error)
    return len(paths)


def _run(batch: ImportBatch, progress) -> None:
    """Check the file and, when every row is valid and it is not a dry run, write it."""
    max_rows = current_app.config.get("IMPORT_MAX_ROWS", reader.DEFAULT_MAX_ROWS)
    try:
        reader.check_file(batch.stored_path)
        sheet = reader.read_sheet(batch.stored_path, max_rows=max_rows)
    except reader.FileRejected as error:
        batch.errors = [{"row": 0, "column": "", "letter": "", "message": str(error)}]
        _finish(batch, ImportStatus.INVALID)
        return
    lookups = validate.Lookups.load(batch.group, current_app.config)
    plan = validate.check(sheet, lookups, progress)
    batch.rows_count = plan.rows_count
    if plan.errors:
        batch.errors = plan.errors
        _finish(batch, ImportStatus.INVALID)
        return
    if not batch.dry_run:
        batch.invite_client_ids = writer.write(plan, lookups, batch.id)
    batch.new_count, batch.changed_count, batch.unchanged_count = len(plan.new), len(plan.changed), len(plan.unchanged)
    batch.changes = [
        {"row": row.number, "client_id": existing.id, "client": existing.fields["name"],
         "changes": {plan.headers.get(key) or BY_KEY[key].headers[plan.language]: change for key, change in changes.items()}}
        for row, existing, changes in plan.changed
    ]
    if batch.dry_run:
        batch.invite_count = sum(1 for row in plan.new if row.values.get("invitation")) + len(plan.invite_existing)
    _finish(batch, ImportStatus.CHECKED if batch.dry_run else ImportStatus.IMPORTED)


def _finish(batch: ImportBatch, status: ImportStatus) -> None:
    """Record the outcome, with its audit event, and commit (with the import's rows, if any)."""
    batch.status, batch.finished_at = status.value, utcnow()
    record(f"import.{status.value}", batch, {
        "file": batch.filename, "dry_run": batch.dry_run, "rows": batch.rows_count, "new": batch.new_count,
        "changed": batch.changed_count, "unchanged": batch.unchanged_count, "errors": batch.error_count,
    })
    succeeded = status in (ImportStatus.IMPORTED, ImportStatus.CHECKED)
    # Its starter is told how it ended: a web upload runs in the background.
    notifications.notify(NotificationKind.IMPORT_FINISHED if succeeded else NotificationKind.IMPORT_FAILED,
                         notifications.recipients(starter=batch.user), batch_id=batch.id, file=batch.filename,
                         dry_run=batch.dry_run, new=batch.new_count, changed=batch.changed_count,
                         unchanged=batch.unchanged_count, errors=batch.error_count, failure=batch.failure)
    db.session.commit()


def fail_batch(batch_id: int, message: str) -> None:
    """Record that a batch failed, nothing of it written (rolls back the session first)."""
    db.session.rollback()
    batch = db.session.get(ImportBatch, batch_id)
    batch.failure = message
    batch.errors = [{"row": 0, "column": "", "letter": "", "message": message}]
    _finish(batch, ImportStatus.FAILED)
    log.warning("import batch %s failed: %s", batch_id, message)


def register_after_import(batch: ImportBatch) -> None:
    """Launch the Peppol registration of the batch's clients whose switches are pending (their template turned Peppol
    on), now that they are committed; found again when the import's job runs again. If the queue cannot be reached,
    their registration is marked failed with the reason: the client list shows them (Peppol state: failed), and
    "Try again" on the client page completes it."""
    from .. import tasks
    from ..einvoicing import PeppolRegistration, launch_registration

    client_ids = db.session.scalars(db.select(Client.id).where(
        Client.import_batch_id == batch.id, Client.peppol_state == PeppolState.PENDING.value).order_by(Client.id)).all()
    if not client_ids:
        return
    description = ngettext("Peppol registration of %(num)d client imported from %(file)s",
                           "Peppol registration of %(num)d clients imported from %(file)s", len(client_ids), file=batch.filename)
    try:
        launch_registration(description, client_ids, batch.user)
    except tasks.QueueUnavailable as error:
        db.session.rollback()
        for client in db.session.scalars(db.select(Client).where(Client.id.in_(client_ids))):
            PeppolRegistration.record_failure(client, error)
        db.session.commit()


def invite_after_import(batch: ImportBatch) -> None:
    """Invite the clients whose row said Invitation = Oui, now that they are committed: one bulk task of
    the lifecycle (the same as the client list's Invite action), which sends the e-mails and reports
    per client. If the queue cannot be reached the import stands, and the batch says so."""
    from .. import tasks
    from ..jobs.lifecycle import run_bulk_action

    ids = batch.invite_client_ids
    try:
        description = ngettext("Invite %(num)d client imported from %(file)s", "Invite %(num)d clients imported from %(file)s",
                               len(ids), file=batch.filename)
        task = tasks.launch("bulk_invite", description, run_bulk_action, "invite", ids, user=batch.user, total=len(ids),
                            queue="bulk")
    except tasks.QueueUnavailable as error:
        db.session.rollback()
        batch.invite_error = str(error)[:500]
    else:
        batch.invite_task_id, batch.invite_error = task.id, None
    db.session.commit()
