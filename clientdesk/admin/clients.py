"""The client list and client form."""
import sqlalchemy as sa
from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import BooleanEqualFilter, DateBetweenFilter, FilterEqual
from flask_admin.model.form import InlineFormAdmin
from flask_babel import gettext as _, lazy_gettext as _l, ngettext
from flask_login import current_user
from jinja2 import pass_context
from markupsafe import Markup, escape
from sqlalchemy.orm import joinedload, selectinload, undefer
from wtforms import SelectChoice, SelectField
from wtforms.validators import DataRequired

from .. import client_users, onboarding, proposals, register_changes, rules, scoping, tasks
from ..documents import previewable
from ..einvoicing import (
    PeppolNotConnected,
    PeppolRefused,
    PeppolSwitches,
    access_point_configured,
    launch_registration,
    require_access_point,
)
from ..errors import Refused
from ..exports import client_export_response
from ..extensions import db
from ..forms import validators as v
from ..forms.client import clean_identity
from ..forms.contact import ContactForm
from ..i18n import country_name, days_left_words, language_name, local_days_until, localdate, localdatetime
from ..jobs.documents import launch_delivery, retry_now, run_send_documents, run_send_inbox
from ..jobs.lifecycle import SENDS_MAIL, run_bulk_action
from ..jobs.peppol import run_peppol
from ..lifecycle import ClientLifecycle, LifecycleError
from ..list_columns import Columns
from ..models import (
    AllowedSender,
    AuditEvent,
    BankAccount,
    Client,
    ClientIntegration,
    ClientStatus,
    CompanyType,
    Contact,
    Document,
    DocumentStatus,
    DocumentType,
    Group,
    IntegrationProduct,
    MailLog,
    PeppolState,
    Plan,
    RefusedSender,
    Role,
    SubscriptionMode,
    Task,
    User,
    VatFrequency,
    utcnow,
)
from ..models.audit import changed
from ..models.base import choices_of
from ..models.client import VatCheck, inbox_counts
from ..models.invitation import INVITATION_VALID_DAYS
from ..search import client_search_condition, search_counted_with_page
from ..services.delivery import effective_delivery
from ..tasks import QueueUnavailable
from .base import (
    DynamicOptionsFilter,
    IdEqualFilter,
    ScopedClientLoader,
    ScopedModelView,
    announce_voided_invitations,
    assignable_groups_query,
    chosen_in_scope,
    per_request,
    shown_client,
)
from .changes import shown_changes
from .client_extras import ClientExtrasMixin, back_to_client_page, favourite_ids, favourite_star
from .client_filters import (
    SHOW_DEACTIVATED,
    InboxFilter,
    InvitationFilter,
    NotDoneFilter,
    OnboardingFilter,
    ProposalsFilter,
    RegisterChangesFilter,
    StatusFilter,
    TrialFilter,
    client_delivery_not_done_condition,
    delivery_not_done_condition,
    hides_deactivated,
    not_deactivated_condition,
    peppol_not_done_condition,
)
from .client_proposals import ClientProposalsMixin
from .client_register import ClientRegisterMixin
from .client_users import ClientUsersMixin
from .contacts import CONTACT_FORM_ARGS, CONTACT_FORM_CHOICES, ContactView
from .documents import send_task
from .reorganise import ACTION_ROLES as REORGANISE_ROLES, ReorganiseMixin
from .wizard import NewClientWizard

# Who may run what: actions on selected rows (supervisors and admins), and on one client from its page.
BULK_ACTION_ROLES = {
    "invite": Role.SUPERVISOR, "resend": Role.SUPERVISOR, "retry_delivery": Role.SUPERVISOR, "deactivate": Role.SUPERVISOR,
    "activate": Role.ADMIN, "delete": Role.ADMIN, "peppol_on": Role.SUPERVISOR, "peppol_off": Role.SUPERVISOR,
    "retry_deliveries": Role.SUPERVISOR, **REORGANISE_ROLES,
}
CLIENT_ACTION_ROLES = {
    "invite": Role.STAFF, "resend": Role.STAFF, "retry_delivery": Role.STAFF, "deactivate": Role.SUPERVISOR, "reactivate": Role.SUPERVISOR,
    "activate": Role.ADMIN, "peppol_on": Role.STAFF, "peppol_off": Role.STAFF,
}
PEPPOL_ACTIONS = ("peppol_on", "peppol_off")
HISTORY_ROLE = Role.SUPERVISOR  # who reads a client's history on its page
PAGE_DOCUMENTS = 20  # the newest documents on the client page; the Documents list has them all

CLIENT_ACTION_LABELS = {
    "invite": _l("Send invitation"), "resend": _l("Resend invitation"),
    "retry_delivery": _l("Send the invitation e-mail again now"), "deactivate": _l("Deactivate"),
    "reactivate": _l("Reactivate"), "activate": _l("Activate without invitation"),
}
# Task descriptions of the actions on one client (%(name)s: the client)
CLIENT_TASK_DESCRIPTIONS = {
    "invite": _l("Invite %(name)s"), "resend": _l("Resend the invitation to %(name)s"),
    "retry_delivery": _l("Send the invitation e-mail to %(name)s again"),
    ("send", True): _l("Peppol sending on: %(name)s"), ("send", False): _l("Peppol sending off: %(name)s"),
    ("receive", True): _l("Peppol receiving on: %(name)s"), ("receive", False): _l("Peppol receiving off: %(name)s"),
    ("retry", False): _l("Peppol registration again: %(name)s"),
}

STATUS_BADGES = {
    ClientStatus.CREATED: "secondary",
    ClientStatus.INVITED: "info",
    ClientStatus.ACTIVE: "success",
    ClientStatus.DEACTIVATED: "dark",
}


def _visible_groups():
    return db.session.execute(scoping.assignable_groups(current_user).with_only_columns(Group.id, Group.name)).all()


