"""Admin-only screens: configuration templates, the integration catalogue, the plan catalogue and the firm's settings."""
import sqlalchemy as sa
from flask import flash
from flask_babel import gettext as _, lazy_gettext as _l, ngettext
from wtforms.fields import SelectMultipleField
from wtforms.validators import DataRequired, InputRequired, NumberRange

from .. import rules
from ..errors import Refused
from ..extensions import db
from ..forms import select_choices_of, validators as v
from ..i18n import euros
from ..models import (
    Client,
    ClientIntegration,
    CreditCardStatements,
    DeliveryMethod,
    IntegrationProduct,
    SubscriptionMode,
    UnauthenticatedMail,
)
from ..models.base import choices_of
from ..services.delivery import method_problems
from .children import (
    DELIVERY_FORM_ARGS,
    DELIVERY_FORM_COLUMNS,
    DELIVERY_FORM_OVERRIDES,
    DELIVERY_LABELS,
    FIRM_DEFAULT_ARGS,
    check_delivery,
    keep_secrets_with_their_destination,
)
from .people import AdminOnlyView, staff_label, staff_to_choose


class DeliveryMethodsField(SelectMultipleField):
    """The catalogue's comma-separated delivery methods, edited as a list of choices."""

    def process_data(self, value):
        self.data = [m for m in (value or "").split(",") if m] if isinstance(value, str) else value

    def populate_obj(self, obj, name):
        setattr(obj, name, ",".join(choice.value for choice in self.choices if choice.value in (self.data or [])))


class ConfigTemplateView(AdminOnlyView):
    column_list = ("name", "description", "assigned_group", "assigned_user", "integration_product", "subscription_mode")
    column_labels = {
        "name": _l("Name"), "description": _l("Description"), "assigned_group": _l("Assigned group"),
        "assigned_user": _l("Assigned staff"), "client_facing_contact": _l("Client-facing contact"),
        "watchers": _l("Additional users to notify"),
        "integration_product": _l("Accounting software"),
        "subscription_mode": _l("Subscription"), "e_invoicing_mandate": _l("E-invoicing mandate"),
        "peppol_send": _l("Peppol send"), "peppol_receive": _l("Peppol receive"), **DELIVERY_LABELS,
    }
    column_choices = {"subscription_mode": choices_of(SubscriptionMode)}
    column_searchable_list = ("name",)
    column_sortable_list = ("name",)
    form_columns = (
        "name", "description", "assigned_group", "assigned_user", "client_facing_contact", "watchers", "subscription_mode",
        "e_invoicing_mandate", "peppol_send", "peppol_receive", "integration_product", "uses_firm_default",
        *DELIVERY_FORM_COLUMNS,
    )
    column_details_exclude_list = ("sftp_password", "api_token")
    form_overrides = DELIVERY_FORM_OVERRIDES
    form_choices = {
        "subscription_mode": choices_of(SubscriptionMode),
        "delivery_method": choices_of(DeliveryMethod),
        "credit_card_statements": choices_of(CreditCardStatements),
    }
    form_args = {"name": {"validators": [DataRequired()]}, **DELIVERY_FORM_ARGS, **FIRM_DEFAULT_ARGS,
                 "assigned_user": {"query_factory": staff_to_choose, "get_label": staff_label,
                                   "validators": [v.offered_users_only]},
                 "client_facing_contact": {"query_factory": staff_to_choose, "get_label": staff_label,
                                           "validators": [v.offered_users_only],
                                           "description": _l("Set on clients that have none.")},
                 "watchers": {"query_factory": staff_to_choose, "get_label": staff_label,
                              "validators": [v.offered_users_only], "description": _l(
                                  "Told of what happens to the clients of this template (notifications), besides their "
                                  "firm contact; added to each client the template is applied to.")}}
    details_template = "admin/template_details.html"  # adds "Apply to existing clients"

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        form.assigned_user.query_factory = lambda: staff_to_choose([obj.assigned_user])
        form.client_facing_contact.query_factory = lambda: staff_to_choose([obj.client_facing_contact])
        form.watchers.query_factory = lambda: staff_to_choose(obj.watchers)
        return form

    def on_model_change(self, form, model, is_created):
        super().on_model_change(form, model, is_created)
        problems = rules.template_problems(model)
        if problems:
            raise rules.RuleViolation(problems)
        keep_secrets_with_their_destination(form, model)
        check_delivery(model, model.integration_product)


