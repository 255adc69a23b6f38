"""Outgoing messages as mail programs read them, and delivery over a real SMTP server."""
from email import message_from_bytes, policy

import pytest

from clientdesk.services.mail import Attachment, Mail, Mailer, MailError
from tests.servers import SmtpServer

SENDER = "Fiduciaire Liège <no-reply@fiduciaire.example>"
SUBJECT = "Fiduciaire Liège invite Bäckerei Schmitz & Söhne, une société au nom particulièrement long, sur ClientDesk"
TEXT = "Bonjour Jean,\n\nCréez votre accès : https://clientdesk.example/invitation/abc=def_ghi\n.\nFin.  \n"
HTML = "<p>Bonjour <b>Jean</b>, créez votre accès — le lien est personnel et utilisable une seule fois.</p>\n" * 3


def read(raw: bytes):
    return message_from_bytes(raw, policy=policy.default)


def test_message_reads_back_as_written(tmp_path):
    raw = Mailer(None, str(tmp_path), SENDER).render(
        Mail(to="jean@client.example", subject=SUBJECT, text=TEXT, html=HTML, headers={"X-Client": "Bäckerei Schmitz"}))

    assert raw.isascii() and max(len(line) for line in raw.split(b"\r\n")) <= 78
    message = read(raw)
    assert not any(part.defects for part in message.walk())
    assert message["Subject"] == SUBJECT
    assert message["From"].addresses[0].display_name == "Fiduciaire Liège"
    assert message["From"].addresses[0].addr_spec == "no-reply@fiduciaire.example"
    assert message["To"] == "jean@client.example"
    assert message["X-Client"] == "Bäckerei Schmitz"
    assert message["Date"].datetime is not None and message["Message-ID"].endswith("@fiduciaire.example>")
    assert message.get_content_type() == "multipart/alternative"
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == TEXT
    assert message.get_body(("html",)).get_content().replace("\r\n", "\n") == HTML


def test_text_only_message(tmp_path):
    message = read(Mailer(None, str(tmp_path), SENDER).render(Mail(to="a@b.example", subject="Short", text="Hello\n")))
    assert message.get_content_type() == "text/plain" and message["Subject"] == "Short"
    assert message.get_content().replace("\r\n", "\n") == "Hello\n"


def test_attachments_after_the_text_and_html(tmp_path):
    pdf, ubl = tmp_path / "f.pdf", tmp_path / "f.xml"
    pdf.write_bytes(b"%PDF-1.4 " + bytes(range(256)) * 40)
    ubl.write_bytes("<Invoice>Société</Invoice>".encode())
    raw = Mailer(None, str(tmp_path), SENDER).render(Mail(
        to="a@b.example", subject="Documents", text=TEXT, html=HTML, attachments=[
            Attachment("Facture n°7 été.pdf", "application/pdf", str(pdf)),
            Attachment('plain "name".xml', "application/xml", str(ubl)),
            Attachment("odd", "not a type", str(ubl)),
        ]))
    assert raw.isascii() and max(len(line) for line in raw.split(b"\r\n")) <= 78
    message = read(raw)
    assert not any(part.defects for part in message.walk())
    assert message.get_content_type() == "multipart/mixed"
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == TEXT
    assert message.get_body(("html",)).get_content().replace("\r\n", "\n") == HTML
    assert [(part.get_filename(), part.get_content_type(), part.get_content()) for part in message.iter_attachments()] == [
        ("Facture n°7 été.pdf", "application/pdf", pdf.read_bytes()),
        ('plain "name".xml', "application/xml", ubl.read_bytes()),
        ("odd", "application/octet-stream", ubl.read_bytes()),
    ]


def test_line_breaks_in_headers_are_refused(tmp_path):
    mailer = Mailer(None, str(tmp_path), SENDER)
    with pytest.raises(MailError):
        mailer.render(Mail(to="a@b.example", subject="Hi\r\nBcc: victim@example.com", text="x"))
    with pytest.raises(MailError):
        mailer.render(Mail(to="a@b.example\nBcc: victim@example.com", subject="Hi", text="x"))


def test_delivery_over_smtp_with_an_international_address_and_a_bad_message(tmp_path):
    server = SmtpServer().start()
    try:
        mailer = Mailer(server.url, str(tmp_path), SENDER)
        good = Mail(to="jean@client.example", subject=SUBJECT, text=TEXT, html=HTML, ref=1)
        international = Mail(to="josé@exemple.be", subject="Bienvenue", text="Bonjour José\n", ref=2)
        bad = Mail(to="x@client.example", subject="Hi\nBcc: victim@example.com", text="x", ref=3)
        failed = mailer.send_many([good, bad, international])
        assert [(mail.ref, "line break" in reason, transient) for mail, reason, transient in failed] == [(3, True, False)]
        assert [m["To"] for m in server.messages] == ["jean@client.example", "josé@exemple.be"]
        assert server.text_of(server.messages[0]).replace("\r\n", "\n") == TEXT
    finally:
        server.stop()


def test_undelivered_mail_says_whether_it_is_worth_trying_again(tmp_path):
    """A refused address (5xx) fails for good; a server that cannot be reached is worth another try later."""
    server = SmtpServer(refuse={"nobody@client.example"}).start()
    try:
        mailer = Mailer(server.url, str(tmp_path), SENDER)
        [refused] = mailer.send_many([Mail(to="nobody@client.example", subject="Hi", text="x", ref=1)])
        assert refused.transient is False and "550" in refused.reason
    finally:
        server.stop()
    [unreachable] = mailer.send_many([Mail(to="jean@client.example", subject="Hi", text="x", ref=2)])
    assert unreachable.transient is True and "unreachable" in unreachable.reason
