"""Lifecycle actions on selected clients, as one bulk task: rows in chunks, each chunk one transaction
(its clients, contacts and invitations loaded by three queries, changed by a few statements for all of
them), then that chunk's invitation e-mails over one SMTP connection, then one statement marking them sent.

A chunk's e-mails go out from a background thread, the next chunk's right after, while the job applies and
commits chunks and records their outcome: the SMTP exchange no longer waits for the database and the disk.
(Python's GIL keeps the job's own Python work from overlapping it much.) The sender thread has an app
context of its own and never touches the database: the job's thread records every outcome.

Idempotent: a row whose state no longer allows the action is skipped with its reason; a rerun after
a crash re-sends invitations whose e-mail never left (with a fresh token, the old one never having
been seen), so no client is left half-invited.
"""
import collections
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, get_locale, gettext as _, ngettext
from sqlalchemy.orm import selectinload

from .. import tasks
from ..extensions import db
from ..lifecycle import ClientLifecycle
from ..models import Client, Invitation, InvitationStatus, Task, utcnow
from ..models.audit import record
from ..services.invitation_mail import invitation_mail
from ..services.mail import Mail, Mailer

log = logging.getLogger(__name__)

CHUNK = 200
SENDS_MAIL = {"invite", "resend"}


def _load_chunk(ids):
    query = (sa.select(Client).where(Client.id.in_(ids)).order_by(Client.id)
             .options(selectinload(Client.contacts), selectinload(Client.invitations)))
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(of=Client)  # two tasks on the same rows take turns
    return db.session.scalars(query).all()


def _apply(action: str, clients, task, outcome) -> list[tuple[Invitation, str]]:
    """Apply the action to the chunk's clients; returns the invitations to e-mail."""
    done, refused = ClientLifecycle.apply_many(action, clients, by=task.user, task_id=task.id)
    if action in SENDS_MAIL:
        reissued = ClientLifecycle.reissue_unsent([client for client, _error in refused], task.id, by=task.user)
        done += reissued
        completed = {client for client, _result in reissued}
        refused = [(client, error) for client, error in refused if client not in completed]
    outcome["skipped"] += [{"client_id": client.id, "client": client.name, "reason": str(error)}
                           for client, error in refused]
    if action in SENDS_MAIL:
        return [result for _client, result in done]
    outcome["done"] += len(done)
    return []


@dataclass
class _Outgoing:
    """A committed chunk whose e-mails are with the sender thread."""

    invitations: list[tuple[Invitation, str]]
    mails: list[Mail]
    failures: Future  # of Mailer.send_many: [(mail, reason)]
    rows_done: int  # the task's progress once this chunk's outcome is recorded


