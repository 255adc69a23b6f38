"""Configuration templates: defaults copied onto a client when it is created or imported."""
from ..extensions import db
from .base import Timestamps, choice_check
from .client import SubscriptionMode
from .integration import SECRET_SETTINGS, CreditCardStatements, DeliveryMethod, DeliverySettings

template_watchers = db.Table(
    "config_template_watcher",
    db.Column("template_id", db.ForeignKey("config_template.id", ondelete="CASCADE"), primary_key=True),
    db.Column("user_id", db.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class ConfigTemplate(DeliverySettings, Timestamps, db.Model):
    __tablename__ = "config_template"
    __audit_secret__ = SECRET_SETTINGS
    __table_args__ = (
        choice_check("subscription_mode", SubscriptionMode),
        choice_check("delivery_method", DeliveryMethod),
        choice_check("credit_card_statements", CreditCardStatements),
    )

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(80), nullable=False, unique=True)
    description = db.Column(db.String(500))
    assigned_user_id = db.Column(db.ForeignKey("user.id", ondelete="SET NULL"))
    client_facing_contact_id = db.Column(db.ForeignKey("user.id", ondelete="SET NULL"))
    assigned_group_id = db.Column(db.ForeignKey("group.id", ondelete="SET NULL"))
    integration_product_id = db.Column(db.ForeignKey("integration_product.id", ondelete="SET NULL"))
    subscription_mode = db.Column(db.String(16), nullable=False, default=SubscriptionMode.FULL.value)
    e_invoicing_mandate = db.Column(db.Boolean, nullable=False, default=False)
    peppol_send = db.Column(db.Boolean, nullable=False, default=False)
    peppol_receive = db.Column(db.Boolean, nullable=False, default=False)
    # The client's integration gets the firm's default delivery instead of this template's delivery columns.
    uses_firm_default = db.Column(db.Boolean, nullable=False, default=False)

    assigned_user = db.relationship("User", foreign_keys=[assigned_user_id])
    client_facing_contact = db.relationship("User", foreign_keys=[client_facing_contact_id])
    assigned_group = db.relationship("Group")
    integration_product = db.relationship("IntegrationProduct")
    # "Additional users to notify": copied onto the clients it applies to (client_watchers).
    watchers = db.relationship("User", secondary=template_watchers, order_by="User.full_name, User.id")

    def __str__(self) -> str:
        return self.name

    @classmethod
    def by_name(cls, name: str) -> "ConfigTemplate | None":
        return db.session.execute(db.select(cls).filter(db.func.lower(cls.name) == name.strip().lower())).scalar_one_or_none()

    @property
    def peppol_switches(self) -> dict[str, bool]:
        """The Peppol switches this template turns on (send=True, receive=True), none if it leaves Peppol off."""
        return {switch: True for switch in ("send", "receive") if getattr(self, f"peppol_{switch}")}

    def defaults_for(self, client, *, mandate: bool = True) -> dict:
        """The client columns this template sets on `client`: its own values, and a group, firm contact and
        client-facing contact only where the client has none (a deactivated user is no one's contact). `mandate`: False on an
        existing client, whose e-invoicing mandate is the client's to give (the portal records who gave it), not a
        template's."""
        values = {"template_id": self.id, "subscription_mode": self.subscription_mode}
        if mandate:
            values["e_invoicing_mandate"] = self.e_invoicing_mandate
        if self.assigned_group_id is not None and client.group is None:
            values["group_id"] = self.assigned_group_id
        if self.assigned_user is not None and self.assigned_user.active and client.firm_contact is None:
            values["firm_contact_id"] = self.assigned_user_id
        if self.client_facing_contact is not None and self.client_facing_contact.active and client.client_facing_contact is None:
            values["client_facing_contact_id"] = self.client_facing_contact_id
        return values

    def watchers_to_add(self, client) -> list:
        """The template's users to notify (active ones) that `client` does not have yet."""
        return [user for user in self.watchers if user.active and user not in client.watchers]

    def integration_defaults(self) -> dict | None:
        """The accounting software and delivery settings this template sets, None when it sets none."""
        if self.integration_product_id is None:
            return None
        return {"product_id": self.integration_product_id, "uses_firm_default": self.uses_firm_default,
                **{column: getattr(self, column) for column in DeliverySettings.__dict__ if not column.startswith("_")}}

    def apply_to(self, client, *, mandate: bool = True) -> None:
        """Copy this template's defaults (defaults_for, integration_defaults, its users to notify) onto a client; later
        edits to the client override them. Its Peppol switches are not copied: they go through the Peppol switches
        (einvoicing.switch_as_template)."""
        from .integration import ClientIntegration

        values = self.defaults_for(client, mandate=mandate)
        client.template = self
        client.subscription_mode = self.subscription_mode
        if mandate:
            client.e_invoicing_mandate = self.e_invoicing_mandate
        if "group_id" in values:
            client.group = self.assigned_group
        if "firm_contact_id" in values:
            client.firm_contact = self.assigned_user
        if "client_facing_contact_id" in values:
            client.client_facing_contact = self.client_facing_contact
        client.watchers.extend(self.watchers_to_add(client))
        integration_values = self.integration_defaults()
        if integration_values is not None:
            integration = client.integration or ClientIntegration()
            integration.product = self.integration_product
            for column, value in integration_values.items():
                if column != "product_id":
                    setattr(integration, column, value)
            client.integration = integration
