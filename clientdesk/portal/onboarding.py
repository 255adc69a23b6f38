"""The onboarding checklist's forms: each posts here, changes one thing (portal/checklist.py) and comes back to the
portal's home; refused input is shown there, with nothing written."""
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length, Optional

from .. import checklist as shared_checklist, plans
from ..einvoicing import launch_registration
from ..errors import QueueUnavailable, Refused
from ..extensions import db
from ..forms import validators as v
from ..models import AllowedSender, BankAccount, Client, Plan
from . import bp, checklist, own, own_company


class PlanForm(FlaskForm):
    plan = StringField()  # a plan's id; plans.choose refuses any other


class BankAccountForm(FlaskForm):
    iban = StringField("IBAN", validators=[DataRequired(), Length(max=60), v.wtforms_validator(v.iban)])


def _column_length(name: str) -> Length:
    return Length(max=getattr(Client, name).type.length)


class BillingAddressForm(FlaskForm):
    billing_street = StringField(_l("Street"), validators=[DataRequired(), _column_length("billing_street")])
    billing_house_number = StringField(_l("Number"), validators=[Optional(), _column_length("billing_house_number")])
    billing_box = StringField(_l("Box"), validators=[Optional(), _column_length("billing_box")])
    billing_postal_code = StringField(_l("Postal code"), validators=[DataRequired(), _column_length("billing_postal_code")])
    billing_city = StringField(_l("City"), validators=[DataRequired(), _column_length("billing_city")])
    billing_country = StringField(_l("Country"), default="BE", validators=[DataRequired(), Length(max=60),
                                                                          v.wtforms_validator(v.country)])


class MandateForm(FlaskForm):
    agree = BooleanField(_l("I give the e-invoicing mandate: the firm may receive our e-invoices through Peppol."),
                         validators=[DataRequired(message=_l("Tick the box to give the mandate."))])


class AllowedSenderForm(FlaskForm):
    pattern = StringField(_l("Address or @domain"), validators=[DataRequired(), Length(max=254),
                                                                v.wtforms_validator(v.sender_pattern)])


def home_page(client: Client, status: int = 200, **forms):
    """The portal's home with the checklist's forms (`forms`: the one just posted, with its errors)."""
    forms.setdefault("bank_account_form", BankAccountForm(formdata=None))
    forms.setdefault("billing_form", BillingAddressForm(formdata=None, obj=client) if client.billing_street
                     else BillingAddressForm(formdata=None))
    forms.setdefault("mandate_form", MandateForm(formdata=None))
    forms.setdefault("sender_form", AllowedSenderForm(formdata=None))
    forms.setdefault("plan_form", PlanForm(formdata=None))
    steps = shared_checklist.steps(client)
    return render_template("portal/home.html", client=client, steps=steps, progress=checklist.progress(steps),
                           plans=db.session.scalars(Plan.offered()).all(), can_choose_plan=plans.can_choose(client),
                           **forms), status


def apply_change(client: Client, form_name: str, form, change, done_message: str, validate: bool = True):
    """Validate `form` (unless it only shows the errors of a removal, whose CSRF token the app checks), make the
    `change`; done: commit and back home; refused: the home page with the reason (400; 503 when the change needs the
    background queue and it is down), nothing written."""
    status = 400
    if not validate or form.validate_on_submit():
        try:
            change()
        except (Refused, QueueUnavailable) as refusal:
            db.session.rollback()
            form.form_errors.append(str(refusal))
            status = 503 if isinstance(refusal, QueueUnavailable) else 400
        else:
            db.session.commit()
            flash(done_message, "success")
            return redirect(url_for("portal.home"), 303)
    return home_page(client, status, **{form_name: form})


@bp.route("/bank-accounts", methods=["POST"])
@login_required
def add_bank_account():
    client, form = own_company(), BankAccountForm()
    return apply_change(client, "bank_account_form", form, lambda: checklist.add_bank_account(client, form.iban.data),
                  _("The bank account is added."))


@bp.route("/bank-accounts/<int:bank_account_id>/delete", methods=["POST"])
@login_required
def remove_bank_account(bank_account_id: int):
    account, client = own(BankAccount, bank_account_id), own_company()
    return apply_change(client, "bank_account_form", BankAccountForm(formdata=None), lambda: checklist.remove_bank_account(account),
                  _("The bank account is removed."), validate=False)


@bp.route("/billing-address", methods=["POST"])
@login_required
def set_billing_address():
    client, form = own_company(), BillingAddressForm()
    return apply_change(client, "billing_form", form, lambda: checklist.set_billing_address(client, form.data),
                  _("The billing address is saved."))


@bp.route("/mandate", methods=["POST"])
@login_required
def give_mandate():
    client, form = own_company(), MandateForm()
    by = f"{current_user.full_name} <{current_user.email}>"
    return apply_change(client, "mandate_form", form, lambda: checklist.give_mandate(client, by, request.remote_addr),
                  _("Thank you: the e-invoicing mandate is recorded."))


@bp.route("/mandate/withdraw", methods=["POST"])
@login_required
def withdraw_mandate():
    client = own_company()

    def withdraw():
        if checklist.withdraw_mandate(client, current_app.config):
            launch_registration(_("Peppol receiving off for %(name)s (mandate withdrawn)", name=client.name), [client.id],
                                None, client=client)

    return apply_change(client, "mandate_form", MandateForm(formdata=None), withdraw,
                  _("The e-invoicing mandate is withdrawn: Peppol receiving is being turned off."), validate=False)


@bp.route("/allowed-senders", methods=["POST"])
@login_required
def add_allowed_sender():
    client, form = own_company(), AllowedSenderForm()
    return apply_change(client, "sender_form", form, lambda: checklist.add_allowed_sender(client, form.pattern.data),
                  _("The sender is allowed."))


@bp.route("/allowed-senders/<int:allowed_sender_id>/delete", methods=["POST"])
@login_required
def remove_allowed_sender(allowed_sender_id: int):
    sender, client = own(AllowedSender, allowed_sender_id), own_company()
    return apply_change(client, "sender_form", AllowedSenderForm(formdata=None), lambda: checklist.remove_allowed_sender(sender),
                  _("The sender is no longer allowed."), validate=False)
