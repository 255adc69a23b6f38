"""Contacts of the clients a user sees."""
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from wtforms.validators import DataRequired

from .. import rules
from ..extensions import db
from ..forms import validators as v
from ..i18n import language_name
from ..lifecycle import ClientLifecycle
from ..models import ContactSource
from ..models.base import choices_of
from .base import ScopedClientLoader, ScopedModelView

# The contact fields' rules, shared by this screen and the contacts inline on the client form.
CONTACT_FORM_CHOICES = {"civility": [("mr", _l("Mr")), ("ms", _l("Ms")), ("mx", _l("Mx"))],
                        "source": choices_of(ContactSource)}
CONTACT_FORM_ARGS = {
    "first_name": {"validators": [DataRequired()]},
    "last_name": {"validators": [DataRequired()]},
    "email": {"validators": [DataRequired(), v.wtforms_validator(v.email)]},
    "phone": {"validators": [v.wtforms_validator(v.phone)]},
    "mobile": {"validators": [v.wtforms_validator(v.phone)]},
    "switchboard_phone": {"validators": [v.wtforms_validator(v.phone)]},
    "language": {"validators": [DataRequired(), v.wtforms_validator(v.locale)]},
}


class ContactView(ScopedModelView):
    client_relationship = "client"
    column_list = ("client", "first_name", "last_name", "email", "job_title", "phone", "mobile", "switchboard_phone", "source",
                   "language", "is_primary")
    column_labels = {
        "client": _l("Client"), "first_name": _l("First name"), "last_name": _l("Last name"), "email": _l("E-mail"),
        "job_title": _l("Job title"), "phone": _l("Direct phone"), "mobile": _l("Mobile"), "language": _l("Language"),
        "switchboard_phone": _l("Switchboard phone"), "source": _l("Source"), "is_primary": _l("Primary"),
        "civility": _l("Civility"), "accepted_at": _l("Access activated"),
    }
    column_sortable_list = (("client", "client.name"), "first_name", "last_name", "email", "is_primary")
    column_searchable_list = ("email", "last_name", "first_name")
    column_default_sort = [("last_name", False), ("id", False)]
    column_formatters = {"phone": lambda v_, c, m, n: v.format_phone(m.phone), "mobile": lambda v_, c, m, n: v.format_phone(m.mobile),
                         "switchboard_phone": lambda v_, c, m, n: v.format_phone(m.switchboard_phone),
                         "source": lambda v_, c, m, n: m.source_label,
                         "language": lambda v_, c, m, n: language_name(m.language)}
    form_columns = ("client", "civility", "first_name", "last_name", "email", "job_title", "phone", "mobile", "switchboard_phone",
                    "source", "language", "is_primary")
    form_choices = CONTACT_FORM_CHOICES
    form_ajax_refs = {"client": ScopedClientLoader("client")}
    form_args = {"client": {"validators": [DataRequired()]}, **CONTACT_FORM_ARGS}
    delete_role = "staff"

    def on_model_change(self, form, model, is_created):
        super().on_model_change(form, model, is_created)
        client = model.client
        with db.session.no_autoflush:  # the new flag must not reach the database before the old one is cleared
            others = [c for c in client.contacts if c is not model]
            history = sa.inspect(model).attrs.is_primary.history
            was_primary = not is_created and (history.deleted or [model.is_primary])[0]
            primary_before = model if was_primary else next((c for c in others if c.is_primary), None)
            problems = rules.contact_email_problems({**{c.id: c.email for c in others}, "email": model.email}, client.id)
        if "email" in problems:
            raise rules.RuleViolation({"email": problems["email"]})
        ClientLifecycle.settle_contacts(client, [*others, model], primary_before)

    def on_model_delete(self, model):
        client = model.client
        primary_before = client.primary_contact
        model.is_primary = False  # its flag goes before the next primary's is set (one primary per client)
        ClientLifecycle.settle_contacts(client, [c for c in client.contacts if c is not model], primary_before)
