"""Contacts: the people at a client company; the primary one receives the invitation."""
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..extensions import db
from .base import LabelledEnum, Timestamps, choice_check


class Civility(LabelledEnum):
    MR = "mr", _l("Mr")
    MS = "ms", _l("Ms")
    MX = "mx", _l("Mx")


class ContactSource(LabelledEnum):
    """Where the contact came from (the CRM page's "Source")."""

    WEBSITE = "website", _l("Website")
    REFERRAL = "referral", _l("Referral")
    EVENT = "event", _l("Event")
    IMPORT = "import", _l("Import")
    OTHER = "other", _l("Other")


class Contact(Timestamps, db.Model):
    __tablename__ = "contact"
    __table_args__ = (
        choice_check("civility", Civility, nullable=True),
        choice_check("source", ContactSource, nullable=True),
        # At most one primary contact per client.
        sa.Index(
            "uq_contact_primary_per_client",
            "client_id",
            unique=True,
            sqlite_where=sa.text("is_primary"),
            postgresql_where=sa.text("is_primary"),
        ),
    )

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.ForeignKey("client.id", ondelete="CASCADE"), nullable=False, index=True)
    civility = db.Column(db.String(4))
    first_name = db.Column(db.String(80), nullable=False)
    last_name = db.Column(db.String(80), nullable=False)
    email = db.Column(db.String(254), nullable=False, unique=True)
    job_title = db.Column(db.String(120))
    phone = db.Column(db.String(20))
    mobile = db.Column(db.String(20))
    switchboard_phone = db.Column(db.String(20))
    source = db.Column(db.String(8))
    language = db.Column(db.String(5), nullable=False, default="fr-BE")
    is_primary = db.Column(db.Boolean, nullable=False, default=False)
    # When the contact accepted the invitation and became a client user (models/client_user.py).
    accepted_at = db.Column(db.DateTime)

    client = db.relationship("Client", back_populates="contacts")

    def __str__(self) -> str:
        return self.describe(self.first_name, self.last_name, self.email)

    @staticmethod
    def describe(first_name: str, last_name: str, email: str) -> str:
        """What a contact is called (its str()), from its values alone."""
        return f"{first_name} {last_name}".strip() + f" <{email}>"

    @property
    def source_label(self) -> str:
        return ContactSource(self.source).label if self.source else ""

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()
