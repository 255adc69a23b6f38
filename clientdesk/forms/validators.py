"""One function per kind of value: each takes what a person typed (or a spreadsheet cell held) and
returns the stored form, or raises `InvalidValue` with a message that says what is wrong.

Used by the admin forms (through `wtforms_validator`), the new-client wizard and the import. The
messages are in the language in force (the request's, or the job's: see tasks.py).
"""
import functools
import re

import email_validator
import phonenumbers
import pycountry
from babel import Locale, UnknownLocaleError
from flask_babel import gettext as _
from stdnum import iban as stdnum_iban
from stdnum.be import iban as stdnum_be_iban, vat as be_vat
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength, ValidationError
from wtforms.validators import ValidationError as FormValidationError

SUPPORTED_LANGUAGES = ("fr", "nl", "de", "en")
DEFAULT_COUNTRY = "BE"
# Longer than any way of writing a Belgian number ("BE 0403.170.701 "); python-stdnum would read such digits as one
# integer, which Python refuses past 4,300 digits.
MAX_NUMBER_TEXT = 30


class InvalidValue(ValueError):
    """A value that cannot be stored; str() is the message for the person who typed it."""


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a number that Excel stored as 417497106.0
    return str(value).strip()


def enterprise_number(value, country: str = DEFAULT_COUNTRY) -> str:
    """A Belgian enterprise number as its 10 digits (`BE 0403.170.701`, `403170701` → `0403170701`).

    For other countries the number is kept as typed, without spaces.
    """
    text = _text(value)
    if not text:
        raise InvalidValue(_("Enterprise number is missing."))
    if country.upper() != "BE":
        return re.sub(r"\s", "", text).upper()
    return _belgian_digits(text, vat=False)


def _belgian_digits(text: str, vat: bool) -> str:
    """The 10 digits of a Belgian enterprise number, or of a VAT number (`vat`: the messages say so).
    python-stdnum accepts separators, a BE prefix and the old 9-digit form; its reasons are told apart
    from the most precise (InvalidLength is a kind of InvalidFormat)."""
    try:
        if len(text) > MAX_NUMBER_TEXT:
            raise InvalidLength()
        return be_vat.validate(text)
    except InvalidLength:
        shown = text if len(text) <= MAX_NUMBER_TEXT else text[:MAX_NUMBER_TEXT] + "…"
        raise InvalidValue(
            _("“%(value)s” is not a VAT number: it must have BE and 10 digits (e.g. BE0403.170.701).", value=shown)
            if vat else _("“%(value)s” is not an enterprise number: it must have 10 digits (e.g. 0403.170.701).",
                          value=shown)) from None
    except InvalidComponent:
        raise InvalidValue(
            _("“%(value)s” is not a VAT number: its 10 digits must start with 0 or 1.", value=text)
            if vat else _("“%(value)s” is not an enterprise number: it must start with 0 or 1.", value=text)) from None
    except InvalidChecksum:
        raise InvalidValue(
            _("“%(value)s” is not a valid VAT number: the check digits do not match.", value=text)
            if vat else _("“%(value)s” is not a valid enterprise number: the check digits do not match.", value=text)) from None
    except InvalidFormat:
        if be_vat.compact(text).isdigit():  # digits, yet refused: all zeros, or digits other than 0-9
            raise InvalidValue(_("“%(value)s” is not a valid VAT number.", value=text) if vat
                               else _("“%(value)s” is not a valid enterprise number.", value=text)) from None
        raise InvalidValue(
            _("“%(value)s” is not a VAT number: after BE it may only contain digits (e.g. BE0403.170.701).", value=text)
            if vat else _("“%(value)s” is not an enterprise number: it may only contain digits (e.g. 0403.170.701).",
                          value=text)) from None


def vat_number(value, country: str = DEFAULT_COUNTRY) -> str:
    """A VAT number in its stored form: `BE` followed by the 10-digit enterprise number for Belgium."""
    text = _text(value)
    if not text:
        raise InvalidValue(_("VAT number is missing."))
    if country.upper() != "BE":
        compact = re.sub(r"[\s.\-]", "", text).upper()
        if not compact.startswith(country.upper()):
            compact = country.upper() + compact
        return compact
    upper = text.upper().replace(" ", "")
    if upper[:2].isalpha() and not upper.startswith("BE"):
        raise InvalidValue(_("“%(value)s” is not a Belgian VAT number: it must start with BE.", value=text))
    return "BE" + _belgian_digits(text, vat=True)