def _staff_options():
    return [(u.id, str(u)) for u in db.session.scalars(scoping.staff_users())]


def _plan_options():
    return db.session.execute(db.select(Plan.id, Plan.name).order_by(Plan.sort_order, Plan.name)).all()


def plans_to_choose(client=None):
    """The form's plans: those offered, and the client's own even when it is no longer offered."""
    current = client.plan_id if client is not None else None
    return db.session.query(Plan).filter(sa.or_(Plan.active.is_(True), Plan.id == current)).order_by(Plan.sort_order, Plan.name)


def _integration_options():
    return db.session.execute(db.select(IntegrationProduct.id, IntegrationProduct.name).order_by(IntegrationProduct.name)).all()


def time_left(what: str, ends) -> str:
    """i18n.days_left_words for `ends`, worded once per request and number of days (the list repeats them)."""
    days = local_days_until(ends)
    return per_request(f"time-left:{what}:{days}", lambda: days_left_words(what, days))


def status_badge(view, context, client, name):
    status = ClientStatus(client.status)
    html = per_request(f"status:{status}", lambda: Markup(
        f'<span class="badge badge-{STATUS_BADGES[status]}">{escape(str(status.label))}</span>'
    ))
    if status == ClientStatus.INVITED and client.invitation_expires_at is not None:
        now = utcnow()
        if client.invitation_expires_at <= now:
            html += per_request("invitation-expired", lambda: Markup(' <span class="badge badge-warning">{}</span>').format(
                _("invitation expired")))
        else:
            html += Markup(f' <small class="text-muted">{escape(time_left("invitation", client.invitation_expires_at))}</small>')
    return html


def trial_end(view, context, client, name):
    if client.trial_end is None:
        return ""
    ended = local_days_until(client.trial_end) < 0
    note = per_request("trial-ended", lambda: _("ended")) if ended else time_left("trial", client.trial_end)
    return Markup(f'{escape(localdate(client.trial_end))} <small class="text-muted">({escape(note)})</small>')


def onboarding_state(view, context, client, name):
    missing = client.onboarding_missing
    if not missing:
        return per_request("onboarding-done", lambda: Markup('<span class="badge badge-success">{}</span>').format(_("done")))
    return per_request(f"onboarding-missing:{missing}", lambda: ngettext("%(num)d step missing", "%(num)d steps missing", missing))


def enterprise_number(view, context, client, name):
    return client.enterprise_number_display


PEPPOL_STATE_BADGES = {
    PeppolState.PENDING: ("info", _l("pending")),
    PeppolState.FAILED: ("danger", _l("failed")),
    PeppolState.TAKEN: ("warning", _l("other provider")),
}


def vat_check_state(view, context, client, name):
    if not client.vat_check:
        return ""
    label = VatCheck(client.vat_check).label
    if client.vat_checked_at is None:
        return label
    return _("%(state)s (checked %(date)s)", state=label, date=localdate(client.vat_checked_at))


def peppol_flag(view, context, client, name):
    on = getattr(client, name)
    html = per_request(f"peppol-{on}", lambda: Markup('<span class="fa fa-{}" title="{}"></span>').format(
        "check-circle text-success" if on else "minus text-muted", _("on") if on else _("off")))
    state = PeppolState(client.peppol_state)
    if client.peppol_retry_at is not None:
        title = _("Retrying at %(time)s: %(reason)s", time=localdatetime(client.peppol_retry_at), reason=client.peppol_message)
        html += Markup(' <span class="badge badge-warning" title="{}">{}</span>').format(title, _("retrying"))
    elif state in PEPPOL_STATE_BADGES and (name == "peppol_receive" or state != PeppolState.TAKEN):
        badge, label = PEPPOL_STATE_BADGES[state]
        html += Markup(' <span class="badge badge-{}" title="{}">{}</span>').format(badge, client.peppol_message or "", label)
    return html


def inbox_link(view, context, client, name):
    if not client.inbox_count:
        return "0"
    return Markup('<a href="{}">{}</a>').format(
        url_for("document.index_view", flt0_client_id_equals=client.id, flt1_status_equals="inbox"), client.inbox_count)


def client_name(view, context, client, name):
    hidden = per_request("hidden-badge", lambda: Markup(' <span class="badge badge-light">{}</span>').format(_("hidden")))
    url = url_for(".details_view", id=client.id)
    star = favourite_star(view, client)
    return Markup(f'{star} <a href="{escape(url)}">{escape(client.name)}</a>{hidden if client.hidden else ""}')


def billing_address(view, context, client, name):
    if client.billing_same_as_address:
        return _("Same as the company address")
    return ", ".join(filter(None, (
        " ".join(filter(None, (client.billing_street, client.billing_house_number, client.billing_box))),
        client.billing_address_line2, " ".join(filter(None, (client.billing_postal_code, client.billing_city))),
        country_name(client.billing_country) if client.billing_country else None)))


def _same_as_address(value) -> bool:
    """The billing address choice's value, from the stored flag or the posted option."""
    return value in (True, "1")


BILLING_CHOICES = [SelectChoice("1", _l("Same as the company address")), SelectChoice("0", _l("A separate billing address"))]


class IntegrationFilter(DynamicOptionsFilter):
    """Clients connected to one accounting software (EXISTS, so no join to clash with sorting)."""

    def apply(self, query, value, alias=None):
        return query.filter(Client.integration.has(ClientIntegration.product_id == value))


class ContactInline(InlineFormAdmin):
    form_columns = ("id", "civility", "first_name", "last_name", "email", "job_title", "phone", "mobile", "switchboard_phone",
                    "source", "language", "is_primary")
    column_labels = ContactView.column_labels
    form_choices = CONTACT_FORM_CHOICES
    form_args = CONTACT_FORM_ARGS


class BankAccountInline(InlineFormAdmin):
    form_columns = ("id", "iban", "label")
    column_labels = {"label": _l("Label")}
    form_args = {"iban": {"label": "IBAN", "validators": [DataRequired(), v.wtforms_validator(v.iban)]}}


