"""Screens for rows that belong to one client: bank accounts, allowed senders, the client's integration."""
import sqlalchemy as sa
from flask import current_app, flash
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from wtforms.fields import PasswordField
from wtforms.validators import DataRequired, ValidationError

from .. import rules
from ..errors import Refused
from ..extensions import db
from ..forms import validators as v
from ..models import ClientIntegration, CreditCardStatements, DeliveryMethod
from ..models.base import choices_of
from ..services.delivery import effective_delivery, settings_problems
from ..services.outbound import ForbiddenDestination, Outbound
from .base import ScopedClientLoader, ScopedModelView


class SecretField(PasswordField):
    """A password or token: never shown back; left empty, the stored value is kept."""

    def populate_obj(self, obj, name):
        if self.data:
            setattr(obj, name, self.data)


DELIVERY_LABELS = {
    "uses_firm_default": _l("Use the firm default delivery"), "delivery_method": _l("Delivery"),
    "delivery_email": _l("Delivery e-mail (all documents)"),
    "delivery_email_purchase": _l("E-mail for purchases"), "delivery_email_sales": _l("E-mail for sales"),
    "delivery_email_misc": _l("E-mail for miscellaneous"), "attach_ubl": _l("Attach the UBL"),
    "sftp_url": _l("sFTP folder (sftp://user@host:port/folder)"), "sftp_password": _l("sFTP password"),
    "sftp_host_key": _l("sFTP server key (remembered at the first delivery)"), "api_url": _l("API address"),
    "api_token": _l("API token"), "credit_card_statements": _l("Credit-card statements"),
}
DELIVERY_FORM_COLUMNS = (
    "delivery_method", "delivery_email", "delivery_email_purchase", "delivery_email_sales", "delivery_email_misc",
    "attach_ubl", "sftp_url", "sftp_password", "sftp_host_key", "api_url", "api_token", "credit_card_statements",
)
def public_destination(form, field):
    """The sFTP or API address must not be one inside the network (the worker checks again when it connects)."""
    try:
        Outbound.from_config(current_app.config).check_url(field.data)
    except ForbiddenDestination as error:
        raise ValidationError(str(error)) from None


DELIVERY_FORM_ARGS = {
    **{name: {"validators": [v.wtforms_validator(v.email)]}
       for name in ("delivery_email", "delivery_email_purchase", "delivery_email_sales", "delivery_email_misc")},
    "sftp_url": {"validators": [public_destination]},
    "api_url": {"validators": [public_destination]},
    "sftp_password": {"description": _l("Leave empty to keep the stored password.")},
    "api_token": {"description": _l("Leave empty to keep the stored token.")},
}
DELIVERY_FORM_OVERRIDES = {"sftp_password": SecretField, "api_token": SecretField}
FIRM_DEFAULT_ARGS = {"uses_firm_default": {"description": _l(
    "Documents go as the firm's default delivery says (Setup > Firm), and follow it when it changes; the settings "
    "below are kept, unused, until this is unticked.")}}


def keep_secrets_with_their_destination(form, settings) -> None:
    """A stored password or token only goes to the address it was given for: when the sFTP or API address
    changes, the secret must be typed again (else it is dropped), and the sFTP server's key is learnt anew.
    Otherwise anyone allowed to edit the address could send the firm's credentials to a server of theirs."""
    state = sa.inspect(settings)
    if state.attrs.sftp_url.history.has_changes() and not form.sftp_password.data:
        settings.sftp_password = None
    if state.attrs.sftp_url.history.has_changes():
        settings.sftp_host_key = None
    if state.attrs.api_url.history.has_changes() and not form.api_token.data:
        settings.api_token = None


def check_delivery(settings, product) -> None:
    problems = settings_problems(settings, product)
    if problems:
        raise Refused(" ".join(problems))


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

    def on_model_delete(self, model):
        others = [account for account in rules.kept(model.client.bank_accounts) if account is not model]
        rules.check(model.client, known=rules.problems(model.client), bank_accounts=len(others))


