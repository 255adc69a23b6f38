"""In-app notifications of staff users: who is told of what, and what each notification says to its reader.

Who: for an event on a client, its firm contact and its "users to notify" (Client.watchers, which a configuration
template sets); for the outcome of background work, also the person who started it (an import or a task runs in the
background: its starter is told how it ended, though they caused it). Active staff users only, each once per event.
Nobody else's action is ever notified to the person who did it: the events are the clients' own (accepting an invitation,
proposing changes) or the outcome of background work.

A notification keeps its kind and the facts of the event (params), not a text: its message is written when it is
shown, in the reader's language, and names the client only when the reader sees it (scoping.py) now. Notifications
are added to the session of the event: they are committed with it (in jobs, with the job's outcome).

How (User.notify_by): the bell (unread count in the staff layout, /admin/notifications/), a daily e-mail digest
instead (the notifications are created read: listed, never counted by the bell), or both (jobs/notification_digest.py).
"""
import json

import sqlalchemy as sa
from flask import url_for
from flask_babel import gettext as _, ngettext
from flask_login import current_user

from . import scoping
from .extensions import db
from .models import Client, Notification, NotificationKind, NotifyBy, RegisterField, Task, User, utcnow

OUTSIDE_SCOPE = "outside"  # the client name shown to a reader who does not see the client


def recipients(client: Client | None = None, starter: User | None = None) -> list[User]:
    """The active staff users told of an event on `client` (its firm contact, its users to notify) and/or of the outcome
    of work `starter` started; each once."""
    candidates = []
    if client is not None:
        candidates += [client.firm_contact, *client.watchers]
    candidates.append(starter)
    found = {}
    for user in candidates:
        if isinstance(user, User) and user.active and user.id not in found:
            found[user.id] = user
    return list(found.values())


def notify(kind: NotificationKind | str, users: list[User], client: Client | None = None, task: Task | None = None,
           **params) -> list[Notification]:
    """Add one notification of `kind` for each of `users` to the session (committed with the event). `params`: the
    facts its message is written from (JSON values)."""
    kind, now = NotificationKind(kind), utcnow()
    notifications = [Notification(user_id=user.id, kind=kind.value, client_id=client.id if client is not None else None,
                                  task_id=task.id if task is not None else None, params_json=json.dumps(params, default=str),
                                  created_at=now, read_at=now if user.notify_by == NotifyBy.DIGEST else None)
                     for user in users]
    db.session.add_all(notifications)
    return notifications


def notify_client_event(kind: NotificationKind | str, client: Client, starter: User | None = None, task: Task | None = None,
                        **params) -> list[Notification]:
    """Tell the people of `client` (and the starter of the work, if any) that `kind` happened to it. The one call for
    every event on a client, e.g. `notify_client_event("register_change", client, fields=["name"])`."""
    return notify(kind, recipients(client, starter), client=client, task=task, **params)


def notify_task_failed(task: Task) -> list[Notification]:
    """A task failed for good: its starter, and the people of its client if it has one."""
    return notify(NotificationKind.TASK_FAILED, recipients(task.client, task.user), client=task.client, task=task,
                  title=str(task), error=(task.error or "")[:300])


def unread_count(user) -> int:
    """The bell's number: one count on the (user_id, read_at) index."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Notification)
                             .where(Notification.user_id == user.id, Notification.read_at.is_(None)))


def of_user(user):
    """The one base query of the notification screens: the user's own notifications, newest first."""
    return (sa.select(Notification).where(Notification.user_id == user.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc()))


def mark_read(user, notification_id: int | None = None) -> int:
    """Mark one of the user's notifications (or all of them: None) read; how many were unread."""
    condition = [Notification.user_id == user.id, Notification.read_at.is_(None)]
    if notification_id is not None:
        condition.append(Notification.id == notification_id)
    done = db.session.execute(sa.update(Notification).where(*condition).values(read_at=utcnow())
                              .execution_options(synchronize_session=False))
    return done.rowcount


