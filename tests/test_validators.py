import pytest

from clientdesk.forms import validators as v
from clientdesk.forms.client import clean_identity


@pytest.mark.parametrize("typed", ["BE 0403.170.701", "0403170701", "403170701", "0403.170.701", "be0403170701", 403170701, 403170701.0])
def test_enterprise_number_accepts_the_ways_people_type_it(typed):
    assert v.enterprise_number(typed) == "0403170701"


def test_enterprise_number_from_excel_float_is_zero_padded_not_multiplied():
    assert v.enterprise_number(417497106.0) == "0417497106"


def test_enterprise_numbers_of_the_1_series_are_valid():
    assert v.enterprise_number("1000.000.021") == "1000000021"


@pytest.mark.parametrize(
    "typed, message",
    [
        ("0403170702", "check digits"),
        ("12345", "10 digits"),
        ("2000000339", "start with 0 or 1"),
        ("04031707O1", "only contain digits"),
        ("", "missing"),
    ],
)
def test_enterprise_number_rejects_with_a_clear_message(typed, message):
    with pytest.raises(v.InvalidValue, match=message):
        v.enterprise_number(typed)


def test_foreign_enterprise_numbers_are_kept_as_typed():
    assert v.enterprise_number("KvK 1234 5678", "NL") == "KVK12345678"


def test_vat_number():
    assert v.vat_number("BE 0403.170.701") == "BE0403170701"
    assert v.vat_number("403170701") == "BE0403170701"
    with pytest.raises(v.InvalidValue, match="must start with BE"):
        v.vat_number("NL0403170701")
    with pytest.raises(v.InvalidValue, match="VAT number"):
        v.vat_number("BE0403170702")


def test_identity_rules_across_fields():
    values, errors = clean_identity("be", "403170701", None)
    assert errors == {} and values == {"country": "BE", "enterprise_number": "0403170701", "vat_number": "BE0403170701"}
    values, errors = clean_identity("BE", None, "BE0403.170.701")
    assert values["enterprise_number"] == "0403170701"
    _values, errors = clean_identity("BE", "0403170701", "BE0417497106")
    assert "does not match" in errors["vat_number"]
    _values, errors = clean_identity("XX", "0403170701", None)
    assert "country code" in errors["country"]


def test_iban():
    assert v.iban("BE71 0961 2345 6769") == "BE71096123456769"
    assert v.format_iban("BE71096123456769") == "BE71 0961 2345 6769"
    with pytest.raises(v.InvalidValue, match="check digits"):
        v.iban("BE71 0961 2345 6768")
    with pytest.raises(v.InvalidValue):
        v.iban("BE71")


def test_iban_errors_say_what_is_wrong():
    with pytest.raises(v.InvalidValue, match="wrong length or format"):
        v.iban("BE80 0961 2345 676")  # one digit short, IBAN check digits right
    with pytest.raises(v.InvalidValue, match="wrong length or format"):
        v.iban("BE28 0961 2345 67AB")
    with pytest.raises(v.InvalidValue, match="the account number is not valid for its country"):
        v.iban("BE83 1388 1173 5115")  # no Belgian bank has the code 138
    with pytest.raises(v.InvalidValue, match="check digits"):
        v.iban("BE41 0918 1173 5141")  # the Belgian check digits (the last two) wrong


def test_phone_is_stored_e164():
    assert v.phone("+32 478 11 22 33") == "+32478112233"
    assert v.phone("0478 11 22 33") == "+32478112233"
    assert v.phone("02 511 22 33") == "+3225112233"
    assert v.format_phone("+32478112233") == "+32 478 11 22 33"
    with pytest.raises(v.InvalidValue, match="not a valid phone number"):
        v.phone("12")


def test_email_checks_syntax_without_dns():
    assert v.email(" Jan.Peeters@Example.COM ") == "jan.peeters@example.com"
    assert v.email("someone@no-such-domain-for-sure.example") == "someone@no-such-domain-for-sure.example"
    with pytest.raises(v.InvalidValue, match="not a valid e-mail address"):
        v.email("jan@")


def test_country():
    assert v.country(" be ") == "BE"
    with pytest.raises(v.InvalidValue, match="two letters"):
        v.country("Belgium")
    with pytest.raises(v.InvalidValue):
        v.country("XX")


@pytest.mark.parametrize("typed, stored", [("fr-BE", "fr-BE"), ("fr-be", "fr-BE"), ("nl_BE", "nl-BE"), ("DE", "de-BE"), ("en-GB", "en-GB")])
def test_locale(typed, stored):
    assert v.locale(typed) == stored


def test_locale_rejects_unsupported_languages():
    with pytest.raises(v.InvalidValue, match="supported language"):
        v.locale("es-ES")
    with pytest.raises(v.InvalidValue):
        v.locale("fr-XX")


@pytest.mark.parametrize("typed, value", [
    ("Oui", True), ("oui", True), ("Ja", True), ("yes", True), ("Non", False), ("nee", False), (0, False)])
def test_yes_no(typed, value):
    assert v.yes_no(typed) is value


def test_an_allowed_sender_is_an_address_or_a_domain_for_the_back_office_and_the_portal():
    assert v.sender_pattern(" Supplier@Example.COM ") == "supplier@example.com"
    assert v.sender_pattern("@Example.com") == "@example.com"
    for refused in ("@example", "@exa mple.com", "not an address"):
        with pytest.raises(v.InvalidValue):
            v.sender_pattern(refused)
