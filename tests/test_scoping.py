"""A staff user of group A never reaches a client of group B, whatever the path; hidden clients only for admins."""
import csv
import io
import json
import re

import pytest

from clientdesk.models import AuditEvent, Client, Contact, Group, Role, User
from tests.factories import PASSWORD
from tests.helpers import flashes, post


@pytest.fixture
def world(make):
    team_a, team_b = make.group("Team A"), make.group("Team B")
    return {
        "team_a": team_a,
        "team_b": team_b,
        "staff_a": make.user(Role.STAFF, groups=[team_a]),
        "supervisor": make.user(Role.SUPERVISOR),
        "admin": make.user(Role.ADMIN),
        "ours": make.client(team_a, name="Ours Bakkerij BV"),
        "theirs": make.client(team_b, name="Theirs Brasserie SRL"),
        "hidden": make.client(team_a, name="Hidden Garage NV", hidden=True),
    }


def test_a_staff_user_created_without_a_group_joins_the_default_one_and_sees_its_clients(make, as_user, store):
    default = store.one(Group, name="Everyone")  # reference data of every installation
    make.client(default, name="Everyones Bakkerij BV")
    form = {"email": "nora@example.com", "full_name": "Nora Peeters", "role": "staff", "active": "y", "ui_language": "",
            "new_password": PASSWORD}
    assert post(as_user(make.user(Role.ADMIN)), "/admin/user/new/", form).status_code == 302
    nora = store.one(User, email="nora@example.com")
    assert store.run(lambda s: [g.name for g in s.get(User, nora.id).groups]) == ["Everyone"]
    assert "Everyones Bakkerij BV" in as_user(nora).get("/admin/client/").text


def test_list_and_count_show_only_own_groups(world, as_user):
    page = as_user(world["staff_a"]).get("/admin/client/").text
    assert "Ours Bakkerij BV" in page
    assert "Theirs Brasserie SRL" not in page and "Hidden Garage NV" not in page


def test_search_does_not_reach_other_groups(world, as_user):
    page = as_user(world["staff_a"]).get("/admin/client/?search=brasserie").text
    assert "Theirs Brasserie SRL" not in page


@pytest.mark.parametrize("path", ["/admin/client/details/?id={id}", "/admin/client/edit/?id={id}"])
def test_details_and_edit_of_another_groups_client_answer_404(world, as_user, path):
    http = as_user(world["staff_a"])
    assert http.get(path.format(id=world["theirs"].id)).status_code == 404
    assert http.get(path.format(id=world["ours"].id)).status_code == 200


@pytest.mark.parametrize("bad_id", ["abc", "1,2", "999999", "-1"])
def test_malformed_or_unknown_ids_answer_404(world, as_user, bad_id):
    assert as_user(world["admin"]).get(f"/admin/client/details/?id={bad_id}").status_code == 404


def test_edit_post_on_another_groups_client_changes_nothing(world, as_user, store):
    http = as_user(world["staff_a"])
    response = post(http, f"/admin/client/edit/?id={world['theirs'].id}", {"name": "Renamed", "language": "fr-BE"})
    assert response.status_code == 404
    assert store.get(Client, world["theirs"].id).name == "Theirs Brasserie SRL"


def test_delete_of_another_groups_client_changes_nothing(world, as_user, store):
    staff = as_user(world["staff_a"])  # staff may not delete clients at all, let alone another group's
    assert post(staff, "/admin/client/delete/", {"id": world["theirs"].id}).status_code == 302
    assert post(staff, "/admin/client/action/", {"action": "delete", "rowid": [str(world["theirs"].id)]}).status_code == 302
    assert store.get(Client, world["theirs"].id) is not None


def test_bulk_action_on_another_groups_contacts_changes_nothing(world, as_user, store):
    """Staff may delete contacts: a forged row id from another group is dropped by the scoped query."""
    theirs_contact = store.one(Contact, client_id=world["theirs"].id)
    http = as_user(world["staff_a"])
    post(http, "/admin/contact/action/", {"action": "delete", "rowid": [str(theirs_contact.id)]})
    assert store.get(Contact, theirs_contact.id) is not None


def test_contact_details_of_another_group_answer_404(world, as_user, store):
    theirs_contact = store.one(Contact, client_id=world["theirs"].id)
    http = as_user(world["staff_a"])
    assert http.get(f"/admin/contact/details/?id={theirs_contact.id}").status_code == 404
    assert "Theirs" not in http.get("/admin/contact/").text


def test_ajax_lookup_offers_only_visible_clients(world, as_user):
    http = as_user(world["staff_a"])
    found = http.get("/admin/contact/ajax/lookup/?name=client&query=bakkerij").json
    assert [label for _id, label in found] == ["Ours Bakkerij BV"]
    assert http.get("/admin/contact/ajax/lookup/?name=client&query=brasserie").json == []
    assert http.get("/admin/contact/ajax/lookup/?name=client&query=garage").json == []