def client_names(notifications: list[Notification], reader) -> dict[int, str]:
    """{client id: what the reader is told of the client}: its name when the reader sees it, OUTSIDE_SCOPE otherwise."""
    ids = {n.client_id for n in notifications if n.client_id is not None}
    visible = scoping.visible_client_ids(ids, reader)
    names = dict(db.session.execute(sa.select(Client.id, Client.name).where(Client.id.in_(visible))).all()) if visible else {}
    return {client_id: names.get(client_id, OUTSIDE_SCOPE) for client_id in ids}


def message(notification: Notification, client_name: str | None) -> str:
    """What happened, in the current language; `client_name` as client_names gives it."""
    p = notification.params
    client = _("a client outside your groups") if client_name in (None, OUTSIDE_SCOPE) else client_name
    kind = NotificationKind(notification.kind)
    if kind == NotificationKind.INVITATION_ACCEPTED:
        return _("%(client)s accepted its invitation: its trial has started.", client=client)
    if kind == NotificationKind.INVITATION_UNDELIVERED:
        return _("The invitation e-mail of %(client)s to %(to)s could not be delivered: %(reason)s",
                 client=client, to=p.get("to", ""), reason=p.get("reason", ""))
    if kind == NotificationKind.DOCUMENTS_UNDELIVERED:
        return ngettext("%(num)d document of %(client)s could not be delivered: %(reason)s",
                        "%(num)d documents of %(client)s could not be delivered: %(reason)s",
                        p.get("count", 1), client=client, reason=p.get("reason", ""))
    if kind == NotificationKind.PEPPOL_FAILED:
        return _("The Peppol registration of %(client)s failed: %(reason)s", client=client, reason=p.get("reason", ""))
    if kind == NotificationKind.IMPORT_FINISHED:
        if p.get("dry_run"):
            return _("Your check of %(file)s found no errors: nothing was imported yet.", file=p.get("file", ""))
        return _("Your import of %(file)s is done: %(new)d new, %(changed)d changed, %(unchanged)d unchanged clients.",
                 file=p.get("file", ""), new=p.get("new", 0), changed=p.get("changed", 0), unchanged=p.get("unchanged", 0))
    if kind == NotificationKind.IMPORT_FAILED:
        if p.get("failure"):
            return _("Your import of %(file)s failed: %(reason)s", file=p.get("file", ""), reason=p["failure"])
        return ngettext("Your import of %(file)s imported nothing: %(num)d error.",
                        "Your import of %(file)s imported nothing: %(num)d errors.", p.get("errors", 0), file=p.get("file", ""))
    if kind == NotificationKind.TASK_FAILED:
        if notification.client_id is not None:
            return _("The task “%(task)s” for %(client)s failed: %(error)s", task=p.get("title", ""), client=client,
                     error=p.get("error", ""))
        return _("The task “%(task)s” failed: %(error)s", task=p.get("title", ""), error=p.get("error", ""))
    if kind == NotificationKind.CHANGES_PROPOSED:
        return _("%(client)s proposed changes to its details: accept or refuse them on its page.", client=client)
    return _("The company register has changed for %(client)s (%(fields)s): review it on its page.", client=client,
             fields=", ".join(str(RegisterField(field).label).lower() for field in p.get("fields", ())))


def link(notification: Notification, client_name: str | None, reader) -> str | None:
    """Where the notification leads (in a request): the client's page when the reader sees the client, the import's
    page for an import, the task's page for the reader's own task; None otherwise."""
    if notification.client_id is not None:
        if client_name in (None, OUTSIDE_SCOPE):
            return None
        return url_for("client.details_view", id=notification.client_id)
    if "batch_id" in notification.params:
        return url_for("import.batch_view", batch_id=notification.params["batch_id"])
    if notification.task_id is not None and (reader.is_admin or notification.task.user_id == reader.id):
        return url_for("task.details_view", id=notification.task_id)
    return None


def init_app(app) -> None:
    """The bell's count, for the staff layout (templates/admin/clientdesk_base.html)."""
    app.jinja_env.globals["unread_notifications"] = lambda: unread_count(current_user)
