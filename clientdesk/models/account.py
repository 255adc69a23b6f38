"""What every account that signs in has, staff user or client user: a password under the password rule, an
active flag, and a session token that is part of every session's id, so that sessions end on the server."""
import secrets

from flask_login import UserMixin
from sqlalchemy.orm import validates
from werkzeug.security import check_password_hash

from ..extensions import db
from ..passwords import hash_password, require_acceptable


def new_session_token() -> str:
    return secrets.token_urlsafe(24)


class Account(UserMixin):
    """Its model gives `names`: the person's names, which their password may not contain."""

    email = db.Column(db.String(254), nullable=False, unique=True)
    password_hash = db.Column(db.String(255), nullable=False)
    active = db.Column(db.Boolean, nullable=False, default=True)
    ui_language = db.Column(db.String(5))
    last_login_at = db.Column(db.DateTime)
    # Part of every session's id (get_id): a new one ends every session the account has open (end_sessions).
    session_token = db.Column(db.String(32), nullable=False, default=new_session_token)

    # Flask-Login
    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        """What a session holds of its account (Flask-Login's alternative id): sessions opened before the last
        end_sessions() hold an older token and no longer sign anyone in."""
        return f"{self.id}:{self.session_token}"

    def end_sessions(self) -> None:
        """Sign the account out of every browser: its open sessions stop working at their next request."""
        self.session_token = new_session_token()

    def set_password(self, password: str) -> None:
        """Raises WeakPassword when the password rule refuses it (clientdesk/passwords.py)."""
        require_acceptable(password, self.email, self.names)
        self.password_hash = hash_password(password)
        self.end_sessions()

    @validates("active")
    def _end_sessions_when_deactivated(self, key, active: bool) -> bool:
        if not active:
            self.end_sessions()
        return active

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @classmethod
    def by_email(cls, email: str):
        return db.session.execute(db.select(cls).filter_by(email=email.strip().lower())).scalar_one_or_none()
