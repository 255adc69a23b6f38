"""Outgoing e-mail: SMTP when MAIL_URL is set (`smtp://host:port`, `smtps://...`, `smtp://user:pass@host:port?starttls=1`),
otherwise each message is written as an .eml file to OUTBOX_DIR.

A Mail may carry file attachments (read from disk when the message is built).
`Mailer.send_many` delivers a batch over one SMTP connection and retries transient failures
(server down, 4xx answers) with back-off; what still fails is returned, not raised, each with the reason
and whether it failed for a passing reason, so the caller can mark exactly those messages as failed
or schedule them again.

Messages are written by `Mailer.render` (UTF-8 text and HTML parts in quoted-printable, attachments in
base64, RFC 2047/2231 headers) rather than by the `email` package: building and flattening an EmailMessage
costs more than the SMTP exchange itself and takes the bulk invitation below its budget (bench/bulk_invite.py).
tests/test_mail.py reads every kind of message back with the `email` parser.

A Mailer made by `from_config` (every one the app makes) logs each batch it sends in the e-mail log
(models/mail_log.py), in the database session's transaction: each Mail says what is logged of it (`Logged`).
"""
import base64
import binascii
import contextlib
import logging
import re
import smtplib
import ssl
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import encode_rfc2231, formataddr, formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

from flask_babel import gettext as _

from ..models.mail_log import record_sends

log = logging.getLogger(__name__)

_MIME_TYPE = re.compile(r"^[\w!#$&^.+-]+/[\w!#$&^.+-]+$")
_PLAIN_FILENAME = re.compile(r'^[\x20-\x7e]+$')


@dataclass
class Attachment:
    """A file attached to a mail; read from `path` only when the message is built."""

    filename: str
    content_type: str
    path: str

    def part(self) -> bytes:
        content_type = self.content_type if _MIME_TYPE.match(self.content_type) else "application/octet-stream"
        name = self.filename.replace("\r", " ").replace("\n", " ")
        if _PLAIN_FILENAME.match(name) and '"' not in name and "\\" not in name:
            disposition = f'attachment;\r\n filename="{name}"'
        else:
            disposition = f"attachment;\r\n filename*={encode_rfc2231(name, 'utf-8')}"
        body = base64.encodebytes(Path(self.path).read_bytes()).replace(b"\n", b"\r\n")
        return _entity([f"Content-Type: {content_type}", "Content-Transfer-Encoding: base64",
                        f"Content-Disposition: {disposition}"], body)


@dataclass
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None
    ref: object = None  # the caller's key for this message (e.g. an invitation id)
    headers: dict = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)
    log: "Logged | None" = None  # what the e-mail log keeps of it (every mail the app sends has one)


@dataclass(frozen=True)
class Logged:
    """What the e-mail log (models/mail_log.py) keeps of a mail besides its address and subject, and the retry
    bookkeeping of the sender's row, so that a passing failure is logged as failed once its retry window is over."""

    kind: str
    client_id: int | None = None
    first_failed_at: datetime | None = None
    failed_attempts: int = 0
    retry_until: datetime | None = None  # no attempt after this (e.g. the link's expiry)


class Undelivered(NamedTuple):
    mail: Mail
    reason: str  # the mail server's reply, or what kept the message from being written
    transient: bool  # server unreachable or a 4xx reply: worth trying again later


class MailError(RuntimeError):
    pass


def _header(value: str) -> str:
    """An unstructured header value (e.g. Subject) as 7-bit text: as it is when it is short ASCII, otherwise
    RFC 2047 encoded words (UTF-8, base64) of 64 characters, one per line."""
    if "\r" in value or "\n" in value:
        raise MailError(f"A header may not contain a line break: {value!r}")
    if value.isascii() and len(value) <= 66:
        return value
    data, words, start = value.encode(), [], 0
    while start < len(data):
        end = min(start + 39, len(data))  # 39 bytes → 52 base64 characters → a 64-character word
        while end < len(data) and data[end] & 0xC0 == 0x80:  # never split a character
            end -= 1
        words.append(f"=?utf-8?b?{base64.b64encode(data[start:end]).decode()}?=")
        start = end
    return "\r\n ".join(words)


