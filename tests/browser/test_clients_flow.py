"""Log in, filter, select rows and invite them, watch the task finish, accept the invitation as the client and land
in the portal, signed in."""
import re

from clientdesk.models import Client, Role
from tests.browser.conftest import sign_in
from tests.helpers import PASSWORD

LINK = re.compile(r"(http://clientdesk\.test)(/invitation/[\w-]+)")


def test_supervisor_invites_filtered_rows_and_the_client_accepts(page, make, store, worker, smtp, screenshot, live_server):
    brussels, gent = make.group("Team Brussels"), make.group("Team Gent")
    supervisor = make.user(Role.SUPERVISOR, email="sam@example.com")
    for name in ("Bakkerij Peeters BV", "Brasserie Dupont SRL", "Atelier Maes NV"):
        make.client(brussels, name=name)
    make.client(brussels, name="Garage Active SA", status="active")
    make.client(gent, name="Gentse Drukkerij BV")

    sign_in(page, supervisor.email, PASSWORD)
    assert page.get_by_role("heading", name="Clients by status and group").is_visible()
    screenshot("dashboard")

    # Filter by status and group through the dashboard's links: the number links to exactly those rows.
    page.get_by_role("row", name=re.compile("Team Brussels")).get_by_role("link", name="3").click()
    page.wait_for_url(re.compile(r"flt0_status_equals=created.*flt1_group_equals="))
    rows = page.locator("table.model-list tbody tr")
    assert rows.count() == 3
    assert "Gentse Drukkerij" not in page.content() and "Garage Active" not in page.content()
    screenshot("client-list-filtered")

    # Select every row and invite them.
    page.locator("input.action-rowtoggle").check()
    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="With selected").click()
    page.get_by_role("link", name="Invite", exact=True).click()
    page.wait_for_url("**/admin/task/details/**")
    assert dialogs == ["Send an invitation e-mail to the 3 selected clients?"]
    page.get_by_text("Finished.").wait_for(timeout=30000)
    assert page.get_by_role("progressbar").inner_text().strip() == "3 / 3"
    screenshot("task-finished")

    assert len(smtp.messages) == 3
    assert {c.status for c in store.all(Client, group_id=brussels.id)} == {"invited", "active"}

    # The client opens the link from the e-mail.
    message = next(m for m in smtp.messages if "Bakkerij Peeters BV" in m["Subject"])
    path = LINK.search(message.get_body(preferencelist=("plain",)).get_content()).group(2)
    page.context.clear_cookies()
    page.goto(path)
    assert page.get_by_text("Bakkerij Peeters BV").first.is_visible()
    screenshot("invitation-page")
    # In the contact's language (French), not the browser's.
    page.get_by_label("Choisissez un mot de passe").fill("my-new-password")
    page.get_by_label("Répétez le mot de passe").fill("my-new-password")
    page.get_by_label("J'accepte les conditions d'utilisation").check()
    page.get_by_role("button", name="Activer mon accès").click()
    page.wait_for_url(re.compile(r"/portal/$"))
    page.get_by_role("heading", name="Bakkerij Peeters BV").wait_for()
    screenshot("portal-home")
    assert store.one(Client, name="Bakkerij Peeters BV").status == "active"
