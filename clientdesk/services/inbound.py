"""The inbound mailboxes: an SMTP listener (aiosmtpd) that turns mail sent to a client's inbound address
into accounting documents in that client's Inbox.

- RCPT: the address must be a client's inbound address (550 5.1.1 otherwise; 550 5.2.1 for a deactivated client).
- DATA: the message is accepted for the clients whose allowed senders match its From address or its
  envelope sender; for the others it is refused, counted on the client and logged (RefusedSender).
  SPF and DKIM (services/sender_auth.py) say whether the matching address really sent it; each document
  keeps that verdict. Mail that they do not vouch for is kept, marked, or refused like an unknown sender
  (550 5.7.26), as the firm's settings say (451 when the DNS could not answer and it would be refused).
  Each attachment becomes a Document (file under DOCUMENTS_DIR); a UBL invoice (XML) that comes with a
  file of the same name, or with the only other file, is kept as that document's UBL.
- Size: INBOUND_MAX_MESSAGE_BYTES, advertised with SIZE; bigger messages get 552.
- A message that cannot be taken as it is (a NUL in a header, MIME nested deeper than MAX_MIME_DEPTH or made
  of more than MAX_MIME_PARTS parts, one the parser gives up on, values the database refuses) gets 554 with the
  reason: sending it again would not change the answer.
- Nothing is lost: the reply 250 is given only once the files are on disk and the rows committed; when
  the database cannot be reached the answer is 451 (temporary), so the sending server tries again later.
  A message delivered twice (its 250 lost on the way) is recognised by its Message-ID and stored once.

The SMTP loop never waits: recipients are looked up and messages parsed in a small thread pool, and the
messages are stored by one writer thread, several at a time under one commit (InboxWriter); each in its own
app context.
"""
import asyncio
import logging
import queue
import signal
import threading
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.utils import parseaddr

import sqlalchemy as sa
from aiosmtpd.controller import Controller
from sqlalchemy.exc import DataError, SQLAlchemyError

from ..documents import Part, clean_filename, delete_files, new_documents, pair_ubl
from ..extensions import db
from ..models import AllowedSender, Client, ClientStatus, Document, FirmSettings, RefusedSender, SenderVerdict, UnauthenticatedMail
from .resolvers import resolver
from .sender_auth import UNCHECKED, Authentication, SenderCheck
from .storage import DocumentStore

log = logging.getLogger(__name__)

TEMPORARY = "451 4.3.0 Mailbox temporarily unavailable, please try again later"
MAX_MIME_DEPTH = 20  # multiparts inside multiparts: a forward of a forward of a scan is 4 or 5 deep
MAX_MIME_PARTS = 1000


class MalformedMessage(ValueError):
    """The message itself cannot be taken; str() is the reason, given to the sending server with 554."""


def _checked(text: str, what: str) -> str:
    """`text` as it came, if the database can hold it: no NUL, only encodable characters."""
    if "\x00" in text:
        raise MalformedMessage(f"{what} contains a NUL character")
    try:
        text.encode()
    except UnicodeEncodeError:
        raise MalformedMessage(f"{what} is not valid text") from None
    return text


def _text(value) -> str:
    """A header value as text, RFC 2047 encoded words decoded (the compat32 parser leaves them as they came)."""
    try:
        text = str(make_header(decode_header(str(value or ""))))
    except (ValueError, LookupError):
        text = str(value or "")
    return text.replace("\x00", "")  # an encoded NUL: no database column takes it


def leaf_parts(message) -> list:
    """The parts that hold content (forwarded messages included), in order; every header of every part checked.
    A message nested deeper than MAX_MIME_DEPTH or made of more than MAX_MIME_PARTS parts is malformed."""
    leaves, pending, count = [], [(message, 0)], 0
    while pending:
        part, depth = pending.pop()
        count += 1
        if count > MAX_MIME_PARTS:
            raise MalformedMessage(f"The message has more than {MAX_MIME_PARTS} MIME parts")
        if depth > MAX_MIME_DEPTH:
            raise MalformedMessage(f"The message's MIME parts are nested more than {MAX_MIME_DEPTH} levels deep")
        for name, value in part.items():  # the parser takes only printable ASCII as a header's name
            _checked(str(value), f"The header {name}")
        if part.is_multipart():
            pending.extend((child, depth + 1) for child in reversed(part.get_payload()))
        else:
            leaves.append(part)
    return leaves


