"""Outgoing e-mail: SMTP when MAIL_URL is set (`smtp://host:port`, `smtps://...`, `smtp://user:pass@host:port?starttls=1`),
otherwise each message is written as an .eml file to OUTBOX_DIR.

A Mail may carry file attachments (read from disk when the message is built).
`Mailer.send_many` delivers a batch over one SMTP connection and retries transient failures
(server down, 4xx answers) with back-off; what still fails is returned, not raised, so the caller
can mark exactly those messages as failed.
"""
import logging
import smtplib
import ssl
import time
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger(__name__)


@dataclass
class Attachment:
    """A file attached to a mail; read from `path` only when the message is built."""

    filename: str
    content_type: str
    path: str

    def add_to(self, message: EmailMessage) -> None:
        maintype, _, subtype = self.content_type.partition("/")
        if not subtype:
            maintype, subtype = "application", "octet-stream"
        message.add_attachment(Path(self.path).read_bytes(), maintype=maintype, subtype=subtype, filename=self.filename)


@dataclass
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None
    ref: object = None  # the caller's key for this message (e.g. an invitation id)
    headers: dict = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)


class MailError(RuntimeError):
    pass


def _is_transient(error: Exception) -> bool:
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    return isinstance(error, (OSError, smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError))


class Mailer:
    def __init__(self, mail_url: str | None, outbox_dir: str, sender: str, retry_delays=(), timeout: float = 10):
        self.url = urlsplit(mail_url) if mail_url else None
        self.outbox = Path(outbox_dir)
        self.sender = sender
        self.retry_delays = tuple(retry_delays)
        self.timeout = timeout
        if self.url is not None and self.url.scheme not in ("smtp", "smtps"):
            raise MailError(f"MAIL_URL must start with smtp:// or smtps://, not {self.url.scheme}://")

    @classmethod
    def from_config(cls, config) -> "Mailer":
        return cls(config.get("MAIL_URL"), config["OUTBOX_DIR"], config["MAIL_FROM"], config["MAIL_RETRY_DELAYS"])

    def build(self, mail: Mail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(domain=self.sender.rsplit("@", 1)[-1].strip(">"))
        for name, value in mail.headers.items():
            message[name] = value
        message.set_content(mail.text)
        if mail.html:
            message.add_alternative(mail.html, subtype="html")
        for attachment in mail.attachments:
            attachment.add_to(message)
        return message

    def send_many(self, mails: list[Mail]) -> list[tuple[Mail, str]]:
        """Deliver `mails`; returns the ones that could not be delivered, each with the reason."""
        if not mails:
            return []
        if self.url is None:
            return self._write_outbox(mails)
        pending, failed = list(mails), []
        for attempt, delay in enumerate((0.0, *self.retry_delays)):
            if delay:
                log.warning("SMTP: %d messages not delivered yet, retrying in %.0f s", len(pending), delay)
                time.sleep(delay)
            pending, permanent, last_error = self._smtp_batch(pending)
            failed += permanent
            if not pending:
                break
        failed += [(mail, f"Mail server unreachable: {last_error}") for mail in pending]
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

    def _smtp_batch(self, mails):
        """One connection for the batch. Returns (to retry, permanently failed, last transient error)."""
        retry, permanent = [], []
        try:
            smtp = self._connect()
        except Exception as error:  # noqa: BLE001 - every connection failure is worth a retry
            return list(mails), [], error
        last_error = None
        with smtp:
            for index, mail in enumerate(mails):
                try:
                    message = self.build(mail)
                except OSError as error:  # an attachment that cannot be read: no retry will help
                    permanent.append((mail, f"Could not read the attachment: {error}"))
                    continue
                try:
                    smtp.send_message(message)
                except smtplib.SMTPRecipientsRefused as error:
                    permanent.append((mail, f"Address refused by the mail server: {error.recipients}"))
                except Exception as error:  # noqa: BLE001
                    if not _is_transient(error):
                        permanent.append((mail, f"Mail server refused the message: {error}"))
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
                (self.outbox / name).write_bytes(self.build(mail).as_bytes())
            except OSError as error:
                failed.append((mail, f"Could not write the message: {error}"))
        return failed
