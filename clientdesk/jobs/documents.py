"""Sending accounting documents to the accountant, as one task: selected documents, or all of one
client's inbox. Chunks of documents, each chunk delivered per client through its integration (one SMTP
connection, one sFTP session) and recorded in one transaction: Sent; or, for a passing failure, left in the
Inbox with the reply and the time of its next attempt (started by `retry_due`, which the reconciler calls)
until the retry window is over (retries.py); otherwise Failed with the reply.

Idempotent: a document already sent is skipped, so a rerun after a crash sends only what was left
(a document whose delivery went out just before a crash may go out twice: at least once, never lost).
"""
import logging
from itertools import groupby

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _, ngettext
from sqlalchemy.orm import joinedload

from .. import notifications, tasks
from ..extensions import db
from ..i18n import localdatetime
from ..models import Client, ClientIntegration, DeliveryMethod, Document, DocumentStatus, NotificationKind, utcnow
from ..models.audit import current_actor
from ..retries import after_failure, start_due
from ..services.delivery import DeliverySetupError, Item, Result, SftpDeliverer, deliverer_for, delivery_type, effective_delivery
from ..services.storage import DocumentStore

log = logging.getLogger(__name__)

CHUNK = 200


def _load_chunk(ids):
    query = (sa.select(Document).where(Document.id.in_(ids)).order_by(Document.client_id, Document.id)
             .options(joinedload(Document.client).selectinload(Client.integration).joinedload(ClientIntegration.product))
             .with_for_update(of=Document))  # two tasks on the same documents take turns
    return db.session.scalars(query).unique().all()


def _skip(outcome, document, reason):
    outcome["skipped"].append({"client_id": document.client_id, "client": document.client.name,
                               "reason": f"{document.filename}: {reason}"})


def _item(document, settings, store: DocumentStore) -> Item:
    return Item(
        document_id=document.id, path=store.path(document.storage_path), filename=document.filename,
        content_type=document.content_type, doc_type=delivery_type(document.doc_type, settings.credit_card_statements),
        client_name=document.client.name, vat_number=document.client.vat_number,
        ubl_path=store.path(document.ubl_storage_path) if document.ubl_storage_path else None,
        ubl_filename=document.ubl_filename, client_id=document.client_id, first_failed_at=document.first_failed_at,
        failed_attempts=document.failed_attempts,
    )


def _deliver_client(client, documents, store, outcome) -> None:
    integration = client.integration
    if integration is None:
        for document in documents:
            _skip(outcome, document, _("%(name)s has no accounting software connected (Client integrations).", name=client.name))
        return
    delivery = effective_delivery(integration)
    if delivery.method == DeliveryMethod.MANUAL:
        for document in documents:
            _skip(outcome, document, delivery.unsupported or _("%(name)s's documents are delivered manually: nothing to send.",
                                                                name=client.name))
        return
    settings = delivery.settings
    deliverer, setup_error, by_id = None, None, {}
    try:
        deliverer = deliverer_for(settings, current_app.config)
        by_id = {r.document_id: r for r in deliverer.deliver([_item(d, settings, store) for d in documents])}
    except DeliverySetupError as error:
        setup_error = str(error)
    now = utcnow()
    failed = []
    for document in documents:
        result = by_id.get(document.id) or Result(document.id, error=setup_error or _("No delivery result."))
        _record(document, result, now)
        row = {"client_id": client.id, "client": client.name, "reason": f"{document.filename}: {result.error}"}
        if result.error is None:
            outcome["done"] += 1
        elif document.retry_at is None:
            outcome["failed"].append(row)
            failed.append(row["reason"])
        else:
            outcome["retrying"].append({**row, "retry_at": document.retry_at, "reason": _(
                "%(file)s: tried again at %(time)s: %(reply)s", file=document.filename, time=localdatetime(document.retry_at),
                reply=result.error)})
    if failed:
        notifications.notify_client_event(NotificationKind.DOCUMENTS_UNDELIVERED, client, starter=current_actor(),
                                          count=len(failed), reason=failed[0])
    if isinstance(deliverer, SftpDeliverer) and deliverer.seen_host_key:
        settings.sftp_host_key = deliverer.seen_host_key  # trust on first use, checked from now on


