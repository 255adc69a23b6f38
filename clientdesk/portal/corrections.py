"""Corrections the client proposes to what only the firm edits (clientdesk/proposals.py): the legal name and address, a
contact, a new contact; and what became of them. The forms use the back office's validators (the contact form is the
back office's, without what the firm decides)."""
from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from .. import proposals, scoping
from ..errors import Refused
from ..extensions import db
from ..forms.contact import ContactForm
from ..models import ChangeProposal, Client, Contact, ProposalSubject
from . import bp, own, own_company
from .onboarding import _column_length

MAX_COMMENT = 2000


class CompanyCorrectionForm(FlaskForm):
    name = StringField(_l("Legal name"), validators=[DataRequired(), _column_length("name")])
    street = StringField(_l("Street"), validators=[Optional(), _column_length("street")])
    house_number = StringField(_l("Number"), validators=[Optional(), _column_length("house_number")])
    box = StringField(_l("Box"), validators=[Optional(), _column_length("box")])
    address_line2 = StringField(_l("Address line 2"), validators=[Optional(), _column_length("address_line2")])
    postal_code = StringField(_l("Postal code"), validators=[Optional(), _column_length("postal_code")])
    city = StringField(_l("City"), validators=[Optional(), _column_length("city")])
    comment = TextAreaField(_l("Comment for the firm"), validators=[Optional(), Length(max=MAX_COMMENT)])


class ContactCorrectionForm(ContactForm):
    civility = language = source = None  # the firm's to set
    comment = TextAreaField(_l("Comment for the firm"), validators=[Optional(), Length(max=MAX_COMMENT)])


def _values(form, fields) -> dict:
    return {field: (form[field].data or "").strip() or None for field in fields}


def corrections_page(client: Client, status: int = 200, company_form=None):
    company_form = company_form or CompanyCorrectionForm(formdata=None, obj=client)
    mine = db.session.scalars(scoping.portal_rows(ChangeProposal, current_user)
                              .order_by(ChangeProposal.created_at.desc(), ChangeProposal.id.desc())).all()
    return render_template("portal/corrections.html", client=client, company_form=company_form, proposals=mine,
                           lines=proposals.lines), status


def contact_page(client: Client, contact: Contact | None, form, status: int = 200):
    return render_template("portal/correction_contact.html", client=client, contact=contact, form=form), status


def _proposed(form, make) -> bool:
    """Validate `form` and `make` the proposal; False when refused (the reason on the form), nothing written."""
    if not form.validate_on_submit():
        return False
    try:
        make()
    except Refused as refusal:
        db.session.rollback()
        form.form_errors.append(str(refusal))
        return False
    db.session.commit()
    flash(_("Thank you: your correction is sent to the firm, who will check it."), "success")
    return True


@bp.route("/corrections")
@login_required
def corrections():
    return corrections_page(own_company())


@bp.route("/corrections/company", methods=["POST"])
@login_required
def propose_company_correction():
    client = own_company()
    form = CompanyCorrectionForm(obj=client)  # a field left out of the post keeps its value
    if _proposed(form, lambda: proposals.propose(client, current_user, ProposalSubject.COMPANY.value,
                                                 _values(form, proposals.COMPANY_FIELDS), comment=form.comment.data)):
        return redirect(url_for("portal.corrections"), 303)
    return corrections_page(client, 400, form)


def _contact_correction(contact: Contact | None):
    client = own_company()
    form = ContactCorrectionForm(obj=contact)
    if not form.is_submitted():
        return contact_page(client, contact, form)
    subject = (ProposalSubject.NEW_CONTACT if contact is None else ProposalSubject.CONTACT).value
    if _proposed(form, lambda: proposals.propose(client, current_user, subject, _values(form, proposals.CONTACT_FIELDS),
                                                 contact=contact, comment=form.comment.data)):
        return redirect(url_for("portal.corrections"), 303)
    return contact_page(client, contact, form, 400)


@bp.route("/corrections/contacts/new", methods=["GET", "POST"])
@login_required
def propose_new_contact():
    return _contact_correction(None)


@bp.route("/corrections/contacts/<int:contact_id>", methods=["GET", "POST"])
@login_required
def propose_contact_correction(contact_id: int):
    return _contact_correction(own(Contact, contact_id))


@bp.route("/corrections/<int:proposal_id>/withdraw", methods=["POST"])
@login_required
def withdraw_correction(proposal_id: int):
    proposal, client = own(ChangeProposal, proposal_id), own_company()
    try:
        proposals.withdraw(proposal)
    except Refused as refusal:
        db.session.rollback()
        flash(str(refusal), "error")
        return corrections_page(client, 400)
    db.session.commit()
    flash(_("Your correction is withdrawn."), "success")
    return redirect(url_for("portal.corrections"), 303)