def attachments(message) -> list[Part]:
    """Every attached file (forwarded messages included), leaving out message bodies and inline images."""
    parts = []
    for part in leaf_parts(message):
        disposition, filename = part.get_content_disposition(), part.get_filename()
        if disposition != "attachment" and (not filename or part.get_content_maintype() in ("text", "image") and disposition == "inline"):
            continue
        data = part.get_payload(decode=True) or b""
        if not data:
            continue
        name = clean_filename(_text(filename or f"attachment-{len(parts) + 1}"), "attachment")
        parts.append(Part(name, part.get_content_type()[:100], data))
    return parts


@dataclass
class InboundMessage:
    """A message as DATA brought it, parsed: who sent it, to which clients, and its files."""

    envelope_sender: str
    header_from: str
    subject: str
    message_id: str | None
    client_ids: list[int]
    pairs: list[tuple[Part, Part | None]]
    authentication: Authentication = UNCHECKED

    @classmethod
    def parse(cls, envelope_sender: str, client_ids: list[int], content: bytes) -> "InboundMessage":
        """Raises MalformedMessage when the message cannot be taken as it is, whatever the reason."""
        try:
            message = message_from_bytes(content, policy=policy.compat32)  # headers as they came: _text decodes them
            return cls(envelope_sender=_checked(envelope_sender, "The envelope sender"),
                       header_from=(parseaddr(_text(message.get("From")))[1] or "").lower(),
                       subject=_text(message.get("Subject"))[:200],
                       message_id=str(message.get("Message-ID", "")).strip()[:255] or None,
                       client_ids=sorted(set(client_ids)), pairs=pair_ubl(attachments(message)))
        except MalformedMessage:
            raise
        except RecursionError:
            raise MalformedMessage(f"The message's MIME parts are nested more than {MAX_MIME_DEPTH} levels deep") from None
        except Exception as error:  # the parser is lenient: what it gives up on is the message's doing
            raise MalformedMessage("The message could not be read as MIME") from error

    @property
    def sender(self) -> str:
        return self.header_from or self.envelope_sender

    def allowed_addresses(self, allowed_senders: list[AllowedSender]) -> list[str]:
        """Its sender addresses (From, envelope) that one of `allowed_senders` matches."""
        return [a for a in (self.header_from, self.envelope_sender.lower()) if a and any(rule.matches(a) for rule in allowed_senders)]

    def verdict_for(self, allowed_senders: list[AllowedSender]) -> SenderVerdict | None:
        """None when no allowed sender matches; else whether SPF or DKIM vouch for an address that one matches."""
        addresses = self.allowed_addresses(allowed_senders)
        if not addresses:
            return None
        if any(self.authentication.vouches_for(a) for a in addresses):
            return SenderVerdict.AUTHENTICATED
        return SenderVerdict.UNAUTHENTICATED


@dataclass
class Outcome:
    """What storing a message came to, to answer once its batch is committed."""

    reply: Future
    text: str
    documents: list[Document]
    note: str | None = None  # logged once committed


