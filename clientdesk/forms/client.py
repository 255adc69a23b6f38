"""Rules that span several fields of a client, shared by the admin form, the wizard and the import."""
from flask_babel import gettext as _

from . import validators as v


def clean_identity(country, enterprise_number, vat_number) -> tuple[dict, dict]:
    """Normalise country, enterprise number and VAT number together.

    Returns (values, errors), each keyed by field name. For Belgium a VAT number alone gives the
    enterprise number, an enterprise number alone gives the VAT number, and when both are given
    they must be the same number.
    """
    values, errors = {}, {}
    try:
        values["country"] = v.country(country or v.DEFAULT_COUNTRY)
    except v.InvalidValue as error:
        errors["country"] = str(error)
        return values, errors
    country = values["country"]
    number = vat = None
    if enterprise_number not in (None, ""):
        try:
            number = v.enterprise_number(enterprise_number, country)
        except v.InvalidValue as error:
            errors["enterprise_number"] = str(error)
    if vat_number not in (None, ""):
        try:
            vat = v.vat_number(vat_number, country)
        except v.InvalidValue as error:
            errors["vat_number"] = str(error)
    if country == "BE" and not errors:
        if vat and number and not v.vat_matches_enterprise_number(vat, number):
            errors["vat_number"] = _("VAT number %(vat)s does not match enterprise number %(number)s.",
                                     vat=vat, number=v.format_enterprise_number(number))
        elif vat and not number:
            number = vat[2:]
        elif number and not vat:
            vat = "BE" + number
    values["enterprise_number"] = number
    values["vat_number"] = vat
    return values, errors
