"""The inbound mailboxes: an SMTP listener (aiosmtpd) that turns mail sent to a client's inbound address
into accounting documents in that client's Inbox.

- RCPT: the address must be a client's inbound address (550 5.1.1 otherwise; 550 5.2.1 for a deactivated client).
- DATA: the message is accepted for the clients whose allowed senders match its From address or its
  envelope sender; for the others it is refused, counted on the client and logged (RefusedSender).
  Each attachment becomes a Document (file under DOCUMENTS_DIR); a UBL invoice (XML) that comes with a
  file of the same name, or with the only other file, is kept as that document's UBL.
- Size: INBOUND_MAX_MESSAGE_BYTES, advertised with SIZE; bigger messages get 552.
- Nothing is lost: the reply 250 is given only once the files are on disk and the rows committed; when
  the database cannot be reached the answer is 451 (temporary), so the sending server tries again later.
  A message delivered twice (its 250 lost on the way) is recognised by its Message-ID and stored once.

Database work runs in a small thread pool, each call in its own app context, so the SMTP loop never waits on it.
"""
import asyncio
import logging
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.utils import parseaddr
from pathlib import PurePath
from xml.etree import ElementTree

import sqlalchemy as sa
from aiosmtpd.controller import Controller
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import Client, ClientStatus, Document, DocumentStatus, DocumentType, RefusedSender, utcnow
from .mime import parse_message
from .smtp_server import ChunkedDataSMTP
from .storage import DocumentStore

log = logging.getLogger(__name__)

UBL_ROOTS = {
    "{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice",
    "{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}CreditNote",
}
TEMPORARY = "451 4.3.0 Mailbox temporarily unavailable, please try again later"


@dataclass
class Part:
    filename: str
    content_type: str
    data: bytes

    @property
    def is_ubl(self) -> bool:
        if not (self.content_type.endswith("xml") or self.filename.lower().endswith(".xml")):
            return False
        try:
            return ElementTree.fromstring(self.data).tag in UBL_ROOTS
        except ElementTree.ParseError:
            return False


def _text(value) -> str:
    """A header value as text, RFC 2047 encoded words decoded (the compat32 parser leaves them as they came)."""
    try:
        return str(make_header(decode_header(str(value or ""))))
    except (ValueError, LookupError):
        return str(value or "")


def attachments(message) -> list[Part]:
    """Every attached file (forwarded messages included), leaving out message bodies and inline images."""
    parts = []
    for part in message.walk():
        if part.is_multipart():
            continue
        disposition, filename = part.get_content_disposition(), part.get_filename()
        if disposition != "attachment" and (not filename or part.get_content_maintype() in ("text", "image") and disposition == "inline"):
            continue
        data = part.get_payload(decode=True) or b""
        if not data:
            continue
        name = PurePath(_text(filename or f"attachment-{len(parts) + 1}").replace("\\", "/")).name.strip() or "attachment"
        parts.append(Part(name[:255], part.get_content_type()[:100], data))
    return parts


def pair_ubl(parts: list[Part]) -> list[tuple[Part, Part | None]]:
    """(document file, its UBL or None): a UBL goes with the file of the same name, else with the only other file."""
    ubls = [p for p in parts if p.is_ubl]
    files = [p for p in parts if p not in ubls]
    if not files:
        return [(ubl, None) for ubl in ubls]
    pairs = {id(f): [f, None] for f in files}
    for ubl in ubls:
        stem = PurePath(ubl.filename).stem.lower()
        match = next((f for f in files if PurePath(f.filename).stem.lower() == stem and pairs[id(f)][1] is None), None)
        if match is None and len(files) == 1 and pairs[id(files[0])][1] is None:
            match = files[0]
        if match is None:
            pairs[id(ubl)] = [ubl, None]
        else:
            pairs[id(match)][1] = ubl
    return [tuple(pair) for pair in pairs.values()]


