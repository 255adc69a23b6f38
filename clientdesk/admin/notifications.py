"""The user's own notifications at /admin/notifications/ (the bell in the staff layout leads here): newest first, unread
in bold, "Mark read" per row and "Mark all read" (POST), and how the user wants to be told (bell, daily e-mail or both).
Everything here is the signed-in user's own (notifications.of_user): another user's id answers 404."""
from flask import abort, current_app, flash, redirect, request
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user

from .. import notifications, schedule
from ..extensions import db
from ..models import Notification, NotifyBy
from ..web_input import record_id
from .base import ProtectedView

PER_PAGE = 25


class NotificationView(ProtectedView):
    def is_visible(self) -> bool:
        return False  # reached through the bell

    @expose("/")
    def index(self):
        page = record_id(request.args.get("page")) or 1
        rows = db.session.scalars(notifications.of_user(current_user).limit(PER_PAGE + 1)
                                  .offset((page - 1) * PER_PAGE)).all()
        more, rows = len(rows) > PER_PAGE, rows[:PER_PAGE]
        names = notifications.client_names(rows, current_user)
        items = [{"notification": n, "message": notifications.message(n, names.get(n.client_id)),
                  "link": notifications.link(n, names.get(n.client_id), current_user)} for n in rows]
        digest = schedule.BY_NAME["notification_digest"]
        return self.render("admin/notifications.html", items=items, page=page, more=more,
                           unread=notifications.unread_count(current_user), choices=list(NotifyBy),
                           digest_expression=digest.expression(current_app.config))

    def _own(self, notification_id) -> Notification:
        pk = record_id(notification_id)
        notification = db.session.scalar(notifications.of_user(current_user).where(Notification.id == pk)) if pk else None
        if notification is None:
            abort(404)
        return notification

    @expose("/read/", methods=("POST",))
    def read_view(self):
        notification = self._own(request.form.get("id"))
        notifications.mark_read(current_user, notification.id)
        db.session.commit()
        return redirect(self.get_url(".index", page=record_id(request.form.get("page")) or 1))

    @expose("/read-all/", methods=("POST",))
    def read_all_view(self):
        done = notifications.mark_read(current_user)
        db.session.commit()
        flash(_("Every notification is marked read.") if done else _("There was no unread notification."), "info")
        return redirect(self.get_url(".index"))

    @expose("/preference/", methods=("POST",))
    def preference_view(self):
        choice = request.form.get("notify_by", "")
        if choice not in {c.value for c in NotifyBy}:
            flash(_("Choose how you want to be told: the bell, a daily e-mail, or both."), "error")
            return redirect(self.get_url(".index"))
        current_user.notify_by = choice
        db.session.commit()
        flash(_("Saved: %(choice)s.", choice=NotifyBy(choice).label), "info")
        return redirect(self.get_url(".index"))
