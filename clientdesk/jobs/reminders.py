"""Invitation reminders, the run of the schedule "invitation_reminders" (schedule.py): an e-mail with the invitation's
same link, so many days before it expires (INVITATION_REMINDER_DAYS), in the contact's language.

Who: the company invitations (not a colleague's) whose e-mail was sent (one still being sent or refused is the firm's
to act on: the client list shows it), of clients still invited, that have not expired, by the clock of scheduled work
(clock.py). Which day mark: the smallest one the invitation has reached, so that a run after a long pause sends one
reminder, not one per mark.

Once (once.py): a reminder row per invitation and mark is inserted before its e-mail leaves, under a unique key; a run
at the same time inserts nothing for it and sends nothing. The rows are committed before the chunk's e-mails leave, and
a rerun of the task after a crash sends again those it left pending (a duplicate e-mail, never a missing one). An e-mail
that fails for a passing reason is tried again as an invitation's is (retries.py, `retry_due`).
"""
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _, ngettext
from sqlalchemy.orm import joinedload

from .. import clock, tasks
from ..extensions import db
from ..i18n import localdatetime
from ..models import Client, ClientStatus, Invitation, InvitationReminder, InvitationStatus, ReminderStatus, utcnow
from ..models.audit import record
from ..once import CHUNK, claim, send_in_chunks
from ..retries import start_due
from ..services.invitation_mail import reminder_mail
from ..services.mail import Mailer


def due(marks, now: datetime) -> list[tuple[int, int]]:
    """(invitation id, day mark) of the reminders due at `now`: for each mark (ascending), the invitations that expire
    after the previous mark and no later than this one, without a reminder for it."""
    found, after = [], now
    for days in marks:
        until = now + timedelta(days=days)
        reminded = sa.exists().where(InvitationReminder.invitation_id == Invitation.id, InvitationReminder.days_before == days)
        found += [(invitation_id, days) for invitation_id in db.session.scalars(
            sa.select(Invitation.id).join(Client, Client.id == Invitation.client_id)
            .where(Invitation.of_company(), Invitation.status == InvitationStatus.SENT.value,
                   Client.status == ClientStatus.INVITED.value,
                   Invitation.expires_at > after, Invitation.expires_at <= until, ~reminded)
            .order_by(Invitation.id))]
        after = until
    return found


def _claim(pairs: list[tuple[int, int]], task_id: str) -> list[int]:
    """Insert the reminder rows of `pairs`; the ids of those inserted (a pair that has its row already is left out)."""
    return claim(InvitationReminder, ["invitation_id", "days_before"],
                 [{"invitation_id": invitation_id, "days_before": days, "task_id": task_id} for invitation_id, days in pairs])


def _load(ids: list[int]) -> list[InvitationReminder]:
    return db.session.scalars(
        sa.select(InvitationReminder).where(InvitationReminder.id.in_(ids)).order_by(InvitationReminder.id)
        .options(joinedload(InvitationReminder.invitation).joinedload(Invitation.client),
                 joinedload(InvitationReminder.invitation).joinedload(Invitation.contact))).all()


def _send(mailer: Mailer, reminders: list[InvitationReminder], outcome: dict) -> None:
    """E-mail `reminders` (committed as pending first) and record each outcome, with the client's audit event."""
    for reminder in reminders:
        if reminder.invitation.token is None:  # never e-mailed with another link: the user resends for a new one
            reminder.status, reminder.error = ReminderStatus.FAILED.value, _(
                "Its link cannot be made again (the secret key changed): use “Resend invitation” for a new link.")
    reminders = [reminder for reminder in reminders if reminder.status == ReminderStatus.PENDING]
    mails = [reminder_mail(reminder) for reminder in reminders]  # rendered while loaded (the commit expires them)
    facts = {reminder.id: (reminder.invitation.client_id, {"to": reminder.invitation.contact.email,
                                                           "days_before": reminder.days_before}) for reminder in reminders}
    db.session.commit()
    failures = {failure.mail.ref: failure for failure in mailer.send_many(mails)}
    now = utcnow()
    sent = [mail.ref for mail in mails if mail.ref not in failures]
    if sent:
        db.session.execute(sa.update(InvitationReminder).where(InvitationReminder.id.in_(sent))
                           .values(status=ReminderStatus.SENT.value, sent_at=now, error=None, retry_at=None)
                           .execution_options(synchronize_session=False))
        # The clients (the commit expired them) by one query, not one each as the events name them.
        clients = {client.id: client for client in db.session.scalars(
            sa.select(Client).where(Client.id.in_({facts[ref][0] for ref in sent})))}
        for reminder_id in sent:
            client_id, fact = facts[reminder_id]
            record("reminder", clients[client_id], fact)
    outcome["done"] += len(sent)
    for reminder_id, failure in failures.items():
        reminder = db.session.get(InvitationReminder, reminder_id)
        reminder.record_failure(failure.reason, failure.transient, now)
        client = reminder.invitation.client
        row = {"client_id": client.id, "client": client.name, "reason": reminder.error}
        if reminder.retry_at is not None:
            outcome["retrying"].append({**row, "reason": _("%(reply)s (next attempt: %(time)s)", reply=reminder.error,
                                                           time=localdatetime(reminder.retry_at))})
        else:
            record("reminder_failed", client, {**facts[reminder_id][1], "error": reminder.error})
            outcome["failed"].append(row)


