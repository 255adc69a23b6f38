"""Inbound mail through a real SMTP listener (in-process, and once as `flask inbound`): allowed and
unknown senders, unknown recipients, size limit, database down, UBL pairing, duplicates."""
import smtplib
import socket
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

from clientdesk.models import AllowedSender, Client, Document, RefusedSender, Role
from clientdesk.services.inbound import controller
from clientdesk.services.storage import DocumentStore
from tests.servers import ROOT, free_port, wait_for, worker_env

PDF = b"%PDF-1.4\n" + b"0" * 2048 + b"\n%%EOF\n"
UBL = (b'<?xml version="1.0" encoding="UTF-8"?><Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">'
       b"<ID>F-2026-001</ID></Invoice>")


def mail(to, sender="factuur@leverancier.example.com", files=(("factuur.pdf", "application/pdf", PDF),), message_id=None,
         subject="Factuur F-2026-001"):
    message = EmailMessage()
    message["From"] = f"Leverancier NV <{sender}>"
    message["To"] = to
    message["Subject"] = subject
    if message_id:
        message["Message-ID"] = message_id
    message.set_content("In bijlage onze factuur.")
    for name, content_type, data in files:
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message


def send(port, message, envelope_sender=None):
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        return smtp.send_message(message, from_addr=envelope_sender)


@pytest.fixture
def listener(app):
    server = controller(app, "127.0.0.1", free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def acme(make, store):
    client = make.client(name="Bakkerij Peeters BV")
    store.run(lambda s: s.add(AllowedSender(client_id=client.id, pattern="@leverancier.example.com")))
    return client


def test_an_allowed_sender_s_attachment_lands_in_the_inbox(app, acme, listener, store, make, as_user):
    refused = send(listener.port, mail(acme.inbound_email))
    assert refused == {}
    document = store.one(Document, client_id=acme.id)
    assert (document.status, document.filename, document.sender) == ("inbox", "factuur.pdf", "factuur@leverancier.example.com")
    assert (document.content_type, document.size, document.doc_type) == ("application/pdf", len(PDF), "purchase")
    assert DocumentStore.from_config(app.config).path(document.storage_path).read_bytes() == PDF

    admin = as_user(make.user(Role.ADMIN))
    assert 'flt1_status_equals=inbox">1</a>' in admin.get("/admin/client/").text  # the list's inbox count
    download = admin.get(f"/admin/document/download/?id={document.id}")
    assert download.status_code == 200 and download.data == PDF


def test_an_unknown_sender_is_refused_counted_and_logged(acme, listener, store, make, as_user):
    with pytest.raises(smtplib.SMTPDataError) as refusal:
        send(listener.port, mail(acme.inbound_email, sender="spam@elsewhere.example.com", subject="Facture d'été"))
    assert refusal.value.smtp_code == 550 and b"may not send documents" in refusal.value.smtp_error
    assert store.count(Document) == 0
    assert store.get(Client, acme.id).refused_senders_count == 1
    logged = store.one(RefusedSender, client_id=acme.id)
    assert (logged.header_from, logged.subject) == ("spam@elsewhere.example.com", "Facture d'été")
    page = as_user(make.user(Role.ADMIN)).get(f"/admin/client/details/?id={acme.id}").text
    assert "1 message refused" in page and "spam@elsewhere.example.com" in page


def test_envelope_sender_counts_too_and_exact_addresses_match(acme, listener, store):
    store.run(lambda s: s.add(AllowedSender(client_id=acme.id, pattern="boekhouding@klant.example.com")))
    # forwarded through a mailing service: the envelope sender is the allowed one
    send(listener.port, mail(acme.inbound_email, sender="noreply@mailer.example.com"), envelope_sender="boekhouding@klant.example.com")
    assert store.count(Document, client_id=acme.id) == 1
    with pytest.raises(smtplib.SMTPDataError):  # a sub-domain is not the domain
        send(listener.port, mail(acme.inbound_email, sender="x@sub.leverancier.example.com"))


def test_unknown_recipients_and_oversized_messages_are_refused(app, acme, listener, store, monkeypatch):
    with pytest.raises(smtplib.SMTPRecipientsRefused) as unknown:
        send(listener.port, mail("nobody@in.clientdesk.example"))
    assert unknown.value.recipients["nobody@in.clientdesk.example"][0] == 550

    monkeypatch.setitem(app.config, "INBOUND_MAX_MESSAGE_BYTES", 50_000)
    small = controller(app, "127.0.0.1", free_port())
    small.start()
    try:
        with pytest.raises(smtplib.SMTPException) as too_big:
            send(small.port, mail(acme.inbound_email, files=(("scan.pdf", "application/pdf", b"%PDF" + b"1" * 100_000),)))
        assert "552" in str(too_big.value)
    finally:
        small.stop()
    assert store.count(Document) == 0


def test_a_message_without_attachment_is_refused_with_the_reason(acme, listener, store):
    with pytest.raises(smtplib.SMTPDataError) as refusal:
        send(listener.port, mail(acme.inbound_email, files=()))
    assert refusal.value.smtp_code == 550 and b"No attachment" in refusal.value.smtp_error


def test_database_down_answers_451_so_the_sender_retries_and_nothing_is_lost(app, app_config, acme, listener, store):
    from clientdesk.app import create_app

    documents_dir = Path(app.config["DOCUMENTS_DIR"])
    files_before = set(documents_dir.rglob("*"))
    down = create_app(dict(app_config, SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/gone"))
    unavailable = controller(down, "127.0.0.1", free_port())
    unavailable.start()
    try:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as temporary:
            send(unavailable.port, mail(acme.inbound_email))
        code, text = temporary.value.recipients[acme.inbound_email]
        assert code == 451 and b"try again later" in text
    finally:
        unavailable.stop()
    assert set(documents_dir.rglob("*")) == files_before
    # the sending server retries once the database is back
    assert send(listener.port, mail(acme.inbound_email)) == {}
    assert store.count(Document, client_id=acme.id) == 1


def test_ubl_goes_with_its_pdf_and_a_repeated_message_is_stored_once(app, acme, listener, store, make, as_user):
    files = (("F-2026-001.pdf", "application/pdf", PDF), ("F-2026-001.xml", "application/xml", UBL),
             ("algemene-voorwaarden-été.pdf", "application/pdf", PDF))
    send(listener.port, mail(acme.inbound_email, files=files, message_id="<f-2026-001@leverancier.example.com>"))
    send(listener.port, mail(acme.inbound_email, files=files, message_id="<f-2026-001@leverancier.example.com>"))
    documents = store.all(Document, client_id=acme.id)
    assert [(d.filename, d.ubl_filename) for d in documents] == [
        ("F-2026-001.pdf", "F-2026-001.xml"), ("algemene-voorwaarden-été.pdf", None)]
    admin = as_user(make.user(Role.ADMIN))
    assert admin.get(f"/admin/document/download/?id={documents[0].id}&ubl=1").data == UBL
    assert admin.get(f"/admin/document/download/?id={documents[1].id}&ubl=1").status_code == 404


def test_flask_inbound_command_serves_the_mailboxes(app_config, acme, store):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "inbound", "--port", str(port)], cwd=ROOT,
                               env=worker_env(app_config), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: _listening(port) or process.poll() is not None, timeout=30)
        assert process.poll() is None, process.stdout.read()
        assert send(port, mail(acme.inbound_email)) == {}
        assert store.count(Document, client_id=acme.id) == 1
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert process.returncode == 0


def _listening(port) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
        return True
    except OSError:
        return False
