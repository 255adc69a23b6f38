"""The invitation page a client's contact opens from the e-mail (no login)."""
from flask import Blueprint, current_app, render_template
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField
from wtforms.validators import DataRequired, EqualTo

from .extensions import db
from .lifecycle import ClientLifecycle, LifecycleError
from .models import Contact, Invitation, InvitationStatus
from .passwords import RULE, AcceptablePassword

bp = Blueprint("invitation", __name__)


class AcceptForm(FlaskForm):
    """Built with the invited `contact`, whose e-mail and name the password may not contain."""

    password = PasswordField(_l("Choose a password"), validators=[DataRequired(), AcceptablePassword(
        lambda form: (form.contact.email, [form.contact.first_name, form.contact.last_name]))])
    password_confirm = PasswordField(_l("Repeat the password"), validators=[
        DataRequired(), EqualTo("password", message=_l("The two passwords are not the same."))])
    accept_terms = BooleanField(_l("I accept the terms of use"), validators=[DataRequired(message=_l("Please accept the terms of use."))])

    def __init__(self, contact: Contact, **kwargs):
        super().__init__(**kwargs)
        self.contact = contact


def _unusable_reason(invitation: Invitation) -> str:
    if invitation.status == InvitationStatus.ACCEPTED:
        return str(_l("This invitation has already been used. Sign in with the password you chose."))
    if invitation.status == InvitationStatus.VOIDED:
        return str(_l("This link was replaced by a newer invitation. Use the link in the most recent e-mail."))
    return str(_l("This invitation link has expired. Ask your accountant to send you a new one."))


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept(token: str):
    invitation = Invitation.by_token(token)
    firm = current_app.config["FIRM_NAME"]
    if invitation is None:
        reason = _l("This invitation link is not known. Check that you opened the whole link from the e-mail.")
        return render_template("invitation/gone.html", reason=reason, firm=firm), 404
    if not invitation.is_usable:
        return render_template("invitation/gone.html", reason=_unusable_reason(invitation), firm=firm), 410
    form = AcceptForm(invitation.contact)
    if form.validate_on_submit():
        try:
            client = ClientLifecycle.accept(invitation, form.password.data)
        except LifecycleError:  # accepted by another request a moment ago
            db.session.rollback()
            return render_template("invitation/gone.html", reason=_unusable_reason(invitation), firm=firm), 410
        db.session.commit()
        return render_template("invitation/accepted.html", client=client, firm=firm)
    return render_template("invitation/accept.html", form=form, invitation=invitation, firm=firm, password_rule=RULE)
