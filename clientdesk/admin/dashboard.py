"""The supervisors' dashboard at /admin/: where things stand, each number a link to exactly the rows behind it.

One aggregate query per block, all through the user's scope.
"""
from datetime import timedelta

import sqlalchemy as sa
from flask import url_for
from flask_admin import AdminIndexView, expose
from flask_login import current_user

from .. import checklist, plans, register_changes, scoping
from ..extensions import db
from ..models import Client, ClientStatus, Document, DocumentStatus, Group, PeppolState, Task, TaskStatus, today, utcnow
from .base import ProtectedView
from .client_filters import (
    EXPIRING_WITHIN_DAYS,
    SHOW_DEACTIVATED,
    client_delivery_not_done_condition,
    invitation_condition,
    peppol_not_done_condition,
    proposals_condition,
)

TRIAL_WINDOW_DAYS = 7
FAILED_TASKS_WINDOW_DAYS = 30


# The dashboard's filters that only match clients of one status (the status asked for; invited; active for the
# trial ended without a plan and the onboarding stuck), never deactivated ones.
WITHIN_ONE_STATUS = {"status", "invitation", "trial", "onboarding"}


def client_list_url(**filters) -> str:
    """A stable link to the client list with the given named filters, e.g. status="invited", group=3."""
    names = {
        "status": "status_equals", "group": "group_equals", "invitation": "invitation_is",
        "trial_end": "trial_end_between", "peppol_state": "peppol_state_equals", "inbox": "inbox_has",
        "peppol_not_done": "peppol_registration_not_done", "delivery_not_done": "document_delivery_not_done",
        "trial": "trial_is", "onboarding": "onboarding_is", "proposals": "changes_proposed_are",
        "register_changes": "register_changes_are",
    }
    args = {f"flt{position}_{names[key]}": value for position, (key, value) in enumerate(filters.items())}
    # The other numbers count deactivated clients too, which the list only shows when asked.
    shows_deactivated = {} if filters.keys() & WITHIN_ONE_STATUS else SHOW_DEACTIVATED
    return url_for("client.index_view", **args, **shows_deactivated)


def _scoped(query):
    return scoping.scope_clients(query, current_user)


def status_by_group():
    query = _scoped(
        sa.select(Client.group_id, Group.name, Client.status, sa.func.count())
        .join(Group, Group.id == Client.group_id)
        .group_by(Client.group_id, Group.name, Client.status)
        .order_by(Group.name)
    )
    rows = {}
    for group_id, group_name, status, count in db.session.execute(query):
        rows.setdefault((group_id, group_name), {})[status] = count
    return rows


def invitation_deadlines():
    """Invited clients by where their invitation stands: link expired, expiring soon, e-mail not delivered."""
    which = ("expired", "expiring", "undelivered")
    query = _scoped(sa.select(*[sa.func.count().filter(invitation_condition(name)) for name in which])
                    .select_from(Client).where(Client.status == ClientStatus.INVITED.value))
    return dict(zip(which, db.session.execute(query).one()))


def trials_ending():
    """Active clients whose trial ends in the next TRIAL_WINDOW_DAYS, and those whose trial ended without a plan."""
    start, end = today(), today() + timedelta(days=TRIAL_WINDOW_DAYS)
    query = _scoped(sa.select(sa.func.count().filter(Client.trial_end.between(start, end)),
                              sa.func.count().filter(plans.trial_ended_condition()))
                    .select_from(Client).where(Client.status == ClientStatus.ACTIVE.value))
    ending, ended = db.session.execute(query).one()
    return {"count": ending, "range": f"{start.isoformat()} to {end.isoformat()}", "ended_without_plan": ended}


def onboarding_stuck() -> int:
    return db.session.scalar(_scoped(sa.select(sa.func.count()).select_from(Client).where(checklist.stuck_condition())))


def peppol_problems():
    states = (PeppolState.PENDING.value, PeppolState.FAILED.value, PeppolState.TAKEN.value)
    query = _scoped(sa.select(Client.peppol_state, sa.func.count()).where(Client.peppol_state.in_(states))
                    .group_by(Client.peppol_state))
    counts = dict(db.session.execute(query).all())
    return {state: counts.get(state, 0) for state in states}


def deliveries_not_done():
    """Clients whose Peppol registration, and clients with a document delivery, failed or to be tried again."""
    query = _scoped(sa.select(sa.func.count().filter(peppol_not_done_condition()),
                              sa.func.count().filter(client_delivery_not_done_condition())).select_from(Client))
    peppol, documents = db.session.execute(query).one()
    return {"peppol": peppol, "documents": documents}


def clients_with_proposals():
    """Clients with corrections proposed in the portal, waiting for staff to accept or refuse them."""
    return db.session.scalar(_scoped(sa.select(sa.func.count()).select_from(Client).where(proposals_condition())))


def clients_with_register_changes():
    """Clients whose enterprise changed in the company register, waiting for staff to apply or dismiss it."""
    return db.session.scalar(_scoped(sa.select(sa.func.count()).select_from(Client).where(register_changes.open_condition())))


def failed_tasks():
    since = utcnow() - timedelta(days=FAILED_TASKS_WINDOW_DAYS)
    query = sa.select(sa.func.count()).select_from(Task).where(Task.status == TaskStatus.FAILED.value, Task.created_at >= since)
    condition = scoping.task_condition(current_user)
    return db.session.scalar(query if condition is None else query.where(condition))


def documents_waiting():
    query = _scoped(sa.select(sa.func.count(), sa.func.count(sa.distinct(Document.client_id)))
                    .select_from(Document).join(Client, Client.id == Document.client_id)
                    .where(Document.status == DocumentStatus.INBOX.value))
    documents, clients = db.session.execute(query).one()
    return {"documents": documents, "clients": clients}


class DashboardView(ProtectedView, AdminIndexView):
    @expose("/")
    def index(self):
        rows = status_by_group()
        statuses = list(ClientStatus)
        totals = {s.value: sum(r.get(s.value, 0) for r in rows.values()) for s in statuses}
        return self.render(
            "admin/dashboard.html",
            rows=rows,
            statuses=statuses,
            totals=totals,
            largest_group=max((sum(r.values()) for r in rows.values()), default=0),
            invitations=invitation_deadlines(),
            expiring_within=EXPIRING_WITHIN_DAYS,
            trials=trials_ending(),
            trial_window=TRIAL_WINDOW_DAYS,
            onboarding_stuck=onboarding_stuck(),
            stuck_after=checklist.STUCK_AFTER_DAYS,
            peppol=peppol_problems(),
            not_done=deliveries_not_done(),
            failed_tasks=failed_tasks(),
            failed_tasks_window=FAILED_TASKS_WINDOW_DAYS,
            documents=documents_waiting(),
            proposals=clients_with_proposals(),
            register_changes=clients_with_register_changes(),
            client_list_url=client_list_url,
        )
