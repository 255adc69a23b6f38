""""Forgot password", for staff users (/password/...) and client users (/portal/password/..., the portal's realm):
a link by e-mail, valid one hour, single use (models/password_reset.py). The same pages serve both realms
(signin.py), each for its own kind of account.

The page answers the same whether the address belongs to a user or not; the e-mail leaves from a worker
(jobs/password_reset.py), retried like an invitation's when the mail server cannot take it.
"""
from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo

from . import signin, tasks
from .errors import QueueUnavailable
from .extensions import db
from .models import PasswordReset
from .models.audit import audit_action, record
from .passwords import RULE, AcceptablePassword, password_changed

bp = Blueprint("password_reset", __name__)

# The sign-in page and the "forgot password" page of each realm.
ENDPOINTS = {signin.STAFF: ("auth.login", "password_reset.forgot"), signin.PORTAL: ("portal.login", "portal.forgot_password")}


def _login_url() -> str:
    return url_for(ENDPOINTS[signin.current_realm()][0])


def _forgot_url() -> str:
    return url_for(ENDPOINTS[signin.current_realm()][1])


class ForgotForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired()])


class ResetForm(FlaskForm):
    """Built with the account (`user`: a staff user or a client user) whose password it sets."""

    password = PasswordField(_l("New password"), validators=[DataRequired(), AcceptablePassword(
        lambda form: (form.user.email, form.user.names))])
    password_confirm = PasswordField(_l("Repeat the password"), validators=[
        DataRequired(), EqualTo("password", message=_l("The two passwords are not the same."))])

    def __init__(self, user, **kwargs):
        super().__init__(**kwargs)
        self.user = user


def request_reset(email: str) -> None:
    """E-mail a reset link to the active account of this realm with `email`, if there is one. QueueUnavailable, for
    any address, when the e-mail could not be queued."""
    from .jobs.password_reset import run_send

    tasks.require_queue()  # asked first, so that a known and an unknown address get the same answer
    user = signin.ACCOUNTS[signin.current_realm()].by_email(email)
    if user is None or not user.is_active:
        return
    reset = PasswordReset.issue(user)
    record("password_reset_requested", user)
    db.session.flush()
    tasks.launch("password_reset", _("Password reset e-mail"), run_send, reset.id, queue="mail")


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot():
    form = ForgotForm()
    if form.validate_on_submit():
        try:
            request_reset(form.email.data)
        except QueueUnavailable as error:
            db.session.rollback()
            flash(str(error), "error")
            return render_template("auth/forgot.html", form=form, login_url=_login_url()), 503
        flash(_("If %(email)s is the address of a ClientDesk user, a link to choose a new password is on its way. "
                "It works for one hour.", email=form.email.data.strip()), "info")
        return redirect(_login_url())
    return render_template("auth/forgot.html", form=form, login_url=_login_url())


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset(token: str):
    password_reset = PasswordReset.by_token(token)
    if password_reset is None or not isinstance(password_reset.account, signin.ACCOUNTS[signin.current_realm()]):
        return render_template("auth/reset_gone.html", reason=_(
            "This link is not known. Check that you opened the whole link from the e-mail."), forgot_url=_forgot_url()), 404
    if not password_reset.is_usable:
        return render_template("auth/reset_gone.html", reason=_(
            "This link was already used, replaced by a newer one, or is more than an hour old. Ask for a new one."),
            forgot_url=_forgot_url()), 410
    user = password_reset.account
    form = ResetForm(user)
    if form.validate_on_submit():
        password_reset.use()
        with audit_action("password_reset"):
            user.set_password(form.password.data)
            db.session.flush()
        password_changed(user)
        db.session.commit()
        flash(_("Your password is changed. Sign in with it."), "info")
        return redirect(_login_url())
    return render_template("auth/reset.html", form=form, password_rule=RULE)
