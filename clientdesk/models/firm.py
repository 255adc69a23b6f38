"""The firm's own settings: one row, edited by admins on the Firm screen."""
from flask_babel import lazy_gettext as _l

from ..extensions import db
from .base import LabelledEnum, Timestamps, choice_check
from .integration import SECRET_SETTINGS, CreditCardStatements, DeliveryMethod, DeliverySettings


class UnauthenticatedMail(LabelledEnum):
    """What the inbound mailboxes do with mail from an allowed address that SPF and DKIM do not vouch for."""

    KEEP = "keep", _l("Keep it, marked as not authenticated")
    REFUSE = "refuse", _l("Refuse it")


class FirmSettings(DeliverySettings, Timestamps, db.Model):
    """The firm's settings, with its default delivery: the one of every client whose integration uses the firm
    default (ClientIntegration.uses_firm_default)."""

    __tablename__ = "firm_settings"
    __audit_secret__ = SECRET_SETTINGS
    __table_args__ = (
        choice_check("unauthenticated_mail", UnauthenticatedMail),
        choice_check("delivery_method", DeliveryMethod),
        choice_check("credit_card_statements", CreditCardStatements),
    )

    id = db.Column(db.Integer, primary_key=True)
    unauthenticated_mail = db.Column(db.String(8), nullable=False, default=UnauthenticatedMail.KEEP.value)

    def __str__(self) -> str:
        return str(_l("Firm settings"))

    @classmethod
    def current(cls) -> "FirmSettings":
        """The one row (added to the session when missing)."""
        settings = db.session.get(cls, 1)
        if settings is None:
            settings = cls(id=1, unauthenticated_mail=UnauthenticatedMail.KEEP.value)
            db.session.add(settings)
        return settings