def _record(document: Document, result: Result, now) -> None:
    """One attempt's outcome on the document: Sent; Inbox with the reply and its next attempt, while a passing
    failure's retry window lasts; otherwise Failed with the reply."""
    document.attempts += 1
    document.last_attempt_at = now
    if result.error is None:
        document.status, document.error, document.sent_at = DocumentStatus.SENT.value, None, now
        document.delivered_to = (result.delivered_to or "")[:300]
        _no_retry(document)
        return
    document.error = result.error[:500]
    retry = after_failure(document.first_failed_at, document.failed_attempts, result.transient, now)
    if retry.retry_at is None:
        document.status = DocumentStatus.FAILED.value
        _no_retry(document)
    else:
        document.status = DocumentStatus.INBOX.value
        document.retry_at, document.first_failed_at, document.failed_attempts = (
            retry.retry_at, retry.first_failed_at, retry.failed_attempts)


def _no_retry(document: Document) -> None:
    document.retry_at, document.first_failed_at, document.failed_attempts = None, None, 0


def _send(task, ids: list[int]) -> dict:
    store = DocumentStore.from_config(current_app.config)
    outcome = {"done": 0, "skipped": [], "retrying": [], "failed": []}
    for start in range(0, len(ids), CHUNK):
        documents = []
        for document in _load_chunk(ids[start:start + CHUNK]):
            if document.status == DocumentStatus.SENT:
                _skip(outcome, document, _("already sent."))
            else:
                documents.append(document)
        for _client_id, group in groupby(documents, key=lambda d: d.client_id):
            group = list(group)
            _deliver_client(group[0].client, group, store, outcome)
        task.result = outcome
        tasks.progress(task, min(start + CHUNK, len(ids)), len(ids))  # commits the chunk's statuses
    task.error = _note(outcome) or None
    db.session.commit()
    return {key: value if key == "done" else len(value) for key, value in outcome.items()}


def _note(outcome: dict) -> str:
    """What the finished task says of the documents not delivered: which failed, when the others are retried."""
    notes = []
    if outcome["failed"]:
        notes.append(ngettext(
            "%(num)d document could not be delivered: it is marked Failed with the reason; send it again (To accountant) "
            "once fixed.",
            "%(num)d documents could not be delivered: they are marked Failed with the reason; send them again (To accountant) "
            "once fixed.", len(outcome["failed"])))
    if outcome["retrying"]:
        notes.append(ngettext("%(num)d document will be tried again automatically, from %(time)s.",
                              "%(num)d documents will be tried again automatically, from %(time)s.", len(outcome["retrying"]),
                              time=localdatetime(min(row["retry_at"] for row in outcome["retrying"]))))
    return " ".join(notes)


def launch_delivery(description: str, document_ids: list[int], user, client=None) -> tasks.Task:
    """The task that delivers these documents (commits the session first)."""
    return tasks.launch("send_documents", description, run_send_documents, document_ids, user=user, client=client,
                        total=len(document_ids), queue="bulk")


def retry_now(document_ids: list[int]) -> None:
    """A person sends these documents now: their scheduled retry is dropped (the reconciler leaves them alone),
    and a passing failure starts a new retry window. The caller launches the delivery, which commits this."""
    db.session.execute(sa.update(Document).where(Document.id.in_(document_ids), Document.status != DocumentStatus.SENT.value)
                       .values(retry_at=None, first_failed_at=None, failed_attempts=0)
                       .execution_options(synchronize_session=False))


def retry_due() -> int:
    """Start, as one task, the deliveries whose retry time has passed; returns how many (the reconciler calls it)."""
    return start_due(Document, Document.retry_at, lambda ids: launch_delivery(
        ngettext("Delivery tried again: %(num)d document", "Delivery tried again: %(num)d documents", len(ids)), ids, user=None))


def run_send_documents(task_id: str, document_ids: list[int]) -> dict:
    with tasks.running(task_id) as task:
        return _send(task, sorted(set(document_ids)))


def run_send_inbox(task_id: str, client_id: int) -> dict:
    """Everything in the client's inbox when the task runs (a rerun picks up what is still there)."""
    with tasks.running(task_id) as task:
        ids = list(db.session.scalars(sa.select(Document.id).where(
            Document.client_id == client_id, Document.status == DocumentStatus.INBOX.value).order_by(Document.id)))
        return _send(task, ids)
