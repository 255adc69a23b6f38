"""Sign-in, sign-out and the language of the portal (the shared machinery is in signin.py)."""
from flask import flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import password_reset, signin, views
from ..auth import login_page
from ..models import ClientUser
from . import bp


@bp.route("/login", methods=["GET", "POST"])
def login():
    return login_page("portal/login.html", "portal.home", _signed_in)


def _signed_in(client_user: ClientUser, next_url: str | None):
    signin.finish_sign_in(client_user)
    return redirect(next_url or url_for("portal.home"))


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
