"""Delivery of accounting documents by a real worker process to real servers (SMTP, sFTP, an upload API),
failure then resend, integration rules, and the scoping of documents and their files."""
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest

from clientdesk.jobs.documents import retry_due
from clientdesk.models import ClientIntegration, Document, IntegrationProduct, Role, Task, utcnow
from clientdesk.retries import DELAYS_MINUTES
from clientdesk.services.storage import DocumentStore
from tests.helpers import flashes, post
from tests.outside import HttpServer, SftpServer, UploadApiApp
from tests.servers import SmtpServer, free_port, run_worker_burst

FIRST_DELAY = timedelta(minutes=DELAYS_MINUTES[0])

PDF = b"%PDF-1.4\n" + b"1" * 4096 + b"\n%%EOF\n"
UBL = b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"><ID>F-1</ID></Invoice>'


@pytest.fixture
def team(make):
    group = make.group("Team D")
    return SimpleNamespace(group=group, staff=make.user(Role.STAFF, groups=[group]), admin=make.user(Role.ADMIN))


@pytest.fixture
def documents(app, store):
    """documents(client, (filename, doc_type[, with_ubl]), ...) → stored files and Inbox rows."""
    files = DocumentStore.from_config(app.config)

    def create(client, *specs, status="inbox"):
        rows = []
        for spec in specs:
            filename, doc_type, *ubl = spec
            row = Document(client_id=client.id, filename=filename, content_type="application/pdf", size=len(PDF),
                           storage_path=files.save(client.id, filename, PDF), doc_type=doc_type, status=status,
                           sender="factuur@leverancier.example.com")
            if ubl and ubl[0]:
                row.ubl_storage_path, row.ubl_filename = files.save(client.id, "invoice.xml", UBL), filename[:-4] + ".xml"
            rows.append(store.run(lambda s, row=row: (s.add(row), s.flush(), row)[2]))
        return rows

    return create


def connect(store, client, product_name, **settings):
    def add(s):
        product = s.query(IntegrationProduct).filter_by(name=product_name).one()
        s.add(ClientIntegration(client_id=client.id, product_id=product.id, **settings))

    store.run(add)


def attachments(message):
    return [(part.get_filename(), part.get_content_type(), part.get_content()) for part in message.iter_attachments()]


def test_email_delivery_per_document_type_with_the_ubl_attached(team, make, as_user, app_config, smtp, documents, store):
    acme = make.client(team.group, name="Garage Lambert SA")
    connect(store, acme, "Octopus", delivery_method="email", attach_ubl=True, credit_card_statements="misc",
            delivery_email_purchase="purchase@octopus.example.com", delivery_email_sales="sales@octopus.example.com",
            delivery_email_misc="misc@octopus.example.com")
    invoice, sale, card = documents(acme, ("F-1.pdf", "purchase", True), ("V-7.pdf", "sales"), ("visa-03.pdf", "credit_card"))
    http = as_user(team.staff)
    response = post(http, "/admin/client/send-documents/", {"id": acme.id})
    assert "/admin/task/details/" in response.headers["Location"]

    run_worker_burst(app_config, MAIL_URL=smtp.url)

    by_address = {m["To"]: m for m in smtp.messages}
    assert set(by_address) == {"purchase@octopus.example.com", "sales@octopus.example.com", "misc@octopus.example.com"}
    assert attachments(by_address["purchase@octopus.example.com"]) == [
        ("F-1.pdf", "application/pdf", PDF), ("F-1.xml", "application/xml", UBL)]
    assert attachments(by_address["sales@octopus.example.com"]) == [("V-7.pdf", "application/pdf", PDF)]
    assert [a[0] for a in attachments(by_address["misc@octopus.example.com"])] == ["visa-03.pdf"]  # cards go with misc here
    sent = store.get(Document, invoice.id)
    assert (sent.status, sent.delivered_to, sent.attempts, sent.error) == ("sent", "purchase@octopus.example.com", 1, None)
    assert store.one(Task).result["done"] == 3
    assert "Inbox: 0" in http.get(f"/admin/client/details/?id={acme.id}").text


