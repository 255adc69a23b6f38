"""The invitation page a client's contact opens from the e-mail (no login), and what keeps a link for the
person it was sent to. The page speaks the contact's language (unless they choose another one on it) and is part of
the portal's realm (signin.py): accepting signs the new client user in to the portal."""
import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, session, url_for
from flask_babel import force_locale, lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms import BooleanField, PasswordField
from wtforms.validators import DataRequired, EqualTo

from . import client_users, signin
from .errors import Refused
from .extensions import db
from .i18n import language_of_locale, locale_of
from .lifecycle import ClientLifecycle, LifecycleError
from .models import Contact, Invitation, InvitationStatus
from .models.audit import record
from .models.invitation import OPEN_INVITATIONS
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


def _gone(invitation: Invitation, firm: str):
    return render_template("invitation/gone.html", reason=_unusable_reason(invitation), firm=firm,
                           sign_in=invitation.status == InvitationStatus.ACCEPTED), 410


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept(token: str):
    invitation = Invitation.by_token(token)
    firm = current_app.config["FIRM_NAME"]
    if invitation is None:
        reason = _l("This invitation link is not known. Check that you opened the whole link from the e-mail.")
        return render_template("invitation/gone.html", reason=reason, firm=firm), 404
    chosen = session.get("language")  # on this page, with its language switch
    with force_locale(locale_of(chosen or language_of_locale(invitation.contact.language))):
        if not invitation.is_usable:
            return _gone(invitation, firm)
        form = AcceptForm(invitation.contact)
        if form.validate_on_submit():
            accept = client_users.accept if invitation.is_colleague else ClientLifecycle.accept
            try:
                client_user = accept(invitation, form.password.data)
            except LifecycleError:  # accepted by another request a moment ago
                db.session.rollback()
                return _gone(invitation, firm)
            except Refused as refusal:  # AccessTaken, or a company left without an owner
                db.session.rollback()
                flash(str(refusal), "error")
                return render_template("invitation/accept.html", form=form, invitation=invitation, firm=firm,
                                       password_rule=RULE), 409
            db.session.commit()
            signin.finish_sign_in(client_user)
            return redirect(url_for("portal.home"))
        return render_template("invitation/accept.html", form=form, invitation=invitation, firm=firm, password_rule=RULE)


# session.info key: [(client id, address)] of the invitations voided since the session's last announcement.
VOIDED = "voided_invitations"


def _void_when_the_invited_person_changes(session: Session, flush_context, instances) -> None:
    """An open invitation is for its contact, at the address it was e-mailed to: the company's as the client's primary
    contact, a colleague's as a contact who is not primary. Whoever got the link could otherwise accept for someone
    else: when the contact's e-mail changes, when another contact becomes primary (or the contact stops being it), or
    when the contact is deleted, the contact's open invitations (and, for a change of primary, the company's) are
    voided, as "replace the primary contact" does, whatever path made the change
    (screens, import, CLI, jobs), each with a "void_invitation" event on the client. Runs before every flush."""
    contact_ids, client_ids = set(), set()
    for contact in session.dirty:
        if isinstance(contact, Contact):
            state = sa.inspect(contact)
            if state.attrs.email.history.has_changes():
                contact_ids.add(contact.id)
            if state.attrs.is_primary.history.has_changes():
                client_ids.add(contact.client_id)
                contact_ids.add(contact.id)  # a colleague's link is not for the primary contact either
    for contact in session.deleted:
        if isinstance(contact, Contact):
            contact_ids.add(contact.id)
    for contact in session.new:
        if isinstance(contact, Contact) and contact.is_primary:
            client_ids.add(contact.client_id or (contact.client.id if contact.client is not None else None))
    if not (contact_ids or client_ids):
        return
    open_invitations = session.scalars(sa.select(Invitation).where(
        Invitation.status.in_([status.value for status in OPEN_INVITATIONS]),
        sa.or_(Invitation.contact_id.in_(contact_ids), sa.and_(Invitation.client_id.in_(client_ids), Invitation.of_company()))))
    for invitation in open_invitations:
        email = sa.inspect(invitation.contact).attrs.email.history
        address = email.deleted[0] if email.deleted else invitation.contact.email
        invitation.void()
        record("void_invitation", invitation.client, {"to": address})
        session.info.setdefault(VOIDED, []).append((invitation.client_id, address))


def _forget_voided(session: Session, previous_transaction) -> None:
    session.info.pop(VOIDED, None)  # rolled back: nothing was voided


def voided_since_last_asked() -> list[tuple[int, str]]:
    """[(client id, address)] of the invitations voided by changes of their contact since the last call."""
    return db.session.info.pop(VOIDED, [])


def init_app(app) -> None:
    """Keep invitations with their person on every flush of the app's sessions. Idempotent."""
    session = app.extensions["sqlalchemy"].session
    if not sa.event.contains(session, "before_flush", _void_when_the_invited_person_changes):
        sa.event.listen(session, "before_flush", _void_when_the_invited_person_changes)
        sa.event.listen(session, "after_soft_rollback", _forget_voided)
