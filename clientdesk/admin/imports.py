"""The client import screen at /admin/import/ (admins only): template downloads, upload, history,
and one page per import with its progress, result, errors and annotated workbook."""
import io
from pathlib import Path

from flask import abort, current_app, flash, jsonify, redirect, request, send_file, url_for
from flask_admin import expose
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectChoice, SelectField

from .. import tasks
from ..extensions import db
from ..imports import create_batch
from ..imports.columns import LANGUAGES
from ..imports.service import fail_batch, import_checked_file
from ..imports.workbooks import annotated_workbook, template_workbook
from ..models import DEFAULT_GROUP_NAME, ConfigTemplate, Group, ImportBatch, ImportStatus, Plan, Role, Task
from .base import ProtectedView

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HISTORY_PAGE_SIZE = 20
ERROR_ROWS_PER_PAGE = 50
CHANGES_PER_PAGE = 50


class ImportForm(FlaskForm):
    file = FileField(_l("Workbook (.xlsx)"), validators=[FileRequired(_l("Choose the .xlsx file to import."))])
    group = SelectField(_l("Group of the new clients"), coerce=int,
                        description=_l("A Group column in the file wins over this choice."))
    dry_run = BooleanField(_l("Check only: show what would be created or changed, import nothing"))


def _page(items: list, size: int, arg: str) -> tuple[list, dict]:
    """One page of `items` (page number from the query string `arg`) and what the pager needs."""
    pages = max(1, -(-len(items) // size))
    try:
        number = min(max(1, int(request.args.get(arg, 1))), pages)
    except ValueError:
        number = 1
    return items[(number - 1) * size:number * size], {"number": number, "pages": pages, "arg": arg}


class ImportView(ProtectedView):
    required_role = Role.ADMIN

    def _batch(self, batch_id: int) -> ImportBatch:
        batch = db.session.get(ImportBatch, batch_id)
        if batch is None:
            abort(404)
        return batch

    def _launch(self, batch: ImportBatch):
        """Commit the batch with its task and enqueue the job; Redis down: nothing is kept."""
        from ..jobs.imports import import_clients

        db.session.flush()
        batch_id, stored = batch.id, batch.stored_path
        try:
            task = tasks.launch("import", _("Import of %(file)s", file=batch.filename), import_clients, batch_id,
                                user=current_user, queue="bulk", retries=0)
        except tasks.QueueUnavailable as error:
            db.session.rollback()
            if db.session.get(ImportBatch, batch_id) is not None:  # committed, then the enqueue failed
                fail_batch(batch_id, str(error))
            elif not db.session.scalar(db.select(ImportBatch.id).filter_by(stored_path=stored).limit(1)):
                Path(stored).unlink(missing_ok=True)
            flash(str(error), "error")
            return redirect(self.get_url(".index"))
        batch.task_id = task.id
        db.session.commit()
        return redirect(self.get_url(".batch_view", batch_id=batch_id))

    @expose("/", methods=("GET", "POST"))
    def index(self):
        form = ImportForm()
        groups = db.session.scalars(db.select(Group).order_by(Group.name)).all()
        form.group.choices = [SelectChoice(0, _("The template's group, otherwise %(name)s", name=DEFAULT_GROUP_NAME))] + [
            SelectChoice(g.id, g.name) for g in groups
        ]
        if form.validate_on_submit():
            upload = form.file.data
            group = db.session.get(Group, form.group.data) if form.group.data else None
            batch = create_batch(upload, upload.filename, current_user, group=group, dry_run=form.dry_run.data)
            return self._launch(batch)
        batches = db.session.scalars(db.select(ImportBatch).order_by(ImportBatch.id.desc())).all()
        history, history_pager = _page(batches, HISTORY_PAGE_SIZE, "page")
        return self.render("admin/import/index.html", form=form, history=history, history_pager=history_pager)

    @expose("/template/<language>.xlsx")
    def template(self, language):
        if language not in LANGUAGES:
            abort(404)
        templates = db.session.scalars(db.select(ConfigTemplate.name)).all()
        groups = db.session.scalars(db.select(Group.name)).all()
        plans = [plan.name for plan in db.session.scalars(Plan.offered())]
        buffer = io.BytesIO()
        template_workbook(language, templates, groups, plans).save(buffer)
        buffer.seek(0)
        name = {"fr": "modele-import-clients", "nl": "sjabloon-import-klanten", "en": "client-import-template"}[language]
        return send_file(buffer, mimetype=XLSX, as_attachment=True, download_name=f"{name}.xlsx")

    @expose("/<int:batch_id>/")
    def batch_view(self, batch_id):
        batch = self._batch(batch_id)
        errors = batch.errors
        file_errors = [e for e in errors if not e["row"]]
        by_row: dict[int, list] = {}
        for error in errors:
            if error["row"]:
                by_row.setdefault(error["row"], []).append(error)
        rows, error_pager = _page(sorted(by_row.items()), ERROR_ROWS_PER_PAGE, "page")
        changes, change_pager = _page(batch.changes, CHANGES_PER_PAGE, "changes")
        task = db.session.get(Task, batch.task_id) if batch.task_id else None
        return self.render(
            "admin/import/batch.html", batch=batch, task=task, file_errors=file_errors, error_rows=rows,
            error_row_count=len(by_row), error_pager=error_pager, changes=changes, change_pager=change_pager,
            clients_url=url_for("client.index_view", flt0_import_batch_equals=batch.id),
            annotated=bool(by_row), Status=ImportStatus,
        )

    @expose("/<int:batch_id>/status.json")
    def status(self, batch_id):
        batch = self._batch(batch_id)
        task = db.session.get(Task, batch.task_id) if batch.task_id else None
        return jsonify(
            status=batch.status, label=str(batch.status_label), finished=batch.is_finished,
            done=task.progress_done if task else 0, total=task.progress_total if task else 0,
            percent=100 if batch.is_finished else (task.percent if task else 0),
            error=task.error if task and task.error else None,
        )

    @expose("/<int:batch_id>/annotated.xlsx")
    def annotated(self, batch_id):
        batch = self._batch(batch_id)
        errors = batch.errors
        if not any(e["row"] for e in errors):
            abort(404)
        if not batch.file_kept:
            return self._file_gone(batch)
        buffer = io.BytesIO()
        annotated_workbook(batch.stored_path, errors).save(buffer)
        buffer.seek(0)
        suffix = _("errors")
        return send_file(buffer, mimetype=XLSX, as_attachment=True, download_name=f"{Path(batch.filename).stem}-{suffix}.xlsx")

    @expose("/<int:batch_id>/import/", methods=("POST",))
    def import_checked(self, batch_id):
        """Import a file that a dry run found valid (checked again, as things may have changed since)."""
        checked = self._batch(batch_id)
        if checked.status != ImportStatus.CHECKED:
            abort(404)
        if not checked.file_kept:
            return self._file_gone(checked)
        return self._launch(import_checked_file(checked, current_user))

    def _file_gone(self, batch: ImportBatch):
        flash(_("The file of this import was deleted (import files are kept %(days)d days): upload it again.",
                days=current_app.config["IMPORT_FILES_KEEP_DAYS"]), "error")
        return redirect(self.get_url(".batch_view", batch_id=batch.id))
