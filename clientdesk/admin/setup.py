"""Admin-only screens: configuration templates and the integration catalogue."""
from types import SimpleNamespace

from flask import request
from flask_babel import gettext as _, lazy_gettext as _l
from wtforms.validators import DataRequired

from ..forms import validators as v
from ..forms.integration import delivery_problems
from ..models import ConfigTemplate, CreditCardStatements, DeliveryMethod, IntegrationProduct, SubscriptionMode
from ..models.base import choices_of
from .people import AdminOnlyView


class ConfigTemplateView(AdminOnlyView):
    column_list = ("name", "description", "assigned_group", "assigned_user", "integration_product", "delivery_method",
                   "subscription_mode", "e_invoicing_mandate", "peppol_send", "peppol_receive")
    column_labels = {
        "name": _l("Name"), "description": _l("Description"), "assigned_group": _l("Assigned group"),
        "assigned_user": _l("Assigned staff"), "integration_product": _l("Accounting software"),
        "subscription_mode": _l("Subscription"), "e_invoicing_mandate": _l("E-invoicing mandate"),
        "peppol_send": _l("Peppol send"), "peppol_receive": _l("Peppol receive"), "delivery_method": _l("Delivery"),
        "delivery_email": _l("Delivery e-mail"), "delivery_email_purchase": _l("E-mail for purchases"),
        "delivery_email_sales": _l("E-mail for sales"), "delivery_email_misc": _l("E-mail for miscellaneous"),
        "attach_ubl": _l("Attach UBL"), "sftp_url": _l("sFTP folder"), "api_url": _l("API address"),
        "credit_card_statements": _l("Credit-card statements"),
    }
    column_choices = {"subscription_mode": choices_of(SubscriptionMode), "delivery_method": choices_of(DeliveryMethod)}
    column_searchable_list = ("name",)
    column_sortable_list = ("name",)
    form_columns = (
        "name", "description", "assigned_group", "assigned_user", "subscription_mode", "e_invoicing_mandate",
        "peppol_send", "peppol_receive", "integration_product", "delivery_method", "delivery_email",
        "delivery_email_purchase", "delivery_email_sales", "delivery_email_misc", "attach_ubl", "sftp_url", "api_url",
        "credit_card_statements",
    )
    form_choices = {
        "subscription_mode": choices_of(SubscriptionMode),
        "delivery_method": choices_of(DeliveryMethod),
        "credit_card_statements": choices_of(CreditCardStatements),
    }
    form_args = {
        "name": {"validators": [DataRequired()]},
        **{name: {"validators": [v.wtforms_validator(v.email)]}
           for name in ("delivery_email", "delivery_email_purchase", "delivery_email_sales", "delivery_email_misc")},
    }

    def validate_form(self, form):
        valid = super().validate_form(form)
        if request.method != "POST" or not hasattr(form, "delivery_method"):
            return valid
        settings = SimpleNamespace(**{name: form[name].data for name in (
            "delivery_method", "delivery_email", "delivery_email_purchase", "delivery_email_sales", "delivery_email_misc",
            "sftp_url", "api_url")})
        problems = delivery_problems(settings, form.integration_product.data)
        if form.peppol_receive.data and not form.e_invoicing_mandate.data:
            problems["peppol_receive"] = _("Receiving through Peppol needs the e-invoicing mandate.")
        for name, message in problems.items():
            field = form.integration_product if name == "product" else form[name]
            field.errors = [*field.errors, message]
        return valid and not problems


class IntegrationProductView(AdminOnlyView):
    column_list = ("name", "delivery_methods", "sender_whitelist_required", "note")
    column_labels = {
        "name": _l("Accounting software"), "delivery_methods": _l("Delivery methods"),
        "sender_whitelist_required": _l("Sender must be whitelisted"), "note": _l("Note"),
    }
    column_searchable_list = ("name",)
    column_sortable_list = ("name",)
    form_columns = ("name", "delivery_methods", "sender_whitelist_required", "note")
    form_args = {"name": {"validators": [DataRequired()]}}
