"""Inbound mail through a real SMTP listener (in-process, and once as `flask inbound`): allowed and
unknown senders, unknown recipients, size limit, database down, UBL pairing, duplicates; messages that
arrive together, stored under one commit; the files parsing takes from a message (forwarded, nested, encoded names);
malformed messages, refused for good with the reason; SPF and DKIM (against a local DNS server) deciding whether
an allowed sender is authenticated, and the firm's choice for mail that is not."""
import base64
import contextlib
import smtplib
import socket
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import dkim
import flask_migrate
import psycopg
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from clientdesk import config
from clientdesk.documents import Part
from clientdesk.extensions import db
from clientdesk.models import AllowedSender, AuditEvent, Client, Document, FirmSettings, RefusedSender, Role
from clientdesk.services.inbound import MAX_MIME_DEPTH, MAX_MIME_PARTS, InboundMessage, MalformedMessage, controller
from clientdesk.services.storage import DocumentStore
from tests.factories import Factory, Store
from tests.helpers import post
from tests.outside import DnsServer
from tests.servers import FLASK, free_port, start_process, stop_process, wait_for, worker_env

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
def dns_server():
    """The DNS server the listener asks for SPF and DKIM records (none but those a test adds)."""
    server = DnsServer().start()
    yield server
    server.stop()


@pytest.fixture
def listener(app, dns_server, monkeypatch):
    monkeypatch.setitem(app.config, "DNS_SERVER", dns_server.address)
    monkeypatch.setitem(app.config, "INBOUND_DNS_TIMEOUT_SECONDS", 1)  # the test's DNS server answers in milliseconds
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


def test_a_message_to_two_mailboxes_is_stored_where_its_sender_is_allowed_and_refused_elsewhere(acme, listener, store, make):
    no_senders = make.client(name="Brouwerij Janssens NV")  # no allowed sender at all: refuses everyone
    message = mail(acme.inbound_email)
    del message["To"]
    message["To"] = f"{acme.inbound_email}, {no_senders.inbound_email}"
    assert send(listener.port, message) == {}
    assert store.count(Document, client_id=acme.id) == 1 and store.count(Document, client_id=no_senders.id) == 0
    assert store.get(Client, no_senders.id).refused_senders_count == 1
    assert store.one(RefusedSender, client_id=no_senders.id).header_from == "factuur@leverancier.example.com"


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
        scan = mail(acme.inbound_email, files=(("scan.pdf", "application/pdf", b"%PDF" + b"1" * 100_000),))
        with pytest.raises(smtplib.SMTPException) as too_big:
            send(small.port, scan)
        assert "552" in str(too_big.value)
        with smtplib.SMTP("127.0.0.1", small.port, timeout=10) as smtp:  # a sender that does not declare the size
            smtp.ehlo()
            smtp.mail("factuur@leverancier.example.com")
            smtp.rcpt(acme.inbound_email)
            assert smtp.data(scan.as_bytes(policy=SMTP))[0] == 552
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


def test_flask_inbound_command_serves_the_mailboxes(app_config, acme, store, dns_server):
    port, log = free_port(), Path(app_config["INSTANCE_PATH"]) / "inbound.log"
    process = start_process([*FLASK, "inbound", "--port", str(port)], worker_env(app_config, DNS_SERVER=dns_server.address),
                            log)
    try:
        wait_for(lambda: _listening(port) or process.poll() is not None, timeout=30)
        assert process.poll() is None, log.read_text()
        assert send(port, mail(acme.inbound_email)) == {}
        assert store.count(Document, client_id=acme.id) == 1
    finally:
        stop_process(process, timeout=15)
    assert process.returncode == 0


def _listening(port) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
        return True
    except OSError:
        return False


class HeldWriter:
    """The listener's writer held inside the first file it writes until release(), so that the messages sent
    meanwhile wait for it, as they do while a batch is being stored; a file named `broken` fails to write."""

    def __init__(self, listener, monkeypatch, broken: str | None = None):
        self.writer = listener.handler.writer
        self.holding, self.released = threading.Event(), threading.Event()
        save = self.writer.store.save

        def held_save(client_id, filename, data):
            if not self.holding.is_set():
                self.holding.set()
                self.released.wait(30)
            if filename == broken:
                raise OSError(28, "No space left on device")
            return save(client_id, filename, data)

        monkeypatch.setattr(self.writer.store, "save", held_save)

    def wait_until_holding(self) -> None:
        assert self.holding.wait(30)

    def wait_until_waiting(self, count: int) -> None:
        wait_for(lambda: self.writer.waiting.qsize() == count, interval=0.02)


