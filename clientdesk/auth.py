"""Staff login and logout."""
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l, ngettext
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from .extensions import db, login_manager
from .models import LoginThrottle, User, utcnow

bp = Blueprint("auth", __name__)

WRONG_CREDENTIALS = _l("Wrong e-mail or password.")


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=LoginThrottle.email.type.length)])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


@login_manager.user_loader
def load_user(user_id: str):
    try:
        return db.session.get(User, int(user_id))
    except ValueError:
        return None


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
        email = form.email.data.strip().lower()
        minutes = LoginThrottle.locked_minutes_left(email)
        if minutes:
            flash(ngettext("Too many failed attempts. Try again in %(num)d minute.",
                           "Too many failed attempts. Try again in %(num)d minutes.", minutes), "error")
            return render_template("auth/login.html", form=form, next_url=next_url), 429
        user = User.by_email(email)
        if user is None or not user.active or not user.check_password(form.password.data):
            config = current_app.config
            LoginThrottle.record_failure(
                email, config["LOGIN_MAX_FAILURES"], timedelta(minutes=config["LOGIN_LOCKOUT_MINUTES"])
            )
            db.session.commit()
            flash(WRONG_CREDENTIALS, "error")
            return render_template("auth/login.html", form=form, next_url=next_url), 200
        LoginThrottle.clear(email)
        user.last_login_at = utcnow()
        db.session.commit()
        login_user(user)
        return redirect(next_url or url_for("admin.index"))
    return render_template("auth/login.html", form=form, next_url=next_url)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))
