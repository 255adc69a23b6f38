"""Reorganising selected clients from the client list (mixed into ClientView): change group, firm contact,
client-facing contact (admins), apply a template. The action leads to a page that asks for the target and
previews what the change does, row by row (reorganise.decide); its Confirm button starts the task that asks the
same function again as it writes (jobs/reorganise.py). Every selected id goes to `decide`, which re-scopes them
through the base query: a hidden or foreign id is reported as skipped, never changed."""
from collections import defaultdict

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_babel import gettext as _, lazy_gettext as _l, ngettext
from flask_login import current_user

from .. import reorganise, tasks
from ..extensions import db
from ..jobs.reorganise import run_reorganise
from ..models import ConfigTemplate
from ..tasks import QueueUnavailable
from ..web_input import record_id

SHOWN_ROWS = 10  # rows named under each heading of the preview
TARGET_LABELS = {"group": _l("New group"), "firm_contact": _l("New firm contact"),
                 "client_facing_contact": _l("New client-facing contact"), "template": _l("Template")}


def _ids(value: str) -> list[int]:
    return list(dict.fromkeys(pk for pk in map(record_id, (value or "").split(",")) if pk is not None))


def preview(decisions: list[reorganise.Decision]) -> dict:
    """The decisions as the preview page shows them: the rows that change, and the others by reason."""
    changing = [decision for decision in decisions if decision.changes]
    unchanged, skipped = defaultdict(list), defaultdict(list)
    for decision in decisions:
        if not decision.changes:
            (unchanged if decision.unchanged else skipped)[decision.reason].append(decision)
    return {"changing": changing, "unchanged": dict(unchanged), "skipped": dict(skipped),
            "unchanged_count": sum(map(len, unchanged.values())), "skipped_count": sum(map(len, skipped.values()))}


# Who may run each of these actions on selected rows (ClientView's BULK_ACTION_ROLES takes them in).
ACTION_ROLES = {kind: reorganise.CHANGES[kind][0] for kind in ("group", "firm_contact", "client_facing_contact", "template")}


class ReorganiseMixin:
    """Actions on selected rows that change who looks after the clients, each through a preview."""

    def _choose(self, kind: str, ids):
        return self._reorganise_page(kind, _ids(",".join(ids)), None)

    @action("group", reorganise.CHANGE_LABELS["group"])
    def action_change_group(self, ids):
        return self._choose("group", ids)

    @action("firm_contact", reorganise.CHANGE_LABELS["firm_contact"])
    def action_change_firm_contact(self, ids):
        return self._choose("firm_contact", ids)

    @action("client_facing_contact", reorganise.CHANGE_LABELS["client_facing_contact"])
    def action_change_client_facing_contact(self, ids):
        return self._choose("client_facing_contact", ids)

    @action("template", reorganise.CHANGE_LABELS["template"])
    def action_apply_template(self, ids):
        return self._choose("template", ids)

    def _change(self):
        """The change a form posts (`change`, `target`); 403 for one the user may not make, None without a target."""
        kind = request.form.get("change", "")
        if kind == "hand_over" or not reorganise.allowed(kind, current_user):
            abort(403)
        target = record_id(request.form.get("target"))
        if target is None:
            return kind, None
        try:
            return kind, reorganise.build(kind, target, current_user, current_app.config)
        except reorganise.Unknown:
            flash(_("That choice is no longer available (deleted or deactivated): choose again."), "error")
            return kind, None

    @expose("/reorganise/", methods=("POST",))
    def reorganise_view(self):
        """The target's choice and, once chosen, the preview of the change with its Confirm button."""
        kind, change = self._change()
        return self._reorganise_page(kind, _ids(request.form.get("ids")), change)

    def _reorganise_page(self, kind, ids, change):
        if not ids:
            flash(_("None of the selected clients is one you can act on."), "warning")
            return redirect(url_for(".index_view"))
        shown = preview(reorganise.decide(change, ids, current_user)) if change is not None else None
        return self.render("admin/reorganise.html", kind=kind, label=reorganise.CHANGE_LABELS[kind], target_label=TARGET_LABELS[kind],
                           targets=reorganise.targets(kind, current_user), change=change, ids=ids, preview=shown,
                           shown_rows=SHOWN_ROWS, return_url=url_for(".index_view"))

    def can_reorganise(self, kind: str) -> bool:
        return reorganise.allowed(kind, current_user)

    def template_to_apply(self):
        """The template the template page sent the user here to apply (`apply_template`), if any."""
        pk = record_id(request.args.get("apply_template"))
        return db.session.get(ConfigTemplate, pk) if pk is not None and self.can_reorganise("template") else None

    def filtered_list(self) -> bool:
        """Whether the list is narrowed by a filter or a search (it then offers to change all its clients)."""
        return any(name == "search" or name.startswith("flt") for name, value in request.args.items() if value)

    @expose("/reorganise/filtered/", methods=("POST",))
    def reorganise_filtered_view(self):
        """A change to every client the list shows with the filters and search of this URL's query string (the
        list's own), resolved through the scoped base query now: the preview names them, and the task acts on
        those ids, each decided again (and re-scoped) as it stands then. Clients that match only later are not
        taken in: what runs is what the preview showed."""
        kind = request.form.get("change", "")
        if kind == "hand_over" or not reorganise.allowed(kind, current_user):
            abort(403)
        ids = list(dict.fromkeys(pk for (pk,) in self.filtered_ids()))
        change = None
        if record_id(request.form.get("target")) is not None:
            kind, change = self._change()
        return self._reorganise_page(kind, ids, change)

    @expose("/reorganise/run/", methods=("POST",))
    def reorganise_run_view(self):
        """Confirm: the task that makes the change (`expected`: the ids the preview said would change)."""
        kind, change = self._change()
        ids = _ids(request.form.get("ids"))
        if change is None:
            return self._reorganise_page(kind, ids, None)
        description = ngettext("%(change)s (%(target)s): %(num)d client", "%(change)s (%(target)s): %(num)d clients",
                               len(ids), change=reorganise.CHANGE_LABELS[kind], target=str(change.target))
        try:
            task = tasks.launch("reorganise", description, run_reorganise, change.args(), ids,
                                _ids(request.form.get("expected")), user=current_user, total=len(ids), queue="bulk")
        except QueueUnavailable as error:
            flash(str(error), "error")
            return redirect(url_for(".index_view"))
        flash(ngettext("%(num)d client queued: follow the progress below.", "%(num)d clients queued: follow the progress below.",
                       len(ids)), "info")
        return redirect(url_for("task.details_view", id=task.id))
