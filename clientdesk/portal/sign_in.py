"""Sign-in, sign-out and the language of the portal (the shared machinery is in signin.py)."""
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from .. import password_reset, signin, views
from ..auth import WRONG_CREDENTIALS, safe_next_url
from ..models import ClientUser
from . import bp


class PortalLoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=ClientUser.email.type.length)])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = safe_next_url(request.values.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("portal.home"))
    form = PortalLoginForm()
    if form.validate_on_submit():
        try:
            client_user = signin.check_password(form.email.data, form.password.data)
        except signin.TooManyAttempts as error:
            headers = error.flash()
            return render_template("portal/login.html", form=form, next_url=next_url), 429, headers
        if client_user is None:
            flash(WRONG_CREDENTIALS, "error")
            return render_template("portal/login.html", form=form, next_url=next_url), 200
        signin.finish_sign_in(client_user)
        return redirect(next_url or url_for("portal.home"))
    return render_template("portal/login.html", form=form, next_url=next_url)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Ends every session of the client user, this one and any other browser's."""
    signin.sign_out_everywhere(current_user)
    flash(_("You are signed out on every device."), "info")
    return redirect(url_for("portal.login"))


# The staff pages' views, in the portal's realm: the language switch, and "forgot password" for client users.
bp.add_url_rule("/language", "set_language", views.set_language, methods=["POST"])
bp.add_url_rule("/password/forgot", "forgot_password", password_reset.forgot, methods=["GET", "POST"])
bp.add_url_rule("/password/reset/<token>", "reset_password", password_reset.reset, methods=["GET", "POST"])