def vat_matches_enterprise_number(vat: str, number: str) -> bool:
    """Whether a Belgian VAT number (stored form) belongs to the enterprise number (stored form)."""
    return vat == "BE" + number


def format_enterprise_number(number: str | None, country: str = DEFAULT_COUNTRY) -> str:
    """`0403170701` → `0403.170.701` (Belgian numbers only; others are shown as stored)."""
    if not number:
        return ""
    if country == "BE" and len(number) == 10 and number.isdigit():
        return f"{number[:4]}.{number[4:7]}.{number[7:]}"
    return number


def iban(value) -> str:
    """An IBAN in its compact stored form (`BE68 5390 0754 7034` → `BE68539007547034`). python-stdnum checks its
    check digits and its country's format, and for a Belgian IBAN its national check digits and bank code."""
    text = _text(value)
    if not text:
        raise InvalidValue(_("IBAN is missing."))
    number = stdnum_iban.compact(text)
    # stdnum.iban.validate hands a Belgian IBAN over to stdnum.be.iban.validate, which makes all its checks again:
    # Belgian IBANs, nearly all of a Belgian firm's, go to the latter directly.
    checks = stdnum_be_iban if number.startswith("BE") else stdnum_iban
    try:
        return checks.validate(number)
    except InvalidChecksum:
        raise InvalidValue(_("“%(value)s” is not a valid IBAN: the check digits do not match.", value=text)) from None
    except (InvalidLength, InvalidFormat):
        raise InvalidValue(_("“%(value)s” is not a valid IBAN: wrong length or format for its country.", value=text)) from None
    except (InvalidComponent, ValidationError):
        raise InvalidValue(_("“%(value)s” is not a valid IBAN: the account number is not valid for its country.",
                             value=text)) from None


def sender_pattern(value) -> str:
    """An allowed sender: an e-mail address, or a domain as `@example.com`, lower-case."""
    pattern = _text(value).lower()
    if pattern.startswith("@"):
        if "." not in pattern[1:] or " " in pattern:
            raise InvalidValue(_("A domain pattern looks like @example.com."))
        return pattern
    return email(pattern)


def format_iban(value: str | None) -> str:
    return stdnum_iban.format(value) if value else ""


