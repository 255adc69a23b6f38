"""The Schedule page at /admin/schedule/ (admins only): each schedule of schedule.py, what it does, when it last ran and
how that ended (its task), when it runs next, and "Run now"."""
from flask import abort, current_app, flash, redirect, request
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user
from redis.exceptions import RedisError

from .. import schedule, tasks
from ..models import Role
from .base import ProtectedView


class ScheduleView(ProtectedView):
    required_role = Role.ADMIN

    @expose("/")
    def index(self):
        rows = []
        for item in schedule.SCHEDULES:
            expression = item.expression(current_app.config)
            rows.append({"schedule": item, "expression": expression, "description": item.describe(current_app.config),
                         "last": schedule.latest_run(item),
                         "next": schedule.next_time(expression) if expression is not None else None})
        try:
            schedulers = schedule.running_schedulers()
        except (RedisError, OSError):
            schedulers = None  # unknown
        return self.render("admin/schedule.html", rows=rows, schedulers=schedulers)

    @expose("/run/", methods=("POST",))
    def run_view(self):
        item = schedule.BY_NAME.get(request.form.get("schedule", ""))
        if item is None:
            abort(404)
        try:
            schedule.run_now(item, current_user)
            flash(_("%(schedule)s: started now.", schedule=item.title), "info")
        except schedule.AlreadyRunning:
            flash(_("%(schedule)s is running already: see its task under “Last run”.", schedule=item.title), "warning")
        except tasks.QueueUnavailable as error:
            flash(str(error), "error")
        return redirect(self.get_url(".index"))
