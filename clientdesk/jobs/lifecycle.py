"""Lifecycle actions on selected clients, as one bulk task: rows in chunks, each chunk one transaction
(its clients, contacts and invitations loaded by three queries, changed by a few statements for all of
them) and committed; then that chunk's invitation e-mails over one SMTP connection; then their outcome
(one statement marks the sent ones; a failed one keeps the server's reply and is tried again later, or
failed for good) and the task's progress, committed.

Idempotent: a row whose state no longer allows the action is skipped with its reason; a rerun after
a crash e-mails again the invitations whose outcome was never recorded, with the same link (the first
e-mail may have left: a duplicate e-mail, never a dead link), so no client is left half-invited.

`retry_due` starts the invitation e-mails whose next attempt is due, as one task (`run_delivery_retry`).
"""
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _, ngettext
from sqlalchemy.orm import joinedload, selectinload

from .. import notifications, tasks
from ..extensions import db
from ..i18n import localdatetime
from ..lifecycle import ClientLifecycle
from ..models import Client, Invitation, InvitationStatus, NotificationKind, utcnow
from ..models.audit import current_actor, record
from ..retries import start_due
from ..services.invitation_mail import invitation_mail
from ..services.mail import Mailer, Undelivered

CHUNK = 200
SENDS_MAIL = {"invite", "resend", "retry_delivery"}


def _load_chunk(ids):
    query = (sa.select(Client).where(Client.id.in_(ids)).order_by(Client.id)
             .options(selectinload(Client.contacts), selectinload(Client.invitations))
             .with_for_update(of=Client))  # two tasks on the same rows take turns
    return db.session.scalars(query).all()


def _apply(action: str, clients, task, outcome) -> list[Invitation]:
    """Apply the action to the chunk's clients; returns the invitations to e-mail."""
    done, refused = ClientLifecycle.apply_many(action, clients, by=task.user, task_id=task.id)
    if action in SENDS_MAIL:
        resumed = ClientLifecycle.unsent_of_task([client for client, _error in refused], task.id, by=task.user)
        done += resumed
        completed = {client for client, _invitation in resumed}
        refused = [(client, error) for client, error in refused if client not in completed]
    outcome["skipped"] += [{"client_id": client.id, "client": client.name, "reason": str(error)}
                           for client, error in refused]
    if action in SENDS_MAIL:
        return [invitation for _client, invitation in done]
    outcome["done"] += len(done)
    return []


def _record_delivery(sent_ids: list[int], undelivered: list[Undelivered], outcome) -> None:
    """The outcome of a batch of invitation e-mails: the sent ones marked by one statement, each undelivered one as
    _record_failure says."""
    now = utcnow()
    if sent_ids:  # invitations are not audited: the client's invite event is
        db.session.execute(sa.update(Invitation).where(Invitation.id.in_(sent_ids),
                                                       Invitation.status == InvitationStatus.PENDING.value)
                           .values(status=InvitationStatus.SENT.value, sent_at=now, error=None, retry_at=None)
                           .execution_options(synchronize_session=False))
    outcome["done"] += len(sent_ids)
    for failure in undelivered:
        _record_failure(db.session.get(Invitation, failure.mail.ref), failure.reason, failure.transient, now, outcome)


def _record_failure(invitation: Invitation, reason: str, transient: bool, at, outcome) -> None:
    """A failed attempt, tried again later or failed for good (Invitation.record_failure), in the task's outcome.
    An invitation accepted or replaced meanwhile keeps its state."""
    if invitation.status != InvitationStatus.PENDING:
        return
    invitation.record_failure(reason, transient, at)
    row = {"client_id": invitation.client_id, "client": invitation.client.name, "reason": invitation.error}
    if invitation.retry_at is not None:
        outcome["retrying"].append({**row, "retry_at": invitation.retry_at.isoformat(), "reason": _(
            "%(reply)s (next attempt: %(time)s)", reply=invitation.error, time=localdatetime(invitation.retry_at))})
    else:
        record("invitation_failed", invitation.client, {"to": invitation.contact.email, "error": invitation.error})
        notifications.notify_client_event(NotificationKind.INVITATION_UNDELIVERED, invitation.client, starter=current_actor(),
                                          to=invitation.contact.email, reason=invitation.error)
        outcome["failed"].append(row)


def _send(mailer: Mailer, invitations: list[Invitation], commit_first: bool, outcome) -> None:
    """E-mail `invitations` and record the outcome; `commit_first`: the changes that issued them are committed
    before any e-mail leaves."""
    mails = [invitation_mail(invitation) for invitation in invitations]  # rendered while loaded (a commit expires them)
    if commit_first:
        db.session.commit()
    undelivered = mailer.send_many(mails)
    failed = {failure.mail.ref for failure in undelivered}
    _record_delivery([mail.ref for mail in mails if mail.ref not in failed], undelivered, outcome)