@contextlib.contextmanager
def commits(app, during_commit=lambda: None):
    """The database commits made inside the block, each with what `during_commit()` said at that moment."""
    made = []
    with app.app_context():
        engine = db.engine
    listener = lambda connection: made.append(during_commit())  # noqa: E731
    sa.event.listen(engine, "commit", listener)
    try:
        yield made
    finally:
        sa.event.remove(engine, "commit", listener)


def test_messages_that_arrive_during_a_commit_are_stored_together_and_answered_after_it(app, acme, listener, store,
                                                                                          monkeypatch):
    held = HeldWriter(listener, monkeypatch)
    with ThreadPoolExecutor(4) as senders:
        first = senders.submit(send, listener.port, mail(acme.inbound_email, message_id="<f-1@leverancier.example.com>"))
        held.wait_until_holding()
        waiting = [senders.submit(send, listener.port, mail(acme.inbound_email, message_id=f"<f-{n}@leverancier.example.com>"))
                   for n in (2, 3, 4)]
        held.wait_until_waiting(3)
        with commits(app, during_commit=lambda: [reply.done() for reply in waiting]) as made:
            held.released.set()
            assert [reply.result(timeout=30) for reply in [first, *waiting]] == [{}] * 4
    # the first message's commit, then one commit for the three that waited, none of them answered before it
    assert made == [[False] * 3, [False] * 3]
    assert store.count(Document, client_id=acme.id) == 4


def test_a_message_sent_twice_at_once_is_stored_once(acme, listener, store, monkeypatch):
    held = HeldWriter(listener, monkeypatch)
    again = "<f-2026-002@leverancier.example.com>"
    with ThreadPoolExecutor(3) as senders:
        first = senders.submit(send, listener.port, mail(acme.inbound_email))
        held.wait_until_holding()
        twice = [senders.submit(send, listener.port, mail(acme.inbound_email, message_id=again)) for _ in range(2)]
        held.wait_until_waiting(2)
        held.released.set()
        assert [reply.result(timeout=30) for reply in [first, *twice]] == [{}] * 3
    assert store.count(Document, client_id=acme.id, message_id=again) == 1


@contextlib.contextmanager
def open_transactions_returned(app):
    """For each connection given back to the pool inside the block: whether it still had a transaction open."""
    returned = []

    def checkin(dbapi_connection, connection_record):
        if isinstance(dbapi_connection, sqlite3.Connection):
            returned.append(dbapi_connection.in_transaction)
        else:
            returned.append(dbapi_connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "checkin", checkin)
    try:
        yield returned
    finally:
        sa.event.remove(engine, "checkin", checkin)


def stored_files(app) -> set[Path]:
    return {path for path in Path(app.config["DOCUMENTS_DIR"]).rglob("*") if path.is_file()}


def test_a_message_that_fails_fails_alone(app, acme, listener, store, monkeypatch):
    files_before = stored_files(app)
    held = HeldWriter(listener, monkeypatch, broken="broken.pdf")
    with ThreadPoolExecutor(3) as senders:
        first = senders.submit(send, listener.port, mail(acme.inbound_email))
        held.wait_until_holding()
        good, broken = (senders.submit(send, listener.port, mail(acme.inbound_email, files=files)) for files in (
            (("F-2.pdf", "application/pdf", PDF),), (("F-3.pdf", "application/pdf", PDF), ("broken.pdf", "application/pdf", PDF))))
        held.wait_until_waiting(2)
        held.released.set()
        assert first.result(timeout=30) == good.result(timeout=30) == {}
        with pytest.raises(smtplib.SMTPDataError) as failure:
            broken.result(timeout=30)
    # a full disk is temporary for the sender (it keeps the message), and our folders are not named to it
    assert failure.value.smtp_code == 451 and b"documents" not in failure.value.smtp_error
    assert sorted(d.filename for d in store.all(Document, client_id=acme.id)) == ["F-2.pdf", "factuur.pdf"]
    assert len(stored_files(app) - files_before) == 2  # F-3.pdf written, then removed again


