"""The client list and client form."""
from flask import abort, flash, request
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import BooleanEqualFilter, DateBetweenFilter, FilterEqual
from flask_admin.model.form import InlineFormAdmin
from flask_babel import gettext as _, lazy_gettext as _l, ngettext
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy.orm import joinedload, selectinload, undefer
from wtforms.validators import DataRequired

from .. import scoping
from ..exports import client_export_response
from ..extensions import db
from ..forms import validators as v
from ..forms.client import clean_identity
from ..lifecycle import ClientLifecycle, LifecycleError
from ..models import (
    AllowedSender, BankAccount, Client, ClientIntegration, ClientStatus, Contact, Group, IntegrationProduct, Role,
    SubscriptionMode, User, VatFrequency, utcnow,
)
from ..models.base import choices_of
from ..models.client import VatCheck
from ..search import client_search_condition
from .base import DynamicOptionsFilter, ScopedModelView, assignable_groups_query

STATUS_BADGES = {
    ClientStatus.CREATED: "secondary",
    ClientStatus.INVITED: "info",
    ClientStatus.ACTIVE: "success",
    ClientStatus.DEACTIVATED: "dark",
}


def _visible_groups():
    return [(g.id, g.name) for g in db.session.scalars(scoping.assignable_groups(current_user))]


def _staff_options():
    return [(u.id, str(u)) for u in db.session.scalars(scoping.staff_users())]


def _integration_options():
    return [(p.id, p.name) for p in db.session.scalars(db.select(IntegrationProduct).order_by(IntegrationProduct.name))]


def status_badge(view, context, client, name):
    status = ClientStatus(client.status)
    html = Markup('<span class="badge badge-{}">{}</span>').format(STATUS_BADGES[status], _(status.label))
    if status == ClientStatus.INVITED and client.invitation_expires_at is not None:
        days = (client.invitation_expires_at - utcnow()).days
        if client.invitation_expires_at <= utcnow():
            html += Markup(' <span class="badge badge-warning">{}</span>').format(_("invitation expired"))
        else:
            html += Markup(' <small class="text-muted">{}</small>').format(
                ngettext("%(num)d day left", "%(num)d days left", days)
            )
    return html


def trial_end(view, context, client, name):
    if client.trial_end is None:
        return ""
    days = client.trial_days_left
    note = _("ended") if days < 0 else ngettext("%(num)d day left", "%(num)d days left", days)
    return Markup("{} <small class=\"text-muted\">({})</small>").format(client.trial_end.isoformat(), note)


def enterprise_number(view, context, client, name):
    return client.enterprise_number_display


def vat_check_state(view, context, client, name):
    if not client.vat_check:
        return ""
    label = _(VatCheck(client.vat_check).label)
    if client.vat_checked_at is None:
        return label
    return _("%(state)s (checked %(date)s)", state=label, date=client.vat_checked_at.date().isoformat())


def peppol_flag(view, context, client, name):
    on = getattr(client, name)
    return Markup('<span class="fa fa-{}" title="{}"></span>').format(
        "check-circle text-success" if on else "minus text-muted", _("on") if on else _("off")
    )


def client_name(view, context, client, name):
    return Markup('<a href="{}">{}</a>{}').format(
        view.get_url(".details_view", id=client.id),
        client.name,
        Markup(' <span class="badge badge-light">{}</span>').format(_("hidden")) if client.hidden else "",
    )


class IntegrationFilter(DynamicOptionsFilter):
    """Clients connected to one accounting software (EXISTS, so no join to clash with sorting)."""

    def apply(self, query, value, alias=None):
        return query.filter(Client.integration.has(ClientIntegration.product_id == value))


class ContactInline(InlineFormAdmin):
    form_columns = ("id", "civility", "first_name", "last_name", "email", "job_title", "phone", "mobile", "language", "is_primary")
    form_choices = {"civility": [("mr", _l("Mr")), ("ms", _l("Ms")), ("mx", _l("Mx"))]}
    form_args = {
        "first_name": {"validators": [DataRequired()]},
        "last_name": {"validators": [DataRequired()]},
        "email": {"validators": [DataRequired(), v.wtforms_validator(v.email)]},
        "phone": {"validators": [v.wtforms_validator(v.phone)]},
        "mobile": {"validators": [v.wtforms_validator(v.phone)]},
        "language": {"validators": [DataRequired(), v.wtforms_validator(v.locale)]},
    }


class BankAccountInline(InlineFormAdmin):
    form_columns = ("id", "iban", "label")
    form_args = {"iban": {"label": "IBAN", "validators": [DataRequired(), v.wtforms_validator(v.iban)]}}


class AllowedSenderInline(InlineFormAdmin):
    form_columns = ("id", "pattern")
    form_args = {"pattern": {"label": _l("Allowed sender (address or @domain)"), "validators": [DataRequired()]}}


