"""Admin-only screens: staff users and groups (teams)."""
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from wtforms import PasswordField, SelectChoice, SelectField
from wtforms.validators import DataRequired, Length, Optional

from ..errors import Refused
from ..forms import select_choices_of, validators as v
from ..models import Role
from ..models.base import choices_of
from .base import ScopedModelView


class AdminOnlyView(ScopedModelView):
    required_role = Role.ADMIN
    create_role = edit_role = delete_role = Role.ADMIN


class UserView(AdminOnlyView):
    column_list = ("email", "full_name", "role", "groups", "active", "last_login_at")
    column_labels = {
        "email": _l("E-mail"), "full_name": _l("Name"), "role": _l("Role"), "groups": _l("Groups"),
        "active": _l("Active"), "last_login_at": _l("Last login"), "ui_language": _l("Interface language"),
        "password_hash": _l("Password"),
    }
    column_details_exclude_list = ("password_hash",)
    column_choices = {"role": choices_of(Role)}
    column_searchable_list = ("email", "full_name")
    column_sortable_list = ("email", "full_name", "role", "active", "last_login_at")
    column_filters = ("role", "active")
    form_columns = ("email", "full_name", "role", "groups", "active", "ui_language", "new_password")
    form_excluded_columns = ("password_hash",)
    form_extra_fields = {
        "new_password": PasswordField(_l("New password"), validators=[Optional(), Length(min=10)]),
        "role": SelectField(_l("Role"), choices=select_choices_of(Role)),
        "ui_language": SelectField(_l("Interface language"),
                                   choices=[SelectChoice("", "—"), SelectChoice("en", "English"), SelectChoice("fr", "Français"),
                                            SelectChoice("nl", "Nederlands")]),
    }
    form_args = {"email": {"validators": [DataRequired(), v.wtforms_validator(v.email)]}}

    def on_model_change(self, form, model, is_created):
        if form.new_password.data:
            model.set_password(form.new_password.data)
        elif is_created:
            raise Refused(_("A new user needs a password (at least 10 characters)."))
        model.ui_language = model.ui_language or None
        if model.id == current_user.id and (model.role != Role.ADMIN or not model.active):
            raise Refused(_("You cannot remove your own admin role or deactivate yourself."))

    def on_model_delete(self, model):
        if model.id == current_user.id:
            raise Refused(_("You cannot delete your own account."))


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