def _entity(headers: list[str], body: bytes) -> bytes:
    """A MIME entity: its header lines, a blank line, its body."""
    return "\r\n".join(headers).encode() + b"\r\n\r\n" + body


def _text(subtype: str, text: str) -> bytes:
    """A text part: UTF-8, quoted-printable (lines of at most 76 characters), CRLF line ends."""
    body = binascii.b2a_qp(text.replace("\r\n", "\n").encode(), istext=True).replace(b"\n", b"\r\n")
    headers = [f'Content-Type: text/{subtype}; charset="utf-8"', "Content-Transfer-Encoding: quoted-printable"]
    return _entity(headers, body)


def _multipart(subtype: str, parts: list[bytes]) -> bytes:
    boundary = f"=_{uuid.uuid4().hex}"
    separator = f"\r\n--{boundary}\r\n".encode()
    # The header ends with the first separator's CRLF: the blank line before the first part.
    return (f'Content-Type: multipart/{subtype};\r\n boundary="{boundary}"\r\n'.encode() + separator
            + separator.join(parts) + f"\r\n--{boundary}--\r\n".encode())


def _is_transient(error: Exception) -> bool:
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    return isinstance(error, (OSError, smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError))


@contextlib.contextmanager
def _session(smtp: smtplib.SMTP):
    """QUIT after a batch; after an error or a worker's stop, only close: a server that holds the message being sent
    would not answer the QUIT before the socket's timeout."""
    try:
        yield smtp
    except BaseException:
        smtp.close()
        raise
    with contextlib.suppress(smtplib.SMTPException, OSError):
        smtp.quit()


