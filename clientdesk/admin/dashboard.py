"""The supervisors' dashboard at /admin/: where things stand, each number a link to the rows behind it."""
import sqlalchemy as sa
from flask import url_for
from flask_admin import AdminIndexView, expose
from flask_login import current_user

from .. import scoping
from ..extensions import db
from ..models import Client, ClientStatus, Group
from .base import ProtectedView


def client_list_url(**filters) -> str:
    """A stable link to the client list filtered by `status` and/or `group` (id)."""
    args = {}
    position = 0
    if "status" in filters:
        args[f"flt{position}_status_equals"] = filters["status"]
        position += 1
    if "group" in filters:
        args[f"flt{position}_group_equals"] = filters["group"]
    return url_for("client.index_view", **args)


class DashboardView(ProtectedView, AdminIndexView):
    @expose("/")
    def index(self):
        condition = scoping.client_condition(current_user)
        query = (
            sa.select(Client.group_id, Group.name, Client.status, sa.func.count(Client.id))
            .join(Group, Group.id == Client.group_id)
            .group_by(Client.group_id, Group.name, Client.status)
            .order_by(Group.name)
        )
        if condition is not None:
            query = query.where(condition)
        rows = {}
        for group_id, group_name, status, count in db.session.execute(query):
            rows.setdefault((group_id, group_name), {})[status] = count
        statuses = list(ClientStatus)
        totals = {s.value: sum(r.get(s.value, 0) for r in rows.values()) for s in statuses}
        return self.render(
            "admin/dashboard.html",
            rows=rows,
            statuses=statuses,
            totals=totals,
            client_list_url=client_list_url,
        )