class ClientView(ScopedModelView):
    list_template = "admin/client_list.html"  # adds "+ New client" (the wizard)
    export_role = Role.SUPERVISOR
    export_types = ["csv", "xlsx"]
    column_auto_select_related = False

    column_list = (
        "name", "enterprise_number", "group", "firm_contact", "status", "integration",
        "peppol_send", "peppol_receive", "inbox_count", "plan", "trial_end",
    )
    column_labels = {
        "name": _l("Legal name"), "enterprise_number": _l("Enterprise number"), "vat_number": _l("VAT number"),
        "group": _l("Group"), "firm_contact": _l("Firm contact"), "client_facing_contact": _l("Client-facing contact"),
        "status": _l("Status"), "integration": _l("Integration"), "peppol_send": _l("Peppol send"),
        "peppol_receive": _l("Peppol receive"), "inbox_count": _l("Inbox"), "plan": _l("Plan"),
        "trial_end": _l("Trial end"), "skip_vat_check": _l("Don't verify VAT"),
        "vat_frequency": _l("VAT filing frequency"), "subscription_mode": _l("Subscription"),
        "external_reference": _l("External reference"), "internal_reference": _l("Internal reference"),
        "house_number": _l("Number"), "box": _l("Box"), "postal_code": _l("Postal code"), "city": _l("City"),
        "street": _l("Street"), "country": _l("Country"), "language": _l("Language"), "website": _l("Website"),
        "hidden": _l("Hidden from staff"), "sync_from": _l("Synchronise from"),
        "track_transactions_without_documents": _l("Track transactions without documents"),
        "inbound_email": _l("Inbound e-mail address"), "e_invoicing_mandate": _l("E-invoicing mandate"),
        "contacts": _l("Contacts"), "bank_accounts": _l("Bank accounts"), "allowed_senders": _l("Allowed senders"),
        "template": _l("Template"), "billing_street": _l("Billing street"), "billing_house_number": _l("Billing number"),
        "billing_box": _l("Billing box"), "billing_postal_code": _l("Billing postal code"),
        "billing_city": _l("Billing city"), "billing_country": _l("Billing country"),
        "legal_form": _l("Legal form"), "vat_check": _l("VAT check"),
    }
    column_sortable_list = (
        "name", "enterprise_number", ("group", "group.name"), ("firm_contact", "firm_contact.full_name"), "status",
        ("integration", "integration.product.name"), "peppol_send", "peppol_receive",
        "inbox_count", "plan", "trial_end",
    )
    column_default_sort = [("name", False), ("id", False)]
    column_formatters = {
        "name": client_name,
        "status": status_badge,
        "trial_end": trial_end,
        "enterprise_number": enterprise_number,
        "vat_check": vat_check_state,
        "peppol_send": peppol_flag,
        "peppol_receive": peppol_flag,
        "integration": lambda view, context, client, name: client.integration.product.name if client.integration else "",
    }
    column_searchable_list = ("name",)  # the search itself is client_search_condition (see _apply_search)
    column_choices = {
        "status": choices_of(ClientStatus),
        "subscription_mode": choices_of(SubscriptionMode),
        "vat_frequency": choices_of(VatFrequency),
        "vat_check": choices_of(VatCheck),
    }

    column_details_list = (
        "name", "status", "legal_form", "enterprise_number", "vat_number", "skip_vat_check", "vat_check", "country", "group", "firm_contact",
        "client_facing_contact", "template", "subscription_mode", "plan", "trial_end", "vat_frequency",
        "external_reference", "internal_reference", "street", "house_number", "box", "postal_code", "city",
        "website", "language", "inbound_email", "e_invoicing_mandate", "peppol_send", "peppol_receive",
        "sync_from", "track_transactions_without_documents", "hidden", "contacts", "bank_accounts",
        "allowed_senders",
    )

    form_columns = (
        "name", "legal_form", "country", "enterprise_number", "vat_number", "skip_vat_check", "vat_frequency", "subscription_mode",
        "plan", "language", "group", "firm_contact", "client_facing_contact", "hidden", "external_reference",
        "internal_reference", "website", "street", "house_number", "box", "postal_code", "city",
        "billing_street", "billing_house_number", "billing_box", "billing_postal_code", "billing_city",
        "billing_country", "sync_from", "track_transactions_without_documents", "e_invoicing_mandate",
    )
    form_choices = {
        "subscription_mode": choices_of(SubscriptionMode),
        "vat_frequency": [("", "—")] + choices_of(VatFrequency),
    }
    form_args = {
        "name": {"validators": [DataRequired()]},
        "language": {"validators": [DataRequired(), v.wtforms_validator(v.locale)]},
        "billing_country": {"validators": [v.wtforms_validator(v.country)]},
        "group": {"query_factory": assignable_groups_query, "allow_blank": False, "validators": [DataRequired()]},
        "firm_contact": {"query_factory": lambda: db.session.query(User).filter(User.active.is_(True)).order_by(User.full_name)},
        "client_facing_contact": {"query_factory": lambda: db.session.query(User).filter(User.active.is_(True)).order_by(User.full_name)},
    }
    inline_models = (
        ContactInline(Contact),
        BankAccountInline(BankAccount),
        AllowedSenderInline(AllowedSender),
    )

    # Filters: stable names, per-user options
    def get_filters(self):
        return [
            FilterEqual(Client.status, _l("Status"), options=choices_of(ClientStatus)),
            DynamicOptionsFilter(Client.group_id, _l("Group"), _visible_groups),
            DynamicOptionsFilter(Client.firm_contact_id, _l("Firm contact"), _staff_options),
            BooleanEqualFilter(Client.peppol_send, _l("Peppol send")),
            BooleanEqualFilter(Client.peppol_receive, _l("Peppol receive")),
            IntegrationFilter(Client.id, _l("Integration"), _integration_options),
            FilterEqual(Client.plan, _l("Plan")),
            DateBetweenFilter(Client.trial_end, _l("Trial end")),
            FilterEqual(Client.vat_check, _l("VAT check"), options=choices_of(VatCheck)),
        ]

    # Search through the indexed search text (name, numbers, references, contact e-mails)
    def _apply_search(self, query, count_query, joins, count_joins, search):
        condition = client_search_condition(search, db.engine.dialect.name)
        query = query.filter(condition)
        if count_query is not None:
            count_query = count_query.filter(condition)
        return query, count_query, joins, count_joins

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        count, query = super().get_list(page, sort_column, sort_desc, search, filters, execute=False, page_size=page_size)
        if execute:
            query = query.options(
                joinedload(Client.group),
                joinedload(Client.firm_contact),
                selectinload(Client.integration).joinedload(ClientIntegration.product),
                undefer(Client.inbox_count),
            ).all()
        return count, query

    # Admin-only fields
    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        return self._restrict_admin_fields(form)

    def create_form(self, obj=None):
        form = super().create_form(obj)
        return self._restrict_admin_fields(form)

    def _restrict_admin_fields(self, form):
        if not current_user.is_admin:
            del form.client_facing_contact
            del form.hidden
        return form

    def validate_form(self, form):
        valid = super().validate_form(form)
        if not hasattr(form, "enterprise_number") or request.method != "POST":
            return valid
        values, errors = clean_identity(form.country.data, form.enterprise_number.data, form.vat_number.data)
        for field, message in errors.items():
            getattr(form, field).errors = list(getattr(form, field).errors) + [message]
        if errors:
            return False
        for field, value in values.items():
            getattr(form, field).data = value
        return valid

    def on_model_change(self, form, model, is_created):
        super().on_model_change(form, model, is_created)
        allowed_groups = {g.id for g in db.session.scalars(scoping.assignable_groups(current_user))}
        group_id = model.group.id if model.group is not None else model.group_id
        if group_id not in allowed_groups:
            raise ValueError(_("You can only put clients in your own groups."))
        for sender in model.allowed_senders:
            sender.pattern = sender.pattern.strip().lower()
        if model.contacts and not any(c.is_primary for c in model.contacts):
            model.contacts[0].is_primary = True
        if model.subscription_mode == SubscriptionMode.MANAGED and not model.bank_accounts:
            raise ValueError(_("A client managed by the firm needs at least one bank account."))

    def delete_model(self, model):
        try:
            ClientLifecycle.delete(model)
            db.session.commit()
        except LifecycleError as error:
            db.session.rollback()
            flash(str(error), "error")
            return False
        return True

    @action("delete", _l("Delete"), _l("Delete the selected clients? Only clients that were never invited can be deleted."))
    def action_delete(self, ids):
        deleted, refused = 0, []
        for client in self.scoped_rows(ids):
            try:
                ClientLifecycle.delete(client)
                deleted += 1
            except LifecycleError as error:
                refused.append(str(error))
        db.session.commit()
        if deleted:
            flash(ngettext("%(num)d client deleted.", "%(num)d clients deleted.", deleted), "success")
        for message in refused:
            flash(message, "warning")

    def is_action_allowed(self, name):
        if name == "delete":
            return self.can_delete
        return super().is_action_allowed(name)

    @expose("/export/<export_type>/")
    def export(self, export_type):
        """The filtered list, streamed from the database (Flask-Admin's own export loads every row first)."""
        if not self.can_export:
            abort(403)
        if export_type not in self.export_types:
            abort(404)
        view_args = self._get_list_extra_args()
        sort = self._get_column_by_idx(view_args.sort)
        _count, query = super().get_list(
            0, sort[0] if sort else None, view_args.sort_desc, view_args.search, view_args.filters,
            execute=False, page_size=0,
        )
        return client_export_response(query.with_entities(Client.id), export_type)
