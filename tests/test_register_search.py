"""Company register search (LocalRegister over the sample extract): numbers in any format, names with accents."""
import pytest

from clientdesk.services.kbo_loader import SAMPLE, load_register
from clientdesk.services.register import LocalRegister, fold, search_text


@pytest.fixture
def register(db_session):
    load_register(SAMPLE)
    return LocalRegister()


def names(companies):
    return [c.name for c in companies]


@pytest.mark.parametrize("typed", ["BE0403170701", "0403.170.701", "403170701", "0403170701", "BE 0403.170.701", "be0403 170 701"])
def test_number_in_any_format(register, typed):
    assert [c.enterprise_number for c in register.search(typed)] == ["0403170701"]


def test_numbers_of_the_1_series_and_prefixes(register):
    assert names(register.search("1001.234.592")) == ["Boulangerie Lefèvre-Dubois"]
    assert names(register.search("0403.17")) == ["Electrabel"]
    assert [c.enterprise_number[:4] for c in register.search("0403")] == ["0403", "0403", "0403"]
    assert register.search("403.2")[0].name == "KBC Groep"  # the leading 0 may be left out


def test_a_number_with_wrong_check_digits_or_unknown_finds_nothing(register):
    assert register.search("0403.170.702") == []
    assert register.search("0417.497.007") == []


@pytest.mark.parametrize("typed", ["lefèvre-dubois", "LEFEVRE DUBOIS", "Lefevre-Dubois", "boulangerie lefevre", "BOULANGERIE LEFÈVRE"])
def test_name_search_ignores_accents_case_and_punctuation(register, typed):
    assert "Boulangerie Lefèvre-Dubois" in names(register.search(typed))


def test_word_prefixes_match_anywhere_in_the_name(register):
    assert names(register.search("brass lef")) == ["Brasserie Lefèvre & Fils"]
    assert names(register.search("fils lef")) == ["Brasserie Lefèvre & Fils"]
    assert "Bäckerei Müller" in names(register.search("backerei"))
    assert "Bäckerei Müller" in names(register.search("müll bäck"))


def test_abbreviations_trade_names_and_other_languages(register):
    isbw = register.search("isbw")
    assert names(isbw) == ["Intercommunale Sociale du Brabant wallon"] and isbw[0].matched_name == "I.S.B.W."
    assert names(register.search("I.S.B.W.")) == ["Intercommunale Sociale du Brabant wallon"]
    assert names(register.search("toitures", language="nl")) == ["Dakwerken Peeters"]
    assert names(register.search("dakwerken peeters", language="fr")) == ["Toitures Peeters"]


def test_best_match_first(register):
    # The exact name, then names starting with the query, then names containing it.
    assert names(register.search("farys"))[0] == "Farys"
    results = names(register.search("brasserie"))
    assert results[0].startswith("Brasserie")
    peeters = register.search("peeters", limit=50)
    starting = [c for c in peeters if fold(c.matched_name or c.name).startswith("peeters")]
    assert peeters[:len(starting)] == starting


def test_the_company_has_what_the_wizard_fills_in(register):
    company = register.get("1001234592", language="fr")
    assert company.name == "Boulangerie Lefèvre-Dubois" and company.language == "fr"
    assert company.vat_number == "BE1001234592" and company.display_number == "1001.234.592"
    assert company.legal_form == "Société à responsabilité limitée" and company.legal_form_code == "610"
    address = (company.street, company.house_number, company.box, company.postal_code, company.city)
    assert address == ("Rue du Château", "12", "B", "5000", "Namur")
    assert company.website == "https://www.lefevre-dubois.example.com"
    assert company.email == "bonjour@lefevre-dubois.example.com"
    assert company.address_line == "Rue du Château 12 box B, 5000 Namur"
    # A Dutch name gives the Dutch street and town names and legal form.
    dutch = register.get("0987654394", language="nl")
    assert (dutch.name, dutch.street, dutch.city, dutch.legal_form) == (
        "Dakwerken Peeters", "Kerkstraat", "Brussel", "Besloten vennootschap")
    assert dutch.other_names == ("Toitures Peeters",)
    french = register.get("0987654394", language="fr")
    assert (french.name, french.street, french.city) == ("Toitures Peeters", "Rue de l'Église", "Bruxelles")
    assert register.get("0417497007") is None


def test_natural_persons_have_no_legal_form(register):
    person = next(c for c in register.search("peeters", limit=50) if c.natural_person)
    assert person.legal_form is None and person.street is None


def test_known_numbers(register):
    assert register.known_numbers(["0403170701", "1001234592", "0417497007"]) == {"0403170701", "1001234592"}


def test_an_empty_register_answers_nothing(db_session):
    register = LocalRegister()
    assert register.info().loaded is False
    assert register.search("electrabel") == [] and register.get("0403170701") is None
    assert register.known_numbers(["0403170701"]) == set()


def test_search_text_folds_names_for_the_index():
    assert search_text("Lefèvre & Fils S.A.") == "lefevre fils s a sa"
    assert search_text("D'Ieteren") == "d ieteren dieteren"
    assert search_text("Straße Œuvre ÄRZTE") == "strasse oeuvre arzte"
