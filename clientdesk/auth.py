"""Staff login and logout, and how long a session lasts."""
import math
import secrets
import time
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _, lazy_gettext as _l, ngettext
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.security import check_password_hash
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired

from . import two_factor
from .extensions import db, login_manager
from .models import User, utcnow
from .passwords import stand_in_hash

bp = Blueprint("auth", __name__)

WRONG_CREDENTIALS = _l("Wrong e-mail or password.")


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


# When the session was opened and when it was last used (Unix seconds), kept in the signed session cookie.
SIGNED_IN_AT, SEEN_AT = "signed_in_at", "seen_at"
SEEN_AT_PRECISION = 60  # seconds: the cookie is rewritten at most once a minute, not on every request


def start_session(user: User) -> None:
    login_user(user)
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
def load_user(session_id: str) -> User | None:
    """The user of a session that is still open: `session_id` is User.get_id() as it was at sign-in, so it holds
    the user's session token of then (end_sessions replaces it); within the idle and absolute lifetimes."""
    user_id, _, token = session_id.partition(":")
    now = time.time()
    if not user_id.isdigit() or not token or _session_expired(now):
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or not secrets.compare_digest(user.session_token, token):
        return None
    if now - session[SEEN_AT] >= SEEN_AT_PRECISION:
        session[SEEN_AT] = int(now)
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with this e-mail and password, else None. An unknown e-mail or a deactivated account costs
    one password verification too, so the answer's time does not tell which e-mails have an account."""
    user = User.by_email(email)
    if user is None or not user.active:
        check_password_hash(stand_in_hash(), password)
        return None
    return user if user.check_password(password) else None


def safe_next_url(target: str | None) -> str | None:
    """`target` if it stays on this site (a path, no scheme or host, no backslash tricks), else None."""
    if not target or "\\" in target or any(ord(c) < 32 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = safe_next_url(request.values.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("admin.index"))
    form = LoginForm()
    if form.validate_on_submit():
        from . import login_throttle  # here, not at the top: the commands that serve no page start without `limits`

        email, address = form.email.data.strip().lower(), request.remote_addr
        wait = login_throttle.wait_seconds(email, address)
        if wait:
            minutes = math.ceil(wait / 60)
            flash(ngettext("Too many failed attempts. Try again in %(num)d minute.",
                           "Too many failed attempts. Try again in %(num)d minutes.", minutes), "error")
            return render_template("auth/login.html", form=form, next_url=next_url), 429, {"Retry-After": str(wait)}
        user = authenticate(email, form.password.data)
        if user is None:
            login_throttle.record_failure(email, address)
            flash(WRONG_CREDENTIALS, "error")
            return render_template("auth/login.html", form=form, next_url=next_url), 200
        return two_factor.second_step(user, next_url) or finish_login(user, next_url)
    return render_template("auth/login.html", form=form, next_url=next_url)


def finish_login(user: User, next_url: str | None):
    """Sign `user` in, once every step passed (the password, and the second factor when there is one)."""
    from . import login_throttle

    login_throttle.record_success(user.email, request.remote_addr)
    user.last_login_at = utcnow()
    db.session.commit()
    start_session(user)
    return redirect(next_url or url_for("admin.index"))


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Ends every session of the user, this one and any other browser's (and any copy of the cookie)."""
    current_user.end_sessions()
    db.session.commit()
    logout_user()
    flash(_("You are signed out on every device."), "info")
    return redirect(url_for("auth.login"))
