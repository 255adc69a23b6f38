"""The new-client wizard's forms: step 1 the company, step 2 the details. Field checks use the shared
normalisers (forms/validators.py) and clean_identity; rules that need the database are in onboarding.py."""
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, Form, HiddenField, SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional

from ..models import CompanyType, SubscriptionMode
from ..web_input import record_id
from . import select_choices_of, validators as v
from .client import clean_identity

LANGUAGE_NAMES = {"fr-BE": "Français (fr-BE)", "nl-BE": "Nederlands (nl-BE)", "de-BE": "Deutsch (de-BE)", "en-BE": "English (en-BE)"}
CIVILITY_CHOICES = [SelectChoice("", "—"), SelectChoice("mr", _l("Mr")), SelectChoice("ms", _l("Ms")), SelectChoice("mx", _l("Mx"))]


class WizardForm(Form):
    def checked(self) -> bool:
        valid = self.validate()
        for field in self:  # lazy messages as text: the admin templates only show string errors
            field.errors = [str(error) for error in field.errors]
        return valid


class CompanyForm(WizardForm):
    name = StringField(_l("Legal name"), [InputRequired(_l("The legal name is missing.")), Length(max=200)],
                       description=_l("The name the client sees."))
    country = StringField(_l("Country"), [InputRequired(_l("The country is missing.")), Length(max=60)], default="BE",
                          description=_l("Two letters: BE, NL, FR, …"))
    enterprise_number = StringField(_l("Enterprise number"), [Length(max=30)])
    vat_number = StringField(_l("VAT number"), [Length(max=30)])
    skip_vat_check = BooleanField(
        _l("Don't verify VAT"),
        description=_l("For a company too new to be in the company register: the check digits are still checked, "
                       "and the client is checked again after each register load."),
    )
    legal_form = StringField(_l("Legal form"), [Length(max=120)])
    company_type = SelectField(_l("Company type"), choices=[SelectChoice("", "—"), *select_choices_of(CompanyType)], default="")
    street = StringField(_l("Street"), [Length(max=120)])
    house_number = StringField(_l("Number"), [Length(max=20)])
    box = StringField(_l("Box"), [Length(max=20)])
    address_line2 = StringField(_l("Address line 2"), [Length(max=120)])
    postal_code = StringField(_l("Postal code"), [Length(max=12)])
    city = StringField(_l("City"), [Length(max=80)])
    website = StringField(_l("Website"), [Length(max=200)])

    def values(self) -> dict | None:
        """The normalised company, or None with the errors on the fields."""
        valid = self.checked()
        identity, errors = clean_identity(self.country.data, self.enterprise_number.data, self.vat_number.data)
        for name, message in errors.items():
            getattr(self, name).errors = [*getattr(self, name).errors, message]
        if not valid or errors:
            return None
        values = {name: (field.data or "").strip() or None for name, field in self._fields.items() if name != "skip_vat_check"}
        values.update(identity, skip_vat_check=bool(self.skip_vat_check.data))
        return values


class DetailsForm(WizardForm):
    template = SelectField(_l("Configuration template"), choices=[], validate_choice=False,
                           description=_l("Its integration, delivery and Peppol choices are copied onto the client."))
    prefilled_template = HiddenField(validators=[Length(max=20)])  # the template whose defaults the fields below show
    civility = SelectField(_l("Civility"), choices=CIVILITY_CHOICES)
    first_name = StringField(_l("Contact first name"), [InputRequired(_l("The contact's first name is missing.")), Length(max=80)])
    last_name = StringField(_l("Contact last name"), [InputRequired(_l("The contact's last name is missing.")), Length(max=80)])
    email = StringField(_l("Contact e-mail"), [InputRequired(_l("The contact's e-mail address is missing.")), Length(max=254),
                                               v.wtforms_validator(v.email)],
                        description=_l("The invitation goes to this address."))
    mobile = StringField(_l("Contact mobile"), [Optional(), Length(max=40), v.wtforms_validator(v.phone)],
                         description="+32 478 11 22 33")
    language = SelectField(_l("Language"), choices=[SelectChoice(code, name) for code, name in LANGUAGE_NAMES.items()],
                           validators=[v.wtforms_validator(v.locale)],
                           description=_l("Of the client and its contact: e-mails and the app use it."))
    group = SelectField(_l("Group"), [InputRequired(_l("Choose the client's group."))], choices=[], validate_choice=False)
    firm_contact = SelectField(_l("Firm contact person"), choices=[], validate_choice=False)
    subscription_mode = SelectField(_l("Subscription"), choices=select_choices_of(SubscriptionMode))
    e_invoicing_mandate = BooleanField(_l("I have a signed e-invoicing (Peppol) mandate from this client"))
    iban = StringField(_l("Bank account (IBAN)"), [Optional(), Length(max=50), v.wtforms_validator(v.iban)],
                       description=_l("Required when the subscription is managed by the firm."))

    def values(self) -> dict | None:
        """The normalised details (ids as ints), or None with the errors on the fields."""
        if not self.checked():
            return None
        return {
            "template_id": record_id(self.template.data),
            "civility": self.civility.data or None,
            "first_name": self.first_name.data.strip(),
            "last_name": self.last_name.data.strip(),
            "email": self.email.data,
            "mobile": self.mobile.data or None,
            "language": self.language.data,
            "group_id": record_id(self.group.data),
            "firm_contact_id": record_id(self.firm_contact.data),
            "subscription_mode": self.subscription_mode.data,
            "e_invoicing_mandate": bool(self.e_invoicing_mandate.data),
            "iban": self.iban.data or None,
        }