def test_ajax_lookup_limit_is_capped(world, as_user, make):
    for _ in range(30):
        make.client(world["team_a"], name="Many Bakkerij")
    found = as_user(world["staff_a"]).get("/admin/contact/ajax/lookup/?name=client&query=bakkerij&limit=1000").json
    assert len(found) == 20


def test_posting_a_contact_onto_another_groups_client_is_refused(world, as_user, store):
    http = as_user(world["staff_a"])
    response = post(http, "/admin/contact/new/", {
        "client": str(world["theirs"].id), "first_name": "Eve", "last_name": "Intruder",
        "email": "eve@example.com", "language": "fr-BE",
    })
    assert response.status_code == 200  # form re-rendered with the error
    assert store.count(Contact, email="eve@example.com") == 0


def test_staff_cannot_put_a_client_into_another_group(world, as_user, store):
    http = as_user(world["staff_a"])
    response = post(http, f"/admin/client/edit/?id={world['ours'].id}", {
        "name": "Ours Bakkerij BV", "country": "BE", "language": "fr-BE", "group": str(world["team_b"].id),
        "subscription_mode": "full", "plan": "",
    })
    assert response.status_code == 200
    assert store.get(Client, world["ours"].id).group_id == world["team_a"].id


def test_export_is_for_supervisors_and_never_contains_hidden_clients(world, as_user):
    assert as_user(world["staff_a"]).get("/admin/client/export/csv/").status_code == 403
    body = as_user(world["supervisor"]).get("/admin/client/export/csv/").get_data(as_text=True)
    names = {row["name"] for row in csv.DictReader(io.StringIO(body.lstrip("\ufeff")))}
    assert names == {"Ours Bakkerij BV", "Theirs Brasserie SRL"}
    body = as_user(world["admin"]).get("/admin/client/export/csv/").get_data(as_text=True)
    assert "Hidden Garage NV" in body


def test_export_follows_the_list_filters(world, as_user):
    http = as_user(world["supervisor"])
    body = http.get(f"/admin/client/export/csv/?flt0_group_equals={world['team_b'].id}").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert [r["name"] for r in rows] == ["Theirs Brasserie SRL"]
    assert rows[0]["group"] == "Team B" and rows[0]["status"] == "created"


def test_hidden_clients_are_invisible_to_supervisors_and_staff(world, as_user):
    hidden_id = world["hidden"].id
    for role in ("staff_a", "supervisor"):
        http = as_user(world[role])
        assert "Hidden Garage NV" not in http.get("/admin/client/").text
        assert http.get(f"/admin/client/details/?id={hidden_id}").status_code == 404
    admin = as_user(world["admin"])
    assert "Hidden Garage NV" in admin.get("/admin/client/").text
    assert admin.get(f"/admin/client/details/?id={hidden_id}").status_code == 200


@pytest.mark.parametrize("path", ["/admin/user/", "/admin/group/", "/admin/template/", "/admin/integration/", "/admin/audit/",
                                  "/admin/user/new/", "/admin/audit/details/?id=1"])
def test_staff_and_supervisors_cannot_reach_admin_screens(world, as_user, path):
    assert as_user(world["staff_a"]).get(path).status_code == 403
    assert as_user(world["supervisor"]).get(path).status_code == 403
    assert as_user(world["admin"]).get(path).status_code in (200, 404)


def test_post_without_csrf_changes_nothing(world, as_user, store):
    http = as_user(world["admin"])
    response = http.post(f"/admin/client/edit/?id={world['ours'].id}", data={"name": "No token", "language": "fr-BE"})
    assert response.status_code == 400
    response = http.post("/admin/client/action/", data={"action": "delete", "rowid": [str(world["ours"].id)]})
    assert response.status_code == 400
    assert store.get(Client, world["ours"].id).name == "Ours Bakkerij BV"


def test_only_created_clients_can_be_deleted(world, as_user, store, make):
    invited = make.client(world["team_a"], name="Invited One", status="invited")
    http = as_user(world["admin"])
    post(http, "/admin/client/action/", {"action": "delete", "rowid": [str(world["ours"].id), str(invited.id)]})
    assert store.get(Client, world["ours"].id) is None
    assert store.get(Client, invited.id) is not None
    deleted = store.one(AuditEvent, action="delete", object_type="client")
    assert deleted.object_repr == "Ours Bakkerij BV" and deleted.client_id == world["ours"].id


def test_audit_log_filters_by_client(world, as_user, store):
    http = as_user(world["admin"])
    page = http.get(f"/admin/audit/?flt0_client_id_equals={world['ours'].id}")
    assert page.status_code == 200 and "Ours Bakkerij BV" in page.text and "Theirs Brasserie SRL" not in page.text
    assert http.get("/admin/audit/?flt0_client_id_equals=not-a-number").status_code == 200


