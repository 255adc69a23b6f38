"""Clients (the firm's client companies), their bank accounts and staff favourites."""
import secrets

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import column_property

from ..extensions import db
from .base import LabelledEnum, Timestamps, choice_check, utcnow


class ClientStatus(LabelledEnum):
    CREATED = "created", _l("Created")
    INVITED = "invited", _l("Invited")
    ACTIVE = "active", _l("Active")
    DEACTIVATED = "deactivated", _l("Deactivated")


class VatFrequency(LabelledEnum):
    MONTHLY = "monthly", _l("Monthly")
    QUARTERLY = "quarterly", _l("Quarterly")
    NOT_LIABLE = "not_liable", _l("Not liable")


class SubscriptionMode(LabelledEnum):
    FULL = "full", _l("Full follow-up")
    DELIVERY_ONLY = "delivery_only", _l("Document delivery only")
    MANAGED = "managed", _l("Internal, managed by the firm")


class VatCheck(LabelledEnum):
    """Where a number entered with "don't verify VAT" stands against the company register."""

    PENDING = "pending", _l("To check after the next register load")
    MISSING = "missing", _l("Not in the company register")


class CompanyType(LabelledEnum):
    """The kind of company a client is (the CRM page's "Type"), as the firm files it."""

    COMPANY = "company", _l("Company")
    SOLE_TRADER = "sole_trader", _l("Sole trader (self-employed)")
    NON_PROFIT = "non_profit", _l("Non-profit organisation")
    PUBLIC_BODY = "public_body", _l("Public body")
    OTHER = "other", _l("Other")


class PeppolState(LabelledEnum):
    OFF = "off", _l("Off")
    PENDING = "pending", _l("Pending")
    REGISTERED = "registered", _l("Registered")
    TAKEN = "taken", _l("Registered with another provider")
    FAILED = "failed", _l("Failed")


TRIAL_DAYS = 30
INBOUND_MAIL_DOMAIN = "in.clientdesk.example"