class _Outbox:
    """The task's e-mails, chunk after chunk, delivered by one background thread while the job goes on.

    `send` hands a committed chunk over, then records the outcome of those before it that the mail server
    has answered, waiting for the older one when two are out: the thread goes from one chunk to the next
    while the job records. Leaving the context records the rest.
    """

    def __init__(self, mailer: Mailer, task: Task, outcome: dict, rows: int):
        self.mailer, self.task, self.outcome, self.rows = mailer, task, outcome, rows
        self.app, self.locale = current_app._get_current_object(), str(get_locale())
        self.sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bulk-mail")
        self.outgoing = collections.deque()

    def __enter__(self):
        return self

    def send(self, invitations: list[tuple[Invitation, str]], mails: list[Mail], rows_done: int) -> None:
        if mails:
            failures = self.sender.submit(self._deliver, mails)
        else:  # nothing to send: answered already
            failures = Future()
            failures.set_result([])
        self.outgoing.append(_Outgoing(invitations, mails, failures, rows_done))
        while self.outgoing and (len(self.outgoing) > 1 or self.outgoing[0].failures.done()):
            self._record_oldest()

    def _deliver(self, mails: list[Mail]) -> list[tuple[Mail, str]]:
        """In the sender thread: an app context of its own (never the job's database session), the job's language
        for the reasons the Mailer gives."""
        with self.app.app_context(), force_locale(self.locale):
            return self.mailer.send_many(mails)

    def _record_oldest(self) -> None:
        """Record the oldest chunk's outcome once the server has answered for it. It stays first in line until
        that is committed: a job timeout raised meanwhile (while waiting, most likely) leaves it to __exit__."""
        outgoing = self.outgoing[0]
        error = outgoing.failures.exception()  # waits; None: send_many returned
        if error is None:
            failures = outgoing.failures.result()
        else:  # the sender gave up midway: say so on every e-mail of the chunk
            reason = _("The e-mail may not have been sent: %(error)s", error=f"{error.__class__.__name__}: {error}")
            failures = [(mail, reason) for mail in outgoing.mails]
        _record_outcome(outgoing.invitations, outgoing.mails, failures, self.outcome)
        self.task.result = self.outcome
        tasks.progress(self.task, outgoing.rows_done, self.rows)  # commits the outcome
        self.outgoing.popleft()

    def __exit__(self, exc_type, exc, traceback):
        try:
            if exc_type is not None and self.outgoing:
                # Those e-mails leave whatever happened to the job (a job timeout included; a killed worker gets
                # here never, and its rerun re-sends what was left unrecorded): undo the chunk that failed, and
                # record what the server answered for the ones before.
                db.session.rollback()
            while self.outgoing:
                self._record_oldest()
        finally:
            self.sender.shutdown()


def _record_outcome(invitations: list[tuple[Invitation, str]], mails: list[Mail], failures, outcome) -> None:
    failed = dict((mail.ref, reason) for mail, reason in failures)
    # The ids from the mails: read off the invitations, which the commit expired, each would be reloaded.
    sent_ids = [mail.ref for mail in mails if mail.ref not in failed]
    if sent_ids:  # one statement for the chunk (invitations are not audited: the client's invite event is)
        db.session.execute(sa.update(Invitation).where(Invitation.id.in_(sent_ids))
                           .values(status=InvitationStatus.SENT.value, sent_at=utcnow())
                           .execution_options(synchronize_session=False))
    outcome["done"] += len(sent_ids)
    for (invitation, _token), mail in zip(invitations, mails):
        if mail.ref in failed:
            invitation.status, invitation.error = InvitationStatus.FAILED.value, failed[mail.ref][:500]
            record("invitation_failed", invitation.client, {"to": invitation.contact.email, "error": invitation.error})
            outcome["failed"].append({"client_id": invitation.client_id, "client": invitation.client.name,
                                      "reason": invitation.error})


def run_bulk_action(task_id: str, action: str, client_ids: list[int]) -> dict:
    mailer = Mailer.from_config(current_app.config)
    with tasks.running(task_id) as task:
        outcome = {"action": action, "done": 0, "skipped": [], "failed": []}
        ids = sorted(set(client_ids))
        with _Outbox(mailer, task, outcome, len(ids)) as outbox:
            for start in range(0, len(ids), CHUNK):
                to_send = _apply(action, _load_chunk(ids[start:start + CHUNK]), task, outcome)
                # Rendered while the chunk's rows are loaded (the commit expires them).
                mails = [invitation_mail(invitation, token) for invitation, token in to_send]
                db.session.commit()  # the state changes and their audit records, before any e-mail leaves
                outbox.send(to_send, mails, min(start + CHUNK, len(ids)))
        if outcome["failed"]:
            task.error = ngettext("%(num)d invitation e-mail could not be sent: use Resend once the mail server is back.",
                                  "%(num)d invitation e-mails could not be sent: use Resend once the mail server is back.",
                                  len(outcome["failed"]))
        db.session.commit()
        return {"done": outcome["done"], "skipped": len(outcome["skipped"]), "failed": len(outcome["failed"])}