def _note(outcome: dict) -> str | None:
    notes = []
    if outcome["retrying"]:
        notes.append(ngettext("%(num)d reminder could not be sent yet: it will be tried again automatically.",
                              "%(num)d reminders could not be sent yet: they will be tried again automatically.",
                              len(outcome["retrying"])))
    if outcome["failed"]:
        notes.append(ngettext("%(num)d reminder could not be sent: the mail server refused it.",
                              "%(num)d reminders could not be sent: the mail server refused them.", len(outcome["failed"])))
    return " ".join(notes) or None


def send_due(task_id: str) -> dict:
    with tasks.running(task_id) as task:
        mailer = Mailer.from_config(current_app.config)
        outcome = {"done": 0, "retrying": [], "failed": []}
        # Left pending by an attempt of this task that stopped before their e-mails' outcome was recorded.
        leftover = list(db.session.scalars(sa.select(InvitationReminder.id).where(
            InvitationReminder.task_id == task.id, InvitationReminder.status == ReminderStatus.PENDING.value,
            InvitationReminder.first_failed_at.is_(None))))
        pairs = due(current_app.config["INVITATION_REMINDER_DAYS"], clock.now())
        send_in_chunks(task, outcome, leftover, pairs, _claim, _load, lambda reminders: _send(mailer, reminders, outcome))
        task.result, task.error = outcome, _note(outcome)
        db.session.commit()
        return {key: value if isinstance(value, int) else len(value) for key, value in outcome.items()}


def retry_due() -> int:
    """Start, as one task, the reminders whose retry time has passed; returns how many (the reconciler calls it)."""
    return start_due(InvitationReminder, InvitationReminder.retry_at, lambda ids: tasks.launch(
        "invitation_reminder_retry", ngettext("Invitation reminder tried again (%(num)d)",
                                              "Invitation reminders tried again (%(num)d)", len(ids)),
        run_retry, ids, total=len(ids), queue="mail"))


def run_retry(task_id: str, reminder_ids: list[int]) -> dict:
    """E-mail again the reminders retry_due claimed (still pending and leased) whose invitation is still open; the others
    are not sent."""
    with tasks.running(task_id) as task:
        mailer = Mailer.from_config(current_app.config)
        outcome = {"done": 0, "retrying": [], "failed": []}
        ids = sorted(set(reminder_ids))
        for start in range(0, len(ids), CHUNK):
            reminders = [reminder for reminder in _load(ids[start:start + CHUNK])
                         if reminder.status == ReminderStatus.PENDING and reminder.retry_at is not None
                         and reminder.retry_at > utcnow()]
            for reminder in reminders:
                if not _still_open(reminder.invitation):
                    reminder.status, reminder.retry_at = ReminderStatus.FAILED.value, None
                    reminder.error = _("Not sent: the invitation was accepted, voided or expired meanwhile.")
            _send(mailer, reminders, outcome)
            task.result = outcome
            tasks.progress(task, min(start + CHUNK, len(ids)), len(ids))
        task.result, task.error = outcome, _note(outcome)
        db.session.commit()
        return {key: value if isinstance(value, int) else len(value) for key, value in outcome.items()}


def _still_open(invitation: Invitation) -> bool:
    return (invitation.status == InvitationStatus.SENT and invitation.client.status == ClientStatus.INVITED
            and invitation.expires_at > clock.now())