client_favourites = db.Table(
    "client_favourite",
    db.Column("user_id", db.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
    db.Column("client_id", db.ForeignKey("client.id", ondelete="CASCADE"), primary_key=True, index=True),
)


# The staff users told of what happens to a client besides its firm contact (notifications.py), as a template sets them.
client_watchers = db.Table(
    "client_watcher",
    db.Column("client_id", db.ForeignKey("client.id", ondelete="CASCADE"), primary_key=True),
    db.Column("user_id", db.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True, index=True),
)


def new_inbound_address() -> str:
    return f"{secrets.token_hex(5)}@{INBOUND_MAIL_DOMAIN}"


class Client(Timestamps, db.Model):
    __tablename__ = "client"
    # A personal preference, and the retry bookkeeping of the Peppol registration (its state and reply are recorded).
    __audit_ignore__ = ("favourited_by", "peppol_retry_at", "peppol_first_failed_at", "peppol_failed_attempts")
    __table_args__ = (
        choice_check("status", ClientStatus),
        choice_check("subscription_mode", SubscriptionMode),
        choice_check("vat_frequency", VatFrequency, nullable=True),
        choice_check("peppol_state", PeppolState),
        choice_check("vat_check", VatCheck, nullable=True),
        choice_check("company_type", CompanyType, nullable=True),
        # Visibility (group, hidden), the status filter and the default order: counts and filtered pages
        # are answered from this index alone.
        sa.Index("ix_client_scope", "group_id", "hidden", "status", "name"),
        # The list's order (name, then id) with what a supervisor's list leaves out (hidden, deactivated): a deep
        # page skips its earlier rows in this index alone instead of reading each one's row; also the name order.
        sa.Index("ix_client_name_visible", "name", "id", "hidden", "status"),
    )

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(200), nullable=False)  # indexed by ix_client_name_visible
    country = db.Column(db.String(2), nullable=False, default="BE")
    enterprise_number = db.Column(db.String(20), unique=True)
    vat_number = db.Column(db.String(20))
    skip_vat_check = db.Column(db.Boolean, nullable=False, default=False)
    # Set for numbers entered with skip_vat_check until a register load knows them (see vat_check.py).
    vat_check = db.Column(db.String(8), index=True)
    vat_checked_at = db.Column(db.DateTime)
    legal_form = db.Column(db.String(120))
    company_type = db.Column(db.String(12))
    # The parent company (the CRM page's "Société mère"); never the client itself or one of its subsidiaries (rules.py).
    parent_id = db.Column(db.ForeignKey("client.id", ondelete="SET NULL"), index=True)
    external_reference = db.Column(db.String(80))
    internal_reference = db.Column(db.String(80))
    vat_frequency = db.Column(db.String(12))
    subscription_mode = db.Column(db.String(16), nullable=False, default=SubscriptionMode.FULL.value)
    plan_id = db.Column(db.ForeignKey("plan.id"), index=True)
    # When the client chose its plan in the portal, and who (the client user); unset, a trial that ended is "trial ended".
    plan_chosen_at = db.Column(db.DateTime)
    plan_chosen_by = db.Column(db.String(300))
    trial_end = db.Column(db.Date, index=True)
    status = db.Column(db.String(12), nullable=False, default=ClientStatus.CREATED.value, index=True)

    street = db.Column(db.String(120))
    address_line2 = db.Column(db.String(120))
    house_number = db.Column(db.String(20))
    box = db.Column(db.String(20))
    postal_code = db.Column(db.String(12))
    city = db.Column(db.String(80))
    # True: invoices go to the company address and the billing columns are empty; False: the billing columns hold
    # the billing address (its street, postal code and city at least: rules.py).
    billing_same_as_address = db.Column(db.Boolean, nullable=False, default=True)
    billing_street = db.Column(db.String(120))
    billing_address_line2 = db.Column(db.String(120))
    billing_house_number = db.Column(db.String(20))
    billing_box = db.Column(db.String(20))
    billing_postal_code = db.Column(db.String(12))
    billing_city = db.Column(db.String(80))
    billing_country = db.Column(db.String(2))

    website = db.Column(db.String(200))
    language = db.Column(db.String(5), nullable=False, default="fr-BE")
    group_id = db.Column(db.ForeignKey("group.id"), nullable=False)  # indexed by ix_client_scope
    firm_contact_id = db.Column(db.ForeignKey("user.id", ondelete="SET NULL"), index=True)
    client_facing_contact_id = db.Column(db.ForeignKey("user.id", ondelete="SET NULL"))
    template_id = db.Column(db.ForeignKey("config_template.id", ondelete="SET NULL"))
    # indexed on its own: a supervisor's list counts every client not hidden, slower through ix_client_scope
    hidden = db.Column(db.Boolean, nullable=False, default=False, index=True)
    sync_from = db.Column(db.Date)
    track_transactions_without_documents = db.Column(db.Boolean, nullable=False, default=False)
    inbound_email = db.Column(db.String(254), nullable=False, unique=True, default=new_inbound_address)
    e_invoicing_mandate = db.Column(db.Boolean, nullable=False, default=False)
    # When the client gave the mandate in the portal: when, who (the client user), from which network address.
    e_invoicing_mandate_at = db.Column(db.DateTime)
    e_invoicing_mandate_by = db.Column(db.String(300))
    e_invoicing_mandate_address = db.Column(db.String(45))
    peppol_send = db.Column(db.Boolean, nullable=False, default=False)
    peppol_receive = db.Column(db.Boolean, nullable=False, default=False)
    peppol_state = db.Column(db.String(12), nullable=False, default=PeppolState.OFF.value)
    peppol_message = db.Column(db.String(500))
    # When another provider holds the participant for receiving: its SMP and, where its SMP says, its name.
    peppol_other_smp = db.Column(db.String(300))
    peppol_other_provider = db.Column(db.String(300))
    peppol_taken_at = db.Column(db.DateTime)
    # A registration that failed for a passing reason (state pending, the reply in peppol_message) is tried again at
    # peppol_retry_at, until DELIVERY_RETRY_HOURS after the first failure (retries.py).
    peppol_retry_at = db.Column(db.DateTime, index=True)
    peppol_first_failed_at = db.Column(db.DateTime)
    peppol_failed_attempts = db.Column(db.Integer, nullable=False, default=0)
    refused_senders_count = db.Column(db.Integer, nullable=False, default=0)

    invited_at = db.Column(db.DateTime)
    # Expiry of the current invitation link, kept by the lifecycle so the list needs no extra query.
    invitation_expires_at = db.Column(db.DateTime)
    activated_at = db.Column(db.DateTime)
    deactivated_at = db.Column(db.DateTime)
    # Folded name, numbers and contact e-mails, kept up to date by search.py; what list search looks in.
    search_text = db.Column(db.Text, nullable=False, default="")
    # The import that last created or updated this client (the import result page links to these).
    import_batch_id = db.Column(db.ForeignKey("import_batch.id", ondelete="SET NULL"), index=True)

    group = db.relationship("Group")
    firm_contact = db.relationship("User", foreign_keys=[firm_contact_id])
    client_facing_contact = db.relationship("User", foreign_keys=[client_facing_contact_id])
    template = db.relationship("ConfigTemplate")
    plan = db.relationship("Plan")
    parent = db.relationship("Client", remote_side=[id], back_populates="subsidiaries")
    subsidiaries = db.relationship("Client", back_populates="parent", order_by="Client.name")
    contacts = db.relationship(
        "Contact", back_populates="client", cascade="all, delete-orphan", order_by="(Contact.is_primary.desc(), Contact.id)"
    )
    bank_accounts = db.relationship("BankAccount", back_populates="client", cascade="all, delete-orphan", order_by="BankAccount.id")
    integration = db.relationship("ClientIntegration", back_populates="client", uselist=False, cascade="all, delete-orphan")
    allowed_senders = db.relationship("AllowedSender", back_populates="client", cascade="all, delete-orphan",
                                      order_by="AllowedSender.pattern")
    documents = db.relationship("Document", back_populates="client", cascade="all, delete-orphan", lazy="dynamic")
    refused_senders = db.relationship("RefusedSender", back_populates="client", cascade="all, delete-orphan", lazy="dynamic")
    invitations = db.relationship("Invitation", back_populates="client", cascade="all, delete-orphan", order_by="Invitation.id.desc()")
    client_users = db.relationship("ClientUser", back_populates="client", cascade="all, delete-orphan",
                                   order_by="ClientUser.full_name, ClientUser.id")
    favourited_by = db.relationship("User", secondary=client_favourites)
    watchers = db.relationship("User", secondary=client_watchers, order_by="User.full_name, User.id")
    notes = db.relationship("ClientNote", back_populates="client", cascade="all, delete-orphan",
                            order_by="ClientNote.created_at.desc()")

    def __str__(self) -> str:
        return self.name

    @property
    def primary_contact(self):
        return next((c for c in self.contacts if c.is_primary), self.contacts[0] if self.contacts else None)

    @property
    def enterprise_number_display(self) -> str:
        from ..forms.validators import format_enterprise_number

        return format_enterprise_number(self.enterprise_number, self.country)

    @property
    def status_label(self) -> str:
        return ClientStatus(self.status).label

    BILLING_COLUMNS = ("billing_street", "billing_address_line2", "billing_house_number", "billing_box",
                       "billing_postal_code", "billing_city", "billing_country")

    def settle_billing_address(self) -> None:
        """A client billed at its company address keeps no other billing address."""
        if self.billing_same_as_address:
            for column in self.BILLING_COLUMNS:
                setattr(self, column, None)

    @property
    def company_type_label(self) -> str:
        return CompanyType(self.company_type).label if self.company_type else ""

    @property
    def peppol_state_label(self) -> str:
        return PeppolState(self.peppol_state).label

    @property
    def current_invitation(self):
        """The latest of the company's invitations (colleagues' are not the client's status)."""
        return next((invitation for invitation in self.invitations if not invitation.is_colleague), None)


