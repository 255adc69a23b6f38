"""Client users: the people of a client company who sign in to the portal (clientdesk/portal/).

A client user is an account of its own, not a Contact with a password: a contact is what the firm keeps about
a person (and may change or remove), a client user is who may sign in, with a role in the company. The
contact who accepts the invitation becomes the company's first client user, an owner; colleagues invited later
are members or owners (only owners invite and remove users).
"""
from flask_babel import lazy_gettext as _l

from ..extensions import db
from .account import Account
from .base import LabelledEnum, Timestamps, choice_check


class ClientUserRole(LabelledEnum):
    OWNER = "owner", _l("Owner")
    MEMBER = "member", _l("Member")


class ClientUser(Account, Timestamps, db.Model):
    __tablename__ = "client_user"
    __table_args__ = (choice_check("role", ClientUserRole),)
    __audit_secret__ = ("password_hash",)
    __audit_ignore__ = ("last_login_at", "session_token")

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.ForeignKey("client.id", ondelete="CASCADE"), nullable=False, index=True)
    # The contact the user came from (the invited one); the account stays when the firm removes the contact.
    contact_id = db.Column(db.ForeignKey("contact.id", ondelete="SET NULL"), index=True)
    full_name = db.Column(db.String(161), nullable=False, default="")
    role = db.Column(db.String(6), nullable=False, default=ClientUserRole.MEMBER.value)

    client = db.relationship("Client", back_populates="client_users")
    contact = db.relationship("Contact")

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def names(self) -> list[str]:
        return self.full_name.split()

    @property
    def is_active(self) -> bool:
        """Signs in while both the account and its company are active (a deactivated client's users do not)."""
        from .client import ClientStatus

        return self.active and self.client.status == ClientStatus.ACTIVE

    @property
    def role_label(self) -> str:
        return ClientUserRole(self.role).label

    @property
    def is_owner(self) -> bool:
        return self.role == ClientUserRole.OWNER