class AllowedSenderInline(InlineFormAdmin):
    form_columns = ("id", "pattern")
    form_args = {"pattern": {"label": _l("Allowed sender (address or @domain)"),
                             "validators": [DataRequired(), v.wtforms_validator(v.sender_pattern)]}}


class ClientView(ReorganiseMixin, ClientExtrasMixin, ClientProposalsMixin, ClientRegisterMixin, ClientUsersMixin,
                 ScopedModelView):
    list_template = "admin/client_list.html"  # adds "+ New client" (the wizard)
    # One way to create a client: the wizard, which looks the company up in the register and finds duplicates.
    create_role = None
    export_role = Role.SUPERVISOR
    export_types = ["csv", "xlsx"]
    column_auto_select_related = False
    can_set_page_size = True  # up to 100 rows on a page, all selected at once for an action
    page_size_options = (25, 50, 100)

    # The columns shown until a user chooses (list_columns), then every other one they may choose, appended so that
    # the `sort=` index of a bookmark or a saved view keeps naming the same column.
    default_columns = (
        "name", "enterprise_number", "group", "firm_contact", "status", "integration",
        "peppol_send", "peppol_receive", "inbox_count", "onboarding_missing", "plan", "trial_end", "country", "language",
    )
    column_list = (
        *default_columns, "vat_number", "client_facing_contact", "subscription_mode", "vat_frequency", "vat_check",
        "external_reference", "internal_reference", "postal_code", "city", "website", "activated_at",
    )
    column_labels = {
        "name": _l("Legal name"), "enterprise_number": _l("Enterprise number"), "vat_number": _l("VAT number"),
        "group": _l("Group"), "firm_contact": _l("Firm contact"), "client_facing_contact": _l("Client-facing contact"),
        "watchers": _l("Users to notify"), "status": _l("Status"), "integration": _l("Integration"), "peppol_send": _l("Peppol send"),
        "peppol_receive": _l("Peppol receive"), "inbox_count": _l("Inbox"), "plan": _l("Plan"),
        "onboarding_missing": _l("Onboarding"), "plan_chosen_at": _l("Plan chosen on"), "plan_chosen_by": _l("Plan chosen by"),
        "trial_end": _l("Trial end"), "skip_vat_check": _l("Don't verify VAT"),
        "vat_frequency": _l("VAT filing frequency"), "subscription_mode": _l("Subscription"),
        "external_reference": _l("External reference"), "internal_reference": _l("Internal reference"),
        "house_number": _l("Number"), "box": _l("Box"), "postal_code": _l("Postal code"), "city": _l("City"),
        "street": _l("Street"), "country": _l("Country"), "language": _l("Language"), "website": _l("Website"),
        "hidden": _l("Hidden from staff"), "sync_from": _l("Synchronise from"),
        "track_transactions_without_documents": _l("Track transactions without documents"),
        "inbound_email": _l("Inbound e-mail address"), "e_invoicing_mandate": _l("E-invoicing mandate"),
        "e_invoicing_mandate_at": _l("Mandate given on"), "e_invoicing_mandate_by": _l("Mandate given by"),
        "e_invoicing_mandate_address": _l("Mandate given from address"),
        "contacts": _l("Contacts"), "bank_accounts": _l("Bank accounts"), "allowed_senders": _l("Allowed senders"),
        "company_type": _l("Company type"), "parent": _l("Parent company"), "address_line2": _l("Address line 2"),
        "billing_same_as_address": _l("Billing address"), "billing_address_line2": _l("Billing address line 2"),
        "template": _l("Template"), "billing_street": _l("Billing street"), "billing_house_number": _l("Billing number"),
        "billing_box": _l("Billing box"), "billing_postal_code": _l("Billing postal code"),
        "billing_city": _l("Billing city"), "billing_country": _l("Billing country"),
        "legal_form": _l("Legal form"), "vat_check": _l("VAT check"), "peppol_state": _l("Peppol state"),
        "invited_at": _l("Invited on"), "activated_at": _l("Activated on"), "deactivated_at": _l("Deactivated on"),
        "invitation_expires_at": _l("Invitation valid until"), "vat_checked_at": _l("VAT checked on"),
        "peppol_message": _l("Peppol message"), "peppol_other_provider": _l("Other Peppol provider"),
        "peppol_other_smp": _l("SMP of the other Peppol provider"),
        "peppol_taken_at": _l("Found with another Peppol provider on"), "refused_senders_count": _l("Refused senders"),
        "import_batch_id": _l("Import batch"),
    }
    column_sortable_list = (
        "name", "enterprise_number", ("group", "group.name"), ("firm_contact", "firm_contact.full_name"), "status",
        ("integration", "integration.product.name"), "peppol_send", "peppol_receive",
        "inbox_count", ("plan", "plan.name"), "trial_end", "vat_number", "subscription_mode", "external_reference",
        "internal_reference", "postal_code", "city", "activated_at",
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
        "inbox_count": inbox_link,
        "onboarding_missing": onboarding_state,
        "integration": lambda view, context, client, name: client.integration.product.name if client.integration else "",
        "country": lambda view, context, client, name: country_name(getattr(client, name)),
        "billing_country": lambda view, context, client, name: country_name(getattr(client, name)),
        "language": lambda view, context, client, name: language_name(client.language),
        "subscription_mode": lambda view, context, client, name: SubscriptionMode(client.subscription_mode).label,
        "vat_frequency": lambda view, context, client, name: VatFrequency(client.vat_frequency).label if client.vat_frequency else "",
        "activated_at": lambda view, context, client, name: localdate(client.activated_at) if client.activated_at else "",
        "company_type": lambda view, context, client, name: client.company_type_label,
        "billing_same_as_address": billing_address,
    }
    # On the client page the name is the heading; no favourite star or link in its details table.
    column_formatters_detail = {name: f for name, f in column_formatters.items() if name != "name"}
    column_searchable_list = ("name",)  # the search itself is client_search_condition (see _apply_search)
    column_choices = {
        "status": choices_of(ClientStatus),
        "subscription_mode": choices_of(SubscriptionMode),
        "vat_frequency": choices_of(VatFrequency),
        "vat_check": choices_of(VatCheck),
        "company_type": choices_of(CompanyType),
    }

    # Group, firm contact, client-facing contact and template are in the page's summary (client_details.html).
    column_details_list = (
        "name", "status", "legal_form", "company_type", "enterprise_number", "vat_number", "skip_vat_check", "vat_check", "country",
        "watchers", "subscription_mode", "plan", "plan_chosen_at", "plan_chosen_by", "trial_end", "vat_frequency",
        "external_reference", "internal_reference", "street", "house_number", "box", "address_line2", "postal_code", "city",
        "billing_same_as_address", "website", "language", "inbound_email", "e_invoicing_mandate", "e_invoicing_mandate_at",
        "e_invoicing_mandate_by", "e_invoicing_mandate_address", "peppol_send", "peppol_receive", "sync_from",
        "track_transactions_without_documents", "hidden", "contacts", "bank_accounts", "allowed_senders",
    )

    admin_only_details = ("hidden",)  # staff and supervisors never see hidden clients: the field says nothing to them

    form_columns = (
        "name", "legal_form", "company_type", "country", "enterprise_number", "vat_number", "skip_vat_check", "vat_frequency",
        "subscription_mode", "plan", "language", "group", "parent", "firm_contact", "watchers", "client_facing_contact", "hidden",
        "external_reference", "internal_reference", "website", "street", "house_number", "box", "address_line2",
        "postal_code", "city", "billing_same_as_address", *Client.BILLING_COLUMNS, "sync_from",
        "track_transactions_without_documents", "e_invoicing_mandate",
    )
    form_choices = {
        "subscription_mode": choices_of(SubscriptionMode),
        "vat_frequency": [("", "—")] + choices_of(VatFrequency),
        "company_type": choices_of(CompanyType),
    }
    form_overrides = {"billing_same_as_address": SelectField}
    form_ajax_refs = {"parent": ScopedClientLoader("parent")}
    form_args = {
        "name": {"validators": [DataRequired()]},
        "language": {"validators": [DataRequired(), v.wtforms_validator(v.locale)]},
        "billing_country": {"validators": [v.wtforms_validator(v.country)]},
        "billing_same_as_address": {"choices": BILLING_CHOICES, "coerce": _same_as_address},
        "parent": {"validators": [chosen_in_scope]},
        "group": {"query_factory": assignable_groups_query, "allow_blank": False, "validators": [DataRequired()]},
        "firm_contact": {"query_factory": lambda: db.session.query(User).filter(User.active.is_(True)).order_by(User.full_name)},
        "client_facing_contact": {"query_factory": lambda: db.session.query(User).filter(User.active.is_(True)).order_by(User.full_name)},
        "watchers": {"query_factory": lambda: db.session.scalars(scoping.staff_users()).all(),
                     "description": _l("Told of what happens to this client (notifications), besides its firm contact.")},
        "plan": {"query_factory": plans_to_choose},
    }
    inline_models = (
        ContactInline(Contact),
        BankAccountInline(BankAccount),
        AllowedSenderInline(AllowedSender),
    )

    @property
    def list_columns(self) -> Columns:
        return Columns(self.endpoint, available=self.column_list, default=self.default_columns, required=("name",))

    # Filters: stable names, per-user options
    def get_filters(self):
        return [
            StatusFilter(Client.status, _l("Status"), options=choices_of(ClientStatus)),
            DynamicOptionsFilter(Client.group_id, _l("Group"), _visible_groups),
            DynamicOptionsFilter(Client.firm_contact_id, _l("Firm contact"), _staff_options),
            BooleanEqualFilter(Client.peppol_send, _l("Peppol send")),
            BooleanEqualFilter(Client.peppol_receive, _l("Peppol receive")),
            IntegrationFilter(Client.id, _l("Integration"), _integration_options),
            DynamicOptionsFilter(Client.plan_id, _l("Plan"), _plan_options),
            DateBetweenFilter(Client.trial_end, _l("Trial end")),
            TrialFilter(),
            OnboardingFilter(),
            FilterEqual(Client.peppol_state, _l("Peppol state"), options=choices_of(PeppolState)),
            InvitationFilter(),
            InboxFilter(),
            ProposalsFilter(),
            RegisterChangesFilter(),
            NotDoneFilter(Client.id, _l("Peppol registration"), _l("not done"), peppol_not_done_condition),
            NotDoneFilter(Client.id, _l("Document delivery"), _l("not done"), client_delivery_not_done_condition),
            IdEqualFilter(Client.import_batch_id, _l("Import batch")),
            FilterEqual(Client.vat_check, _l("VAT check"), options=choices_of(VatCheck)),
            FilterEqual(Client.company_type, _l("Company type"), options=choices_of(CompanyType)),
        ]

    # Search through the indexed search text (name, numbers, references, contact e-mails)
    def search_placeholder(self):
        return _("Name, enterprise or VAT number, reference, e-mail")

    def _apply_search(self, query, count_query, joins, count_joins, search):
        dialect = db.engine.dialect.name
        condition = client_search_condition(search, dialect)
        if count_query is not None and not search_counted_with_page(dialect):
            count_query = count_query.filter(condition)
        else:
            count_query = None  # the count comes with the page's ids (get_list)
        return query.filter(condition), count_query, joins, count_joins

    def list_query(self, query):
        """The list's rows (and its count and export): deactivated clients left out unless the switch or the status
        filter asks for them. Not in get_query, which also finds the one client of a page or an action."""
        filters = [self._filters[idx] for idx, _name, _value in self._get_list_filter_args()]
        return query.filter(not_deactivated_condition()) if hides_deactivated(request.args, filters) else query

    def get_count_query(self):  # the list's and its export's only
        return self.list_query(super().get_count_query())

    def deactivated_switch_url(self) -> tuple[bool, str]:
        """Whether the list shows deactivated clients on request, and the link that turns that around (back to page 1)."""
        (key, value), = SHOW_DEACTIVATED.items()
        args = {name: arg for name, arg in request.args.items() if name not in (key, "page")}
        shown = request.args.get(key) == value
        return shown, url_for(".index_view", **(args if shown else {**args, key: value}))

    def _apply_sorting(self, query, joins, sort_column, sort_desc):
        # Flask-Admin's get_list has no hook for its rows' query alone; sorting is the one it always calls, before paging.
        query = self.list_query(query)
        if sort_column == "inbox_count":  # through one aggregate, not Client.inbox_count computed client by client
            counts = inbox_counts()
            value = sa.func.coalesce(counts.c.inbox_count, 0)
            query = query.outerjoin(counts, counts.c.client_id == Client.id).order_by(value.desc() if sort_desc else value)
            return self.ties_in_id_order(query, sort_desc), joins
        query, joins = super()._apply_sorting(query, joins, sort_column, sort_desc)
        return (self.favourites_first(query) if sort_column is None else query), joins

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        count, query = super().get_list(page, sort_column, sort_desc, search, filters, execute=False, page_size=page_size)
        if not execute:
            return count, query
        # The page's ids first (the database answers from its indexes), then those rows with everything the
        # list shows: a fixed number of statements, whatever the page size and the table size.
        if count is None and search:  # see _apply_search: the count rides along with the page's ids
            page_ids = query.with_entities(Client.id, sa.func.count().over()).all()
            if page_ids:
                count = page_ids[0][1]
            else:  # a page past the end
                count = query.with_entities(Client.id).limit(None).offset(None).order_by(None).count() if page else 0
            ids = [pk for pk, _count in page_ids]
        else:
            ids = [pk for (pk,) in query.with_entities(Client.id)]
        shown = {name for name, _label in self.shown_columns()}
        rows = self.get_query().filter(Client.id.in_(ids)).options(
            joinedload(Client.group),
            joinedload(Client.firm_contact),
            *([joinedload(Client.client_facing_contact)] if "client_facing_contact" in shown else []),
            joinedload(Client.integration).joinedload(ClientIntegration.product),
            joinedload(Client.plan),
            undefer(Client.inbox_count),
            undefer(Client.onboarding_missing),
        )
        position = {pk: index for index, pk in enumerate(ids)}
        return count, sorted(rows, key=lambda client: position[client.id])

    def _row_actions(self, context, client) -> str:
        """A row's checkbox and action icons (view, edit, delete), as Flask-Admin's list template draws them."""
        checkbox = (f'<td><input type="checkbox" name="rowid" class="action-checkbox" value="{client.id}" '
                    f'title="{escape(context.resolve("_gettext")("Select record"))}" /></td>') if context.resolve("actions") else ""
        if not self.column_display_actions:
            return checkbox
        icons = "".join(str(action.render(context, client.id, client)) for action in context.resolve("list_row_actions"))
        return f'{checkbox}<td class="list-buttons-column">{icons}</td>'

    @pass_context
    def list_row(self, context, client) -> Markup:
        """The `<td>` cells of one list row: its checkbox, its action icons and its columns (none editable)."""
        cells = [self._row_actions(context, client)]
        for name, _label in self.shown_columns():
            formatter = self.column_formatters.get(name)
            value = formatter(self, None, client, name) if formatter is not None else getattr(client, name)
            cells.append(f'<td class="col-{name}">{escape("" if value is None else value)}</td>')
        return Markup("".join(cells))

    @property
    def can_use_wizard(self) -> bool:
        return self._allowed(NewClientWizard.required_role)

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self):
        """Old links and bookmarks of the plain create form lead to the wizard; a post to it creates nothing."""
        if request.method == "POST":
            flash(_("Nothing was created: new clients are created with this wizard, which checks the company register."),
                  "warning")
        return redirect(url_for("clientwizard.index"), code=303)

    def details_rows(self, model, columns):
        if current_user.is_admin:
            return columns
        return [(name, label) for name, label in columns if name not in self.admin_only_details]

    # Admin-only fields
    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        form.plan.query_factory = lambda: plans_to_choose(obj)
        if not current_user.is_admin:
            del form.client_facing_contact
            del form.hidden
        if obj is not None and obj.parent_id is not None and not scoping.visible_client_ids([obj.parent_id], current_user):
            del form.parent  # a parent outside the user's groups stays, unnamed (the client page says so)
        return form

    def validate_form(self, form):
        valid = super().validate_form(form)
        if not hasattr(form, "enterprise_number") or request.method != "POST":
            return valid
        values, errors = clean_identity(form.country.data, form.enterprise_number.data, form.vat_number.data)
        if "country" not in errors:
            errors.update(self._postal_code_errors(form, values["country"]))
        this_id = request.args.get("id", type=int)
        if values.get("enterprise_number") and "enterprise_number" not in errors:
            other = onboarding.existing_client(values["enterprise_number"])
            if other is not None and other.id != this_id:
                errors["enterprise_number"] = (
                    _("This enterprise number is already used by the client %(name)s.", name=other.name)
                    if other.id in scoping.visible_client_ids([other.id], current_user)
                    else _("This enterprise number is already used by a client you do not have access to."))
        errors.update(self._contact_email_errors(form, this_id))
        parent = form.parent.data if getattr(form, "parent", None) is not None else None  # removed: see edit_form
        if parent is not None and this_id is not None:
            loop = rules.problems({"id": this_id, "parent_id": parent.id}).get("parent")
            if loop:
                errors["parent"] = loop
        for field, message in errors.items():
            target = getattr(form, field) if isinstance(field, str) else field
            target.errors = list(target.errors) + [message]
        if errors:
            return False
        for field, value in values.items():
            getattr(form, field).data = value
        return valid

    @staticmethod
    def _postal_code_errors(form, country: str) -> dict:
        """Each postal code in its country's format (the billing one, unless the company address is used, in the
        billing country if given)."""
        errors = {}
        billing_country = None
        if not (form.billing_same_as_address.data or form.billing_country.errors):
            billing_country = form.billing_country.data or country
        for name, in_country in (("postal_code", country), ("billing_postal_code", billing_country)):
            field = getattr(form, name)
            if field.data and in_country and not field.errors:
                try:
                    field.data = v.postal_code(field.data, in_country)
                except v.InvalidValue as error:
                    errors[name] = str(error)
        return errors

    @staticmethod
    def _contact_email_errors(form, client_id) -> dict:
        """Contact e-mails are unique across the whole system: say so on the field, not as a database error."""
        contacts = getattr(form, "contacts", None)
        emails = {entry.form.email: entry.form.email.data for entry in contacts or []
                  if entry.form.email.data and not contacts.should_delete(entry)}
        return rules.contact_email_problems(emails, client_id)

    def update_model(self, form, model):
        # As the client was before the form changes it (g: views are shared between requests)
        g.primary_before, g.problems_before = model.primary_contact, rules.problems(model)
        return super().update_model(form, model)

    def on_model_change(self, form, model, is_created):
        super().on_model_change(form, model, is_created)
        with db.session.no_autoflush:
            allowed_groups = {g.id for g in db.session.scalars(scoping.assignable_groups(current_user))}
        group_id = model.group.id if model.group is not None else model.group_id
        if group_id not in allowed_groups:
            raise Refused(_("You can only put clients in your own groups."))
        ClientLifecycle.settle_contacts(model, rules.kept(model.contacts), g.primary_before)  # only edits: see create_view
        model.settle_billing_address()
        rules.check(model, known=g.problems_before)

    def delete_model(self, model):
        try:
            ClientLifecycle.delete(model)
            db.session.commit()
        except LifecycleError as error:
            db.session.rollback()
            flash(str(error), "error")
            return False
        return True

    # Actions on selected rows: each validates and enqueues one bulk task
    def is_action_allowed(self, name):
        role = BULK_ACTION_ROLES.get(name)
        return role is not None and current_user.has_role(role)

    def _bulk(self, action_name: str, ids, describe, job=run_bulk_action):
        """`describe(number of clients)`: the task's description."""
        client_ids = self.scoped_ids(ids)
        if not client_ids:
            flash(_("None of the selected clients is one you can act on."), "warning")
            return None
        try:
            task = tasks.launch(f"bulk_{action_name}", describe(len(client_ids)), job,
                                action_name, client_ids, user=current_user, total=len(client_ids), queue="bulk")
        except QueueUnavailable as error:
            flash(str(error), "error")
            return None
        flash(ngettext("%(num)d client queued: follow the progress below.", "%(num)d clients queued: follow the progress below.",
                       len(client_ids)), "info")
        return redirect(url_for("task.details_view", id=task.id))

    @action("invite", _l("Invite"), _l("Send an invitation e-mail to the {count} selected clients?"))
    def action_invite(self, ids):
        return self._bulk("invite", ids, lambda num: ngettext("Invite %(num)d client", "Invite %(num)d clients", num))

    @action("resend", _l("Resend invitation"),
            _l("Send the invitation e-mail again to the {count} selected clients? A link that still works is sent "
               "again, valid for %(num)d days from now; an expired one is replaced by a new link.", num=INVITATION_VALID_DAYS))
    def action_resend(self, ids):
        return self._bulk("resend", ids, lambda num: ngettext(
            "Resend the invitation to %(num)d client", "Resend the invitation to %(num)d clients", num))

    @action("retry_delivery", _l("Retry undelivered invitation e-mails"),
            _l("Send the undelivered invitation e-mails of the {count} selected clients again now, with the same links? "
               "Clients whose e-mail was delivered are skipped."))
    def action_retry_delivery(self, ids):
        return self._bulk("retry_delivery", ids, lambda num: ngettext(
            "Retry the invitation e-mail of %(num)d client", "Retry the invitation e-mails of %(num)d clients", num))

    @action("activate", _l("Activate without invitation"), _l("Activate the {count} selected clients managed by the firm, without e-mail?"))
    def action_activate(self, ids):
        return self._bulk("activate", ids, lambda num: ngettext("Activate %(num)d client", "Activate %(num)d clients", num))

    @action("deactivate", _l("Deactivate"), _l("Deactivate the {count} selected clients? Their invitation links stop working."))
    def action_deactivate(self, ids):
        return self._bulk("deactivate", ids, lambda num: ngettext(
            "Deactivate %(num)d client", "Deactivate %(num)d clients", num))

    def _bulk_peppol(self, action_name, ids, describe):
        try:
            require_access_point(current_app.config)
        except PeppolRefused as refusal:
            flash(str(refusal), "error")
            return None
        return self._bulk(action_name, ids, describe, job=run_peppol)

    @action("peppol_on", _l("Peppol on"),
            _l("Turn Peppol sending and receiving on for the {count} selected clients? "
               "Clients without an e-invoicing mandate are skipped."))
    def action_peppol_on(self, ids):
        return self._bulk_peppol("peppol_on", ids, lambda num: ngettext(
            "Peppol on for %(num)d client", "Peppol on for %(num)d clients", num))

    @action("peppol_off", _l("Peppol off"), _l("Unregister the {count} selected clients from Peppol (sending and receiving)?"))
    def action_peppol_off(self, ids):
        return self._bulk_peppol("peppol_off", ids, lambda num: ngettext(
            "Peppol off for %(num)d client", "Peppol off for %(num)d clients", num))

    @action("retry_deliveries", _l("Retry Peppol registrations and document deliveries now"),
            _l("Try the failed or retrying Peppol registrations and document deliveries of the {count} selected clients "
               "again now?"))
    def action_retry_deliveries(self, ids):
        client_ids = self.scoped_ids(ids)
        registrations = db.session.scalars(sa.select(Client).where(Client.id.in_(client_ids), peppol_not_done_condition())
                                           .order_by(Client.id)).all()
        documents = db.session.scalars(sa.select(Document.id).where(Document.client_id.in_(client_ids),
                                                                    delivery_not_done_condition()).order_by(Document.id)).all()
        if not (registrations or documents):
            flash(_("None of the selected clients has a failed or retrying Peppol registration or document delivery."), "warning")
            return None
        launched = []
        try:
            if registrations:
                for client in registrations:
                    PeppolSwitches.retry(client, current_app.config)
                launched.append(launch_registration(ngettext(
                    "Peppol registration again: %(num)d client", "Peppol registration again: %(num)d clients",
                    len(registrations)), [client.id for client in registrations], current_user))
            if documents:
                retry_now(documents)
                launched.append(launch_delivery(ngettext(
                    "Delivery again: %(num)d document", "Delivery again: %(num)d documents", len(documents)),
                    documents, current_user))
        except (Refused, QueueUnavailable) as error:
            db.session.rollback()
            flash(str(error), "error")
        if not launched:
            return None
        flash(_("Trying again now: follow the progress below."), "info")
        return redirect(url_for("task.details_view", id=launched[0].id) if len(launched) == 1 else url_for("task.index_view"))

    @action("delete", _l("Delete"), _l("Delete the {count} selected clients? Only clients that were never invited can be deleted."))
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

    # One client, from its page
    details_template = "admin/client_details.html"
    # What its page (and form) read of the rows a client points to, in the client's own statement rather than one
    # statement each. Of its collections, only the users to notify (a few at most) join that statement too: a second
    # joined collection would multiply the rows by the first; the others are loaded one statement each either way.
    # The contacts come first, so that the invitation's contact is already at hand.
    one_options = (
        joinedload(Client.group), joinedload(Client.firm_contact), joinedload(Client.client_facing_contact),
        joinedload(Client.template), joinedload(Client.plan), joinedload(Client.watchers),
        joinedload(Client.integration).joinedload(ClientIntegration.product), selectinload(Client.contacts),
    )

    @expose("/replace-contact/", methods=("GET", "POST"))
    def replace_contact_view(self):
        client = self.get_one(request.values.get("id"))
        back = self.get_url(".details_view", id=client.id)
        try:
            ClientLifecycle.check_replace_primary_contact(client)
        except LifecycleError as error:
            flash(str(error), "error")
            return redirect(back)
        form = ContactForm()
        if form.validate_on_submit():
            # The new contact may take over the primary contact's address (that contact is removed), no other.
            others = {contact.id: contact.email for contact in client.contacts if contact is not client.primary_contact}
            problems = rules.contact_email_problems({**others, "email": form.email.data}, client.id)
            if "email" in problems:
                form.email.errors = [problems["email"]]
            else:
                ClientLifecycle.replace_primary_contact(client, Contact(**form.contact_fields()))
                db.session.commit()
                flash(_("%(name)s is now the primary contact.", name=client.primary_contact.full_name), "success")
                announce_voided_invitations()
                return redirect(back)
        return self.render("admin/replace_contact.html", form=form, client=client, return_url=back)

    def client_panel(self, client) -> dict:
        """What the client page shows besides its fields: lifecycle buttons, invitation, tasks, activity."""
        actions = []
        for name, role in CLIENT_ACTION_ROLES.items():
            if name not in PEPPOL_ACTIONS and current_user.has_role(role):
                try:
                    getattr(ClientLifecycle, f"check_{name}")(client)
                except LifecycleError:
                    continue
                actions.append(name)
        recent_tasks = db.session.scalars(
            db.select(Task).where(Task.client_id == client.id).order_by(Task.created_at.desc()).limit(5)
        ).all()
        activity = []
        if current_user.has_role(HISTORY_ROLE):
            # Admins read the whole audit trail; supervisors the client's status changes.
            events = db.select(AuditEvent).where(AuditEvent.client_id == client.id)
            shown_fields = None
            if not current_user.is_admin:
                events = events.where(AuditEvent.object_type == "client", changed("status"))
                shown_fields = ("status",)
            activity = [(event, shown_changes(event, shown_fields))
                        for event in db.session.scalars(events.order_by(AuditEvent.id.desc()).limit(50))]
        # The page lists them under their count only: none to read while the count is 0.
        refused = db.session.scalars(
            db.select(RefusedSender).where(RefusedSender.client_id == client.id).order_by(RefusedSender.at.desc()).limit(10)
        ).all() if client.refused_senders_count else []
        subsidiaries = scoping.scope_clients(db.session.query(Client), current_user).filter(
            Client.parent_id == client.id).order_by(Client.name, Client.id).all()
        document_counts = db.session.execute(
            db.select(Document.status, db.func.count(Document.id),
                      db.func.count(Document.id).filter(delivery_not_done_condition("retrying")))
            .where(Document.client_id == client.id).group_by(Document.status)).all()
        open_proposals, proposal_decisions = proposals.open_and_decided(client)
        open_register_changes, register_decisions = register_changes.open_and_reviewed(client)
        return {
            "parent": shown_client(client.parent_id),
            "subsidiaries": subsidiaries,
            "favourite": client.id in favourite_ids(),
            "actions": actions,
            "action_labels": CLIENT_ACTION_LABELS,
            "invitation": client.current_invitation,
            "colleague_invitations": client_users.open_invitations(client),
            "time_left": time_left,
            "tasks": recent_tasks,
            "mails": db.session.scalars(db.select(MailLog).where(MailLog.client_id == client.id)
                                        .order_by(MailLog.at.desc(), MailLog.id.desc()).limit(10)).all(),
            "activity": activity,
            "can_replace_contact": client.status in (ClientStatus.CREATED, ClientStatus.INVITED),
            "peppol_not_connected": None if access_point_configured(current_app.config) else str(PeppolNotConnected()),
            "can_toggle_peppol": current_user.has_role(CLIENT_ACTION_ROLES["peppol_on"]),
            "refused_senders": refused,
            "proposals": open_proposals,
            "proposal_lines": proposals.lines,
            "proposal_decisions": proposal_decisions,
            "register_changes": open_register_changes,
            "register_decisions": register_decisions,
            "register_value": register_changes.display,
            "document_counts": {status: count for status, count, _retrying in document_counts},
            "documents_retrying": sum(retrying for _status, _count, retrying in document_counts),
            "documents": db.session.scalars(db.select(Document).where(Document.client_id == client.id).order_by(
                Document.received_at.desc(), Document.id.desc()).limit(PAGE_DOCUMENTS)).all(),
            "document_labels": {kind.value: kind.label for kind in (*DocumentStatus, *DocumentType)},
            "previewable": previewable,
            "mail_from": current_app.config["MAIL_FROM"],
            "delivery": effective_delivery(client.integration) if client.integration is not None else None,
            "document_types": (DocumentType.PURCHASE, DocumentType.SALES, DocumentType.MISC),
        }

    @expose("/send-documents/", methods=("POST",))
    def send_documents_view(self):
        """The client's whole inbox (or, with failed=1, its failed and retrying documents) to the accountant."""
        client = self.get_one(request.form.get("id"))
        back = back_to_client_page(self, client)
        if request.form.get("failed") == "1":
            ids = list(db.session.scalars(db.select(Document.id).where(
                Document.client_id == client.id, delivery_not_done_condition())))
            if not ids:
                flash(_("%(name)s has no failed documents.", name=client.name), "warning")
                return back
            retry_now(ids)
            return send_task(ngettext("Resend %(num)d failed document of %(name)s", "Resend %(num)d failed documents of %(name)s",
                                      len(ids), name=client.name),
                             run_send_documents, ids, client=client, total=len(ids)) or back
        count = db.session.scalar(db.select(db.func.count(Document.id)).where(
            Document.client_id == client.id, Document.status == DocumentStatus.INBOX.value))
        if not count:
            flash(_("%(name)s's inbox is empty.", name=client.name), "warning")
            return back
        return send_task(_("Send the inbox of %(name)s to the accountant", name=client.name), run_send_inbox, client.id,
                         client=client, total=count) or back

    @expose("/peppol/", methods=("POST",))
    def peppol_view(self):
        """Turn one Peppol switch on or off (`switch` send|receive, `on` 1|0), or `switch=retry`."""
        client = self.get_one(request.form.get("id"))
        switch, on = request.form.get("switch", ""), request.form.get("on") == "1"
        if switch not in ("send", "receive", "retry"):
            abort(400)
        if not current_user.has_role(CLIENT_ACTION_ROLES["peppol_on" if on or switch == "retry" else "peppol_off"]):
            abort(403)
        back = back_to_client_page(self, client)
        try:
            if switch == "retry":
                PeppolSwitches.retry(client, current_app.config)
            else:
                PeppolSwitches.set(client, current_app.config, **{switch: on})
            description = CLIENT_TASK_DESCRIPTIONS[(switch, on and switch != "retry")] % {"name": client.name}
            launch_registration(description, [client.id], current_user, client=client)
        except (Refused, QueueUnavailable) as error:
            db.session.rollback()
            flash(str(error), "error")
            return back
        flash(_("Peppol registration of %(name)s is on its way.", name=client.name), "info")
        return back

    @expose("/lifecycle/", methods=("POST",))
    def lifecycle_view(self):
        client = self.get_one(request.form.get("id"))
        action_name = request.form.get("action", "")
        role = CLIENT_ACTION_ROLES.get(action_name)
        if role is None or action_name in PEPPOL_ACTIONS or not current_user.has_role(role):
            abort(403)
        back = back_to_client_page(self, client)
        if action_name in SENDS_MAIL:
            try:
                getattr(ClientLifecycle, f"check_{action_name}")(client)
                tasks.launch(f"client_{action_name}", CLIENT_TASK_DESCRIPTIONS[action_name] % {"name": client.name},
                             run_bulk_action, action_name, [client.id], user=current_user, client=client, total=1,
                             queue="mail")
            except (LifecycleError, QueueUnavailable) as error:
                flash(str(error), "error")
                return back
            flash(_("The invitation e-mail to %(name)s is on its way.", name=client.name), "success")
            return back
        try:
            getattr(ClientLifecycle, action_name)(client)
            db.session.commit()
        except LifecycleError as error:
            db.session.rollback()
            flash(str(error), "error")
            return back
        flash(_("%(name)s is now %(status)s.", name=client.name, status=client.status_label.lower()), "success")
        return back

    @expose("/export/<export_type>/")
    def export(self, export_type):
        """The filtered list, streamed from the database (Flask-Admin's own export loads every row first)."""
        if not self.can_export:
            abort(403)
        if export_type not in self.export_types:
            abort(404)
        return client_export_response(self.filtered_ids(), export_type,
                                      scoping.scope_clients(sa.select(Client.id), current_user))

    def filtered_ids(self):
        """The ids of every client the list shows with the request's filters, search and sort (all pages): a query
        built on the scoped base query, for the export and "apply to all matching clients"."""
        view_args = self._get_list_extra_args()
        sort = self._get_column_by_idx(view_args.sort)
        _count, query = super().get_list(
            0, sort[0] if sort else None, view_args.sort_desc, view_args.search, view_args.filters,
            execute=False, page_size=0,
        )
        return query.with_entities(Client.id).order_by(None)
