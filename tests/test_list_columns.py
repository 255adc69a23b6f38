"""The client list's column chooser: which columns a user sees, in which order, kept per user and with saved views."""
import re

from clientdesk.exports import EXPORT_COLUMNS
from clientdesk.models import ListColumns, Role, SavedFilter
from tests.helpers import flashes, post

DEFAULT = ["name", "enterprise_number", "group", "firm_contact", "status", "integration", "peppol_send",
           "peppol_receive", "inbox_count", "onboarding_missing", "plan", "trial_end", "country", "language"]


def headers(html: str) -> list[str]:
    return re.findall(r'<th class="column-header col-([a-z_]+)"', html)


def cells(html: str) -> list[str]:
    """The column names of the first row's cells."""
    row = re.search(r"<tbody>.*?<tr>(.*?)</tr>", html, re.S) or re.search(r"</thead>\s*<tr>(.*?)</tr>", html, re.S)
    return re.findall(r'<td class="col-([a-z_]+)"', row.group(1))


def choose(http, order, shown, move=None, **kwargs):
    data = {"order": order, "shown": shown, "url": "/admin/client/?page_size=25", **({"move": move} if move else {})}
    return post(http, "/admin/client/columns/", data, **kwargs)


def test_a_user_chooses_and_orders_columns_kept_for_them_alone(make, as_user, store):
    group = make.group("Team")
    make.client(group, name="Acme BV", external_reference="ACME-7")
    anna, ben = make.user(Role.STAFF, groups=[group]), make.user(Role.STAFF, groups=[group])
    http = as_user(anna)
    assert headers(http.get("/admin/client/").text) == DEFAULT
    page = http.get("/admin/client/columns/?url=/admin/client/").text
    assert 'value="up:status"' in page and 'name="shown" value="external_reference"' in page

    response = choose(http, ["status", "external_reference", "name", "group"], ["status", "external_reference", "group"])
    assert response.status_code == 302 and response.headers["Location"] == "/admin/client/?page_size=25"
    assert store.one(ListColumns, user_id=anna.id).columns == "status,external_reference,name,group"
    listing = http.get("/admin/client/").text
    assert headers(listing) == ["status", "external_reference", "name", "group"]
    assert cells(listing) == ["status", "external_reference", "name", "group"] and "ACME-7" in listing
    assert headers(as_user(ben).get("/admin/client/").text) == DEFAULT


def test_the_name_cannot_be_hidden_and_up_down_buttons_work_without_a_script(make, as_user, store):
    group = make.group("Team")
    make.client(group)
    anna = make.user(Role.STAFF, groups=[group])
    http = as_user(anna)
    choose(http, ["status", "group"], ["status", "group"])  # the name neither ordered nor ticked
    assert store.one(ListColumns, user_id=anna.id).columns == "name,status,group"

    moved = choose(http, ["name", "status", "group"], ["name", "status"], move="down:name")
    assert moved.status_code == 200 and store.one(ListColumns, user_id=anna.id).columns == "name,status,group"
    order = re.findall(r'name="order" value="([a-z_]+)"', moved.text)
    assert order[:3] == ["status", "name", "group"] and 'value="down:name" class="btn btn-outline-secondary"' in moved.text
    assert re.search(r'value="down:name"[^>]*\s+autofocus', moved.text)
    assert 'value="group" id="column-group">' in moved.text  # unticked in the post: unticked on the page again


def test_sorting_by_a_hidden_column_still_sorts(make, as_user):
    group = make.group("Team")
    make.client(group, name="Alpha BV", enterprise_number="0403170701")
    make.client(group, name="Beta BV", enterprise_number="0202239951")
    anna = make.user(Role.STAFF, groups=[group])
    http = as_user(anna)
    choose(http, ["status", "name"], ["status"])
    index = DEFAULT.index("enterprise_number")
    listing = http.get(f"/admin/client/?sort={index}").text
    assert listing.index("Beta BV") < listing.index("Alpha BV")
    assert headers(listing) == ["status", "name"]
    # A shown column's sort link keeps its place among all the columns, whatever the order shown.
    assert f'href="/admin/client/?sort={DEFAULT.index("name")}' in listing


def test_reset_to_default(make, as_user, store):
    anna = make.user(Role.STAFF, groups=[make.group("Team")])
    http = as_user(anna)
    choose(http, ["name", "status"], ["status"])
    response = post(http, "/admin/client/columns/", {"reset": "1", "url": "/admin/client/"}, follow_redirects=True)
    assert "The list shows its default columns again." in flashes(response.text)
    assert store.count(ListColumns) == 0 and headers(response.text) == DEFAULT


