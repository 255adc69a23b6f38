"""The daily notification digest, the run of the schedule "notification_digest" (schedule.py): one e-mail to each active
user who chose a daily e-mail (User.notify_by digest or both) with their notifications of the last day that no digest
has e-mailed yet, in the user's interface language, each naming a client only when the user sees it.

Each notification is e-mailed at most once: a run claims a user's notifications (emailed_at set where it was empty, one
statement) and commits the claim before the e-mail leaves, so a run at the same time (a second scheduler, "Run now")
claims nothing of them. An e-mail the mail server does not take gives its notifications back (emailed_at empty again):
the next run, within the day, sends them. A worker that dies between the claim and the e-mail loses that digest; the
notifications stay on the user's notification page.
"""
from datetime import timedelta
from itertools import groupby

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, gettext as _, ngettext
from sqlalchemy.orm import joinedload

from .. import clock, notifications, tasks
from ..extensions import db
from ..i18n import localdatetime, locale_of
from ..models import MailKind, Notification, NotifyBy, User
from ..once import send_in_chunks
from ..services.mail import Logged, Mail, Mailer

DIGEST_USERS = (NotifyBy.DIGEST.value, NotifyBy.BOTH.value)


def _waiting(since) -> sa.ColumnElement:
    return sa.and_(Notification.emailed_at.is_(None), Notification.created_at >= since)


def due_users(since) -> list[int]:
    """The active users who chose the digest and have notifications since `since` that no digest e-mailed."""
    return list(db.session.scalars(
        sa.select(User.id).where(User.active.is_(True), User.notify_by.in_(DIGEST_USERS),
                                 sa.exists().where(Notification.user_id == User.id, _waiting(since)))
        .order_by(User.id)))


def _claim(user_ids: list[int], since, now) -> list[int]:
    return list(db.session.scalars(
        sa.update(Notification).where(Notification.user_id.in_(user_ids), _waiting(since)).values(emailed_at=now)
        .returning(Notification.id).execution_options(synchronize_session=False)))


def _load(ids: list[int]) -> list[Notification]:
    return db.session.scalars(sa.select(Notification).where(Notification.id.in_(ids)).options(joinedload(Notification.user))
                              .order_by(Notification.user_id, Notification.created_at, Notification.id)).all()


def digest_mail(user: User, items: list[Notification]) -> Mail:
    """The digest of `items` for `user`, in the user's language."""
    with force_locale(locale_of(user.ui_language)):
        names = notifications.client_names(items, user)
        lines = [f"- {localdatetime(n.created_at)}: {notifications.message(n, names.get(n.client_id))}" for n in items]
        subject = ngettext("ClientDesk: %(num)d notification", "ClientDesk: %(num)d notifications", len(items))
        text = "\n".join([
            _("Hello %(name)s,", name=str(user)), "",
            _("What happened in ClientDesk since the last e-mail:"), "", *lines, "",
            _("All your notifications: %(link)s", link=f"{current_app.config['PUBLIC_BASE_URL']}/admin/notifications/"),
            "", _("You get this e-mail because you chose a daily e-mail on your notifications page."), "", "ClientDesk", ""])
    return Mail(to=user.email, subject=subject, text=text, ref=user.id, log=Logged(MailKind.NOTIFICATION_DIGEST.value))


def _send(mailer: Mailer, items: list[Notification], outcome: dict) -> None:
    """E-mail each user their claimed `items` (the claim committed first); a refused e-mail gives its items back."""
    by_user = {user_id: list(group) for user_id, group in groupby(items, key=lambda n: n.user_id)}
    mails = [digest_mail(group[0].user, group) for group in by_user.values()]
    claimed = {user_id: [n.id for n in group] for user_id, group in by_user.items()}
    emails = {user_id: group[0].user.email for user_id, group in by_user.items()}
    db.session.commit()
    failures = mailer.send_many(mails)
    for failure in failures:
        db.session.execute(sa.update(Notification).where(Notification.id.in_(claimed[failure.mail.ref]))
                           .values(emailed_at=None).execution_options(synchronize_session=False))
        outcome["failed"].append({"user": emails[failure.mail.ref], "reason": failure.reason[:500]})
    outcome["done"] += len(mails) - len(failures)


def send_due(task_id: str) -> dict:
    with tasks.running(task_id) as task:
        mailer = Mailer.from_config(current_app.config)
        outcome = {"done": 0, "failed": []}
        now = clock.now()
        since = now - timedelta(days=1)
        send_in_chunks(task, outcome, [], due_users(since), lambda user_ids, _task_id: _claim(user_ids, since, now), _load,
                       lambda items: _send(mailer, items, outcome))
        task.result = outcome
        if outcome["failed"]:
            task.error = ngettext("%(num)d digest could not be sent: the mail server refused it.",
                                  "%(num)d digests could not be sent: the mail server refused them.", len(outcome["failed"]))
        db.session.commit()
        return {"done": outcome["done"], "failed": len(outcome["failed"])}
