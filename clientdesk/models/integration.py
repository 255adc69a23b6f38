"""The accounting-software catalogue and each client's (single) integration."""
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..extensions import db
from .base import LabelledEnum, Timestamps, choice_check


class DeliveryMethod(LabelledEnum):
    MANUAL = "manual", _l("Manual")
    EMAIL = "email", _l("E-mail")
    SFTP = "sftp", _l("sFTP folder")
    API = "api", _l("API")


class CreditCardStatements(LabelledEnum):
    PURCHASE = "purchase", _l("With purchases")
    MISC = "misc", _l("With miscellaneous")


CATALOGUE = (
    # name, delivery methods, sender must be whitelisted in the software
    ("Admisol", "manual,email", False),
    ("Clearfacts", "manual,email,api", True),
    ("Exact Online", "manual,email", True),
    ("Exact Online NL", "manual,email", True),
    ("Lyanthe", "manual,email", False),
    ("Octopus", "manual,email,api", False),
    ("Scan Sys", "manual,email,sftp", False),
    ("Winbooks", "manual,email,sftp", False),
    ("Wings", "manual,email", False),
    ("Wolters Kluwer", "manual,email,sftp", True),
    ("Yuki", "manual,email,api", True),
    ("Zenvoices", "manual,email", False),
)


class IntegrationProduct(Timestamps, db.Model):
    """An accounting software in the catalogue (admins add more)."""

    __tablename__ = "integration_product"

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(80), nullable=False, unique=True)
    delivery_methods = db.Column(db.String(80), nullable=False, default="manual,email")
    sender_whitelist_required = db.Column(db.Boolean, nullable=False, default=False)
    note = db.Column(db.String(500))

    def __str__(self) -> str:
        return self.name

    @property
    def delivery_method_list(self) -> list[str]:
        return [m for m in self.delivery_methods.split(",") if m]


class DeliverySettings:
    """Where documents go: shared by a client's integration and a configuration template's defaults."""

    delivery_method = db.Column(db.String(8), nullable=False, default=DeliveryMethod.MANUAL.value)
    delivery_email = db.Column(db.String(254))
    delivery_email_purchase = db.Column(db.String(254))
    delivery_email_sales = db.Column(db.String(254))
    delivery_email_misc = db.Column(db.String(254))
    attach_ubl = db.Column(db.Boolean, nullable=False, default=False)
    sftp_url = db.Column(db.String(300))
    sftp_password = db.Column(db.String(200))
    # The server's host key ("ssh-ed25519 AAAA..."), remembered at the first connection and checked after.
    sftp_host_key = db.Column(db.String(1000))
    api_url = db.Column(db.String(300))
    api_token = db.Column(db.String(500))
    credit_card_statements = db.Column(db.String(8), nullable=False, default=CreditCardStatements.PURCHASE.value)


SECRET_SETTINGS = ("sftp_password", "api_token")
FIRM_DEFAULT_LABEL = _l("firm default")


class ClientIntegration(DeliverySettings, Timestamps, db.Model):
    __tablename__ = "client_integration"
    __audit_secret__ = SECRET_SETTINGS
    __table_args__ = (
        choice_check("delivery_method", DeliveryMethod),
        choice_check("credit_card_statements", CreditCardStatements),
    )

    id = db.Column(db.Integer, primary_key=True)
    # unique: at most one accounting software per client
    client_id = db.Column(db.ForeignKey("client.id", ondelete="CASCADE"), nullable=False, unique=True)
    product_id = db.Column(db.ForeignKey("integration_product.id"), nullable=False, index=True)
    # True: documents go as the firm's default delivery says (FirmSettings), and this row's own delivery columns
    # are kept but not used; services.delivery.effective_delivery resolves which applies.
    uses_firm_default = db.Column(db.Boolean, nullable=False, default=False)

    client = db.relationship("Client", back_populates="integration")
    product = db.relationship("IntegrationProduct")

    def __str__(self) -> str:
        if self.uses_firm_default:
            return f"{self.product} ({FIRM_DEFAULT_LABEL})"
        return f"{self.product} ({self.delivery_method_label})"

    @property
    def delivery_method_label(self) -> str:
        return DeliveryMethod(self.delivery_method).label


def ensure_catalogue() -> None:
    existing = set(db.session.execute(sa.select(IntegrationProduct.name)).scalars())
    for name, methods, whitelist in CATALOGUE:
        if name not in existing:
            db.session.add(IntegrationProduct(name=name, delivery_methods=methods, sender_whitelist_required=whitelist))
