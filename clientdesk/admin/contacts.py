"""Contacts of the clients a user sees."""
from flask_babel import gettext as _, lazy_gettext as _l
from wtforms.validators import DataRequired

from ..forms import validators as v
from ..models import Contact
from .base import ScopedClientLoader, ScopedModelView


class ContactView(ScopedModelView):
    client_relationship = "client"
    column_list = ("client", "first_name", "last_name", "email", "job_title", "phone", "mobile", "language", "is_primary")
    column_labels = {
        "client": _l("Client"), "first_name": _l("First name"), "last_name": _l("Last name"), "email": _l("E-mail"),
        "job_title": _l("Job title"), "phone": _l("Direct phone"), "mobile": _l("Mobile"), "language": _l("Language"),
        "is_primary": _l("Primary"), "civility": _l("Civility"), "accepted_at": _l("Access activated"),
    }
    column_details_exclude_list = ("password_hash",)
    column_sortable_list = (("client", "client.name"), "first_name", "last_name", "email", "is_primary")
    column_searchable_list = ("email", "last_name", "first_name")
    column_default_sort = [("last_name", False), ("id", False)]
    column_formatters = {"phone": lambda v_, c, m, n: v.format_phone(m.phone), "mobile": lambda v_, c, m, n: v.format_phone(m.mobile)}
    form_columns = ("client", "civility", "first_name", "last_name", "email", "job_title", "phone", "mobile", "language", "is_primary")
    form_choices = {"civility": [("mr", _l("Mr")), ("ms", _l("Ms")), ("mx", _l("Mx"))]}
    form_ajax_refs = {"client": ScopedClientLoader("client")}
    form_args = {
        "client": {"validators": [DataRequired()]},
        "first_name": {"validators": [DataRequired()]},
        "last_name": {"validators": [DataRequired()]},
        "email": {"validators": [DataRequired(), v.wtforms_validator(v.email)]},
        "phone": {"validators": [v.wtforms_validator(v.phone)]},
        "mobile": {"validators": [v.wtforms_validator(v.phone)]},
        "language": {"validators": [DataRequired(), v.wtforms_validator(v.locale)]},
    }
    delete_role = "staff"

    def on_model_delete(self, model):
        if len(model.client.contacts) <= 1:
            raise ValueError(_("A client's last contact cannot be removed."))
