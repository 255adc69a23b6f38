"""Two-factor sign-in of staff users: a TOTP code (any authenticator app) or a recovery code, after the password.

A user who set it up always gives a code after the password; REQUIRE_2FA (admin|all|none) makes it mandatory for
admins or for everyone: such a user without it is led to set it up right after the password step. Between the two
steps the session holds only who passed the password (for PENDING_MINUTES), not a sign-in. Wrong codes count as
failed logins (login_throttle.py). An admin can reset a user's second factor (admin/people.py, audited).
"""
import hmac
from datetime import UTC, datetime, timedelta

import pyotp
import segno
from flask import Blueprint, current_app, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _, lazy_gettext as _l, ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import StringField
from wtforms.validators import DataRequired

from . import signin
from .extensions import db
from .models import RecoveryCode, User, utcnow
from .models.audit import audit_action

bp = Blueprint("two_factor", __name__)

PENDING = "two_factor_pending"  # session: {"user_id", "next", "since"} between the password and the code
SETUP_SECRET = "two_factor_setup_secret"  # session: the secret being set up, until a first code confirms it
PENDING_MINUTES = 5
ISSUER = "ClientDesk"
STEP_SECONDS = 30
WRONG_CODE = _l("This code is not valid. Enter the current code of your authenticator app, or a recovery code.")


class CodeForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired()])


def required_for(user: User) -> bool:
    policy = current_app.config["REQUIRE_2FA"]
    return policy == "all" or (policy == "admin" and user.is_admin)


def second_step(user: User, next_url: str | None):
    """After a right password: the redirect to the code (or to setting up a second factor, when it is required and
    missing), or None when the user signs in with the password alone."""
    if not user.has_two_factor and not required_for(user):
        return None
    session[PENDING] = {"user_id": user.id, "next": next_url, "since": utcnow().isoformat()}
    return redirect(url_for("two_factor.verify" if user.has_two_factor else "two_factor.setup_at_sign_in"))


def _pending_user() -> User | None:
    pending = session.get(PENDING)
    if not pending or datetime.fromisoformat(pending["since"]) < utcnow() - timedelta(minutes=PENDING_MINUTES):
        session.pop(PENDING, None)
        return None
    user = db.session.get(User, pending["user_id"])
    return user if user is not None and user.active else None


def _finish(user: User):
    from .auth import finish_login

    next_url = session.pop(PENDING)["next"]
    return finish_login(user, next_url)


def _back_to_login():
    flash(_("Your sign-in took too long. Please sign in again."), "error")
    return redirect(url_for("auth.login"))


def _matching_step(secret: str, code: str, after: int | None) -> int | None:
    """The time step whose code is `code` (the current one, or one step before or after for a clock that drifts),
    if it is later than `after` (a code is accepted once)."""
    totp, now = pyotp.TOTP(secret), datetime.now(UTC)
    code = "".join(code.split())
    for offset in (-STEP_SECONDS, 0, STEP_SECONDS):
        moment = now + timedelta(seconds=offset)
        if hmac.compare_digest(totp.at(moment), code):
            step = totp.timecode(moment)
            return step if after is None or step > after else None
    return None


def _locked_out(user: User):
    try:
        signin.require_no_wait(user.email)
    except signin.TooManyAttempts as error:
        headers = error.flash()
        session.pop(PENDING, None)
        return redirect(url_for("auth.login")), 429, headers
    return None


@bp.route("/login/code", methods=["GET", "POST"])
def verify():
    user = _pending_user()
    if user is None or not user.has_two_factor:
        return _back_to_login()
    form = CodeForm()
    if form.validate_on_submit():
        locked = _locked_out(user)
        if locked:
            return locked
        step = _matching_step(user.totp_secret, form.code.data, user.totp_last_step)
        if step is not None:
            user.totp_last_step = step
        elif not RecoveryCode.use(user, form.code.data):
            signin.record_failure(user.email)
            db.session.commit()
            form.code.errors.append(str(WRONG_CODE))
            return render_template("auth/two_factor_verify.html", form=form), 200
        else:
            left = RecoveryCode.left(user)
            flash(ngettext("You used a recovery code: %(num)d is left.", "You used a recovery code: %(num)d are left.",
                           left), "warning")
        return _finish(user)
    return render_template("auth/two_factor_verify.html", form=form)


def _qr_code(uri: str) -> Markup:
    """The set-up link as an inline SVG QR code (no script, no outside request)."""
    return Markup(segno.make(uri, error="m").svg_inline(scale=4, border=2))


def _set_up(user: User, signing_in: bool):
    """The set-up page: a new secret as a QR code; the first right code turns it on and shows the recovery codes once."""
    secret = session.get(SETUP_SECRET) or pyotp.random_base32()
    session[SETUP_SECRET] = secret
    form = CodeForm()
    if form.validate_on_submit():
        step = _matching_step(secret, form.code.data, None)
        if step is None:
            form.code.errors.append(str(WRONG_CODE))
        else:
            session.pop(SETUP_SECRET)
            with audit_action("two_factor_enabled"):
                user.totp_secret, user.totp_enabled_at, user.totp_last_step = secret, utcnow(), step
                codes = RecoveryCode.replace_all(user)
                db.session.flush()
            if signing_in:
                next_url = session[PENDING]["next"]
                _finish(user)  # commits
            else:
                next_url = None
                db.session.commit()
            return render_template("auth/recovery_codes.html", codes=codes,
                                   next_url=next_url or url_for("admin.index"))
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return render_template("auth/two_factor_setup.html", form=form, qr_code=_qr_code(uri), secret=secret,
                           required=required_for(user), signing_in=signing_in)


@bp.route("/login/two-factor", methods=["GET", "POST"])
def setup_at_sign_in():
    """Set-up right after the password step, for a user who must have a second factor and has none yet."""
    user = _pending_user()
    if user is None:
        return _back_to_login()
    if user.has_two_factor:
        return redirect(url_for("two_factor.verify"))
    return _set_up(user, signing_in=True)


@bp.route("/account/two-factor", methods=["GET", "POST"])
def setup():
    """Set-up by a signed-in user who chooses to."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if current_user.has_two_factor:
        return render_template("auth/two_factor_on.html", left=RecoveryCode.left(current_user))
    return _set_up(current_user, signing_in=False)


def reset(user: User) -> None:
    """An admin's reset of `user`'s second factor (lost phone): the next sign-in goes by the password alone, or to a
    new set-up when one is required. Audited; the caller commits."""
    with audit_action("two_factor_reset"):  # the user's row change is recorded under this name
        user.totp_secret = user.totp_enabled_at = user.totp_last_step = None
        RecoveryCode.delete_all(user)
        db.session.flush()