def test_a_failed_commit_answers_451_to_every_message_of_its_batch(app, acme, listener, store, monkeypatch):
    files_before = stored_files(app)
    held = HeldWriter(listener, monkeypatch)

    def fail_after_the_first():
        if made:
            raise sa.exc.OperationalError("COMMIT", {}, Exception("disk I/O error"))

    with (ThreadPoolExecutor(3) as senders, commits(app, during_commit=fail_after_the_first) as made,
          open_transactions_returned(app) as returned):
        first = senders.submit(send, listener.port, mail(acme.inbound_email))
        held.wait_until_holding()
        batch = [senders.submit(send, listener.port, mail(acme.inbound_email, files=((f"F-{n}.pdf", "application/pdf", PDF),)))
                 for n in (2, 3)]
        held.wait_until_waiting(2)
        held.released.set()
        assert first.result(timeout=30) == {}
        for reply in batch:
            with pytest.raises(smtplib.SMTPDataError) as temporary:
                reply.result(timeout=30)
            assert temporary.value.smtp_code == 451
    assert returned and not any(returned)  # the failed transaction rolled back, not left to a later commit
    assert [d.filename for d in store.all(Document, client_id=acme.id)] == ["factuur.pdf"]
    assert len(stored_files(app) - files_before) == 1
    # the sending servers try again: stored now, and once (nothing of the failed transaction came back)
    for n in (2, 3):
        assert send(listener.port, mail(acme.inbound_email, files=((f"F-{n}.pdf", "application/pdf", PDF),))) == {}
    assert sorted(d.filename for d in store.all(Document, client_id=acme.id)) == ["F-2.pdf", "F-3.pdf", "factuur.pdf"]
    assert len(stored_files(app) - files_before) == 3


def test_a_message_the_database_refuses_does_not_take_its_batch_down(app, acme, listener, store, monkeypatch):
    """Its batch fails as a whole, then its messages are stored one by one: only that one is refused, for good
    (a value the database refuses stays refused: no use sending it again)."""
    from sqlalchemy.orm import Session

    def refuse_one(session, flush_context, instances):
        if any(isinstance(o, Document) and o.filename == "refused.pdf" for o in session.new):
            raise sa.exc.DataError("INSERT", {}, Exception("invalid byte sequence"))

    held = HeldWriter(listener, monkeypatch)
    sa.event.listen(Session, "before_flush", refuse_one)
    try:
        with ThreadPoolExecutor(3) as senders:
            first = senders.submit(send, listener.port, mail(acme.inbound_email))
            held.wait_until_holding()
            good, refused = (senders.submit(send, listener.port, mail(acme.inbound_email, files=((name, "application/pdf", PDF),)))
                             for name in ("F-2.pdf", "refused.pdf"))
            held.wait_until_waiting(2)
            held.released.set()
            assert first.result(timeout=30) == good.result(timeout=30) == {}
            with pytest.raises(smtplib.SMTPDataError) as permanent:
                refused.result(timeout=30)
    finally:
        sa.event.remove(Session, "before_flush", refuse_one)
    assert permanent.value.smtp_code == 554 and b"cannot be stored" in permanent.value.smtp_error
    assert sorted(d.filename for d in store.all(Document, client_id=acme.id)) == ["F-2.pdf", "factuur.pdf"]


def test_an_encoded_nul_in_a_header_is_dropped():
    from clientdesk.services.inbound import _text

    assert _text("=?utf-8?q?Facture=00_2026?=") == "Facture 2026"


def test_a_sender_address_longer_than_its_column_is_stored_cut(acme, listener, store):
    sender = "f" * 300 + "@leverancier.example.com"
    assert send(listener.port, mail(acme.inbound_email, sender=sender)) == {}
    assert store.one(Document, client_id=acme.id).sender == sender[:254]


def forwarded_invoice() -> bytes:
    forwarded = mail("boekhouding@klant.example.com", files=(("F-1.pdf", "application/pdf", PDF), ("F-1.xml", "application/xml", UBL)))
    message = mail("acme@in.clientdesk.example", sender="boekhouding@klant.example.com", subject="Fwd: Factuur d'été", files=())
    message.add_attachment(forwarded)
    return message.as_bytes(policy=SMTP)


