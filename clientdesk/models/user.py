"""Staff users of the firm, their roles and saved list views."""
import secrets

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy.orm import validates
from werkzeug.security import check_password_hash

from ..extensions import db
from ..passwords import hash_password, require_acceptable
from .base import LabelledEnum, Timestamps, choice_check, utcnow
from .group import group_members


class Role(LabelledEnum):
    STAFF = "staff", _l("Staff")
    SUPERVISOR = "supervisor", _l("Supervisor")
    ADMIN = "admin", _l("Admin")


ROLE_RANK = {Role.STAFF: 1, Role.SUPERVISOR: 2, Role.ADMIN: 3}


def new_session_token() -> str:
    return secrets.token_urlsafe(24)


class User(UserMixin, Timestamps, db.Model):
    __tablename__ = "user"
    __table_args__ = (choice_check("role", Role),)
    __audit_secret__ = ("password_hash", "totp_secret")
    __audit_ignore__ = ("last_login_at", "session_token", "totp_last_step")

    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(254), nullable=False, unique=True)
    full_name = db.Column(db.String(120), nullable=False, default="")
    password_hash = db.Column(db.String(255), nullable=False)
    role = db.Column(db.String(12), nullable=False, default=Role.STAFF.value)
    active = db.Column(db.Boolean, nullable=False, default=True)
    ui_language = db.Column(db.String(5))
    last_login_at = db.Column(db.DateTime)
    # Second factor (clientdesk/two_factor.py): the TOTP secret (base32), set once the user confirmed a first code;
    # the time step of the last code accepted, so that no code is accepted twice.
    totp_secret = db.Column(db.String(32))
    totp_enabled_at = db.Column(db.DateTime)
    totp_last_step = db.Column(db.Integer)
    # Part of every session's id (get_id): a new one ends every session the user has open (end_sessions).
    session_token = db.Column(db.String(32), nullable=False, default=new_session_token)

    groups = db.relationship("Group", secondary=group_members, back_populates="members", order_by="Group.name")

    def __str__(self) -> str:
        return self.full_name or self.email

    # Flask-Login
    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        """What a session holds of its user (Flask-Login's alternative id): sessions opened before the last
        end_sessions() hold an older token and no longer sign anyone in."""
        return f"{self.id}:{self.session_token}"

    def end_sessions(self) -> None:
        """Sign the user out of every browser: their open sessions stop working at their next request."""
        self.session_token = new_session_token()

    def set_password(self, password: str) -> None:
        """Raises WeakPassword when the password rule refuses it (clientdesk/passwords.py)."""
        require_acceptable(password, self.email, [self.full_name])
        self.password_hash = hash_password(password)
        self.end_sessions()

    @validates("active")
    def _end_sessions_when_deactivated(self, key, active: bool) -> bool:
        if not active:
            self.end_sessions()
        return active

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def has_role(self, role: Role | str) -> bool:
        """At least `role`: an admin has every supervisor permission, a supervisor every staff one."""
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(role)]

    @property
    def has_two_factor(self) -> bool:
        return self.totp_secret is not None

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def role_label(self) -> str:
        return Role(self.role).label

    @property
    def group_ids(self) -> list[int]:
        return [g.id for g in self.groups]

    @classmethod
    def by_email(cls, email: str) -> "User | None":
        return db.session.execute(db.select(cls).filter_by(email=email.strip().lower())).scalar_one_or_none()


class SavedFilter(db.Model):
    """A user's named view of a list: the list's query string (filters, search, sort)."""

    __tablename__ = "saved_filter"
    __table_args__ = (sa.UniqueConstraint("user_id", "endpoint", "name", name="uq_saved_filter_user_endpoint_name"),)
    __audit__ = False  # a personal preference, not a change to the firm's data

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.ForeignKey("user.id", ondelete="CASCADE"), nullable=False, index=True)
    endpoint = db.Column(db.String(40), nullable=False)
    name = db.Column(db.String(80), nullable=False)
    query = db.Column(db.String(1000), nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    def __str__(self) -> str:
        return self.name
