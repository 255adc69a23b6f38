"""Screens for rows that belong to one client: bank accounts, allowed senders, the client's integration."""
from flask_babel import lazy_gettext as _l
from wtforms.validators import DataRequired

from ..forms import validators as v
from ..models import AllowedSender, BankAccount, ClientIntegration, CreditCardStatements, DeliveryMethod
from ..models.base import choices_of
from .base import ScopedClientLoader, ScopedModelView


class BankAccountView(ScopedModelView):
    client_relationship = "client"
    column_list = ("client", "iban", "label")
    column_labels = {"client": _l("Client"), "iban": "IBAN", "label": _l("Label")}
    column_formatters = {"iban": lambda view, ctx, m, n: v.format_iban(m.iban)}
    column_sortable_list = (("client", "client.name"), "iban")
    form_columns = ("client", "iban", "label")
    form_ajax_refs = {"client": ScopedClientLoader("client")}
    form_args = {
        "client": {"validators": [DataRequired()]},
        "iban": {"label": "IBAN", "validators": [DataRequired(), v.wtforms_validator(v.iban)]},
    }
    delete_role = "staff"


def _normalise_pattern(form, field):
    from wtforms.validators import ValidationError

    pattern = (field.data or "").strip().lower()
    if pattern.startswith("@"):
        if "." not in pattern[1:] or " " in pattern:
            raise ValidationError(_l("A domain pattern looks like @example.com."))
        field.data = pattern
        return
    try:
        field.data = v.email(pattern)
    except v.InvalidValue as error:
        raise ValidationError(str(error)) from None


class AllowedSenderView(ScopedModelView):
    client_relationship = "client"
    column_list = ("client", "pattern", "created_at")
    column_labels = {"client": _l("Client"), "pattern": _l("Address or @domain"), "created_at": _l("Added")}
    column_sortable_list = (("client", "client.name"), "pattern", "created_at")
    column_searchable_list = ("pattern",)
    form_columns = ("client", "pattern")
    form_ajax_refs = {"client": ScopedClientLoader("client")}
    form_args = {"client": {"validators": [DataRequired()]}, "pattern": {"validators": [DataRequired(), _normalise_pattern]}}
    delete_role = "staff"


class ClientIntegrationView(ScopedModelView):
    client_relationship = "client"
    column_list = ("client", "product", "delivery_method", "delivery_email", "attach_ubl", "credit_card_statements")
    column_labels = {
        "client": _l("Client"), "product": _l("Accounting software"), "delivery_method": _l("Delivery"),
        "delivery_email": _l("Delivery e-mail"), "delivery_email_purchase": _l("E-mail for purchases"),
        "delivery_email_sales": _l("E-mail for sales"), "delivery_email_misc": _l("E-mail for miscellaneous"),
        "attach_ubl": _l("Attach UBL"), "sftp_url": _l("sFTP folder"), "api_url": _l("API address"),
        "credit_card_statements": _l("Credit-card statements"),
    }
    column_choices = {"delivery_method": choices_of(DeliveryMethod), "credit_card_statements": choices_of(CreditCardStatements)}
    column_sortable_list = (("client", "client.name"), ("product", "product.name"), "delivery_method")
    form_columns = (
        "client", "product", "delivery_method", "delivery_email", "delivery_email_purchase", "delivery_email_sales",
        "delivery_email_misc", "attach_ubl", "sftp_url", "api_url", "credit_card_statements",
    )
    form_choices = {"delivery_method": choices_of(DeliveryMethod), "credit_card_statements": choices_of(CreditCardStatements)}
    form_ajax_refs = {"client": ScopedClientLoader("client")}
    form_args = {
        "client": {"validators": [DataRequired()]},
        "product": {"validators": [DataRequired()]},
        **{name: {"validators": [v.wtforms_validator(v.email)]}
           for name in ("delivery_email", "delivery_email_purchase", "delivery_email_sales", "delivery_email_misc")},
    }
    delete_role = "staff"
