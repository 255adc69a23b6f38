"""Admin-only screens: staff users and groups (teams)."""
import sqlalchemy as sa
from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_babel import gettext as _, lazy_gettext as _l, ngettext
from flask_login import current_user
from wtforms import PasswordField, SelectChoice, SelectField
from wtforms.validators import DataRequired, Optional

from .. import reorganise, scoping, tasks, two_factor
from ..errors import Refused
from ..extensions import db
from ..forms import select_choices_of, validators as v
from ..jobs.reorganise import run_reorganise
from ..models import Client, NotifyBy, Role, audit
from ..models.base import choices_of
from ..passwords import AcceptablePassword, password_changed
from ..web_input import record_id
from .base import LinkRowAction, ScopedModelView


class AdminOnlyView(ScopedModelView):
    required_role = Role.ADMIN
    create_role = edit_role = delete_role = Role.ADMIN


class UserView(AdminOnlyView):
    column_list = ("email", "full_name", "role", "groups", "active", "totp_enabled_at", "last_login_at")
    column_labels = {
        "email": _l("E-mail"), "full_name": _l("Name"), "role": _l("Role"), "groups": _l("Groups"),
        "active": _l("Active"), "last_login_at": _l("Last login"), "ui_language": _l("Interface language"),
        "password_hash": _l("Password"), "totp_enabled_at": _l("Two-step sign-in since"),
        "totp_secret": _l("Two-step sign-in key"), "notify_by": _l("Notifications"),
    }
    column_details_exclude_list = ("password_hash", "session_token", "totp_secret", "totp_last_step")
    column_choices = {"role": choices_of(Role), "notify_by": choices_of(NotifyBy)}
    column_searchable_list = ("email", "full_name")
    column_sortable_list = ("email", "full_name", "role", "active", "last_login_at")
    column_filters = ("role", "active")
    form_columns = ("email", "full_name", "role", "groups", "active", "ui_language", "new_password")
    form_excluded_columns = ("password_hash", "totp_secret", "totp_enabled_at", "totp_last_step")
    form_extra_fields = {
        "new_password": PasswordField(_l("New password"), validators=[Optional(), AcceptablePassword(
            lambda form: (form.email.data, [form.full_name.data]))]),
        "role": SelectField(_l("Role"), choices=select_choices_of(Role)),
        "ui_language": SelectField(_l("Interface language"),
                                   choices=[SelectChoice("", "—"), SelectChoice("en", "English"), SelectChoice("fr", "Français"),
                                            SelectChoice("nl", "Nederlands"), SelectChoice("de", "Deutsch")]),
    }
    form_args = {"email": {"validators": [DataRequired(), v.wtforms_validator(v.email)]}}
    column_extra_row_actions = [LinkRowAction(".deactivate_view", "fa fa-user-times", _l("Deactivate and hand over"))]

    def on_model_change(self, form, model, is_created):
        if form.new_password.data:
            model.set_password(form.new_password.data)
            if not is_created:
                password_changed(model)
        elif is_created:
            raise Refused(_("A new user needs a password."))
        if is_created:
            model.join_default_group_if_in_none()
        model.ui_language = model.ui_language or None
        if model.id == current_user.id and (model.role != Role.ADMIN or not model.active):
            raise Refused(_("You cannot remove your own admin role or deactivate yourself."))
        if not is_created and sa.inspect(model).attrs.active.history.deleted == [True]:
            with db.session.no_autoflush:
                if reorganise.clients_of(model):
                    raise Refused(_("%(name)s still looks after clients: use “Deactivate and hand over” to say who takes "
                                    "them over.", name=model))
                if reorganise.templates_of(model):
                    raise Refused(_("%(name)s is the assigned staff of configuration templates: use “Deactivate and "
                                    "hand over” to say who takes them over.", name=model))

    @expose("/deactivate/", methods=("GET", "POST"))
    def deactivate_view(self):
        """Deactivate a user, and hand their clients over (firm contact, client-facing contact) in one task."""
        user = self.get_one(request.values.get("id"))
        back = url_for(".index_view")
        if user.id == current_user.id:
            flash(_("You cannot remove your own admin role or deactivate yourself."), "error")
            return redirect(back)
        counts = {column: db.session.scalar(sa.select(sa.func.count()).where(getattr(Client, column) == user.id))
                  for column in ("firm_contact_id", "client_facing_contact_id")}
        templates = len(reorganise.templates_of(user))  # they go to the new firm contact
        successors = [other for other in db.session.scalars(scoping.staff_users()) if other.id != user.id]
        if request.method == "POST":
            chosen = [self._successor(request.form.get(field), successors, counts[column] + extra)
                      for field, column, extra in (("firm_contact", "firm_contact_id", templates),
                                                   ("client_facing_contact", "client_facing_contact_id", 0))]
            if None not in chosen:
                return self._deactivate(user, [successor or None for successor in chosen]) or redirect(back)
            flash(_("Choose who takes over the user's clients."), "error")
        return self.render("admin/hand_over.html", user=user, counts=counts, templates=templates, successors=successors,
                           return_url=back)

    @staticmethod
    def _successor(value, successors, handed_over: int):
        """The chosen successor; False when none is needed (no clients or templates in that role); None when one is
        missing."""
        pk = record_id(value)
        chosen = next((user for user in successors if user.id == pk), None)
        if chosen is None and value:
            abort(400)
        return chosen or (False if not handed_over else None)

    def _deactivate(self, user, successors):
        user.active = False
        templates = reorganise.hand_over_templates(user, successors)
        client_ids = reorganise.clients_of(user)
        if not client_ids:
            db.session.commit()
            flash(ngettext("%(name)s is deactivated; their template goes to %(successor)s.",
                           "%(name)s is deactivated; their %(num)d templates go to %(successor)s.",
                           templates, name=user, successor=successors[0]) if templates
                  else _("%(name)s is deactivated.", name=user), "success")
            return None
        change = reorganise.Change("hand_over", leaving=user, successors=tuple(successors))
        try:
            task = tasks.launch("hand_over", _("Hand over the clients of %(name)s", name=user), run_reorganise,
                                change.args(), client_ids, user=current_user, total=len(client_ids), queue="bulk")
        except tasks.QueueUnavailable as error:
            db.session.rollback()
            flash(str(error), "error")
            return None
        flash(_("%(name)s is deactivated: their clients are being handed over.", name=user), "info")
        return redirect(url_for("task.details_view", id=task.id))

    def on_model_delete(self, model):
        if model.id == current_user.id:
            raise Refused(_("You cannot delete your own account."))

    @action("reset_two_factor", _l("Reset two-step sign-in"),
            _l("Reset the two-step sign-in of the {count} selected users? They sign in with their password alone "
               "(or set it up again, where it is required)."))
    def action_reset_two_factor(self, ids):
        users = [user for user in self.scoped_rows(ids) if user.has_two_factor]
        for user in users:
            two_factor.reset(user)
        db.session.commit()
        flash(ngettext("Two-step sign-in reset for %(num)d user.", "Two-step sign-in reset for %(num)d users.",
                       len(users)), "success" if users else "warning")

    @action("end_sessions", _l("Sign out everywhere"), _l("Sign the selected users out of every browser they use?"))
    def action_end_sessions(self, ids):
        users = self.scoped_rows(ids)
        for user in users:
            user.end_sessions()
            audit.record("end_sessions", user)
        db.session.commit()
        flash(ngettext("%(num)d user signed out everywhere.", "%(num)d users signed out everywhere.", len(users)), "success")