class InboxWriter:
    """Stores messages in one thread, by group commit: the messages that arrive while a batch is being stored
    are stored together next, in one transaction, and one commit (one sync of the database's log) answers them
    all. Each reply still comes after its message's commit: 250 once its files and rows are safe. When a batch
    fails, none of it is kept and its messages are stored again one by one, so that only the one the database
    refuses (or all, when the database is down) gets the error: 451, the sender tries again later."""

    def __init__(self, app, store: DocumentStore):
        self.app, self.store = app, store
        self.waiting = queue.SimpleQueue()
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbound-writer")

    def submit(self, message: InboundMessage) -> Future:
        """The reply to DATA, to come."""
        reply = Future()
        self.waiting.put((message, reply))
        self.thread.submit(self._store_waiting)
        return reply

    def close(self) -> None:
        self.thread.shutdown(wait=True)

    def _store_waiting(self) -> None:
        batch = []
        while not self.waiting.empty():  # this thread alone takes from the queue: get() cannot block here
            message, reply = self.waiting.get()
            if reply.set_running_or_notify_cancel():  # False: the client went away before we began
                batch.append((message, reply))
        if batch:
            self._store(batch)

    def _store(self, batch: list[tuple[InboundMessage, Future]]) -> None:
        outcomes: list[Outcome] = []
        try:
            with self.app.app_context():
                try:
                    self._add_batch(batch, outcomes)
                    db.session.commit()
                except BaseException:
                    db.session.rollback()  # explicitly: after a failed commit, remove() alone leaves the transaction open
                    raise
                finally:
                    db.session.remove()
        except Exception as error:  # nothing of the batch is kept
            for outcome in outcomes:
                delete_files(self.store, outcome.documents)
            waiting = [(message, reply) for message, reply in batch if not reply.done()]
            if len(waiting) > 1:  # most likely one message's fault (a value the database refuses): each on its own
                for one in waiting:
                    self._store([one])
            elif waiting:
                waiting[0][1].set_exception(error)
            return
        for outcome in outcomes:
            if outcome.note:
                log.info("inbound: %s", outcome.note)
            outcome.reply.set_result(outcome.text)

    def _add_batch(self, batch: list[tuple[InboundMessage, Future]], outcomes: list[Outcome]) -> None:
        """Each message's files written and rows added to the session, its outcome appended to `outcomes`."""
        client_ids = {i for message, _ in batch for i in message.client_ids}
        allowed_senders = self._allowed_senders(client_ids)
        keep_unauthenticated = FirmSettings.current().unauthenticated_mail == UnauthenticatedMail.KEEP
        stored = self._already_stored(client_ids, {message.message_id for message, _ in batch} - {None})
        refusals = Counter()
        for message, reply in batch:
            its_allowed_senders = {i: allowed_senders[i] for i in message.client_ids if i in allowed_senders}
            try:
                outcomes.append(self._add(message, reply, its_allowed_senders, keep_unauthenticated, stored, refusals))
            except Exception as error:  # this message's alone: the others go on
                reply.set_exception(error)
        for client_id, count in refusals.items():
            db.session.execute(sa.update(Client).where(Client.id == client_id)
                               .values(refused_senders_count=Client.refused_senders_count + count))

    @staticmethod
    def _allowed_senders(client_ids: set[int]) -> dict[int, list[AllowedSender]]:
        """The allowed senders of each of these clients (those that still exist)."""
        allowed_senders = {}
        for client_id, rule in db.session.execute(sa.select(Client.id, AllowedSender).outerjoin(Client.allowed_senders)
                                                  .where(Client.id.in_(client_ids))):
            rules = allowed_senders.setdefault(client_id, [])
            if rule is not None:
                rules.append(rule)
        return allowed_senders

    @staticmethod
    def _already_stored(client_ids: set[int], message_ids: set[str]) -> set[tuple[int, str]]:
        """(client id, Message-ID) of the messages stored before: a message delivered again (our 250 lost) is not stored twice."""
        if not message_ids:
            return set()
        return {tuple(row) for row in db.session.execute(sa.select(Document.client_id, Document.message_id).distinct().where(
            Document.client_id.in_(client_ids), Document.message_id.in_(message_ids)))}

    def _add(self, message: InboundMessage, reply: Future, allowed_senders: dict[int, list[AllowedSender]],
             keep_unauthenticated: bool, stored: set[tuple[int, str]], refusals: Counter) -> Outcome:
        """Write the message's files and add its rows to the session (its refusals counted in `refusals`);
        `allowed_senders` by client, for the message's clients."""
        verdicts = {client_id: message.verdict_for(rules) for client_id, rules in allowed_senders.items()}
        accepted = [client_id for client_id, verdict in verdicts.items()
                    if verdict == SenderVerdict.AUTHENTICATED or verdict is not None and keep_unauthenticated]
        unauthenticated = [client_id for client_id, verdict in verdicts.items()
                           if verdict == SenderVerdict.UNAUTHENTICATED and client_id not in accepted]
        if unauthenticated and not accepted and message.authentication.undecided:
            return Outcome(reply, "451 4.4.3 The sender could not be authenticated (DNS), please try again later", [])
        refused = [RefusedSender(client_id=client_id, envelope_sender=message.envelope_sender[:254] or None,
                                 header_from=message.header_from[:254] or None, subject=message.subject or None)
                   for client_id in allowed_senders if client_id not in accepted]
        for refusal in refused:
            log.info("inbound: refused %s (envelope %s) for client %d: %s", message.header_from, message.envelope_sender,
                     refusal.client_id, "not authenticated" if refusal.client_id in unauthenticated else "not an allowed sender")
        if not accepted and unauthenticated:
            outcome = Outcome(reply, f"550 5.7.26 Neither SPF nor DKIM authenticates {message.sender or 'this sender'}: "
                                     "refused", [])
        elif not accepted:
            outcome = Outcome(reply, f"550 5.7.1 {message.sender or 'This sender'} may not send documents to this mailbox", [])
        elif not message.pairs:
            outcome = Outcome(reply, "550 5.6.0 No attachment found: send the documents as attachments", [])
        else:
            new = [client_id for client_id in accepted if (client_id, message.message_id) not in stored]
            documents = self._write_files(message, {client_id: verdicts[client_id] for client_id in new})
            if message.message_id:
                stored.update((client_id, message.message_id) for client_id in new)
            outcome = Outcome(reply, f"250 OK: {len(documents)} document(s) received", documents,
                              f"{len(documents)} document(s) from {message.sender} for client(s) "
                              + ", ".join(map(str, accepted)))
        db.session.add_all(refused + outcome.documents)
        refusals.update(refusal.client_id for refusal in refused)
        return outcome

    def _write_files(self, message: InboundMessage, verdicts: dict[int, SenderVerdict]) -> list[Document]:
        documents = []
        try:
            for client_id, verdict in verdicts.items():
                documents += new_documents(self.store, client_id, message.pairs, sender=message.sender[:254] or None,
                                           sender_verdict=verdict.value, sender_authentication=message.authentication.results,
                                           message_id=message.message_id)
        except BaseException:
            delete_files(self.store, documents)
            raise
        return documents


