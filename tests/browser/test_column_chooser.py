"""A user hides a column of the client list and moves another, with the keyboard, and sees the list change; the
chooser fits a phone's screen."""
from clientdesk.models import ListColumns, Role
from tests.browser.conftest import sign_in
from tests.helpers import PASSWORD

PHONE = {"width": 390, "height": 844}
FITS = "document.scrollingElement.scrollWidth <= window.innerWidth"


def headers(page) -> list[str]:
    return [text.strip() for text in page.locator("table.model-list th.column-header").all_inner_texts()]


def test_hide_and_reorder_columns_with_the_keyboard(page, make, store, screenshot):
    group = make.group("Team Gent")
    make.client(group, name="Drukkerij Claes BV", external_reference="CLAES-42")
    staff = make.user(Role.STAFF, email="lotte@example.com", groups=[group])
    sign_in(page, staff.email, PASSWORD)
    page.goto("/admin/client/")
    assert headers(page)[:5] == ["Legal name", "Enterprise number", "Group", "Firm contact", "Status"]

    page.get_by_role("link", name="Columns").click()
    page.wait_for_url("**/admin/client/columns/**")
    page.get_by_role("checkbox", name="Enterprise number").focus()
    page.keyboard.press("Space")
    page.get_by_role("checkbox", name="External reference").check()
    move_up = page.get_by_role("button", name="Move Status up")
    move_up.focus()
    page.evaluate("window.samePage = true")
    for _ in range(4):
        page.keyboard.press("Enter")
    # Moved in place by the script (no round trip), the focus kept on the button.
    assert page.evaluate("window.samePage === true && document.activeElement.value") == "up:status"
    assert page.locator("li[data-column]").first.get_attribute("data-column") == "status"
    screenshot("client-columns")
    page.get_by_role("button", name="Save").click()

    page.wait_for_url("**/admin/client/")
    shown = headers(page)
    assert shown[:4] == ["Status", "Legal name", "Group", "Firm contact"] and "Enterprise number" not in shown
    assert "External reference" in shown and page.get_by_role("cell", name="CLAES-42").is_visible()
    assert store.one(ListColumns, user_id=staff.id).columns.startswith("status,name,group,")

    page.goto("/admin/client/")  # kept for the next visit
    assert headers(page)[0] == "Status"
    page.get_by_role("link", name="Columns").click()
    page.get_by_role("button", name="Reset to default").click()
    page.wait_for_url("**/admin/client/")
    assert headers(page)[:2] == ["Legal name", "Enterprise number"]


def test_the_column_chooser_on_a_phone(page, make):
    staff = make.user(Role.STAFF, email="lotte@example.com", groups=[make.group("Team Gent")])
    page.set_viewport_size(PHONE)
    sign_in(page, staff.email, PASSWORD)
    page.goto("/admin/client/columns/?url=/admin/client/")
    assert page.evaluate(FITS)
    button = page.get_by_role("button", name="Move Internal reference down")
    box = button.bounding_box()
    assert button.is_visible() and box["x"] + box["width"] <= PHONE["width"]
    button.click()
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/admin/client/")
    assert page.evaluate(FITS)
