"""Admin-only screens: staff users and groups (teams)."""
from flask import flash
from flask_admin.actions import action
from flask_babel import gettext as _, lazy_gettext as _l, ngettext
from flask_login import current_user
from wtforms import PasswordField, SelectChoice, SelectField
from wtforms.validators import DataRequired, Optional

from .. import two_factor
from ..errors import Refused
from ..extensions import db
from ..forms import select_choices_of, validators as v
from ..models import Role, audit
from ..models.base import choices_of
from ..passwords import AcceptablePassword, password_changed
from .base import ScopedModelView


class AdminOnlyView(ScopedModelView):
    required_role = Role.ADMIN
    create_role = edit_role = delete_role = Role.ADMIN


class UserView(AdminOnlyView):
    column_list = ("email", "full_name", "role", "groups", "active", "totp_enabled_at", "last_login_at")
    column_labels = {
        "email": _l("E-mail"), "full_name": _l("Name"), "role": _l("Role"), "groups": _l("Groups"),
        "active": _l("Active"), "last_login_at": _l("Last login"), "ui_language": _l("Interface language"),
        "password_hash": _l("Password"), "totp_enabled_at": _l("Two-step sign-in since"),
        "totp_secret": _l("Two-step sign-in key"),
    }
    column_details_exclude_list = ("password_hash", "session_token", "totp_secret", "totp_last_step")
    column_choices = {"role": choices_of(Role)}
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


class GroupView(AdminOnlyView):
    column_list = ("name", "description", "members")
    column_labels = {"name": _l("Name"), "description": _l("Description"), "members": _l("Members")}
    column_searchable_list = ("name",)
    column_sortable_list = ("name",)
    form_columns = ("name", "description", "members")
    form_args = {"name": {"validators": [DataRequired()]}}

    def on_model_delete(self, model):
        from ..extensions import db
        from ..models import Client

        if db.session.query(Client.id).filter(Client.group_id == model.id).first():
            raise Refused(_("Move this group's clients to another group before deleting it."))