def test_requests_never_share_the_signed_in_user_with_a_held_app_context(world, as_user, db_session):
    """Guards the test set-up itself: a test holding an app context (db_session) must not leak the first
    signed-in user into another user's requests."""
    admin, staff = as_user(world["admin"]), as_user(world["staff_a"])
    assert admin.get(f"/admin/client/details/?id={world['theirs'].id}").status_code == 200
    assert staff.get(f"/admin/client/details/?id={world['theirs'].id}").status_code == 404
    assert db_session.get(Client, world["theirs"].id).name == "Theirs Brasserie SRL"


def test_tasks_show_a_client_only_inside_the_viewers_scope(world, as_user, store):
    """A staff member who once started a task on a client that was hidden (and renamed) since sees the task,
    but not the client's current name, link or what the task's results say about it."""
    from clientdesk.models import Task

    hidden, ours = world["hidden"], world["ours"]
    store.update(Client, hidden.id, name="Renamed Secret NV")
    results = {"failed": [{"client_id": hidden.id, "client": "Renamed Secret NV", "reason": "Renamed Secret NV refused"},
                          {"client_id": ours.id, "client": ours.name, "reason": "no contact"}]}
    store.run(lambda s: s.add_all([
        Task(id="task-hidden", kind="client_invite", description="Invite", client_id=hidden.id,
             user_id=world["staff_a"].id, status="failed", result_json=json.dumps(results)),
        Task(id="task-ours", kind="client_invite", description="Invite", client_id=ours.id, user_id=world["staff_a"].id),
    ]))
    http = as_user(world["staff_a"])
    listing = http.get("/admin/task/").text
    details = http.get("/admin/task/details/?id=task-hidden").text
    for page in (listing, details):
        assert "Renamed Secret NV" not in page and f"id={hidden.id}" not in page
        assert "a client outside your scope" in page
    assert ours.name in listing and ours.name in details and f"/admin/client/details/?id={ours.id}" in details
    admin_view = as_user(world["admin"]).get("/admin/task/details/?id=task-hidden").text
    assert "Renamed Secret NV" in admin_view and "a client outside your scope" not in admin_view


def test_audit_rows_name_a_client_only_inside_the_viewers_scope(world, as_user, store):
    store.run(lambda s: s.add(AuditEvent(actor="x@example.com", action="update", object_type="client",
                                         object_id=str(world["hidden"].id), object_repr="Hidden Garage NV",
                                         client_id=world["hidden"].id)))
    page = as_user(world["admin"]).get("/admin/audit/").text
    assert f'href="/admin/client/details/?id={world["hidden"].id}"' in page  # admins see every client


@pytest.mark.parametrize("path", ["client form", "contact form", "wizard", "wizard contact"])
def test_duplicate_checks_say_already_used_alike_for_hidden_and_other_team_clients(world, as_user, path):
    """A duplicate enterprise number or contact e-mail of a client outside the viewer's scope is "already used",
    without its name or link, in the same words whether the client is hidden or in another team."""
    from clientdesk.models import Group
    from tests.test_wizard import company_form, details_form, errors

    http = as_user(world["staff_a"])
    said = []
    for owner in (world["hidden"], world["theirs"]):
        number, email = owner.enterprise_number, owner.contacts[0].email
        if path == "client form":
            page = post(http, f"/admin/client/edit/?id={world['ours'].id}", {
                "name": "Probe", "country": "BE", "enterprise_number": number, "language": "fr-BE",
                "group": str(world["team_a"].id), "subscription_mode": "full", "plan": ""}).text
            message = [m for m in re.findall(r"<li>([^<]*)</li>", page) if "lready" in m]
        elif path == "contact form":
            page = post(http, "/admin/contact/new/", {"client": str(world["ours"].id), "first_name": "P", "last_name": "Q",
                                                      "email": email, "language": "fr-BE"}, follow_redirects=True).text
            message = [m for m in re.findall(r"<li>([^<]*)</li>", page) + flashes(page) if "lready" in m]
        elif path == "wizard":
            page = post(http, "/admin/client/new-wizard/", company_form(enterprise_number=number, vat_number="",
                                                                         skip_vat_check="y")).text
            message = re.findall(r'alert-danger" role="alert">([^<]*)<', page)
        else:
            post(http, "/admin/client/new-wizard/", company_form(skip_vat_check="y"))
            page = post(http, "/admin/client/new-wizard/details/", details_form(Group(id=world["team_a"].id), email=email)).text
            message = [e for e in errors(page) if "already" in e]
        assert owner.name not in page and f"?id={owner.id}" not in page
        said.append(message)
    assert said[0] == said[1] and said[0] and "already" in said[0][0].lower(), said
