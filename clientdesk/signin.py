"""Signing in, in each of the two realms: `staff` (the back office, /login) and `portal` (the client portal,
/portal/login, and the invitation page that leads into it).

Each realm has its own session cookie (RealmSessionInterface), so that one browser holds a staff session and a
client session side by side without mixing them: a page of one realm never reads the other's cookie, and each
realm's sessions load only that realm's kind of account (a client session opens no staff screen, a staff session
no portal page). What both realms share lives here: how long a session lasts, the password check that costs as
much for an unknown e-mail, the throttle of failed attempts (login_throttle.py), and signing out everywhere.
"""
import math
import secrets
import time

from flask import current_app, flash, has_request_context, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_babel import ngettext
from flask_login import login_user, logout_user
from werkzeug.security import check_password_hash

from .extensions import db, login_manager
from .models import ClientUser, User, utcnow
from .passwords import stand_in_hash

STAFF, PORTAL = "staff", "portal"
ACCOUNTS = {STAFF: User, PORTAL: ClientUser}
PORTAL_COOKIE_NAME = "clientdesk_portal"

# Kept in the signed session cookie: the realm it was opened in, when it was opened and when it was last used
# (Unix seconds).
REALM, SIGNED_IN_AT, SEEN_AT = "realm", "signed_in_at", "seen_at"
SEEN_AT_PRECISION = 60  # seconds: the cookie is rewritten at most once a minute, not on every request


def realm_of(path: str) -> str:
    return PORTAL if path == "/portal" or path.startswith(("/portal/", "/invitation/")) else STAFF


def current_realm() -> str:
    return realm_of(request.path) if has_request_context() else STAFF


class RealmSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, under the staff cookie name (SESSION_COOKIE_NAME) or the portal's."""

    def get_cookie_name(self, app) -> str:
        return PORTAL_COOKIE_NAME if current_realm() == PORTAL else super().get_cookie_name(app)


def start_session(account: User | ClientUser) -> None:
    if not isinstance(account, ACCOUNTS[current_realm()]):
        raise ValueError(f"a {type(account).__name__} cannot sign in to the {current_realm()} realm")
    login_user(account)
    session[REALM] = current_realm()
    session[SIGNED_IN_AT] = session[SEEN_AT] = int(time.time())


def _session_expired(now: float) -> bool:
    """Idle longer than SESSION_IDLE_MINUTES, or opened more than SESSION_MAX_HOURS ago. A session with no times
    was not opened by start_session (e.g. only a remember-me cookie): expired too."""
    signed_in_at, seen_at = session.get(SIGNED_IN_AT), session.get(SEEN_AT)
    if signed_in_at is None or seen_at is None:
        return True
    config = current_app.config
    return now - seen_at > config["SESSION_IDLE_MINUTES"] * 60 or now - signed_in_at > config["SESSION_MAX_HOURS"] * 3600


@login_manager.user_loader
def load_account(session_id: str) -> User | ClientUser | None:
    """The account of a session that is still open, of the request's realm: `session_id` is get_id() as it was at
    sign-in, so it holds the account's session token of then (end_sessions replaces it); within the idle and
    absolute lifetimes."""
    account_id, _, token = session_id.partition(":")
    now = time.time()
    realm = current_realm()
    if not account_id.isdigit() or not token or session.get(REALM) != realm or _session_expired(now):
        return None
    account = db.session.get(ACCOUNTS[realm], int(account_id))
    if account is None or not account.is_active or not secrets.compare_digest(account.session_token, token):
        return None
    if now - session[SEEN_AT] >= SEEN_AT_PRECISION:
        session[SEEN_AT] = int(now)
    return account


def authenticate(realm: str, email: str, password: str) -> User | ClientUser | None:
    """The active account of `realm` with this e-mail and password, else None. An unknown e-mail or a deactivated
    account costs one password verification too, so the answer's time does not tell which e-mails have an account."""
    account = ACCOUNTS[realm].by_email(email)
    if account is None or not account.is_active:
        check_password_hash(stand_in_hash(), password)
        return None
    return account if account.check_password(password) else None


class TooManyAttempts(Exception):
    """Sign-in attempts have to wait `seconds` (login_throttle.py)."""

    def __init__(self, seconds: int):
        super().__init__(seconds)
        self.seconds = seconds

    def flash(self) -> dict:
        """Say so to the person, in their language; the headers of the answer (429)."""
        minutes = math.ceil(self.seconds / 60)
        flash(ngettext("Too many failed attempts. Try again in %(num)d minute.",
                       "Too many failed attempts. Try again in %(num)d minutes.", minutes), "error")
        return {"Retry-After": str(self.seconds)}


def require_no_wait(email: str) -> None:
    """Raises TooManyAttempts when an attempt to sign in to this realm as `email` from here has to wait."""
    from . import login_throttle  # here, not at the top: the commands that serve no page start without `limits`

    wait = login_throttle.wait_seconds(current_realm(), email, request.remote_addr)
    if wait:
        raise TooManyAttempts(wait)


def record_failure(email: str) -> None:
    from . import login_throttle

    login_throttle.record_failure(current_realm(), email, request.remote_addr)


def check_password(email: str, password: str) -> User | ClientUser | None:
    """The account of this realm that `email` and `password` sign in to, else None (a failure counted). Raises
    TooManyAttempts, before checking anything, when attempts from here or for this e-mail have to wait."""
    email = email.strip().lower()
    require_no_wait(email)
    account = authenticate(current_realm(), email, password)
    if account is None:
        record_failure(email)
    return account


def finish_sign_in(account: User | ClientUser) -> None:
    """Sign `account` in, once every step passed: the address becomes one of its usual ones."""
    from . import login_throttle

    login_throttle.record_success(current_realm(), account.email, request.remote_addr)
    account.last_login_at = utcnow()
    db.session.commit()
    start_session(account)


def sign_out_everywhere(account: User | ClientUser) -> None:
    """End every session of the account, this one and any other browser's (and any copy of the cookie)."""
    account.end_sessions()
    db.session.commit()
    logout_user()


def language_endpoint() -> str:
    """Where a page's language switch posts: the switch keeps the choice in the page's own realm."""
    return "portal.set_language" if current_realm() == PORTAL else "web.set_language"


def init_app(app) -> None:
    app.session_interface = RealmSessionInterface()
    app.jinja_env.globals.update(language_endpoint=language_endpoint)