def phone(value, country: str = DEFAULT_COUNTRY) -> str:
    """A phone number in E.164 (`0478 11 22 33`, `+32 478 11 22 33` → `+32478112233`)."""
    text = _text(value)
    if not text:
        raise InvalidValue(_("Phone number is missing."))
    try:
        parsed = phonenumbers.parse(text, country.upper())
    except phonenumbers.NumberParseException:
        raise InvalidValue(_("“%(value)s” is not a phone number.", value=text)) from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidValue(_("“%(value)s” is not a valid phone number (write it as +32 478 11 22 33).", value=text))
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def format_phone(value: str | None) -> str:
    if not value:
        return ""
    return phonenumbers.format_number(phonenumbers.parse(value), phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def email(value) -> str:
    """An e-mail address, syntax checked only (no DNS lookup), with the domain lower-cased."""
    text = _text(value)
    if not text:
        raise InvalidValue(_("E-mail address is missing."))
    try:
        result = email_validator.validate_email(text, check_deliverability=False)
    except email_validator.EmailNotValidError as error:
        # The library's reason stays in English (it has no translations).
        raise InvalidValue(_("“%(value)s” is not a valid e-mail address: %(reason)s", value=text, reason=error)) from None
    return result.normalized.lower()


@functools.lru_cache(maxsize=512)
def country(value) -> str:
    """An ISO 3166-1 alpha-2 country code, upper-case (`be` → `BE`)."""
    text = _text(value).upper()
    if not text:
        raise InvalidValue(_("Country is missing."))
    if len(text) != 2 or pycountry.countries.get(alpha_2=text) is None:
        raise InvalidValue(_("“%(value)s” is not a country code: use two letters such as BE, NL, FR.", value=_text(value)))
    return text


@functools.lru_cache(maxsize=512)
def locale(value, default_country: str = DEFAULT_COUNTRY) -> str:
    """A language locale such as `fr-BE` (`fr-be`, `fr_BE`, `FR` → `fr-BE`, `fr-BE`, `fr-BE`)."""
    text = _text(value)
    if not text:
        raise InvalidValue(_("Language is missing."))
    parts = re.split(r"[-_]", text)
    language = parts[0].lower()
    region = parts[1].upper() if len(parts) > 1 else default_country
    supported = ", ".join(f"{lang}-BE" for lang in SUPPORTED_LANGUAGES)
    if len(parts) > 2 or language not in SUPPORTED_LANGUAGES:
        raise InvalidValue(_("“%(value)s” is not a supported language: use one of %(supported)s.", value=text, supported=supported))
    try:
        Locale.parse(f"{language}_{region}")
    except (UnknownLocaleError, ValueError):
        raise InvalidValue(_("“%(value)s” is not a known locale: use one of %(supported)s.", value=text, supported=supported)) from None
    if pycountry.countries.get(alpha_2=region) is None:
        raise InvalidValue(_("“%(value)s” is not a known locale: use one of %(supported)s.", value=text, supported=supported))
    return f"{language}-{region}"


# Postal code formats of the firm's neighbours: (pattern of the compact form, how it is stored, an example).
POSTAL_CODES = {
    "BE": (r"[1-9]\d{3}", lambda m: m.group(0), "1000"),
    "LU": (r"(?:L-?)?(\d{4})", lambda m: m.group(1), "1611"),
    # Files often hold only the digits of a Dutch postcode: they are kept as they are.
    "NL": (r"([1-9]\d{3}) ?([A-Z]{2})?", lambda m: " ".join(filter(None, m.groups())), "1012 AB"),
    "FR": (r"\d{5}", lambda m: m.group(0), "75001"),
    "DE": (r"\d{5}", lambda m: m.group(0), "10115"),
}


def postal_code(value, country: str = DEFAULT_COUNTRY) -> str:
    """A postal code as its country writes it (`1000` in BE, `1012 AB` in NL, `1611` for `L-1611` in LU);
    elsewhere 2 to 12 letters, digits, spaces or dashes, upper-case."""
    text = _text(value).upper()
    if not text:
        raise InvalidValue(_("Postal code is missing."))
    known = POSTAL_CODES.get((country or DEFAULT_COUNTRY).upper())
    if known is None:
        if not re.fullmatch(r"[A-Z0-9][A-Z0-9 -]{0,10}[A-Z0-9]", text):
            raise InvalidValue(_("“%(value)s” is not a postal code: use 2 to 12 letters, digits, spaces or dashes.",
                                 value=_text(value)))
        return text
    pattern, stored, example = known
    match = re.fullmatch(pattern, text)
    if match is None:
        raise InvalidValue(_("“%(value)s” is not a postal code of %(country)s (e.g. %(example)s).", value=_text(value),
                             country=country.upper(), example=example))
    return stored(match)


def yes_no(value) -> bool:
    """Oui/Non, Ja/Nee, Yes/No, 1/0, true/false (any case) as a boolean."""
    text = _text(value).lower()
    if text in {"oui", "o", "yes", "y", "ja", "j", "1", "true", "vrai", "waar"}:
        return True
    if text in {"non", "n", "no", "nee", "0", "false", "faux", "onwaar"}:
        return False
    raise InvalidValue(_("“%(value)s” is not Oui or Non.", value=_text(value)))


def wtforms_validator(normalise, **kwargs):
    """Wrap a normaliser as a WTForms validator that also stores the normalised value on the field.

    Empty values pass (use DataRequired/InputRequired for required fields).
    """

    def validate(form, field):
        if field.data in (None, ""):
            field.data = None
            return
        try:
            field.data = normalise(field.data, **kwargs)
        except InvalidValue as error:
            raise FormValidationError(str(error)) from None

    return validate


def offered_users_only(form, field):
    """A pick-list answers only what it offered: Flask-Admin's query select fields drop a submitted id that is not
    among their choices (a deactivated user, a tampered form) without a word; this says so instead."""
    offered = {str(choice[0]) for choice in field.iter_choices()}
    if any(value not in offered for value in field.raw_data or () if value):
        raise FormValidationError(_("Choose one of the users offered."))