def test_one_address_for_everything_and_no_ubl_unless_asked(team, make, as_user, app_config, smtp, documents, store):
    acme = make.client(team.group)
    connect(store, acme, "Yuki", delivery_method="email", delivery_email="acme@yukiworks.example.com")
    docs = documents(acme, ("a.pdf", "purchase", True), ("b.pdf", "sales"))
    post(as_user(team.staff), "/admin/document/action/", {"action": "send", "rowid": [str(d.id) for d in docs]})
    run_worker_burst(app_config, MAIL_URL=smtp.url)
    assert [m["To"] for m in smtp.messages] == ["acme@yukiworks.example.com"] * 2
    assert all(len(attachments(m)) == 1 for m in smtp.messages)


def test_sftp_delivery_into_the_type_folders_and_the_host_key_is_checked(team, make, as_user, app_config, documents,
                                                                         store, tmp_path):
    root = tmp_path / "sftp"
    root.mkdir()
    server = SftpServer(root, {"firm": "s3cret-pass"}).start()
    try:
        acme = make.client(team.group)
        connect(store, acme, "Winbooks", delivery_method="sftp", sftp_url=f"sftp://firm@127.0.0.1:{server.port}/clients/acme",
                sftp_password="s3cret-pass")
        invoice, sale = documents(acme, ("F-1.pdf", "purchase"), ("V-7.pdf", "sales"))
        http = as_user(team.staff)
        post(http, "/admin/document/action/", {"action": "send", "rowid": [str(invoice.id), str(sale.id)]})
        run_worker_burst(app_config)

        assert (root / "clients/acme/purchase" / f"{invoice.id}-F-1.pdf").read_bytes() == PDF
        assert (root / "clients/acme/sales" / f"{sale.id}-V-7.pdf").read_bytes() == PDF
        assert store.get(Document, invoice.id).status == "sent"
        remembered = store.one(ClientIntegration, client_id=acme.id).sftp_host_key
        assert remembered == " ".join(server.public_key.split()[:2])  # "ssh-ed25519 AAAA…", trusted on first use

        # another server answering at that address: refused, the document fails with the reason
        later, = documents(acme, ("F-2.pdf", "purchase"))
        store.run(lambda s: setattr(s.query(ClientIntegration).filter_by(client_id=acme.id).one(), "sftp_host_key",
                                    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherKeyOtherKeyOtherKeyOtherKeyOtherKey"))
        post(http, "/admin/document/action/", {"action": "send", "rowid": [str(later.id)]})
        run_worker_burst(app_config)
        failed = store.get(Document, later.id)
        assert failed.status == "failed" and "different host key" in failed.error
    finally:
        server.stop()


def test_api_refusal_fails_then_resend_to_accountant(team, make, as_user, app_config, documents, store):
    api = HttpServer(UploadApiApp(token="cf-token")).start()
    try:
        acme = make.client(team.group)
        connect(store, acme, "Clearfacts", delivery_method="api", api_url=f"{api.url}/graphql", api_token="cf-token")
        invoice, = documents(acme, ("F-9.pdf", "purchase"))
        http = as_user(team.staff)
        api.app.fail_with = 422
        post(http, "/admin/client/send-documents/", {"id": acme.id})
        run_worker_burst(app_config)

        failed = store.get(Document, invoice.id)
        assert failed.status == "failed" and "HTTP 422" in failed.error and failed.retry_at is None
        task = store.one(Task)
        assert task.status == "finished" and "could not be delivered" in task.error
        assert "HTTP 422" in http.get(f"/admin/document/?flt0_client_id_equals={acme.id}").text  # Failed shows why
        assert "Resend the failed ones" in http.get(f"/admin/client/details/?id={acme.id}").text

        api.app.fail_with = None
        post(http, "/admin/client/send-documents/", {"id": acme.id, "failed": "1"})
        run_worker_burst(app_config)
        sent = store.get(Document, invoice.id)
        assert (sent.status, sent.attempts, sent.error) == ("sent", 2, None) and "upload-1" in sent.delivered_to
        (variables, filename, content_type, data), = api.app.uploads
        assert variables == {"vatnumber": acme.vat_number, "filename": "F-9.pdf", "invoicetype": "PURCHASE", "file": None}
        assert (filename, content_type, data) == ("F-9.pdf", "application/pdf", PDF)
    finally:
        api.stop()


def test_api_unavailable_is_retried_with_its_reply_then_delivered(team, make, as_user, app, app_config, documents, store):
    api = HttpServer(UploadApiApp(token="cf-token")).start()
    try:
        acme = make.client(team.group)
        connect(store, acme, "Clearfacts", delivery_method="api", api_url=f"{api.url}/graphql", api_token="cf-token")
        invoice, = documents(acme, ("F-9.pdf", "purchase"))
        http = as_user(team.staff)
        api.app.fail_with = 503
        post(http, "/admin/client/send-documents/", {"id": acme.id})
        before = utcnow()
        run_worker_burst(app_config)

        waiting = store.get(Document, invoice.id)
        assert (waiting.status, waiting.failed_attempts) == ("inbox", 1)
        assert "HTTP 503 Service Unavailable" in waiting.error and "temporarily unavailable" not in waiting.error  # no remote words
        assert before + FIRST_DELAY - timedelta(seconds=1) < waiting.retry_at <= utcnow() + FIRST_DELAY  # the first delay
        task = store.one(Task)
        assert task.status == "finished" and "1 document will be tried again automatically" in task.error
        listing = http.get("/admin/document/?flt0_delivery_not_done=retrying").text
        assert "F-9.pdf" in listing and "Retrying at" in listing and "HTTP 503" in listing
        assert "F-9.pdf" not in http.get("/admin/document/?flt0_delivery_not_done=failed").text

        api.app.fail_with = None
        store.update(Document, invoice.id, retry_at=utcnow() + timedelta(minutes=1))  # a loaded machine may be past it
        with app.app_context():
            assert retry_due() == 0  # not due yet
        store.update(Document, invoice.id, retry_at=utcnow() - timedelta(seconds=1))
        with app.app_context():
            assert retry_due() == 1
            assert retry_due() == 0  # claimed: a second call does not start it twice
        run_worker_burst(app_config)
        sent = store.get(Document, invoice.id)
        assert (sent.status, sent.attempts, sent.error, sent.retry_at, sent.first_failed_at) == ("sent", 2, None, None, None)
        assert len(api.app.uploads) == 1
        assert store.count(Task, kind="send_documents", user_id=None) == 1  # started by retry_due, no one's
    finally:
        api.stop()


def test_smtp_4xx_is_retried_and_a_refused_address_fails(team, make, as_user, app_config, documents, store):
    smtp = SmtpServer(defer={"greylisted@octopus.example.com"}, refuse={"gone@octopus.example.com"}).start()
    try:
        deferred, refused = make.client(team.group, name="Deferred BV"), make.client(team.group, name="Refused BV")
        connect(store, deferred, "Octopus", delivery_method="email", delivery_email="greylisted@octopus.example.com")
        connect(store, refused, "Octopus", delivery_method="email", delivery_email="gone@octopus.example.com")
        later, = documents(deferred, ("later.pdf", "purchase"))
        never, = documents(refused, ("never.pdf", "purchase"))
        post(as_user(team.staff), "/admin/document/action/", {"action": "send", "rowid": [str(later.id), str(never.id)]})
        run_worker_burst(app_config, MAIL_URL=smtp.url)

        later, never = store.get(Document, later.id), store.get(Document, never.id)
        assert later.status == "inbox" and later.retry_at is not None and "451" in later.error
        assert never.status == "failed" and never.retry_at is None and "550" in never.error
        result = store.one(Task).result
        assert [row["client"] for row in result["retrying"]] == ["Deferred BV"]
        assert [row["client"] for row in result["failed"]] == ["Refused BV"]
    finally:
        smtp.stop()


def test_sftp_down_is_retried_and_a_wrong_password_fails(team, make, as_user, app_config, documents, store, tmp_path):
    server = SftpServer(tmp_path, {"firm": "s3cret-pass"}).start()
    try:
        down, wrong = make.client(team.group, name="Down BV"), make.client(team.group, name="Wrong BV")
        connect(store, down, "Winbooks", delivery_method="sftp", sftp_url=f"sftp://firm@127.0.0.1:{free_port()}/in",
                sftp_password="s3cret-pass")
        connect(store, wrong, "Winbooks", delivery_method="sftp", sftp_url=f"sftp://firm@127.0.0.1:{server.port}/in",
                sftp_password="not-the-password")
        later, = documents(down, ("later.pdf", "purchase"))
        never, = documents(wrong, ("never.pdf", "purchase"))
        post(as_user(team.staff), "/admin/document/action/", {"action": "send", "rowid": [str(later.id), str(never.id)]})
        run_worker_burst(app_config)

        later, never = store.get(Document, later.id), store.get(Document, never.id)
        assert later.status == "inbox" and later.retry_at is not None and "could not be reached" in later.error
        assert never.status == "failed" and never.retry_at is None and "refused the user name or password" in never.error
    finally:
        server.stop()


def test_delivery_retries_end_in_failed_when_the_window_is_over(team, make, app, app_config, documents, store):
    acme = make.client(team.group)
    connect(store, acme, "Winbooks", delivery_method="sftp", sftp_url=f"sftp://firm@127.0.0.1:{free_port()}/in",
            sftp_password="s3cret-pass")
    late, = documents(acme, ("late.pdf", "purchase"))
    store.update(Document, late.id, error="The sFTP server could not be reached", failed_attempts=14,
                 first_failed_at=utcnow() - timedelta(hours=24), retry_at=utcnow() - timedelta(seconds=1))
    with app.app_context():
        assert retry_due() == 1
    run_worker_burst(app_config)
    late = store.get(Document, late.id)
    assert (late.status, late.retry_at, late.first_failed_at) == ("failed", None, None)
    assert "could not be reached" in late.error


def test_manual_delivery_and_no_integration_leave_documents_in_the_inbox(team, make, as_user, app_config, documents, store):
    manual = make.client(team.group, name="Manual BV")
    connect(store, manual, "Wings", delivery_method="manual")
    bare = make.client(team.group, name="Bare BV")
    docs = documents(manual, ("m.pdf", "purchase")) + documents(bare, ("b.pdf", "purchase"))
    sent_already, = documents(manual, ("old.pdf", "purchase"), status="sent")
    post(as_user(team.staff), "/admin/document/action/", {"action": "send", "rowid": [str(d.id) for d in [*docs, sent_already]]})
    run_worker_burst(app_config)
    assert [store.get(Document, d.id).status for d in docs] == ["inbox", "inbox"]
    reasons = " | ".join(row["reason"] for row in store.one(Task).result["skipped"])
    assert "delivered manually" in reasons and "no accounting software connected" in reasons
    assert "already sent" not in reasons  # sent documents are not even queued


def test_one_integration_per_client_and_only_supported_methods(team, make, as_user, store):
    acme = make.client(team.group, name="Acme BV")
    http = as_user(team.admin)
    products = {p.name: p.id for p in store.all(IntegrationProduct)}
    form = {"client": acme.id, "product": products["Yuki"], "delivery_method": "email",
            "delivery_email": "acme@yukiworks.example.com", "credit_card_statements": "purchase"}
    assert post(http, "/admin/clientintegration/new/", form).status_code == 302
    second = post(http, "/admin/clientintegration/new/", {**form, "product": products["Octopus"]})
    assert "already connected to Yuki" in second.text and "at most one accounting software" in second.text
    assert store.count(ClientIntegration, client_id=acme.id) == 1

    other = make.client(team.group)
    unsupported = post(http, "/admin/clientintegration/new/", {**form, "client": other.id, "delivery_method": "sftp",
                                                               "sftp_url": "sftp://u@h/x", "sftp_password": "p"})
    assert "does not take documents by sFTP folder" in unsupported.text
    incomplete = post(http, "/admin/clientintegration/new/", {**form, "client": other.id, "product": products["Octopus"],
                                                              "delivery_email": "", "delivery_email_sales": "s@o.example.com"})
    assert "missing: purchase, miscellaneous" in incomplete.text
    assert store.count(ClientIntegration, client_id=other.id) == 0


def test_whitelist_note_and_secrets_kept_when_left_empty(team, make, as_user, store):
    acme = make.client(team.group)
    connect(store, acme, "Clearfacts", delivery_method="api", api_url="https://api.clearfacts.example/graphql", api_token="tok-1")
    integration = store.one(ClientIntegration, client_id=acme.id)
    http = as_user(team.admin)
    page = http.get(f"/admin/clientintegration/edit/?id={integration.id}").text
    assert "tok-1" not in page
    response = post(http, f"/admin/clientintegration/edit/?id={integration.id}", {
        "client": acme.id, "product": integration.product_id, "delivery_method": "email", "delivery_email": "in@cf.example.com",
        "credit_card_statements": "purchase", "api_url": "https://api.clearfacts.example/graphql", "api_token": ""})
    assert response.status_code == 302, flashes(response.text)
    assert store.one(ClientIntegration, client_id=acme.id).api_token == "tok-1"
    assert "whitelisted sender in Clearfacts" in http.get("/admin/clientintegration/").text


def test_documents_and_their_files_stay_in_scope(team, make, as_user, app_config, documents, smtp, store):
    mine = make.client(team.group, name="Mine BV")
    theirs = make.client(make.group("Team E"), name="Theirs BV")
    connect(store, theirs, "Yuki", delivery_method="email", delivery_email="theirs@yukiworks.example.com")
    own, = documents(mine, ("own.pdf", "purchase"))
    foreign, = documents(theirs, ("foreign.pdf", "purchase"))
    http = as_user(team.staff)

    listing = http.get("/admin/document/").text
    assert "own.pdf" in listing and "foreign.pdf" not in listing
    assert http.get(f"/admin/document/download/?id={own.id}").data == PDF
    assert http.get(f"/admin/document/download/?id={foreign.id}").status_code == 404
    assert http.get(f"/admin/document/details/?id={foreign.id}").status_code == 404
    assert post(http, "/admin/client/send-documents/", {"id": theirs.id}).status_code == 404
    post(http, "/admin/document/action/", {"action": "send", "rowid": [str(foreign.id)]})
    run_worker_burst(app_config, MAIL_URL=smtp.url)
    assert smtp.messages == [] and store.get(Document, foreign.id).status == "inbox"
    assert http.get("/admin/document/download/?id=abc").status_code == 404
    assert re.search(rf"download/\?id={own.id}\b", listing)


def test_admins_add_to_the_catalogue_with_its_delivery_methods(team, as_user, store):
    http = as_user(team.admin)
    response = post(http, "/admin/integration/new/", {"name": "Silverfin", "delivery_methods": ["api", "email"],
                                                      "sender_whitelist_required": "y"})
    assert response.status_code == 302
    product = store.one(IntegrationProduct, name="Silverfin")
    assert (product.delivery_methods, product.sender_whitelist_required) == ("email,api", True)
    form = http.get(f"/admin/integration/edit/?id={product.id}").text
    assert re.search(r'<option[^>]*selected[^>]*value="api"|<option[^>]*value="api"[^>]*selected', form)
    refused = post(http, "/admin/integration/new/", {"name": "Nothing", "delivery_methods": ["fax"]})
    assert refused.status_code == 200 and store.count(IntegrationProduct, name="Nothing") == 0
