"""The company's documents in the portal: the Inbox / Sent / Failed lists, the download of its own files, and the upload
into its Inbox (type told by content, size-limited, all files or none), through the inbound e-mail's pipeline."""
import io
from datetime import timedelta
from pathlib import Path

import pytest

from clientdesk.models import AuditEvent, Client, Document, Role, utcnow
from clientdesk.services.storage import DocumentStore
from tests.helpers import csrf_token, flashes, portal_login, post

PDF = b"%PDF-1.7\n" + b"0" * 3000 + b"\n%%EOF\n"
UBL = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">'
       b"<ID>F-2026-7</ID></Invoice>")
CREDIT_NOTE = b'<CreditNote xmlns="urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"><ID>CN-1</ID></CreditNote>'
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x01" * 500 + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x02" * 500
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 500 + b"This program cannot be run in DOS mode."
BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">'
                  b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
                  b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">&lol3;</Invoice>')


@pytest.fixture(autouse=True)
def documents_dir(app, tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "documents"
    monkeypatch.setitem(app.config, "DOCUMENTS_DIR", str(folder))
    return folder


@pytest.fixture
def acme(make):
    return make.client(name="Boulangerie Dupont SRL", status="active")


@pytest.fixture
def owner(make, acme):
    return make.client_user(acme, email="marie@dupont.example.com")


@pytest.fixture
def http(app, owner):
    browser = app.test_client()
    portal_login(browser, owner.email)
    return browser


def upload(http, *files, **kwargs):
    """POST the upload form with these (file name, bytes) and a valid CSRF token."""
    return post(http, "/portal/documents/upload", {"files": [(io.BytesIO(data), name) for name, data in files]},
                content_type="multipart/form-data", **kwargs)


def stored_files(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()}


def test_each_accepted_type_lands_in_the_inbox_as_inbound_mail_would_and_downloads_the_same_bytes(
        app, http, make, acme, owner, store, as_user, documents_dir):
    sent = {"facture-mars.pdf": PDF, "F-2026-7.xml": UBL, "ticket.jpg": JPEG, "scan.png": PNG}
    response = upload(http, *sent.items())
    assert response.status_code == 303 and response.headers["Location"] == "/portal/documents"
    page = http.get("/portal/documents")
    assert flashes(page.text) == ["4 documents are in your Inbox."]

    documents = {d.filename: d for d in store.all(Document, client_id=acme.id)}
    assert set(documents) == set(sent)
    for name, data in sent.items():
        document = documents[name]
        assert (document.status, document.doc_type, document.sender, document.size) == ("inbox", "purchase", owner.email, len(data))
        assert f'href="/portal/documents/{document.id}/download"' in page.text
        assert DocumentStore.from_config(app.config).path(document.storage_path).read_bytes() == data
        with http.get(f"/portal/documents/{document.id}/download") as download:
            assert download.status_code == 200 and download.data == data
            assert download.headers["Content-Disposition"] == f"attachment; filename={name}"
            assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert {d.content_type for d in documents.values()} == {"application/pdf", "application/xml", "image/jpeg", "image/png"}
    assert len(stored_files(documents_dir)) == 4

    events = store.all(AuditEvent, client_id=acme.id, object_type="document")
    assert sorted(e.object_id for e in events) == sorted(str(d.id) for d in documents.values())
    assert {(e.actor, e.action) for e in events} == {(owner.email, "create")}

    staff_list = as_user(make.user(Role.ADMIN)).get("/admin/document/").text
    for name in sent:
        assert name in staff_list


def test_a_ubl_goes_with_its_pdf_as_in_an_e_mail(http, acme, store):
    assert upload(http, ("F-9.pdf", PDF), ("F-9.xml", UBL), ("avoir.xml", CREDIT_NOTE)).status_code == 303
    documents = {d.filename: d for d in store.all(Document, client_id=acme.id)}
    assert set(documents) == {"F-9.pdf", "avoir.xml"}
    paired = documents["F-9.pdf"]
    assert paired.ubl_filename == "F-9.xml"
    with http.get(f"/portal/documents/{paired.id}/download?ubl=1") as download:
        assert download.data == UBL and download.mimetype == "application/xml"
    page = http.get("/portal/documents").text
    assert f'href="/portal/documents/{paired.id}/download?ubl=1"' in page


def test_a_file_whose_name_does_not_fit_its_content_gets_the_right_extension(http, acme, store):
    assert upload(http, ("scan", JPEG), ("../../etc/facture\u202egnp.pdf", PNG)).status_code == 303
    names = {d.filename for d in store.all(Document, client_id=acme.id)}
    assert names == {"scan.jpg", "facturegnp.pdf.png"}


@pytest.mark.parametrize(("name", "data", "problem"), [
    ("invoice.pdf", EXE, "invoice.pdf is not a real PDF file: its content is something else."),
    ("setup.exe", EXE, "setup.exe is not a kind of file the portal takes (PDF, UBL invoice or credit note (XML), JPEG, PNG)."),
    ("page.xml", b"<html><body>not an invoice</body></html>",
     "page.xml is not a real UBL invoice or credit note (XML) file: its content is something else."),
    ("bomb.xml", BILLION_LAUGHS, "bomb.xml is not a real UBL invoice or credit note (XML) file: its content is something else."),
    ("empty.pdf", b"", "empty.pdf is empty."),
])
def test_a_bad_file_is_refused_with_the_reason_and_nothing_is_written(http, acme, store, documents_dir, name, data, problem):
    response = upload(http, ("good.pdf", PDF), (name, data))
    assert response.status_code == 400
    assert flashes(response.text) == [problem, "Nothing was uploaded: send the files again without these."]
    assert store.count(Document, client_id=acme.id) == 0 and stored_files(documents_dir) == set()
    assert store.count(AuditEvent, object_type="document") == 0


def test_only_the_configured_types_are_taken(app, http, acme, store, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_UPLOAD_TYPES", ("pdf",))
    response = upload(http, ("scan.png", PNG))
    assert response.status_code == 400 and "scan.png is not a kind of file the portal takes (PDF)." in flashes(response.text)
    assert 'accept=".pdf"' in http.get("/portal/documents").text
    assert upload(http, ("facture.pdf", PDF)).status_code == 303


def test_no_file_chosen_says_so(http, acme, store):
    response = post(http, "/portal/documents/upload", {}, content_type="multipart/form-data")
    assert response.status_code == 400 and "Choose at least one file." in response.text


def test_a_file_or_an_upload_too_large_answers_413_and_nothing_is_written(app, http, acme, store, documents_dir, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_UPLOAD_MAX_BYTES", 2048)
    one_too_big = upload(http, ("small.pdf", PDF[:1000]), ("big.pdf", PDF))  # the request is within the form's margin
    assert one_too_big.status_code == 413
    assert "big.pdf is larger than 2 kB, the most a file may be." in flashes(one_too_big.text)

    whole = upload(http, ("huge.pdf", PDF + b"0" * 200_000))
    assert whole.status_code == 413 and "at most 2 kB per upload" in whole.text
    assert 'href="/portal/documents"' in whole.text
    assert store.count(Document, client_id=acme.id) == 0 and stored_files(documents_dir) == set()


def test_the_upload_limit_is_its_own_not_the_apps(app, http, acme, store, monkeypatch):
    """MAX_CONTENT_LENGTH stays the limit of every other page; the upload's is PORTAL_UPLOAD_MAX_BYTES."""
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    assert upload(http, ("facture.pdf", PDF)).status_code == 303
    assert post(http, "/portal/allowed-senders", {"pattern": "x" * 2000}).status_code == 413


def test_without_csrf_token_the_upload_answers_400_and_writes_nothing(http, acme, store, documents_dir):
    response = http.post("/portal/documents/upload", data={"files": [(io.BytesIO(PDF), "facture.pdf")]},
                         content_type="multipart/form-data")
    assert response.status_code == 400
    assert store.count(Document, client_id=acme.id) == 0 and stored_files(documents_dir) == set()


def test_a_deactivated_company_cannot_upload(http, acme, store, documents_dir):
    csrf = csrf_token(http, "/portal/documents/upload")
    store.update(Client, acme.id, status="deactivated", deactivated_at=utcnow())
    response = http.post("/portal/documents/upload", data={"files": [(io.BytesIO(PDF), "facture.pdf")], "csrf_token": csrf},
                         content_type="multipart/form-data")
    assert response.status_code == 302 and response.headers["Location"].startswith("/portal/login")
    assert store.count(Document, client_id=acme.id) == 0 and stored_files(documents_dir) == set()


def add_documents(store, client, count: int, status: str = "inbox", name: str = "doc") -> list[Document]:
    start = utcnow() - timedelta(days=1)
    rows = [Document(client_id=client.id, filename=f"{name}-{i:02d}.pdf", storage_path=f"{client.id}/x/{name}-{i}.pdf",
                     status=status, received_at=start + timedelta(minutes=i),
                     sent_at=start + timedelta(hours=2) if status == "sent" else None) for i in range(count)]
    return store.run(lambda s: (s.add_all(rows), s.flush(), rows)[2])


def test_the_three_lists_newest_first_a_page_at_a_time(http, make, acme, store):
    add_documents(store, acme, 23)
    add_documents(store, acme, 1, status="sent", name="sent")
    add_documents(store, acme, 2, status="failed", name="failed")
    other = make.client(name="Autre Société SA", status="active")
    add_documents(store, other, 3, name="theirs")

    first = http.get("/portal/documents").text
    assert [f"doc-{i:02d}.pdf" in first for i in (22, 3, 2)] == [True, True, False]
    assert first.index("doc-22.pdf") < first.index("doc-21.pdf")
    assert "Page 1 of 2" in first and "theirs" not in first and "sent-00.pdf" not in first
    for label, count in (("Inbox", 23), ("Sent", 1), ("Failed", 2)):
        assert f'{label} <span class="badge badge-light">{count}</span>' in first
    second = http.get("/portal/documents?page=2").text
    assert "doc-02.pdf" in second and "doc-00.pdf" in second and "doc-03.pdf" not in second
    assert "sent-00.pdf" in http.get("/portal/documents?status=sent").text
    failed = http.get("/portal/documents?status=failed").text
    assert "failed-00.pdf" in failed and "failed-01.pdf" in failed and "doc-" not in failed
    for odd in ("?page=0", "?page=-1", f"?page={10**23}", "?page=999", "?status=nonsense"):
        assert http.get(f"/portal/documents{odd}").status_code == 200, odd


def test_another_companys_document_answers_404(http, make, store):
    other = make.client(name="Autre Société SA", status="active")
    theirs, = add_documents(store, other, 1, name="theirs")
    assert http.get(f"/portal/documents/{theirs.id}/download").status_code == 404
    assert http.get(f"/portal/documents/{theirs.id}/download?ubl=1").status_code == 404


def test_the_two_settings_are_read_from_the_environment_and_checked(monkeypatch):
    from clientdesk.config import UPLOAD_TYPES, ConfigError, from_environment
    from clientdesk.portal.uploads import FILE_TYPES

    assert tuple(FILE_TYPES) == UPLOAD_TYPES
    monkeypatch.delenv("PORTAL_UPLOAD_MAX_BYTES", raising=False)
    monkeypatch.delenv("PORTAL_UPLOAD_TYPES", raising=False)
    defaults = from_environment(debug=False, testing=True)
    assert (defaults["PORTAL_UPLOAD_MAX_BYTES"], defaults["PORTAL_UPLOAD_TYPES"]) == (20 * 1024 * 1024, UPLOAD_TYPES)
    monkeypatch.setenv("PORTAL_UPLOAD_MAX_BYTES", "1048576")
    monkeypatch.setenv("PORTAL_UPLOAD_TYPES", " PDF, png,pdf ")
    chosen = from_environment(debug=False, testing=True)
    assert (chosen["PORTAL_UPLOAD_MAX_BYTES"], chosen["PORTAL_UPLOAD_TYPES"]) == (1048576, ("pdf", "png"))
    monkeypatch.setenv("PORTAL_UPLOAD_TYPES", "pdf,docx")
    with pytest.raises(ConfigError, match="PORTAL_UPLOAD_TYPES must name some of pdf, xml, jpeg, png"):
        from_environment(debug=False, testing=True)
    monkeypatch.setenv("PORTAL_UPLOAD_TYPES", "pdf")
    monkeypatch.setenv("PORTAL_UPLOAD_MAX_BYTES", "20MB")
    with pytest.raises(ConfigError, match="PORTAL_UPLOAD_MAX_BYTES must be a whole number of bytes"):
        from_environment(debug=False, testing=True)