class Mailer:
    def __init__(self, mail_url: str | None, outbox_dir: str, sender: str, retry_delays=(), timeout: float = 10,
                 journal=None):
        self.url = urlsplit(mail_url) if mail_url else None
        self.outbox = Path(outbox_dir)
        self.sender = sender
        self.retry_delays = tuple(retry_delays)
        self.timeout = timeout
        self.journal = journal  # journal(mails, undelivered): the app's e-mail log
        if self.url is not None and self.url.scheme not in ("smtp", "smtps"):
            raise MailError(f"MAIL_URL must start with smtp:// or smtps://, not {self.url.scheme}://")
        name, self.envelope_from = parseaddr(sender)
        self.domain = self.envelope_from.rsplit("@", 1)[-1]
        self.from_header = formataddr((name, self.envelope_from)) if self.envelope_from.isascii() else sender

    @classmethod
    def from_config(cls, config, timeout: float = 10) -> "Mailer":
        return cls(config.get("MAIL_URL"), config["OUTBOX_DIR"], config["MAIL_FROM"], config["MAIL_RETRY_DELAYS"], timeout,
                   journal=record_sends)

    def render(self, mail: Mail) -> bytes:
        """The message as sent: a text part, an HTML alternative when there is one, then the attachments."""
        if "\r" in mail.to or "\n" in mail.to:
            raise MailError(f"Not an e-mail address: {mail.to!r}")
        head = [f"From: {self.from_header}", f"To: {mail.to}", f"Subject: {_header(mail.subject)}",
                f"Date: {formatdate(localtime=True)}", f"Message-ID: {make_msgid(domain=self.domain)}",
                "MIME-Version: 1.0"]
        head += [f"{name}: {_header(value)}" for name, value in mail.headers.items()]
        body = _text("plain", mail.text)
        if mail.html:
            body = _multipart("alternative", [body, _text("html", mail.html)])
        if mail.attachments:
            body = _multipart("mixed", [body, *(attachment.part() for attachment in mail.attachments)])
        return "\r\n".join(head).encode() + b"\r\n" + body

    def _mail_options(self, mail: Mail) -> tuple[str, ...]:
        """An address outside ASCII needs a server that takes SMTPUTF8 (a plain one refuses the message)."""
        return () if mail.to.isascii() and self.envelope_from.isascii() else ("SMTPUTF8", "BODY=8BITMIME")

    def send_many(self, mails: list[Mail]) -> list[Undelivered]:
        """Deliver `mails`; returns the ones that could not be delivered. Every path that sends e-mail comes here:
        the journal logs the batch (not committed: with the sender's own outcome)."""
        if not mails:
            return []
        failed = self._write_outbox(mails) if self.url is None else self._deliver(mails)
        if self.journal is not None:
            self.journal(mails, failed)
        return failed

    def _deliver(self, mails: list[Mail]) -> list[Undelivered]:
        pending, failed = list(mails), []
        for delay in (0.0, *self.retry_delays):
            if delay:
                log.warning("SMTP: %d messages not delivered yet, retrying in %.0f s", len(pending), delay)
                time.sleep(delay)
            pending, permanent, last_error = self._smtp_batch(pending)
            failed += [Undelivered(mail, reason, False) for mail, reason in permanent]
            if not pending:
                break
        reason = _("Mail server unreachable: %(error)s", error=last_error)
        failed += [Undelivered(mail, reason, True) for mail in pending]
        return failed

    def _connect(self) -> smtplib.SMTP:
        host, port = self.url.hostname or "localhost", self.url.port
        options = parse_qs(self.url.query)
        if self.url.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(host, port or 465, timeout=self.timeout, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(host, port or 25, timeout=self.timeout)
            if options.get("starttls", ["0"])[0] in ("1", "true", "yes"):
                smtp.starttls(context=ssl.create_default_context())
        if self.url.username:
            smtp.login(unquote(self.url.username), unquote(self.url.password or ""))
        return smtp

    def server_answers(self) -> bool:
        """Whether the mail server of MAIL_URL takes a connection (and the sign-in) and answers a NOOP; always
        true for the outbox folder."""
        if self.url is None:
            return True
        try:
            with self._connect() as smtp:
                return smtp.noop()[0] == 250
        except (OSError, smtplib.SMTPException):
            return False

    def _smtp_batch(self, mails):
        """One connection for the batch. Returns (to retry, permanently failed, last transient error)."""
        retry, permanent = [], []
        try:
            smtp = self._connect()
        except Exception as error:  # noqa: BLE001 - any connection failure but a refusal is worth a retry
            if isinstance(error, smtplib.SMTPResponseException) and not _is_transient(error):  # e.g. 535, bad credentials
                return [], [(mail, _("Mail server refused the connection: %(error)s", error=error)) for mail in mails], error
            return list(mails), [], error
        last_error = None
        with _session(smtp):
            for index, mail in enumerate(mails):
                try:
                    message = self.render(mail)
                except OSError as error:  # an attachment that cannot be read: no retry will help
                    permanent.append((mail, _("Could not read the attachment: %(error)s", error=error)))
                    continue
                except MailError as error:
                    permanent.append((mail, _("Could not write the message: %(error)s", error=error)))
                    continue
                try:
                    smtp.sendmail(self.envelope_from, [mail.to], message, self._mail_options(mail))
                except smtplib.SMTPRecipientsRefused as error:
                    if all(400 <= code < 500 for code, _reply in error.recipients.values()):  # e.g. greylisting
                        last_error = error
                        retry.append(mail)
                        continue
                    permanent.append((mail, _("Address refused by the mail server: %(error)s", error=error.recipients)))
                except Exception as error:  # noqa: BLE001
                    if not _is_transient(error):
                        permanent.append((mail, _("Mail server refused the message: %(error)s", error=error)))
                        continue
                    last_error = error
                    retry.append(mail)
                    if isinstance(error, (smtplib.SMTPServerDisconnected, OSError)):
                        retry += mails[index + 1:]
                        break
        return retry, permanent, last_error

    def _write_outbox(self, mails):
        self.outbox.mkdir(parents=True, exist_ok=True)
        failed = []
        for mail in mails:
            name = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
            try:
                (self.outbox / name).write_bytes(self.render(mail))
            except (OSError, MailError) as error:
                failed.append(Undelivered(mail, _("Could not write the message: %(error)s", error=error), False))
        return failed
