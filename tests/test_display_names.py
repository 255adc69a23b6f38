"""Countries and languages by their name in the reader's language, never as codes (the export keeps the codes)."""
import html
import re

import pytest
import sqlalchemy as sa

from clientdesk.models import Contact, Role, User
from tests.helpers import portal_login

NAMES = {
    "en": ("Netherlands", "Dutch (Belgium)", "German (Belgium)"),
    "fr": ("Pays-Bas", "Néerlandais (Belgique)", "Allemand (Belgique)"),
    "nl": ("Nederland", "Nederlands (België)", "Duits (België)"),
    "de": ("Niederlande", "Niederländisch (Belgien)", "Deutsch (Belgien)"),
}


def cell(page: str, column: str) -> str:
    return html.unescape(re.search(rf'<td class="col-{column}">([^<]*)</td>', page).group(1)).strip()


@pytest.fixture
def dutch_company(make, store):
    client = make.client(make.group("Team"), name="Bakkerij Maes BV", country="NL", language="nl-BE", status="active",
                         city="Maastricht")
    store.run(lambda s: s.execute(sa.update(Contact).where(Contact.client_id == client.id).values(language="de-BE")))
    return client


@pytest.mark.parametrize("language", NAMES)
def test_list_and_client_page_name_country_and_language(make, store, as_user, dutch_company, language):
    country, client_language, contact_language = NAMES[language]
    user = make.user(Role.SUPERVISOR)
    store.update(User, user.id, ui_language=language)
    http = as_user(user)

    listed = http.get("/admin/client/").text
    page = re.sub(r"\s+", " ", html.unescape(http.get(f"/admin/client/details/?id={dutch_company.id}").text))

    assert cell(listed, "country") == country and cell(listed, "language") == client_language
    assert f"<td> {country} </td>" in page and f"<td> {client_language} </td>" in page  # "All details"
    assert f"<td>{contact_language}</td>" in page  # the contacts tab


@pytest.mark.parametrize("language", NAMES)
def test_portal_names_the_country(app, make, dutch_company, language):
    owner = make.client_user(dutch_company, ui_language=language)
    http = app.test_client()
    portal_login(http, owner.email)

    page = html.unescape(http.get("/portal/").text)

    assert f"Maastricht ({NAMES[language][0]})" in page


def test_export_keeps_the_codes(make, as_user, dutch_company):
    csv = as_user(make.user(Role.SUPERVISOR)).get("/admin/client/export/csv/").text

    assert '"NL"' in csv and '"nl-BE"' in csv and "Netherlands" not in csv


def test_contact_list_names_the_language(make, store, as_user, dutch_company):
    user = make.user(Role.SUPERVISOR)
    store.update(User, user.id, ui_language="nl")

    listed = as_user(user).get("/admin/contact/").text

    assert cell(listed, "language") == "Duits (België)"