def scan_with_text_html_and_inline_image(line_end: bytes) -> bytes:
    pdf = base64.encodebytes(PDF).rstrip()
    return line_end.join([
        b"From: =?utf-8?q?Scanner_Caf=C3=A9?= <scan@leverancier.example.com>", b"Subject: =?utf-8?q?Re=C3=A7u?=",
        b"MIME-Version: 1.0", b'Content-Type: multipart/mixed; boundary="outer"', b"",
        b"This is a multi-part message in MIME format.",
        b"--outer", b'Content-Type: multipart/alternative; boundary="inner"', b"",
        b"--inner", b"Content-Type: text/plain; charset=utf-8", b"Content-Transfer-Encoding: 8bit", b"",
        "Goeiedag, hierbij het reçu.".encode(),
        b"--inner", b"Content-Type: text/html; charset=utf-8", b"", b"<p>Goeiedag</p>",
        b"--inner--",
        b"--outer", b"Content-Type: image/png", b"Content-Transfer-Encoding: base64",
        b'Content-Disposition: inline; filename="logo.png"', b"", base64.encodebytes(b"\x89PNG logo").rstrip(),
        b"--outer", b"Content-Type: application/pdf", b"Content-Transfer-Encoding: base64",
        b'Content-Disposition: attachment; filename="=?utf-8?q?re=C3=A7u=2Epdf?="', b"", *pdf.split(b"\n"),
        b"--outer--", b"epilogue", b"",
    ])


def test_parsing_takes_the_files_of_a_forwarded_message_with_its_ubl():
    parsed = InboundMessage.parse("boekhouding@klant.example.com", [7], forwarded_invoice())
    assert (parsed.header_from, parsed.subject, parsed.client_ids) == ("boekhouding@klant.example.com", "Fwd: Factuur d'été", [7])
    assert parsed.pairs == [(Part("F-1.pdf", "application/pdf", PDF), Part("F-1.xml", "application/xml", UBL))]


@pytest.mark.parametrize("line_end", [b"\r\n", b"\n"], ids=["CRLF", "bare LF"])
def test_parsing_takes_attachments_and_leaves_bodies_and_inline_images(line_end):
    parsed = InboundMessage.parse("", [7], scan_with_text_html_and_inline_image(line_end))
    assert (parsed.header_from, parsed.subject, parsed.sender) == ("scan@leverancier.example.com", "Reçu", "scan@leverancier.example.com")
    assert parsed.pairs == [(Part("reçu.pdf", "application/pdf", PDF), None)]


def nested(depth: int) -> bytes:
    """A message whose attachment sits inside `depth` multiparts."""
    opening = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (n, n) for n in range(depth))
    closing = b"".join(b"\r\n--b%d--" % n for n in reversed(range(depth)))
    return (b"From: factuur@leverancier.example.com\r\nSubject: Factuur\r\nMIME-Version: 1.0\r\n" + opening
            + b"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=F-1.pdf\r\n\r\n%PDF-1.4" + closing + b"\r\n")


def invoice_with(old: bytes, new: bytes) -> bytes:
    content = mail("acme@in.clientdesk.example").as_bytes(policy=SMTP)
    assert old in content
    return content.replace(old, new, 1)


def many_parts(count: int) -> bytes:
    return mail("acme@in.clientdesk.example", files=[(f"F-{n}.pdf", "application/pdf", b"%PDF") for n in range(count)]
                ).as_bytes(policy=SMTP)


MALFORMED = {
    "NUL in a header": (invoice_with(b"Subject:", b"Message-ID: <f-1\x00@leverancier.example.com>\r\nSubject:"),
                        b"The header Message-ID contains a NUL"),
    "NUL in a content type": (invoice_with(b"Content-Type: application/pdf", b"Content-Type: application/pdf\x00"),
                              b"The header Content-Type contains a NUL"),
    "MIME nested 1,500 deep": (nested(1500), b"nested more than 20 levels deep"),
    "MIME nested one level too deep": (nested(MAX_MIME_DEPTH + 1), b"nested more than 20 levels deep"),
    "too many parts": (many_parts(MAX_MIME_PARTS), b"more than 1000 MIME parts"),
}


