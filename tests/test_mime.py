"""parse_message gives what the compat32 parser gives, for every kind of message the inbound mailboxes see
(and some they should not), while it hands the parser only a skeleton of a message with big attachments."""
import base64
import email.parser
import os
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.policy import SMTP

import pytest

from clientdesk.services.mime import PLACEHOLDER, parse_message

PDF = b"%PDF-1.4\n" + os.urandom(30_000) + b"\n%%EOF\n"
B64_LINES = base64.encodebytes(os.urandom(3_000)).replace(b"\n", b"\r\n")  # 54 lines of 76 characters


def invoice(*, files=(("factuur.pdf", "application", "pdf", PDF),), text="In bijlage onze factuur.") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Leverancier NV <factuur@leverancier.example.com>"
    message["To"] = "acme@in.clientdesk.example"
    message["Subject"] = "Factuur F-2026-001"
    message["Message-ID"] = "<f-2026-001@leverancier.example.com>"
    message.set_content(text)
    for name, maintype, subtype, data in files:
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message


def wire(message: EmailMessage) -> bytes:
    return message.as_bytes(policy=SMTP)


def forwarded() -> bytes:
    outer = invoice(files=(), text="Doorgestuurd bericht.")
    outer.add_attachment(invoice(files=(("F-1.pdf", "application", "pdf", PDF), ("F-1.xml", "application", "xml",
                                                                                  b"<Invoice/>" * 500))))
    return wire(outer)


def alternative_with_preamble_and_epilogue() -> bytes:
    boundary = b"==outer=="
    return b"\r\n".join([
        b"From: a@leverancier.example.com", b"Subject: scan", b"MIME-Version: 1.0",
        b'Content-Type: multipart/mixed; boundary="' + boundary + b'"', b"",
        b"This is a multi-part message.", B64_LINES.rstrip(),
        b"--" + boundary,
        b'Content-Type: multipart/alternative; boundary="inner"', b"",
        b"--inner", b"Content-Type: text/plain; charset=utf-8", b"", "Goeiedag, é".encode(),
        b"--inner", b"Content-Type: text/html", b"", b"<p>Goeiedag</p>",
        b"--inner--", B64_LINES.rstrip(),
        b"--" + boundary,
        b"Content-Type: application/pdf; name*=UTF-8''re%C3%A7u.pdf", b"Content-Transfer-Encoding: base64",
        b"Content-Disposition: attachment; filename=\"=?utf-8?q?re=C3=A7u=2Epdf?=\"", b"",
        B64_LINES.rstrip(),
        b"--" + boundary + b"--", B64_LINES.rstrip(), b"",
    ])


def headers_then(body: bytes, content_type: bytes = b"application/pdf") -> bytes:
    return b"From: a@leverancier.example.com\r\nContent-Type: " + content_type + b"\r\n" + body


MESSAGES = {
    "an invoice with its PDF": wire(invoice()),
    "several attachments and a UBL": wire(invoice(files=(("F-1.pdf", "application", "pdf", PDF),
                                                         ("F-1.xml", "application", "xml", b"<Invoice/>" * 500),
                                                         ("scan.jpg", "image", "jpeg", PDF),
                                                         ("klein.bin", "application", "octet-stream", bytes(300))))),
    "a forwarded message": forwarded(),
    "preamble, epilogue and a nested multipart": alternative_with_preamble_and_epilogue(),
    "a message that is one base64 body": headers_then(b"Content-Transfer-Encoding: base64\r\n\r\n" + B64_LINES),
    "no blank line after the headers": headers_then(B64_LINES),
    "the close boundary missing": wire(invoice()).rsplit(b"--", 2)[0],
    "the start boundary missing": headers_then(b"\r\n" + B64_LINES + b"--other--\r\n" + B64_LINES,
                                               b'multipart/mixed; boundary="nowhere"'),
    "a delivery report": headers_then(b"\r\nReporting-MTA: dns; mx.example.com\r\n\r\n" + B64_LINES + b"\r\n" + B64_LINES,
                                      b"message/delivery-status"),
    "8-bit text beside an attachment": wire(invoice()).replace(b"onze factuur.", "onze factuur, ça va? été".encode("latin-1")),
    "bare line feeds": wire(invoice()).replace(b"\r\n", b"\n"),
    "text that looks like a placeholder": wire(invoice(text=f"Referentie {PLACEHOLDER}0, zie ook {PLACEHOLDER}1.")),
}


def shape(message):
    """Everything parsing decides, part by part: headers, payload as parsed, preamble, epilogue, defects."""
    return [(part.items(), None if part.is_multipart() else part._payload, part.preamble, part.epilogue,
             [type(defect) for defect in part.defects]) for part in message.walk()]


@pytest.mark.parametrize("content", MESSAGES.values(), ids=MESSAGES.keys())
def test_the_message_the_compat32_parser_gives(content):
    expected = message_from_bytes(content, policy=policy.compat32)
    parsed = parse_message(content)
    assert shape(parsed) == shape(expected)
    assert [part.get_payload(decode=True) for part in parsed.walk()] == [part.get_payload(decode=True) for part in expected.walk()]


def test_the_parser_sees_a_skeleton_of_a_big_attachment(monkeypatch):
    fed = []
    parsebytes = email.parser.BytesParser.parsebytes

    def parse(parser, text, *args, **kwargs):
        fed.append(text)
        return parsebytes(parser, text, *args, **kwargs)

    monkeypatch.setattr(email.parser.BytesParser, "parsebytes", parse)
    content = wire(invoice())
    attachment = parse_message(content).get_payload()[1]
    assert len(fed[0]) < 1_000 < len(content)
    assert attachment.get_payload(decode=True) == PDF
