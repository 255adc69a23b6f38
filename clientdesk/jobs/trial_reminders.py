"""Trial-ending reminders, the run of the schedule "trial_reminders" (schedule.py): so many days before an active
client's trial ends (TRIAL_REMINDER_DAYS) while it has chosen no plan, an e-mail to its primary contact and one to its
firm contact, each at most once per client and day mark (once.py: the row is committed before the e-mail leaves).

Days are counted in Brussels time from the clock of scheduled work (clock.py). Which day mark: the smallest one the
trial has reached, so that a run after a long pause sends one reminder, not one per mark. A reminder the mail server
does not take is recorded as failed on the client (no retry: the next mark, or the firm contact, follows it up).
"""
from datetime import UTC, date, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import ngettext, to_user_timezone
from sqlalchemy.orm import joinedload, selectinload

from .. import clock, tasks
from ..extensions import db
from ..models import Client, ClientStatus, ReminderStatus, TrialReminder, TrialReminderRecipient, utcnow
from ..models.audit import record
from ..once import claim, send_in_chunks
from ..services.mail import Mailer
from ..services.trial_mail import trial_reminder_mail


def due(marks, today: date) -> list[tuple[int, int]]:
    """(client id, day mark) of the reminders due `today`: for each mark (ascending), the active clients without a plan
    whose trial ends after the previous mark and no later than this one, not reminded for it."""
    found, after = [], today
    for days in marks:
        until = today + timedelta(days=days)
        reminded = sa.exists().where(TrialReminder.client_id == Client.id, TrialReminder.days_before == days)
        found += [(client_id, days) for client_id in db.session.scalars(
            sa.select(Client.id).where(Client.status == ClientStatus.ACTIVE.value, Client.plan_chosen_at.is_(None),
                                       Client.trial_end > after, Client.trial_end <= until, ~reminded)
            .order_by(Client.id))]
        after = until
    return found


def _recipients(client: Client) -> list[str]:
    recipients = []
    if client.primary_contact is not None:
        recipients.append(TrialReminderRecipient.CLIENT.value)
    if client.firm_contact is not None and client.firm_contact.active:
        recipients.append(TrialReminderRecipient.FIRM.value)
    return recipients


def _claim(pairs: list[tuple[int, int]], task_id: str) -> list[int]:
    clients = {client.id: client for client in db.session.scalars(
        sa.select(Client).where(Client.id.in_({client_id for client_id, _ in pairs}))
        .options(selectinload(Client.contacts), joinedload(Client.firm_contact)))}
    return claim(TrialReminder, ["client_id", "days_before", "recipient"], [
        {"client_id": client_id, "days_before": days, "recipient": recipient, "task_id": task_id}
        for client_id, days in pairs for recipient in _recipients(clients[client_id])])


def _load(ids: list[int]) -> list[TrialReminder]:
    return db.session.scalars(
        sa.select(TrialReminder).where(TrialReminder.id.in_(ids)).order_by(TrialReminder.id)
        .options(joinedload(TrialReminder.client).selectinload(Client.contacts),
                 joinedload(TrialReminder.client).joinedload(Client.firm_contact))).all()


def _send(mailer: Mailer, reminders: list[TrialReminder], outcome: dict) -> None:
    """E-mail `reminders` (committed as pending first) and record each outcome, with the client's audit event."""
    if not reminders:
        return
    mails = [trial_reminder_mail(reminder) for reminder in reminders]  # rendered while loaded (the commit expires them)
    facts = {mail.ref: (reminder.client_id, {"to": mail.to, "recipient": reminder.recipient, "days_before": reminder.days_before})
             for mail, reminder in zip(mails, reminders, strict=True)}
    db.session.commit()
    failures = {failure.mail.ref: failure for failure in mailer.send_many(mails)}
    now = utcnow()
    sent = [mail.ref for mail in mails if mail.ref not in failures]
    if sent:
        db.session.execute(sa.update(TrialReminder).where(TrialReminder.id.in_(sent))
                           .values(status=ReminderStatus.SENT.value, sent_at=now, error=None)
                           .execution_options(synchronize_session=False))
    clients = {client.id: client for client in db.session.scalars(
        sa.select(Client).where(Client.id.in_({client_id for client_id, _ in facts.values()})))}
    for reminder_id in sent:
        client_id, fact = facts[reminder_id]
        record("trial_reminder", clients[client_id], fact)
    outcome["done"] += len(sent)
    for reminder_id, failure in failures.items():
        reminder = db.session.get(TrialReminder, reminder_id)
        reminder.status, reminder.error = ReminderStatus.FAILED.value, failure.reason[:500]
        client_id, fact = facts[reminder_id]
        record("trial_reminder_failed", clients[client_id], {**fact, "error": reminder.error})
        outcome["failed"].append({"client_id": client_id, "client": clients[client_id].name, "reason": reminder.error})


def send_due(task_id: str) -> dict:
    with tasks.running(task_id) as task:
        mailer = Mailer.from_config(current_app.config)
        outcome = {"done": 0, "failed": []}
        # Left pending by an attempt of this task that stopped before their e-mails' outcome was recorded.
        leftover = list(db.session.scalars(sa.select(TrialReminder.id).where(
            TrialReminder.task_id == task.id, TrialReminder.status == ReminderStatus.PENDING.value)))
        today = to_user_timezone(clock.now().replace(tzinfo=UTC)).date()
        pairs = due(current_app.config["TRIAL_REMINDER_DAYS"], today)
        send_in_chunks(task, outcome, leftover, pairs, _claim, _load, lambda reminders: _send(mailer, reminders, outcome))
        task.result = outcome
        if outcome["failed"]:
            task.error = ngettext("%(num)d reminder could not be sent: the mail server refused it.",
                                  "%(num)d reminders could not be sent: the mail server refused them.", len(outcome["failed"]))
        db.session.commit()
        return {"done": outcome["done"], "failed": len(outcome["failed"])}
