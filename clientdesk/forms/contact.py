"""The contact form used outside the generic admin screens (replacing a client's primary contact)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from ..models.contact import ContactSource
from . import select_choices_of, validators as v

LANGUAGE_CHOICES = [SelectChoice("fr-BE", "Français"), SelectChoice("nl-BE", "Nederlands"), SelectChoice("de-BE", "Deutsch"),
                    SelectChoice("en-BE", "English")]
CIVILITY_CHOICES = [SelectChoice("", "—"), SelectChoice("mr", _l("Mr")), SelectChoice("ms", _l("Ms")), SelectChoice("mx", _l("Mx"))]


class ContactForm(FlaskForm):
    civility = SelectField(_l("Civility"), choices=CIVILITY_CHOICES, default="")
    first_name = StringField(_l("First name"), validators=[DataRequired(), Length(max=80)])
    last_name = StringField(_l("Last name"), validators=[DataRequired(), Length(max=80)])
    email = EmailField(_l("E-mail"), validators=[DataRequired(), v.wtforms_validator(v.email)])
    language = SelectField(_l("Language"), choices=LANGUAGE_CHOICES, validators=[DataRequired(), v.wtforms_validator(v.locale)])
    job_title = StringField(_l("Job title"), validators=[Length(max=120)])
    phone = StringField(_l("Direct phone"), validators=[v.wtforms_validator(v.phone)])
    mobile = StringField(_l("Mobile"), validators=[v.wtforms_validator(v.phone)])
    switchboard_phone = StringField(_l("Switchboard phone"), validators=[v.wtforms_validator(v.phone)])
    source = SelectField(_l("Source"), choices=[SelectChoice("", "—"), *select_choices_of(ContactSource)], default="")

    def contact_fields(self) -> dict:
        return {name: getattr(self, name).data or None for name in
                ("civility", "first_name", "last_name", "email", "language", "job_title", "phone", "mobile",
                 "switchboard_phone", "source")}