class InboundHandler:
    """aiosmtpd handler; `app` gives the configuration and the database."""

    def __init__(self, app, workers: int = 4):
        self.app = app
        self.store = DocumentStore.from_config(app.config)
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inbound-db")

    async def _db(self, fn, *args):
        def call():
            with self.app.app_context():
                try:
                    return fn(*args)
                finally:
                    db.session.remove()

        return await asyncio.get_running_loop().run_in_executor(self.executor, call)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        try:
            found = await self._db(self._find_client, address)
        except SQLAlchemyError as error:
            log.warning("inbound: database unavailable at RCPT %s: %s", address, error)
            return TEMPORARY
        if found is None:
            return "550 5.1.1 No such mailbox here"
        client_id, status = found
        if status == ClientStatus.DEACTIVATED:
            return "550 5.2.1 This mailbox is disabled"
        envelope.rcpt_tos.append(address)
        if not hasattr(envelope, "client_ids"):
            envelope.client_ids = []
        envelope.client_ids.append(client_id)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        try:
            return await self._db(self._receive, envelope.mail_from or "", envelope.client_ids, envelope.content)
        except SQLAlchemyError as error:
            log.warning("inbound: database unavailable at DATA from %s: %s", envelope.mail_from, error)
            return TEMPORARY

    @staticmethod
    def _find_client(address: str):
        row = db.session.execute(sa.select(Client.id, Client.status).where(
            Client.inbound_email == address.strip().lower())).first()
        return tuple(row) if row else None

    def _receive(self, envelope_sender: str, client_ids: list[int], content: bytes) -> str:
        message = parse_message(content)
        header_from = (parseaddr(_text(message.get("From")))[1] or "").lower()
        senders = [a for a in (header_from, envelope_sender.lower()) if a]
        subject = _text(message.get("Subject"))[:200]
        message_id = str(message.get("Message-ID", "")).strip()[:255] or None
        clients = db.session.scalars(sa.select(Client).where(Client.id.in_(set(client_ids)))
                                     .options(selectinload(Client.allowed_senders))).all()
        accepted, refused = [], []
        for client in clients:
            allowed = any(rule.matches(a) for rule in client.allowed_senders for a in senders)
            (accepted if allowed else refused).append(client)
        self._log_refusals(refused, envelope_sender, header_from, subject)
        if not accepted:
            db.session.commit()
            return f"550 5.7.1 {header_from or envelope_sender or 'This sender'} may not send documents to this mailbox"
        pairs = pair_ubl(attachments(message))
        if not pairs:
            db.session.commit()
            return "550 5.6.0 No attachment found: send the documents as attachments"
        written = []
        try:
            stored = 0
            for client in accepted:
                if message_id and db.session.scalar(sa.select(Document.id).where(
                        Document.client_id == client.id, Document.message_id == message_id).limit(1)):
                    continue  # the same message again (our 250 was lost): already stored
                for part, ubl in pairs:
                    document = Document(client_id=client.id, filename=part.filename, content_type=part.content_type,
                                        size=len(part.data), sender=header_from or envelope_sender or None,
                                        message_id=message_id, doc_type=DocumentType.PURCHASE.value,
                                        status=DocumentStatus.INBOX.value, received_at=utcnow())
                    document.storage_path = self.store.save(client.id, part.filename, part.data)
                    written.append(document.storage_path)
                    if ubl is not None:
                        document.ubl_storage_path = self.store.save(client.id, ubl.filename, ubl.data)
                        document.ubl_filename = ubl.filename
                        written.append(document.ubl_storage_path)
                    db.session.add(document)
                    stored += 1
            db.session.commit()
        except BaseException:
            db.session.rollback()
            for path in written:
                self.store.delete(path)
            raise
        log.info("inbound: %d document(s) from %s for client(s) %s", stored, header_from or envelope_sender,
                 ", ".join(str(c.id) for c in accepted))
        return f"250 OK: {stored} document(s) received"

    @staticmethod
    def _log_refusals(clients, envelope_sender: str, header_from: str, subject: str) -> None:
        for client in clients:
            log.info("inbound: refused %s (envelope %s) for client %d: not an allowed sender",
                     header_from, envelope_sender, client.id)
            db.session.add(RefusedSender(client_id=client.id, envelope_sender=envelope_sender[:254] or None,
                                         header_from=header_from[:254] or None, subject=subject or None))
            db.session.execute(sa.update(Client).where(Client.id == client.id)
                               .values(refused_senders_count=Client.refused_senders_count + 1))


class InboundController(Controller):
    def factory(self) -> ChunkedDataSMTP:
        return ChunkedDataSMTP(self.handler, **self.SMTP_kwargs)


def controller(app, host: str | None = None, port: int | None = None) -> Controller:
    """The listener, ready to start() (in a thread of its own) and stop()."""
    return InboundController(
        InboundHandler(app), hostname=host or app.config["INBOUND_SMTP_HOST"], port=port or app.config["INBOUND_SMTP_PORT"],
        data_size_limit=app.config["INBOUND_MAX_MESSAGE_BYTES"], ident="ClientDesk inbound", timeout=120,
    )


def serve(app, host: str | None = None, port: int | None = None) -> None:
    """Run the listener until SIGINT or SIGTERM."""
    listener = controller(app, host, port)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    listener.start()
    log.info("inbound mail: listening on %s:%d (max %d bytes per message)", listener.hostname, listener.port,
             app.config["INBOUND_MAX_MESSAGE_BYTES"])
    try:
        stop.wait()
    finally:
        listener.stop()
        listener.handler.executor.shutdown(wait=True)