def staff_label(user) -> str:
    """A staff user in a pick-list or a list: a deactivated one says so."""
    return str(user) if user.active else _("%(name)s (deactivated)", name=user)


def staff_to_choose(current=()) -> list:
    """A form's staff pick-list: the active users, and those of `current` (the record's own) deactivated since, so
    that saving the form keeps them until someone takes them out."""
    return list(db.session.scalars(scoping.staff_users(keep=[user.id for user in current if user is not None])))


class GroupView(AdminOnlyView):
    column_list = ("name", "description", "members")
    column_labels = {"name": _l("Name"), "description": _l("Description"), "members": _l("Members")}
    column_formatters = {"members": lambda view, context, group, name: ", ".join(map(staff_label, group.members))}
    column_searchable_list = ("name",)
    column_sortable_list = ("name",)
    form_columns = ("name", "description", "members")
    form_args = {"name": {"validators": [DataRequired()]},
                 "members": {"query_factory": staff_to_choose, "get_label": staff_label, "validators": [v.offered_users_only]}}

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        form.members.query_factory = lambda: staff_to_choose(obj.members)
        return form

    def on_model_delete(self, model):
        from ..extensions import db
        from ..models import Client

        if db.session.query(Client.id).filter(Client.group_id == model.id).first():
            raise Refused(_("Move this group's clients to another group before deleting it."))
