"""Lifecycle actions on selected clients, as one bulk task: rows in chunks, each chunk one transaction
(its clients, contacts and invitations loaded by three queries, changed by a few statements for all of
them) and committed; then that chunk's invitation e-mails over one SMTP connection; then their outcome
(one statement marks the sent ones, a failed one keeps its reason) and the task's progress, committed.

Idempotent: a row whose state no longer allows the action is skipped with its reason; a rerun after
a crash re-sends invitations whose e-mail never left (with a fresh token, the old one never having
been seen), so no client is left half-invited.
"""
import sqlalchemy as sa
from flask import current_app
from flask_babel import ngettext
from sqlalchemy.orm import selectinload

from .. import tasks
from ..extensions import db
from ..lifecycle import ClientLifecycle
from ..models import Client, Invitation, InvitationStatus, utcnow
from ..models.audit import record
from ..services.invitation_mail import invitation_mail
from ..services.mail import Mail, Mailer

CHUNK = 200
SENDS_MAIL = {"invite", "resend"}


def _load_chunk(ids):
    query = (sa.select(Client).where(Client.id.in_(ids)).order_by(Client.id)
             .options(selectinload(Client.contacts), selectinload(Client.invitations))
             .with_for_update(of=Client))  # two tasks on the same rows take turns
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
        # An attempt after an interrupted one goes on from the last chunk recorded, with its outcome so far.
        outcome = task.result or {"action": action, "done": 0, "skipped": [], "failed": []}
        ids = sorted(set(client_ids))
        for start in range(task.progress_done, len(ids), CHUNK):
            to_send = _apply(action, _load_chunk(ids[start:start + CHUNK]), task, outcome)
            # Rendered while the chunk's rows are loaded (the commit expires them).
            mails = [invitation_mail(invitation, token) for invitation, token in to_send]
            db.session.commit()  # the state changes and their audit records, before any e-mail leaves
            _record_outcome(to_send, mails, mailer.send_many(mails), outcome)
            task.result = outcome
            tasks.progress(task, min(start + CHUNK, len(ids)), len(ids))  # commits the outcome
        if outcome["failed"]:
            task.error = ngettext("%(num)d invitation e-mail could not be sent: use Resend once the mail server is back.",
                                  "%(num)d invitation e-mails could not be sent: use Resend once the mail server is back.",
                                  len(outcome["failed"]))
        db.session.commit()
        return {"done": outcome["done"], "skipped": len(outcome["skipped"]), "failed": len(outcome["failed"])}