class ClientNote(db.Model):
    """A note on a client, as in a CRM: who wrote what, when."""

    __tablename__ = "client_note"

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.ForeignKey("client.id", ondelete="CASCADE"), nullable=False, index=True)
    author_id = db.Column(db.ForeignKey("user.id", ondelete="SET NULL"))
    text = db.Column(db.Text, nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    client = db.relationship("Client", back_populates="notes")
    author = db.relationship("User")

    def __str__(self) -> str:
        return self.text[:80]


class BankAccount(Timestamps, db.Model):
    __tablename__ = "bank_account"
    __table_args__ = (sa.UniqueConstraint("client_id", "iban", name="uq_bank_account_client_iban"),)

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.ForeignKey("client.id", ondelete="CASCADE"), nullable=False, index=True)
    iban = db.Column(db.String(34), nullable=False)
    label = db.Column(db.String(80))

    client = db.relationship("Client", back_populates="bank_accounts")

    def __str__(self) -> str:
        from ..forms.validators import format_iban

        return format_iban(self.iban)


def _inbox_documents():
    from .document import Document, DocumentStatus

    return Document, Document.status == DocumentStatus.INBOX.value


def _inbox_count_expression():
    document, in_inbox = _inbox_documents()
    return (
        sa.select(sa.func.count(document.id))
        .where(document.client_id == Client.id, in_inbox)
        .correlate_except(document)
        .scalar_subquery()
    )


def inbox_counts():
    """A subquery of (client_id, inbox_count) for the clients with documents in their inbox. Ordering many
    clients by it (joined) reads the documents once, where `Client.inbox_count` is computed client by client."""
    document, in_inbox = _inbox_documents()
    return (sa.select(document.client_id, sa.func.count().label("inbox_count"))
            .where(in_inbox).group_by(document.client_id).subquery("inbox_counts"))


def configure_computed_columns() -> None:
    """Columns computed from other tables; added once every model is defined."""
    if not hasattr(Client, "inbox_count"):
        from ..checklist import missing_count

        Client.inbox_count = column_property(_inbox_count_expression(), deferred=True)
        Client.onboarding_missing = column_property(missing_count(), deferred=True)