class IntegrationProductView(AdminOnlyView):
    column_list = ("name", "delivery_methods", "sender_whitelist_required", "note")
    column_labels = {
        "name": _l("Accounting software"), "delivery_methods": _l("Delivery methods"),
        "sender_whitelist_required": _l("Sender must be whitelisted"), "note": _l("Note"),
    }
    column_searchable_list = ("name",)
    column_sortable_list = ("name",)
    form_columns = ("name", "delivery_methods", "sender_whitelist_required", "note")
    form_overrides = {"delivery_methods": DeliveryMethodsField}
    form_args = {
        "name": {"validators": [DataRequired()]},
        "delivery_methods": {"choices": select_choices_of(DeliveryMethod), "validators": [DataRequired()]},
        "sender_whitelist_required": {"description": _l("Shown as a note: e-mail from ClientDesk must be whitelisted in this software.")},
    }


class PlanView(AdminOnlyView):
    """The plan catalogue. A plan no longer offered is made inactive: it stays on the clients who have it."""

    column_list = ("name", "monthly_price", "includes", "active", "sort_order")
    column_labels = {"name": _l("Name"), "monthly_price": _l("Monthly price (EUR)"), "includes": _l("Includes"),
                     "active": _l("Offered"), "sort_order": _l("Order")}
    column_formatters = {"monthly_price": lambda view, context, plan, name: euros(plan.monthly_price)}
    column_sortable_list = ("name", "monthly_price", "active", "sort_order")
    column_default_sort = [("sort_order", False), ("name", False)]
    form_columns = ("name", "monthly_price", "includes", "active", "sort_order")
    form_args = {
        "name": {"validators": [DataRequired()]},
        "monthly_price": {"validators": [InputRequired(), NumberRange(min=0)], "places": 2},
        "active": {"description": _l("Offered to clients choosing a plan; clients on an inactive plan keep it.")},
        "sort_order": {"description": _l("Plans are offered from the lowest number up.")},
    }

    def delete_model(self, model):
        if db.session.scalar(sa.select(sa.exists().where(Client.plan_id == model.id))):
            flash(_("%(name)s is the plan of clients: make it inactive instead.", name=model.name), "error")
            return False
        return super().delete_model(model)


class FirmSettingsView(AdminOnlyView):
    """The firm's one row of settings: edited, never added or deleted. Its delivery is the firm default, used by
    every client whose integration says so: changing it changes where their documents go, at once."""

    create_role = delete_role = None
    column_list = ("unauthenticated_mail", "delivery_method", "delivery_email", "updated_at")
    column_labels = {"unauthenticated_mail": _l("Mail from an allowed sender that SPF and DKIM do not authenticate"),
                     **DELIVERY_LABELS, "delivery_method": _l("Default delivery"), "updated_at": _l("Changed")}
    column_choices = {"unauthenticated_mail": choices_of(UnauthenticatedMail), "delivery_method": choices_of(DeliveryMethod),
                      "credit_card_statements": choices_of(CreditCardStatements)}
    column_details_exclude_list = ("sftp_password", "api_token")
    form_columns = ("unauthenticated_mail", *DELIVERY_FORM_COLUMNS)
    form_overrides = DELIVERY_FORM_OVERRIDES
    form_choices = {"unauthenticated_mail": choices_of(UnauthenticatedMail), "delivery_method": choices_of(DeliveryMethod),
                    "credit_card_statements": choices_of(CreditCardStatements)}
    form_args = {**DELIVERY_FORM_ARGS, "unauthenticated_mail": {"description": _l(
        "Kept: the document is stored and shown as not authenticated. Refused: the sending server is told so, "
        "and the message is counted with the client's refused messages.")}, "delivery_method": {"description": _l(
        "The firm default: where the documents of every client on the firm default go. A client whose software does "
        "not take this method stays on manual delivery, with a warning on its Integration tab.")}}

    def on_model_change(self, form, model, is_created):
        super().on_model_change(form, model, is_created)
        keep_secrets_with_their_destination(form, model)
        problems = method_problems(model)
        if problems:
            raise Refused(" ".join(problems))

    def after_model_change(self, form, model, is_created):
        super().after_model_change(form, model, is_created)
        left_manual = db.session.scalar(sa.select(sa.func.count(ClientIntegration.id)).where(
            ClientIntegration.uses_firm_default.is_(True),
            ~ClientIntegration.product.has(IntegrationProduct.delivery_methods.contains(model.delivery_method))))
        if left_manual:
            flash(ngettext("%(num)d client on the firm default uses software that does not take this delivery: "
                           "its documents are delivered manually.",
                           "%(num)d clients on the firm default use software that does not take this delivery: "
                           "their documents are delivered manually.", left_manual), "warning")