def _delivery_note(outcome) -> str | None:
    """What the task says about the e-mails that did not leave: when they are tried again, or that they failed."""
    notes = []
    if outcome["retrying"]:
        first = min(row["retry_at"] for row in outcome["retrying"])
        notes.append(ngettext(
            "%(num)d invitation e-mail could not be sent yet: it will be tried again automatically from %(time)s.",
            "%(num)d invitation e-mails could not be sent yet: they will be tried again automatically from %(time)s.",
            len(outcome["retrying"]), time=localdatetime(datetime.fromisoformat(first))))
    if outcome["failed"]:
        notes.append(ngettext("%(num)d invitation e-mail could not be sent: the mail server refused it.",
                              "%(num)d invitation e-mails could not be sent: the mail server refused them.",
                              len(outcome["failed"])))
    return " ".join(notes) or None


def _new_outcome(**fields) -> dict:
    return {**fields, "done": 0, "skipped": [], "failed": [], "retrying": []}


def _summary(outcome) -> dict:
    return {"done": outcome["done"], "skipped": len(outcome["skipped"]), "failed": len(outcome["failed"]),
            "retrying": len(outcome["retrying"])}


def run_bulk_action(task_id: str, action: str, client_ids: list[int]) -> dict:
    with tasks.running(task_id) as task:
        mailer = Mailer.from_config(current_app.config)
        # An attempt after an interrupted one goes on from the last chunk recorded, with its outcome so far.
        outcome = task.result or _new_outcome(action=action)
        ids = sorted(set(client_ids))
        for start in range(task.progress_done, len(ids), CHUNK):
            to_send = _apply(action, _load_chunk(ids[start:start + CHUNK]), task, outcome)
            _send(mailer, to_send, True, outcome)
            task.result = outcome
            tasks.progress(task, min(start + CHUNK, len(ids)), len(ids))  # commits the outcome
        task.error = _delivery_note(outcome)
        db.session.commit()
        return _summary(outcome)


def run_send_invitations(task_id: str, invitation_ids: list[int]) -> dict:
    """E-mail invitations issued one at a time (a colleague's, from the portal): those still pending without an
    outcome (a rerun after a crash sends again, with the same link, only what was never recorded); a failure is
    recorded, and tried again, as the bulk tasks' are."""
    with tasks.running(task_id) as task:
        mailer = Mailer.from_config(current_app.config)
        outcome = task.result or _new_outcome()
        invitations = db.session.scalars(
            sa.select(Invitation).where(Invitation.id.in_(invitation_ids), Invitation.status == InvitationStatus.PENDING.value,
                                        Invitation.first_failed_at.is_(None))
            .options(joinedload(Invitation.client), joinedload(Invitation.contact)).order_by(Invitation.id)).all()
        _send(mailer, [invitation for invitation in invitations if invitation.token is not None], False, outcome)
        task.result = outcome
        task.error = _delivery_note(outcome)
        tasks.progress(task, len(invitation_ids), len(invitation_ids))
        return _summary(outcome)


def retry_due() -> int:
    """Start, as one task, the invitation e-mails whose retry time has passed; returns how many (the reconciler calls it)."""
    return start_due(Invitation, Invitation.retry_at, lambda ids: tasks.launch(
        "invitation_retry", ngettext("Invitation e-mail tried again (%(num)d)", "Invitation e-mails tried again (%(num)d)",
                                     len(ids)), run_delivery_retry, ids, user=None, total=len(ids), queue="mail"))


def run_delivery_retry(task_id: str, invitation_ids: list[int]) -> dict:
    """E-mail again, with their same links, the invitations retry_due claimed (those still pending and leased: not
    sent or renewed since), and record the outcome as the first attempt does."""
    with tasks.running(task_id) as task:
        mailer = Mailer.from_config(current_app.config)
        outcome = task.result or _new_outcome()
        ids = sorted(set(invitation_ids))
        for start in range(task.progress_done, len(ids), CHUNK):
            invitations = db.session.scalars(
                sa.select(Invitation).where(Invitation.id.in_(ids[start:start + CHUNK]),
                                            Invitation.status == InvitationStatus.PENDING.value,
                                            Invitation.retry_at > utcnow())
                .options(joinedload(Invitation.client), joinedload(Invitation.contact)).order_by(Invitation.id)).all()
            for invitation in invitations:
                if invitation.token is None:  # never e-mailed with another link: the user resends for a new one
                    _record_failure(invitation, _("Its link cannot be made again (the secret key changed): use "
                                                  "“Resend invitation” for a new link."), False, utcnow(), outcome)
            _send(mailer, [invitation for invitation in invitations if invitation.token is not None], False, outcome)
            task.result = outcome
            tasks.progress(task, min(start + CHUNK, len(ids)), len(ids))
        task.error = _delivery_note(outcome)
        db.session.commit()
        return _summary(outcome)