class InboundHandler:
    """aiosmtpd handler; `app` gives the configuration and the database."""

    def __init__(self, app, workers: int = 4):
        self.app = app
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inbound")
        self.writer = InboxWriter(app, DocumentStore.from_config(app.config))
        self.sender_check = SenderCheck(resolver(app.config["DNS_SERVER"], timeout=app.config["INBOUND_DNS_TIMEOUT_SECONDS"]))

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        self.writer.close()

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
            message = await asyncio.get_running_loop().run_in_executor(self.executor, self._read, session, envelope)
            return await asyncio.wrap_future(self.writer.submit(message))
        except MalformedMessage as problem:
            log.info("inbound: malformed message from %s refused: %s", envelope.mail_from, problem, exc_info=problem.__cause__)
            return f"554 5.6.0 {problem}"
        except DataError as error:  # SQLSTATE class 22: this message's values, refused on their own (InboxWriter)
            log.info("inbound: message from %s refused by the database: %s", envelope.mail_from, error.orig)
            return "554 5.6.0 The message holds values that cannot be stored"
        except SQLAlchemyError as error:
            log.warning("inbound: database unavailable at DATA from %s: %s", envelope.mail_from, error)
            return TEMPORARY
        except Exception:  # a full disk, say: the sender keeps the message and tries again; our paths stay ours
            log.exception("inbound: message from %s not stored", envelope.mail_from)
            return TEMPORARY

    def _read(self, session, envelope) -> InboundMessage:
        """The message parsed, and what SPF (for the connecting server) and DKIM make of it."""
        message = InboundMessage.parse(envelope.mail_from or "", envelope.client_ids, envelope.content)
        message.authentication = self.sender_check.authenticate(envelope.content, message.envelope_sender,
                                                                session.peer[0] if session.peer else "", session.host_name or "")
        return message

    @staticmethod
    def _find_client(address: str):
        row = db.session.execute(sa.select(Client.id, Client.status).where(
            Client.inbound_email == address.strip().lower())).first()
        return tuple(row) if row else None


class InboundController(Controller):
    def stop(self, no_assert: bool = False) -> None:
        super().stop(no_assert)
        self.handler.close()


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
