"""A supervisor moves 50 clients to another group: select them in the list, choose the group, read the preview,
confirm, and watch the task finish."""
import re

from clientdesk.models import AuditEvent, Client, ConfigTemplate, Role
from tests.browser.conftest import sign_in
from tests.helpers import PASSWORD


def test_reassign_50_clients_to_another_group_with_preview(page, make, store, worker, screenshot):
    north, south = make.group("Team North"), make.group("Team South")
    supervisor = make.user(Role.SUPERVISOR, email="sam@example.com")
    for n in range(50):
        make.client(north, name=f"Northern Client {n:02d} BV")
    make.client(south, name="Southern Client BV")

    sign_in(page, supervisor.email, PASSWORD)
    page.goto(f"/admin/client/?flt0_group_equals={north.id}&page_size=50")
    assert page.locator("table.model-list tbody tr").count() == 50

    page.locator("input.action-rowtoggle").check()
    page.get_by_role("button", name="With selected").click()
    page.get_by_role("link", name="Change group", exact=True).click()
    page.get_by_role("heading", name=re.compile("50 selected clients")).wait_for()
    page.get_by_label("New group").select_option(label="Team South")
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("heading", name="50 clients change").wait_for()
    assert store.count(AuditEvent, action="change_group") == 0
    screenshot("reorganise-preview")

    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/admin/task/details/**")
    page.get_by_text("Finished.").wait_for(timeout=30000)
    assert page.get_by_role("progressbar").inner_text().strip() == "50 / 50"
    assert page.get_by_text("Done: 50").is_visible()
    assert {client.group_id for client in store.all(Client)} == {south.id}
    assert store.count(AuditEvent, action="change_group") == 50


def test_apply_a_template_from_its_page_to_every_client_a_filter_matches(page, make, store, worker):
    north, south = make.group("Team North"), make.group("Team South")
    admin = make.user(Role.ADMIN, email="ada@example.com")
    facing = make.user(Role.STAFF, email="fiona@example.com")
    template_id = store.run(lambda s: (s.add(template := ConfigTemplate(name="North desk", client_facing_contact_id=facing.id)),
                                       s.commit(), template.id)[2])
    for n in range(12):
        make.client(north, name=f"Northern Client {n:02d} BV")
    make.client(south, name="Southern Client BV")

    sign_in(page, admin.email, PASSWORD)
    page.goto(f"/admin/template/details/?id={template_id}")
    page.get_by_role("link", name="Apply to existing clients").click()
    page.get_by_text("To apply the template “North desk” to existing clients").wait_for()
    page.goto(page.url + f"&flt0_group_equals={north.id}")
    page.get_by_role("button", name="Apply “North desk” to all 12 matching clients").click()
    page.get_by_role("heading", name="12 clients change").wait_for()
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/admin/task/details/**")
    page.get_by_text("Finished.").wait_for(timeout=30000)
    assert page.get_by_text("Done: 12").is_visible()
    assigned = {client.name: client.client_facing_contact_id for client in store.all(Client)}
    assert assigned.pop("Southern Client BV") is None and set(assigned.values()) == {facing.id}
