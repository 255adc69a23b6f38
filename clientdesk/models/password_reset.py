""""Forgot password" links of an account, a staff user's or a client user's (portal): valid one hour, single use,
and the delivery of their e-mail.

Their tokens are made as invitation tokens are (models/invitation.py): derived from a nonce kept on the row, only
the hash stored for looking one up, so a retried e-mail carries the same link.
"""
import secrets
from datetime import timedelta

import sqlalchemy as sa

from ..extensions import db
from ..retries import after_failure
from .base import Timestamps, utcnow
from .invitation import derive_token, hash_token

PASSWORD_RESET_VALID_MINUTES = 60


class PasswordReset(Timestamps, db.Model):
    __tablename__ = "password_reset"
    __audit__ = False  # recorded as the account's password_reset_requested / password_reset events
    __table_args__ = (sa.CheckConstraint("(user_id IS NULL) <> (client_user_id IS NULL)", name="one_account"),)

    id = db.Column(db.Integer, primary_key=True)
    # The account it is for: a staff user or a client user, never both.
    user_id = db.Column(db.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    client_user_id = db.Column(db.ForeignKey("client_user.id", ondelete="CASCADE"), index=True)
    nonce = db.Column(db.String(43), nullable=False)
    token_hash = db.Column(db.String(64), nullable=False, unique=True)
    expires_at = db.Column(db.DateTime, nullable=False)
    used_at = db.Column(db.DateTime)
    voided_at = db.Column(db.DateTime)
    # Delivery of its e-mail, as an invitation's: sent, or the last failure and when it is tried again.
    sent_at = db.Column(db.DateTime)
    error = db.Column(db.String(500))
    failed_attempts = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    first_failed_at = db.Column(db.DateTime)
    retry_at = db.Column(db.DateTime, index=True)

    user = db.relationship("User")
    client_user = db.relationship("ClientUser")

    @property
    def account(self):
        return self.user if self.user_id is not None else self.client_user

    @staticmethod
    def _account_column(account):
        from .client_user import ClientUser

        return PasswordReset.client_user_id if isinstance(account, ClientUser) else PasswordReset.user_id

    @classmethod
    def issue(cls, account) -> "PasswordReset":
        """A new link for `account`; the links issued before stop working (only the latest e-mail's link counts)."""
        cls.void_open(account)
        nonce = secrets.token_urlsafe(32)
        reset = cls(**{cls._account_column(account).key: account.id}, nonce=nonce, token_hash=hash_token(derive_token(nonce)),
                    expires_at=utcnow() + timedelta(minutes=PASSWORD_RESET_VALID_MINUTES))
        db.session.add(reset)
        return reset

    @classmethod
    def void_open(cls, account) -> None:
        db.session.execute(sa.update(cls).where(cls._account_column(account) == account.id, cls.used_at.is_(None), cls.voided_at.is_(None))
                           .values(voided_at=utcnow(), retry_at=None).execution_options(synchronize_session=False))

    @classmethod
    def by_token(cls, token: str) -> "PasswordReset | None":
        return db.session.execute(db.select(cls).filter_by(token_hash=hash_token(token))).scalar_one_or_none()

    @property
    def token(self) -> str | None:
        """The link's token, derived again; None under another SECRET_KEY."""
        token = derive_token(self.nonce)
        return token if hash_token(token) == self.token_hash else None

    @property
    def is_usable(self) -> bool:
        return self.used_at is None and self.voided_at is None and self.expires_at > utcnow() and self.account.is_active

    def use(self) -> None:
        self.used_at, self.retry_at = utcnow(), None

    def record_failure(self, reason: str, transient: bool, at) -> None:
        """A failed attempt at its e-mail: tried again later while its link still works, else given up."""
        self.error = reason[:500]
        retry = after_failure(self.first_failed_at, self.failed_attempts, transient, at)
        self.first_failed_at, self.failed_attempts = retry.first_failed_at, retry.failed_attempts
        self.retry_at = retry.retry_at if retry.retry_at is not None and retry.retry_at < self.expires_at else None