class AllowedSenderView(ScopedModelView):
    client_relationship = "client"
    column_list = ("client", "pattern", "created_at")
    column_labels = {"client": _l("Client"), "pattern": _l("Address or @domain"), "created_at": _l("Added")}
    column_sortable_list = (("client", "client.name"), "pattern", "created_at")
    column_searchable_list = ("pattern",)
    form_columns = ("client", "pattern")
    form_ajax_refs = {"client": ScopedClientLoader("client")}
    form_args = {"client": {"validators": [DataRequired()]},
                 "pattern": {"validators": [DataRequired(), v.wtforms_validator(v.sender_pattern)]}}
    delete_role = "staff"


def _product(view, context, integration, name):
    product = integration.product
    if product.sender_whitelist_required and effective_delivery(integration).method == DeliveryMethod.EMAIL:
        return Markup('{} <small class="text-muted">({})</small>').format(
            product.name, _("add %(sender)s as a whitelisted sender in %(product)s",
                            sender=current_app.config["MAIL_FROM"], product=product.name))
    return product.name


def _delivery_method(view, context, integration, name):
    delivery = effective_delivery(integration)
    if delivery.firm_default:
        return _("%(method)s (firm default)", method=delivery.method_label)
    return delivery.method_label


def _host_key_for_admins(form):
    """The sFTP server key decides which server may receive the documents: admins only set it by hand."""
    if not current_user.is_admin:
        del form.sftp_host_key
    return form


class ClientIntegrationView(ScopedModelView):
    """A client's accounting software (at most one per client) and where its documents go."""

    client_relationship = "client"
    column_list = ("client", "product", "delivery_method", "delivery_email", "attach_ubl", "credit_card_statements")
    column_labels = {"client": _l("Client"), "product": _l("Accounting software"), **DELIVERY_LABELS}
    column_choices = {"delivery_method": choices_of(DeliveryMethod), "credit_card_statements": choices_of(CreditCardStatements)}
    column_formatters = {"product": _product, "delivery_method": _delivery_method,
                         "delivery_email": lambda view, context, integration, name: effective_delivery(integration).settings.delivery_email}
    column_sortable_list = (("client", "client.name"), ("product", "product.name"), "delivery_method")
    column_details_exclude_list = ("sftp_password", "api_token")
    form_columns = ("client", "product", "uses_firm_default", *DELIVERY_FORM_COLUMNS)
    form_choices = {"delivery_method": choices_of(DeliveryMethod), "credit_card_statements": choices_of(CreditCardStatements)}
    form_overrides = DELIVERY_FORM_OVERRIDES
    form_ajax_refs = {"client": ScopedClientLoader("client")}
    form_args = {"client": {"validators": [DataRequired()]}, "product": {"validators": [DataRequired()]}, **DELIVERY_FORM_ARGS,
                 **FIRM_DEFAULT_ARGS}
    delete_role = "staff"

    def on_model_change(self, form, model, is_created):
        client = model.client
        with db.session.no_autoflush:  # flushing first would hit the unique constraint (or orphan the other row)
            super().on_model_change(form, model, is_created)
            other = db.session.scalar(db.select(ClientIntegration).where(
                ClientIntegration.client_id == client.id, ClientIntegration.id != model.id)) if client is not None else None
        if other is not None:
            raise Refused(_("%(client)s is already connected to %(product)s: a client has at most one accounting "
                            "software. Change or remove that one instead.", client=client.name, product=other.product.name))
        keep_secrets_with_their_destination(form, model)
        check_delivery(model, model.product)

    def after_model_change(self, form, model, is_created):
        super().after_model_change(form, model, is_created)
        unsupported = effective_delivery(model).unsupported
        if unsupported:
            flash(unsupported, "warning")

    def edit_form(self, obj=None):
        return _host_key_for_admins(super().edit_form(obj))

    def create_form(self, obj=None):
        return _host_key_for_admins(super().create_form(obj))
