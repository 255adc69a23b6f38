"""Malformed input answers 400 or 404 with the app's error page, or the form's message, and writes nothing:
NUL bytes, ids and numbers beyond what the columns hold, page numbers out of range, overlong values."""
import pytest

from clientdesk.broker import get_redis
from clientdesk.models import Client, Document, Role, SavedFilter
from tests.helpers import csrf_token, flashes, post

BEYOND_INTEGER = str(2**31)
HUGE = str(10**23)


@pytest.fixture
def team(make):
    group = make.group("Team A")
    return {"group": group, "staff": make.user(Role.STAFF, groups=[group]), "admin": make.user(Role.ADMIN)}


def test_a_nul_byte_anywhere_answers_400_with_the_error_page(app, client):
    response = client.post("/login", data={"email": "x\x00@example.com", "password": "p", "csrf_token": csrf_token(client)})
    assert response.status_code == 400 and "Request not understood" in response.text
    assert not get_redis(app).keys("*login*")  # no failed sign-in counted
    assert client.get("/login", query_string={"next": "/admin/\x00"}).status_code == 400
    assert client.get("/invitation/abc%00def").status_code == 400
    assert client.get("/login?next=%2Fadmin%2F&next=%2Fadmin%2F%00").status_code == 400  # a repeated key's later value
    assert client.get("/login?next=%2Fadmin%2F&next=" + "a" * 2_001).status_code == 400


def test_a_login_e_mail_longer_than_its_column_is_a_form_error(app, client):
    response = client.post("/login", data={"email": "a" * 300 + "@example.com", "password": "p", "csrf_token": csrf_token(client)})
    assert response.status_code == 200 and "Field cannot be longer than 254 characters" in response.text
    assert not get_redis(app).keys("*login*")  # no failed sign-in counted


def test_a_nul_byte_in_a_signed_in_form_changes_nothing(team, make, as_user, store):
    acme = make.client(team["group"])
    http = as_user(team["staff"])
    response = post(http, "/admin/client/note/", {"id": acme.id, "text": "note\x00"})
    assert response.status_code == 400 and "Request not understood" in response.text


@pytest.mark.parametrize("bad", [BEYOND_INTEGER, HUGE, "-1", "1" * 10_000])
def test_ids_beyond_an_integer_column_answer_404(team, make, as_user, bad):
    make.client(team["group"])
    http = as_user(team["admin"])
    for url in ("/admin/client/details/", "/admin/client/edit/", "/admin/contact/details/", "/admin/document/download/"):
        response = http.get(url, query_string={"id": bad})
        expected = 400 if len(bad) > 2000 else 404  # so long a URL value is refused before any view
        assert response.status_code == expected and "ClientDesk" in response.text, url
    assert http.get(f"/admin/import/{HUGE}/").status_code == 404
    assert post(http, "/admin/client/favourite/", {"id": bad}).status_code == 404
    assert post(http, "/admin/client/views/delete/", {"id": bad}).status_code == 404
    assert post(http, "/admin/client/action/", {"action": "invite", "rowid": [bad]}).status_code == 302  # nothing selected


@pytest.mark.parametrize("bad", [BEYOND_INTEGER, HUGE])
def test_filter_values_beyond_an_integer_are_refused_like_any_invalid_value(team, make, as_user, bad):
    make.client(team["group"], name="Acme NV")
    http = as_user(team["admin"])
    for flt in ("flt0_group_equals", "flt0_firm_contact_equals", "flt0_integration_equals"):
        response = http.get("/admin/client/", query_string={flt: bad})
        assert response.status_code == 200 and "Acme NV" not in response.text, flt  # matches nothing
    response = http.get("/admin/client/", query_string={"flt0_import_batch_equals": bad})
    assert response.status_code == 200 and "Invalid Filter Value" in response.text and "Acme NV" in response.text
    for url, flt in (("/admin/document/", "flt0_client_id_equals"), ("/admin/audit/", "flt0_client_id_equals")):
        assert http.get(url, query_string={flt: bad}).status_code == 200, url


@pytest.mark.parametrize("page", ["-1", HUGE, str(2**63)])
def test_page_numbers_out_of_range_answer_404(team, as_user, page):
    http = as_user(team["admin"])
    for url in ("/admin/client/", "/admin/contact/", "/admin/audit/", "/admin/task/"):
        assert http.get(url, query_string={"page": page}).status_code == 404, url


def test_overlong_query_values_answer_400(team, as_user):
    http = as_user(team["admin"])
    assert http.get("/admin/client/", query_string={"search": "a" * 10_000}).status_code == 400
    assert http.get("/admin/client/", query_string={"search": "a" * 200}).status_code == 200


def test_a_10000_digit_enterprise_number_is_a_form_error(team, make, as_user, store):
    from tests.test_client_form import edit
    from tests.test_wizard import WIZARD, company_form

    http = as_user(team["admin"])
    message = "is not an enterprise number: it must have 10 digits"
    step = post(http, WIZARD, company_form(enterprise_number="1" * 10_000))
    assert step.status_code == 200 and message in step.text
    acme = make.client(team["group"], name="Acme NV")
    before = acme.enterprise_number
    edited = edit(http, acme, enterprise_number="1" * 10_000)
    assert edited.status_code == 200 and message in edited.text
    assert store.count(Client) == 1 and store.get(Client, acme.id).enterprise_number == before


def test_a_saved_view_longer_than_its_column_is_refused(team, as_user, store):
    http = as_user(team["staff"])
    query = "search=" + "a" * (SavedFilter.query.type.length + 1)
    response = post(http, "/admin/client/views/save/", {"name": "Too long", "query": query}, follow_redirects=True)
    assert response.status_code == 200 and "too many filters to be saved" in " ".join(flashes(response.text))
    assert store.count(SavedFilter) == 0


def test_a_document_stored_outside_the_documents_folder_answers_404(team, make, as_user, store):
    acme = make.client(team["group"])
    outside = store.run(lambda s: s.merge(Document(client_id=acme.id, filename="passwd", storage_path="../../../etc/passwd")))
    response = as_user(team["staff"]).get("/admin/document/download/", query_string={"id": outside.id})
    assert response.status_code == 404
