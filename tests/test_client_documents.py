"""The client page's documents tab: the newest documents with their download and, for a real PDF or image, a preview
served inline under a sandboxing policy, both scoped like the client."""
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest

from clientdesk.admin.clients import PAGE_DOCUMENTS
from clientdesk.models import Document, Role, utcnow
from clientdesk.services.storage import DocumentStore

PDF = b"%PDF-1.4\n" + b"1" * 512 + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
HTML = b"<html><script>alert(document.cookie)</script></html>"


@pytest.fixture
def team(make):
    group = make.group("Team Docs")
    return SimpleNamespace(group=group, staff=make.user(Role.STAFF, groups=[group]),
                           supervisor=make.user(Role.SUPERVISOR), admin=make.user(Role.ADMIN))


@pytest.fixture
def stored(app, store):
    """stored(client, filename, content_type, data, minutes_ago=0, status="inbox") → a document row with its file."""
    files = DocumentStore.from_config(app.config)

    def create(client, filename, content_type, data, minutes_ago=0, status="inbox"):
        row = Document(client_id=client.id, filename=filename, content_type=content_type, size=len(data),
                       storage_path=files.save(client.id, filename, data), doc_type="purchase", status=status,
                       received_at=utcnow() - timedelta(minutes=minutes_ago))
        return store.run(lambda s: (s.add(row), s.flush(), row)[2])

    return create


def documents_tab(http, client):
    page = http.get(f"/admin/client/details/?id={client.id}")
    assert page.status_code == 200
    return page.text.split('id="client-documents"', 1)[1].split("</table>", 1)[0]


def test_the_tab_lists_the_newest_documents_with_download_and_preview(team, make, as_user, stored):
    acme = make.client(team.group, name="Garage Lambert SA")
    invoice = stored(acme, "F-2026-001.pdf", "application/pdf", PDF, minutes_ago=5, status="sent")
    receipt = stored(acme, "ticket.png", "image/png", PNG, minutes_ago=1)
    sheet = stored(acme, "stock.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK\x03\x04",
                   minutes_ago=10)
    http = as_user(team.staff)

    tab = documents_tab(http, acme)
    assert tab.index("ticket.png") < tab.index("F-2026-001.pdf") < tab.index("stock.xlsx")  # newest first
    assert "Purchase" in tab and "Sent" in tab and "Inbox" in tab
    for document in (invoice, receipt, sheet):
        assert f"/admin/document/download/?id={document.id}" in tab
    assert f"/admin/document/preview/?id={invoice.id}" in tab and f"/admin/document/preview/?id={receipt.id}" in tab
    assert f"/admin/document/preview/?id={sheet.id}" not in tab  # download only
    assert http.get(f"/admin/document/download/?id={sheet.id}").data == b"PK\x03\x04"


def test_the_tab_shows_a_page_of_documents_and_links_to_all_of_them(team, make, as_user, stored):
    acme = make.client(team.group)
    for n in range(PAGE_DOCUMENTS + 1):
        stored(acme, f"doc-{n:02d}.pdf", "application/pdf", PDF, minutes_ago=n)
    http = as_user(team.staff)

    tab = documents_tab(http, acme)
    assert tab.count("/admin/document/download/") == PAGE_DOCUMENTS
    assert "doc-00.pdf" in tab and f"doc-{PAGE_DOCUMENTS:02d}.pdf" not in tab
    page = http.get(f"/admin/client/details/?id={acme.id}").text
    assert f"/admin/document/?flt0_client_id_equals={acme.id}" in page
    assert f"All {PAGE_DOCUMENTS + 1} documents of this client" in page


@pytest.mark.parametrize("content_type, data", [("application/pdf", PDF), ("image/png", PNG), ("image/jpeg", JPEG)])
def test_the_preview_is_inline_under_a_sandboxing_policy(team, make, as_user, stored, content_type, data):
    acme = make.client(team.group)
    document = stored(acme, "scan", content_type, data)
    response = as_user(team.staff).get(f"/admin/document/preview/?id={document.id}")

    assert response.status_code == 200 and response.data == data
    assert response.mimetype == content_type
    assert response.headers["Content-Disposition"].startswith("inline")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    policy = [part.strip() for part in response.headers["Content-Security-Policy"].split(";")]
    assert {"sandbox", "default-src 'none'", "frame-ancestors 'none'"} <= set(policy)
    assert not any("script-src" in part or "nonce" in part for part in policy)
    assert len(response.headers.getlist("Content-Security-Policy")) == 1


def test_other_pages_keep_the_app_policy(team, make, as_user):
    response = as_user(team.staff).get("/admin/document/")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("content_type, data", [
    ("text/html", HTML),  # not a kind the browser may show
    ("application/pdf", HTML),  # says PDF, is not
    ("image/png", JPEG),  # says PNG, is a JPEG
])
def test_no_preview_for_what_is_not_really_a_pdf_or_an_image(team, make, as_user, stored, content_type, data):
    acme = make.client(team.group)
    document = stored(acme, "file", content_type, data)
    http = as_user(team.staff)
    refused = http.get(f"/admin/document/preview/?id={document.id}")
    assert refused.status_code == 404
    assert "script-src 'self'" in refused.headers["Content-Security-Policy"]  # the app's, as on every error page
    download = http.get(f"/admin/document/download/?id={document.id}")
    assert download.status_code == 200 and download.headers["Content-Disposition"].startswith("attachment")


def test_preview_and_download_are_scoped_like_the_client(team, make, as_user, stored):
    theirs = make.client(make.group("Team Elsewhere"), name="Theirs BV")
    hidden = make.client(team.group, name="Hidden Garage NV", hidden=True)
    foreign = stored(theirs, "foreign.pdf", "application/pdf", PDF)
    secret = stored(hidden, "secret.png", "image/png", PNG)
    staff, supervisor, admin = as_user(team.staff), as_user(team.supervisor), as_user(team.admin)

    for route in ("preview", "download"):
        assert staff.get(f"/admin/document/{route}/?id={foreign.id}").status_code == 404
        assert staff.get(f"/admin/document/{route}/?id={secret.id}").status_code == 404
        assert supervisor.get(f"/admin/document/{route}/?id={secret.id}").status_code == 404
        assert supervisor.get(f"/admin/document/{route}/?id={foreign.id}").status_code == 200
        assert admin.get(f"/admin/document/{route}/?id={secret.id}").status_code == 200
        assert staff.get(f"/admin/document/{route}/?id=abc").status_code == 404
    assert supervisor.get(f"/admin/client/details/?id={hidden.id}").status_code == 404
    assert re.search(rf"preview/\?id={secret.id}\b", documents_tab(admin, hidden))
