"""Staff users of the firm, their roles, saved list views and chosen list columns."""
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..extensions import db
from .account import Account
from .base import LabelledEnum, Timestamps, choice_check, utcnow
from .group import Group, group_members
from .notification import NotifyBy


class Role(LabelledEnum):
    STAFF = "staff", _l("Staff")
    SUPERVISOR = "supervisor", _l("Supervisor")
    ADMIN = "admin", _l("Admin")


ROLE_RANK = {Role.STAFF: 1, Role.SUPERVISOR: 2, Role.ADMIN: 3}


class User(Account, Timestamps, db.Model):
    __tablename__ = "user"
    __table_args__ = (choice_check("role", Role), choice_check("notify_by", NotifyBy))
    __audit_secret__ = ("password_hash", "totp_secret")
    __audit_ignore__ = ("last_login_at", "session_token", "totp_last_step")

    id = db.Column(db.Integer, primary_key=True)
    full_name = db.Column(db.String(120), nullable=False, default="")
    role = db.Column(db.String(12), nullable=False, default=Role.STAFF.value)
    # Second factor (clientdesk/two_factor.py): the TOTP secret (base32), set once the user confirmed a first code;
    # the time step of the last code accepted, so that no code is accepted twice.
    totp_secret = db.Column(db.String(32))
    totp_enabled_at = db.Column(db.DateTime)
    totp_last_step = db.Column(db.Integer)
    notify_by = db.Column(db.String(8), nullable=False, default=NotifyBy.BELL.value, server_default=NotifyBy.BELL.value)

    groups = db.relationship("Group", secondary=group_members, back_populates="members", order_by="Group.name")

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def names(self) -> list[str]:
        return [self.full_name]

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

    def join_default_group_if_in_none(self) -> None:
        """A staff user created without a group joins the default one: otherwise they would see no client at all
        until someone edits their groups."""
        if not self.groups:
            self.groups.append(Group.default())


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
    # The columns shown when it was saved (ListColumns.columns); None: saved before columns could be chosen, so it
    # shows the user's current columns.
    columns = db.Column(db.String(1000))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    def __str__(self) -> str:
        return self.name


class ListColumns(db.Model):
    """A user's columns on a list: their names, comma-separated, in the order shown. No row: the list's default."""

    __tablename__ = "list_columns"
    __table_args__ = (sa.UniqueConstraint("user_id", "endpoint", name="uq_list_columns_user_endpoint"),)
    __audit__ = False  # a personal preference, like a saved view

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.ForeignKey("user.id", ondelete="CASCADE"), nullable=False)
    endpoint = db.Column(db.String(40), nullable=False)
    columns = db.Column(db.String(1000), nullable=False)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
