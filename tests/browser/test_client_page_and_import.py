"""The client page's tabs and a note, and an import with errors, in the browser."""
from clientdesk.models import ClientNote, Role
from tests.browser.conftest import sign_in
from tests.helpers import PASSWORD
from tests.import_files import BANQUP_FR, banqup_row, write_xlsx


def test_client_page_tabs_and_a_note_that_lands_back_on_its_tab(page, make, store, screenshot):
    group = make.group("Team Gent")
    acme = make.client(group, name="Drukkerij Claes BV", contacts=2)
    staff = make.user(Role.STAFF, groups=[group], email="griet@example.com")
    sign_in(page, staff.email, PASSWORD)

    page.goto(f"/admin/client/details/?id={acme.id}")
    screenshot("client-page")
    page.get_by_role("tab", name="Contacts").click()
    assert page.get_by_role("cell", name=acme.contacts[1].email, exact=True).is_visible()
    page.get_by_role("tab", name="Activity").click()
    page.wait_for_url("**#activity")
    page.get_by_label("Add a note").fill("Called Jan: the bank statements follow on Monday.")
    page.get_by_role("button", name="Save the note").click()
    page.wait_for_url("**#activity")
    assert page.get_by_role("tab", name="Activity").get_attribute("aria-selected") == "true"
    assert page.get_by_text("Called Jan: the bank statements follow on Monday.").is_visible()
    assert store.one(ClientNote, client_id=acme.id).author_id == staff.id

    page.get_by_role("button", name="Add to favourites").click()
    page.goto("/admin/client/")
    assert page.locator("td.col-name").first.inner_text().strip() == "Drukkerij Claes BV"


def test_import_with_errors_shows_them_by_row(page, make, store, worker, screenshot, tmp_path):
    admin = make.user(Role.ADMIN, email="ann@example.com")
    path = write_xlsx(tmp_path / "clients.xlsx", BANQUP_FR, [
        banqup_row(number="BE 0403.170.701"),
        banqup_row(name="Brasserie Renard", email="not-an-email", number="0403.170.702"),
    ])
    sign_in(page, admin.email, PASSWORD)
    page.goto("/admin/import/")
    page.locator('input[type="file"]').set_input_files(str(path))
    page.get_by_role("button", name="Check and import").click()
    page.get_by_text("Nothing was imported").wait_for(timeout=30000)
    text = page.content()
    assert "check digits" in text and "not a valid e-mail address" in text
    screenshot("import-errors")
    from clientdesk.models import Client

    assert store.count(Client) == 0


def test_switch_to_french_and_dutch(page, make, screenshot):
    group = make.group("Team Liège")
    make.client(group, name="Boulangerie Dupont SRL", status="invited")
    supervisor = make.user(Role.SUPERVISOR, email="sam@example.com")
    sign_in(page, supervisor.email, PASSWORD)

    page.get_by_role("button", name="FR", exact=True).click()
    page.get_by_role("heading", name="Clients par statut et par groupe").wait_for()
    assert page.locator("html").get_attribute("lang") == "fr"
    screenshot("dashboard-fr")

    page.get_by_role("button", name="NL", exact=True).click()
    page.get_by_role("heading", name="Klanten per status en groep").wait_for()
    page.goto("/admin/client/")
    assert page.get_by_text("Uitgenodigd").first.is_visible()  # the status badge, in Dutch
    screenshot("client-list-nl")

    # The choice is the user's: a new browser session opens in Dutch.
    page.context.clear_cookies()
    sign_in(page, supervisor.email, PASSWORD)
    page.get_by_role("heading", name="Klanten per status en groep").wait_for()
