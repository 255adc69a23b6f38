"""Background tasks and the audit trail."""
from flask import abort, flash, get_template_attribute, redirect, request
from flask_admin import expose
from flask_admin.contrib.sqla.filters import DateTimeBetweenFilter, FilterEqual, FilterLike
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from .. import scoping, tasks
from ..models import AuditEvent, MailKind, MailLog, MailOutcome, Role, Task, TaskKind, TaskStatus
from ..models.audit import ACTION_LABELS, OBJECT_LABELS
from ..models.base import choices_of
from .base import IdEqualFilter, ScopedModelView, shown_client
from .changes import shown_changes


def _progress(view, context, task, name):
    return Markup(
        '<div class="progress" style="min-width:8em" title="{done}/{total}">'
        '<div class="progress-bar" role="progressbar" style="width:{pct}%" aria-valuenow="{pct}" '
        'aria-valuemin="0" aria-valuemax="100">{done}/{total}</div></div>'
    ).format(done=task.progress_done, total=task.progress_total, pct=task.percent)


class TaskView(ScopedModelView):
    """Tasks the user started, or that concern a client the user sees (admins: all)."""

    create_role = edit_role = delete_role = None
    shown_result_rows = 200  # of each list of a task's result, on its page
    column_list = ("created_at", "description", "client", "user", "status", "progress", "error", "ended_at")
    column_labels = {
        "created_at": _l("Requested"), "description": _l("Task"), "client": _l("Client"), "user": _l("By"),
        "status": _l("Status"), "progress": _l("Progress"), "error": _l("Error"), "ended_at": _l("Ended"),
        "id": _l("Task id"), "kind": _l("Kind"), "started_at": _l("Started"), "attempts": _l("Attempts"),
        "retry_at": _l("Next attempt"), "heartbeat_at": _l("Worker last seen"),
    }
    column_choices = {"status": choices_of(TaskStatus), "kind": choices_of(TaskKind)}
    column_formatters = {"progress": _progress, "client": lambda view, context, task, name: shown_client(task.client_id)}
    column_sortable_list = ("created_at", "status", "ended_at")
    column_default_sort = [("created_at", True)]
    column_details_list = ("id", "kind", "description", "client", "user", "status", "error", "created_at", "started_at",
                           "heartbeat_at", "attempts", "retry_at", "ended_at")

    def get_filters(self):
        return [FilterEqual(Task.status, _l("Status"), options=choices_of(TaskStatus)),
                FilterEqual(Task.kind, _l("Kind"), options=choices_of(TaskKind))]

    details_template = "admin/task_details.html"

    def details_rows(self, task, columns):
        """Only what happened: no Client row for a task about many, no Started row before a worker took it, ..."""
        return [(name, label) for name, label in columns if getattr(task, name) not in (None, "")]

    def get_one(self, id):
        task = self.get_query().filter(Task.id == str(id)).one_or_none()
        if task is None:
            abort(404)
        return task

    def result_in_scope(self, task) -> dict:
        """The task's result (rows of clients skipped, retrying, not sent), each row about a client outside the
        signed-in user's scope without the client's name or what was said about it."""
        result = task.result
        lists = [rows for rows in result.values() if isinstance(rows, list)]
        visible = scoping.visible_client_ids({row["client_id"] for rows in lists for row in rows[:self.shown_result_rows]},
                                             current_user)
        for rows in lists:
            for row in rows[:self.shown_result_rows]:
                if row["client_id"] not in visible:
                    row["client"] = row["reason"] = None
        return result

    def can_rerun(self, task) -> bool:
        return (current_user.is_admin or task.user_id == current_user.id) and tasks.can_rerun(task)

    @expose("/rerun/", methods=("POST",))
    def rerun_view(self):
        task = self.get_one(request.form.get("id"))
        if not self.can_rerun(task):
            flash(_("This task has not failed, or it is not yours to run again."), "error")
        else:
            try:
                tasks.rerun(task)
                flash(_("The task runs again: it completes what was left."), "info")
            except tasks.QueueUnavailable as error:
                flash(str(error), "error")
        return redirect(self.get_url(".details_view", id=task.id))

    def scope(self, query):
        condition = scoping.task_condition(current_user)
        return query if condition is None else query.filter(condition)


class AuditView(ScopedModelView):
    required_role = Role.ADMIN
    create_role = edit_role = delete_role = None
    column_list = ("at", "actor", "action", "object_type", "object_repr", "client_id", "changes_json")
    column_labels = {
        "at": _l("When"), "actor": _l("Who"), "action": _l("Action"), "object_type": _l("Object"),
        "object_repr": _l("Name"), "client_id": _l("Client"), "changes_json": _l("Changes"), "object_id": _l("Object id"),
        "client_user": _l("Client user"),
    }
    column_formatters = {
        "action": lambda view, context, event, name: event.action_label,
        "object_type": lambda view, context, event, name: event.object_label,
        "actor": lambda view, context, event, name: event.actor_label,
        "client_id": lambda view, context, event, name: shown_client(event.client_id),
        "changes_json": lambda view, context, event, name: get_template_attribute(
            "admin/audit_changes.html", "audit_changes")(shown_changes(event)),
    }
    column_sortable_list = ("at", "actor", "action", "object_type")
    column_default_sort = [("at", True), ("id", True)]
    column_searchable_list = ("actor", "object_repr")
    page_size = 50

    def get_filters(self):
        return [
            IdEqualFilter(AuditEvent.client_id, _l("Client id")),
            FilterEqual(AuditEvent.action, _l("Action"), options=list(ACTION_LABELS.items())),
            FilterEqual(AuditEvent.object_type, _l("Object"), options=list(OBJECT_LABELS.items())),
            FilterEqual(AuditEvent.actor, _l("Who")),
        ]


class MailLogView(ScopedModelView):
    """Every e-mail the app sent, read-only: admins only, as the audit."""

    required_role = Role.ADMIN
    create_role = edit_role = delete_role = None
    column_list = ("at", "kind", "recipient", "client_id", "subject", "outcome", "reply")
    column_labels = {
        "at": _l("When"), "kind": _l("Kind"), "recipient": _l("Recipient"), "client_id": _l("Client"),
        "subject": _l("Subject"), "outcome": _l("Outcome"), "reply": _l("Server reply"),
    }
    column_choices = {"kind": choices_of(MailKind), "outcome": choices_of(MailOutcome)}
    column_formatters = {"client_id": lambda view, context, entry, name: shown_client(entry.client_id)}
    column_sortable_list = ("at", "kind", "recipient", "outcome")
    column_default_sort = [("at", True)]
    column_searchable_list = ("recipient", "subject")
    page_size = 50

    def get_filters(self):
        return [
            FilterEqual(MailLog.kind, _l("Kind"), options=choices_of(MailKind)),
            FilterEqual(MailLog.outcome, _l("Outcome"), options=choices_of(MailOutcome)),
            DateTimeBetweenFilter(MailLog.at, _l("When")),
            FilterLike(MailLog.recipient, _l("Recipient")),
            IdEqualFilter(MailLog.client_id, _l("Client id")),
        ]
