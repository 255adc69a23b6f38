"""The company's client users in the portal: everyone sees the list; an owner invites a colleague and removes a user
(client_users.py). Members get no buttons, and their POSTs answer 403."""
from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from .. import client_users
from ..errors import QueueUnavailable, Refused
from ..extensions import db
from ..forms import validators as v
from ..forms.contact import LANGUAGE_CHOICES
from ..jobs.lifecycle import run_send_invitations
from ..models import ClientUser, ClientUserRole
from ..models.invitation import INVITATION_VALID_DAYS
from ..tasks import launch
from . import bp, own, own_company


class InviteForm(FlaskForm):
    first_name = StringField(_l("First name"), validators=[DataRequired(), Length(max=80)])
    last_name = StringField(_l("Last name"), validators=[DataRequired(), Length(max=80)])
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254), v.wtforms_validator(v.email)])
    role = SelectField(_l("Role"), choices=[SelectChoice(role.value, role.label) for role in ClientUserRole],
                       default=ClientUserRole.MEMBER.value)
    language = SelectField(_l("Language"), choices=LANGUAGE_CHOICES, validators=[DataRequired(), v.wtforms_validator(v.locale)])


def _require_owner() -> None:
    if not current_user.is_owner:
        abort(403)


def users_page(status: int = 200, form: InviteForm | None = None):
    client = own_company()
    if form is None:
        form = InviteForm(formdata=None, language=f"{current_user.ui_language or 'fr'}-BE")
    return render_template("portal/users.html", client=client, users=client.client_users, form=form,
                           invitations=client_users.open_invitations(client), valid_days=INVITATION_VALID_DAYS), status


@bp.route("/users")
@login_required
def users():
    return users_page()


@bp.route("/users/invite", methods=["POST"])
@login_required
def invite_user():
    _require_owner()
    client, form = own_company(), InviteForm()
    if not form.validate_on_submit():
        return users_page(400, form)
    try:
        invitation = client_users.invite(client, current_user._get_current_object(), form.first_name.data.strip(),
                                         form.last_name.data.strip(), form.email.data, form.role.data, form.language.data)
        launch("colleague_invite", _("Invitation of %(email)s to %(name)s", email=form.email.data, name=client.name),
               run_send_invitations, [invitation.id], client=client, total=1, queue="mail")  # commits
    except (Refused, QueueUnavailable) as refusal:
        db.session.rollback()
        form.form_errors.append(str(refusal))
        return users_page(503 if isinstance(refusal, QueueUnavailable) else 400, form)
    flash(_("The invitation e-mail to %(email)s is on its way.", email=form.email.data), "success")
    return redirect(url_for("portal.users"), 303)


@bp.route("/users/<int:client_user_id>/remove", methods=["POST"])
@login_required
def remove_user(client_user_id: int):
    client_user = own(ClientUser, client_user_id)
    _require_owner()
    try:
        client_users.remove(client_user, current_user._get_current_object())
    except Refused as refusal:
        db.session.rollback()
        flash(str(refusal), "error")
        return users_page(400)
    db.session.commit()
    flash(_("%(name)s can no longer sign in.", name=client_user), "success")
    return redirect(url_for("portal.users"), 303)
