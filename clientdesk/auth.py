"""Staff sign-in and sign-out (what both realms share is in signin.py)."""
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from . import signin, two_factor
from .models import User

bp = Blueprint("auth", __name__)

WRONG_CREDENTIALS = _l("Wrong e-mail or password.")


class LoginForm(FlaskForm):
    """Staff and client users alike (their e-mail columns come from models/account.py)."""
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=User.email.type.length)])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


def safe_next_url(target: str | None) -> str | None:
    """`target` if it stays on this site (a path, no scheme or host, no backslash tricks), else None."""
    if not target or "\\" in target or any(ord(c) < 32 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def login_page(template: str, home: str, signed_in):
    """A realm's sign-in page (staff or portal): the password checked through signin (throttled, one answer for a
    wrong e-mail or password), then `signed_in(account, next_url)` answers."""
    next_url = safe_next_url(request.values.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for(home))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            account = signin.check_password(form.email.data, form.password.data)
        except signin.TooManyAttempts as error:
            headers = error.flash()
            return render_template(template, form=form, next_url=next_url), 429, headers
        if account is None:
            flash(WRONG_CREDENTIALS, "error")
            return render_template(template, form=form, next_url=next_url), 200
        return signed_in(account, next_url)
    return render_template(template, form=form, next_url=next_url)


@bp.route("/login", methods=["GET", "POST"])
def login():
    return login_page("auth/login.html", "admin.index",
                      lambda user, next_url: two_factor.second_step(user, next_url) or finish_login(user, next_url))


def finish_login(user: User, next_url: str | None):
    """Sign `user` in, once every step passed (the password, and the second factor when there is one)."""
    signin.finish_sign_in(user)
    return redirect(next_url or url_for("admin.index"))


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Ends every session of the user, this one and any other browser's (and any copy of the cookie)."""
    signin.sign_out_everywhere(current_user)
    flash(_("You are signed out on every device."), "info")
    return redirect(url_for("auth.login"))