@pytest.mark.parametrize("content, reason", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_message_is_refused_for_good_with_the_reason(acme, listener, store, content, reason, caplog):
    with smtplib.SMTP("127.0.0.1", listener.port, timeout=30) as smtp:
        smtp.ehlo()
        smtp.mail("factuur@leverancier.example.com")
        smtp.rcpt(acme.inbound_email)
        code, text = smtp.data(content)
    assert (code, reason in text) == (554, True), text
    assert store.count(Document) == 0 and store.get(Client, acme.id).refused_senders_count == 0
    assert "database unavailable" not in caplog.text


@pytest.mark.long
def test_the_deepest_and_largest_messages_allowed_are_stored(acme, listener, store):
    for content in (nested(MAX_MIME_DEPTH), many_parts(MAX_MIME_PARTS - 3)):  # the message, its body and its multipart
        with smtplib.SMTP("127.0.0.1", listener.port, timeout=30) as smtp:
            assert smtp.sendmail("factuur@leverancier.example.com", acme.inbound_email, content) == {}
    assert store.count(Document, client_id=acme.id) == 1 + MAX_MIME_PARTS - 3


def test_an_envelope_sender_the_database_cannot_hold_is_malformed():
    for sender, reason in (("factuur\x00@leverancier.example.com", "contains a NUL"), ("factuur\udce9@x.example", "is not valid text")):
        with pytest.raises(MalformedMessage, match=f"The envelope sender {reason}"):
            InboundMessage.parse(sender, [7], forwarded_invoice())


def test_a_database_outage_during_data_still_answers_451_and_the_retry_is_stored(app_config, tmp_path, dns_server):
    """The outage is real: the listener's database is a SQLite file whose folder goes away (a volume unmounted)
    between RCPT and DATA, each database use opening its own connection; then it comes back."""
    from sqlalchemy.pool import NullPool

    from clientdesk.app import create_app

    volume = tmp_path / "volume"
    volume.mkdir()
    own = create_app(dict(app_config, SQLALCHEMY_DATABASE_URI=f"sqlite:///{volume / 'inbound.db'}",
                          SQLALCHEMY_ENGINE_OPTIONS={"poolclass": NullPool}, DOCUMENTS_DIR=str(tmp_path / "documents"),
                          DNS_SERVER=dns_server.address))
    with own.app_context():
        flask_migrate.upgrade(revision="heads")
    client, own_store = Factory(own).client(name="Bakkerij Peeters BV"), Store(own)
    own_store.run(lambda s: s.add(AllowedSender(client_id=client.id, pattern="@leverancier.example.com")))
    server = controller(own, "127.0.0.1", free_port())
    server.start()
    try:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as smtp:
            smtp.ehlo()
            smtp.mail("factuur@leverancier.example.com")
            assert smtp.rcpt(client.inbound_email)[0] == 250
            volume.rename(tmp_path / "unmounted")
            code, text = smtp.data(mail(client.inbound_email).as_bytes(policy=SMTP))
        assert (code, b"try again later" in text) == (451, True)
        (tmp_path / "unmounted").rename(volume)
        assert send(server.port, mail(client.inbound_email)) == {}
    finally:
        server.stop()
    assert own_store.count(Document, client_id=client.id) == 1


# Sender authentication: SPF and DKIM ----------------------------------------------------------------------------
# The domains are under `.example` (no public suffix rule): each is its own organisational domain.

@pytest.fixture
def supplier(make, store):
    """A client that accepts documents from @leverancier.example."""
    client = make.client(name="Bakkerij Peeters BV")
    store.run(lambda s: s.add(AllowedSender(client_id=client.id, pattern="@leverancier.example")))
    return client


@pytest.fixture(scope="module")
def dkim_key():
    """(private key PEM, public key as a DKIM record's p=)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, base64.b64encode(public).decode()


def signed(message, domain: str, private: bytes) -> bytes:
    content = message.as_bytes(policy=SMTP)
    return dkim.sign(content, b"mail", domain.encode(), private, include_headers=[b"from", b"to", b"subject"]) + content


def refuse_unauthenticated(store) -> None:
    store.run(lambda s: setattr(FirmSettings.current(), "unauthenticated_mail", "refuse"))


def send_raw(port, envelope_sender, recipient, content):
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo()
        smtp.mail(envelope_sender)
        smtp.rcpt(recipient)
        return smtp.data(content)


def test_spf_of_the_envelope_domain_authenticates_an_allowed_sender_and_the_list_says_so(
        supplier, listener, dns_server, store, make, as_user):
    dns_server.add_txt("leverancier.example", "v=spf1 ip4:127.0.0.1 -all")
    refuse_unauthenticated(store)
    assert send(listener.port, mail(supplier.inbound_email, sender="factuur@leverancier.example")) == {}
    document = store.one(Document, client_id=supplier.id)
    assert document.sender_verdict == "pass"
    assert document.sender_authentication == "spf=pass smtp.mailfrom=leverancier.example; dkim=none"
    admin = as_user(make.user(Role.ADMIN))
    for language, label in (("en", "Sender authenticated"), ("fr", "Expéditeur authentifié"), ("nl", "Afzender geverifieerd")):
        assert label in admin.get("/admin/document/", headers={"Accept-Language": language}).text
    assert "spf=pass smtp.mailfrom=leverancier.example" in admin.get(f"/admin/document/details/?id={document.id}").text


def test_a_forged_from_of_an_allowed_address_is_kept_marked_or_refused_as_the_firm_says(
        supplier, listener, dns_server, store, make, as_user):
    dns_server.add_txt("leverancier.example", "v=spf1 ip4:192.0.2.25 -all")  # the supplier's own mail server only
    dns_server.add_txt("vervalser.example", "v=spf1 ip4:127.0.0.1 -all")  # the forger's domain passes: not the From's
    forged = mail(supplier.inbound_email, sender="factuur@leverancier.example")
    for envelope_sender in ("bounce@vervalser.example", "factuur@leverancier.example"):
        assert send(listener.port, forged, envelope_sender=envelope_sender) == {}  # kept, by default
    assert [(d.sender_verdict, d.sender_authentication) for d in store.all(Document, client_id=supplier.id)] == [
        ("fail", "spf=pass smtp.mailfrom=vervalser.example; dkim=none"),
        ("fail", "spf=fail smtp.mailfrom=leverancier.example; dkim=none")]
    admin = as_user(make.user(Role.ADMIN))
    for language, label in (("en", "Sender not authenticated"), ("fr", "Expéditeur non authentifié"),
                            ("nl", "Afzender niet geverifieerd")):
        assert label in admin.get("/admin/document/", headers={"Accept-Language": language}).text

    refuse_unauthenticated(store)
    for envelope_sender in ("bounce@vervalser.example", "factuur@leverancier.example"):
        code, text = send_raw(listener.port, envelope_sender, supplier.inbound_email, forged.as_bytes(policy=SMTP))
        assert (code, b"Neither SPF nor DKIM authenticates factuur@leverancier.example" in text) == (550, True), text
    assert store.count(Document, client_id=supplier.id) == 2
    assert store.get(Client, supplier.id).refused_senders_count == 2


def test_a_dkim_signature_of_the_from_domain_authenticates_mail_sent_through_another_server(
        supplier, listener, dns_server, store, dkim_key):
    private, public = dkim_key
    dns_server.add_txt("mail._domainkey.leverancier.example", f"v=DKIM1; k=rsa; p={public}")
    refuse_unauthenticated(store)
    invoice = mail(supplier.inbound_email, sender="factuur@leverancier.example")
    code, _text = send_raw(listener.port, "bounces@mailer.example", supplier.inbound_email, signed(invoice, "leverancier.example", private))
    assert code == 250
    assert store.one(Document, client_id=supplier.id).sender_authentication == (
        "spf=none smtp.mailfrom=mailer.example; dkim=pass header.d=leverancier.example")

    tampered = signed(invoice, "leverancier.example", private).replace(b"Factuur F-2026-001", b"Factuur F-2026-999")
    code, text = send_raw(listener.port, "bounces@mailer.example", supplier.inbound_email, tampered)
    assert code == 550 and b"Neither SPF nor DKIM" in text
    forger_signed = signed(invoice, "vervalser.example", private)  # a valid signature, of another domain
    dns_server.add_txt("mail._domainkey.vervalser.example", f"v=DKIM1; k=rsa; p={public}")
    code, text = send_raw(listener.port, "bounces@mailer.example", supplier.inbound_email, forger_signed)
    assert code == 550 and b"Neither SPF nor DKIM" in text
    assert store.count(Document, client_id=supplier.id) == 1


def test_an_admin_chooses_on_the_firm_screen_what_happens_to_unauthenticated_mail_and_it_is_audited(make, as_user, store):
    admin = as_user(make.user(Role.ADMIN))
    page = admin.get("/admin/firm/edit/?id=1", headers={"Accept-Language": "fr"}).text
    assert "Le conserver, marqué comme non authentifié" in page and "Le refuser" in page
    assert post(admin, "/admin/firm/edit/?id=1", {"unauthenticated_mail": "refuse"}).status_code == 302
    assert store.get(FirmSettings, 1).unauthenticated_mail == "refuse"
    event = store.one(AuditEvent, object_type="firm_settings", action="update")
    assert (event.action, event.changes) == ("update", {"unauthenticated_mail": ["keep", "refuse"]})
    assert post(admin, "/admin/firm/edit/?id=1", {"unauthenticated_mail": "anything"}).status_code == 200  # not a choice
    assert store.get(FirmSettings, 1).unauthenticated_mail == "refuse"
    staff = as_user(make.user(Role.STAFF))
    assert staff.get("/admin/firm/").status_code == 403
    assert post(staff, "/admin/firm/edit/?id=1", {"unauthenticated_mail": "keep"}).status_code == 403


@pytest.mark.long  # two DNS lookups that time out (INBOUND_DNS_TIMEOUT_SECONDS, 1 s in the listener fixture)
def test_when_the_dns_cannot_answer_mail_that_would_be_refused_gets_451_and_kept_mail_is_marked(
        supplier, listener, dns_server, store):
    dns_server.stop()  # nothing answers: each lookup times out
    started = time.monotonic()
    invoice = mail(supplier.inbound_email, sender="factuur@leverancier.example")
    assert send(listener.port, invoice) == {}
    assert store.one(Document, client_id=supplier.id).sender_authentication == (
        "spf=temperror smtp.mailfrom=leverancier.example; dkim=none")
    refuse_unauthenticated(store)
    code, text = send_raw(listener.port, "factuur@leverancier.example", supplier.inbound_email, invoice.as_bytes(policy=SMTP))
    assert (code, b"try again later" in text) == (451, True)
    assert store.count(Document, client_id=supplier.id) == 1 and store.get(Client, supplier.id).refused_senders_count == 0
    assert time.monotonic() - started < 5  # the setting's 1 s a lookup, not the default 5 s


@pytest.mark.parametrize("value", ["0", "2.5", "five"])
def test_a_mistyped_dns_timeout_stops_the_start(monkeypatch, value):
    monkeypatch.setenv("INBOUND_DNS_TIMEOUT_SECONDS", value)
    with pytest.raises(config.ConfigError, match="INBOUND_DNS_TIMEOUT_SECONDS must be a whole number of seconds"):
        config.from_environment(debug=False, testing=True)
    monkeypatch.delenv("INBOUND_DNS_TIMEOUT_SECONDS")
    assert config.from_environment(debug=False, testing=True)["INBOUND_DNS_TIMEOUT_SECONDS"] == 5


@pytest.mark.parametrize("prefix", [b" a continuation line first\r\n", b"DKIM-Signature: \x01\r\n", b"DKIM-Signature: v=1; b=\r\n"],
                         ids=["continuation first", "control character", "signature without its fields"])
def test_headers_dkim_cannot_read_leave_the_sender_unauthenticated_not_the_message_retried(
        supplier, listener, dns_server, store, prefix):
    invoice = mail(supplier.inbound_email, sender="factuur@leverancier.example").as_bytes(policy=SMTP)
    code, _text = send_raw(listener.port, "factuur@leverancier.example", supplier.inbound_email, prefix + invoice)
    assert code == 250
    document = store.one(Document, client_id=supplier.id)
    assert (document.sender_verdict, document.sender_authentication.split("; ")[1].split()[0]) == ("fail", "dkim=permerror")