def test_a_tampered_column_name_is_refused_and_nothing_stored(make, as_user, store):
    anna = make.user(Role.STAFF, groups=[make.group("Team")])
    http = as_user(anna)
    for order, shown in ((["name", "password_hash"], ["password_hash"]), (["name", "status", "status"], ["status"]),
                         (["name"], ["id"])):
        response = choose(http, order, shown, follow_redirects=True)
        assert response.status_code == 200
        assert any("There is no column" in message and "nothing was changed" in message for message in flashes(response.text))
    assert store.count(ListColumns) == 0
    bad_move = choose(http, ["name", "status"], ["status"], move="up:secret", follow_redirects=True)
    assert "There is no column “secret” on this list: nothing was changed." in flashes(bad_move.text)
    listing = http.get("/admin/client/?columns=name,totp_secret")
    assert listing.status_code == 200 and headers(listing.text) == DEFAULT
    assert "There is no column “totp_secret” on this list: nothing was changed." in flashes(listing.text)


def test_choosing_columns_needs_a_csrf_token(make, as_user, store):
    http = as_user(make.user(Role.STAFF, groups=[make.group("Team")]))
    http.get("/admin/client/")
    assert http.post("/admin/client/columns/", data={"order": ["name"], "shown": ["name"]}).status_code == 400
    assert http.post("/admin/client/columns/", data={"reset": "1"}).status_code == 400
    assert store.count(ListColumns) == 0


def test_a_saved_view_keeps_its_columns(make, as_user, store):
    group = make.group("Team")
    make.client(group, name="Invited BV", status="invited", city="Gent")
    make.client(group, name="Created BV")
    anna = make.user(Role.SUPERVISOR)
    http = as_user(anna)
    store.run(lambda s: s.add(SavedFilter(user_id=anna.id, endpoint="client", name="Old view",
                                          query="flt0_status_equals=invited")))
    choose(http, ["name", "city", "status"], ["city", "status"])
    response = post(http, "/admin/client/views/save/", {"name": "Invited, by city", "query": "flt0_status_equals=invited"})
    saved = store.one(SavedFilter, name="Invited, by city")
    assert (saved.query, saved.columns) == ("flt0_status_equals=invited", "name,city,status")
    assert response.headers["Location"] == "/admin/client/?flt0_status_equals=invited&columns=name%2Ccity%2Cstatus"

    choose(http, ["name", "plan"], ["plan"])  # the user's columns change afterwards
    listing = http.get("/admin/client/").text
    assert headers(listing) == ["name", "plan"]
    assert "/admin/client/?flt0_status_equals=invited&amp;columns=name%2Ccity%2Cstatus" in listing
    opened = http.get(response.headers["Location"]).text
    assert headers(opened) == ["name", "city", "status"] and "Gent" in opened and "Created BV" not in opened
    assert 'href="/admin/client/?sort=' in opened and "columns=name%2Ccity%2Cstatus" in opened.split("<thead>")[1]
    # A view saved before columns could be chosen shows the user's current columns.
    old = store.one(SavedFilter, name="Old view")
    assert old.columns is None and 'href="/admin/client/?flt0_status_equals=invited">Old view' in listing
    assert headers(http.get("/admin/client/?flt0_status_equals=invited").text) == ["name", "plan"]
    # Saved again from an opened view: its columns, not the user's.
    post(http, "/admin/client/views/save/", {"name": "Copy", "query": "flt0_status_equals=invited&columns=name,city"})
    assert store.one(SavedFilter, name="Copy").columns == "name,city"
    refused = post(http, "/admin/client/views/save/", {"name": "Bad", "query": "columns=name,hidden_secret"},
                   follow_redirects=True)
    assert "There is no column “hidden_secret” on this list: nothing was changed." in flashes(refused.text)
    assert store.count(SavedFilter, name="Bad") == 0
    # Choosing columns from an opened view goes back to the list with the user's (new) columns.
    back = post(http, "/admin/client/columns/", {"order": ["name", "status"], "shown": ["status"],
                                                 "url": "/admin/client/?flt0_status_equals=invited&columns=name,city"})
    assert back.headers["Location"] == "/admin/client/?flt0_status_equals=invited"


def test_the_columns_page_starts_from_the_columns_shown(make, as_user):
    anna = make.user(Role.STAFF, groups=[make.group("Team")])
    http = as_user(anna)
    page = http.get("/admin/client/columns/?url=/admin/client/%3Fcolumns%3Dcity,name").text
    order = re.findall(r'name="order" value="([a-z_]+)"', page)
    assert order[:3] == ["city", "name", "enterprise_number"]
    assert 'name="shown" value="city" id="column-city" checked' in page
    assert 'name="shown" value="status" id="column-status">' in page
    assert http.get("/admin/client/columns/?url=https://evil.example/").status_code == 200


def test_the_export_keeps_its_columns(make, as_user):
    group = make.group("Team")
    make.client(group, name="Acme BV")
    http = as_user(make.user(Role.SUPERVISOR))
    choose(http, ["name"], [])
    header = http.get("/admin/client/export/csv/").text.splitlines()[0].lstrip("\ufeff").replace('"', "")
    assert header == ",".join(name for name, _column in EXPORT_COLUMNS)
