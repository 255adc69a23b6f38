"""Every screen at a laptop's 1366×768 and a phone's 390×844: no page wider than the screen, and on the
phone the client list's row and bulk actions and the client page's buttons within reach."""
import pytest

from clientdesk.models import Role
from tests.browser.conftest import sign_in
from tests.helpers import PASSWORD

LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
FITS = "document.scrollingElement.scrollWidth <= window.innerWidth"


def within_screen(page, locator) -> bool:
    """Visible, and wholly inside the screen's width (reachable without scrolling sideways)."""
    box = locator.bounding_box()
    return locator.is_visible() and box is not None and box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"]


@pytest.fixture
def portfolio(make):
    group = make.group("Team Antwerpen")
    clients = [make.client(group, name=f"Boekhouding Vermeulen en Zonen {n} BV", status="active",
                           website="https://www.vermeulen-en-zonen.example.com") for n in range(3)]
    make.client(group, name="Brasserie Renard SRL", status="created")
    return clients


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_no_screen_is_wider_than_the_window(page, make, portfolio, viewport):
    supervisor = make.user(Role.SUPERVISOR, email="sofie@example.com")
    page.set_viewport_size(viewport)
    sign_in(page, supervisor.email, PASSWORD)
    screens = ["/admin/", "/admin/client/", f"/admin/client/details/?id={portfolio[0].id}", "/admin/task/",
               "/admin/contact/", "/admin/document/"]
    wide = []
    for url in screens:
        page.goto(url)
        if not page.evaluate(FITS):
            wide.append((url, page.evaluate("document.scrollingElement.scrollWidth")))
    assert wide == []


def test_the_client_list_and_page_work_on_a_phone(page, make, portfolio, screenshot):
    supervisor = make.user(Role.SUPERVISOR, email="sofie@example.com")
    page.set_viewport_size(PHONE)
    sign_in(page, supervisor.email, PASSWORD)

    page.goto("/admin/client/")
    assert page.evaluate(FITS)
    screenshot("client-list-phone")
    first_row = page.locator("table.model-list tbody tr").first
    checkbox = first_row.locator("input.action-checkbox")
    view = first_row.locator("td.list-buttons-column a").first
    assert within_screen(page, checkbox) and within_screen(page, view)
    assert within_screen(page, first_row.locator("td.col-status"))  # the columns a phone has no room for collapse
    checkbox.check()
    menu = page.get_by_role("button", name="With selected").or_(page.get_by_role("link", name="With selected"))
    assert within_screen(page, menu)
    menu.click()
    deactivate = page.locator(".dropdown-menu").get_by_text("Deactivate", exact=True)
    assert within_screen(page, deactivate)
    page.once("dialog", lambda dialog: dialog.accept())
    deactivate.click()
    page.wait_for_url("**/admin/task/details/**")

    page.goto("/admin/client/")
    page.locator("table.model-list tbody tr").first.locator("td.list-buttons-column a").first.click()
    page.wait_for_url("**/admin/client/details/**")
    assert page.evaluate(FITS)
    screenshot("client-page-phone")
    for name in ("Deactivate", "Add to favourites"):
        assert within_screen(page, page.get_by_role("button", name=name).first), name
    activity = page.get_by_role("tab", name="Activity")
    assert within_screen(page, activity)
    activity.click()
    assert page.get_by_label("Add a note").is_visible()
