"""A client's plan: the client's own choice in the portal during its trial, and "trial ended" (the trial is over
and the client chose no plan: computed, so that the list filters it and the dashboard counts it in SQL)."""
import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from . import rules
from .errors import Refused
from .extensions import db
from .models import Client, ClientStatus, Plan, today, utcnow


def can_choose(client: Client) -> bool:
    """An active client chooses during its trial, or after it while it has not chosen."""
    if client.status != ClientStatus.ACTIVE.value or client.trial_end is None:
        return False
    return client.trial_end >= today() or client.plan_chosen_at is None


def choose(client: Client, plan_id, by: str) -> None:
    """The client chooses one of the plans offered (`by`: who, as the portal shows it). No payment: the firm
    invoices as agreed."""
    if not can_choose(client):
        raise Refused(_("Your plan can no longer be changed here: ask %(firm)s.", firm=current_app.config["FIRM_NAME"]))
    text, plan = str(plan_id or ""), None
    if text.isascii() and text.isdigit() and len(text) <= 9:  # an id as a form sends it, in the id column's range
        plan = db.session.scalars(Plan.offered().where(Plan.id == int(text))).first()
    if plan is None:
        raise Refused(_("Choose one of the plans offered."))
    known = rules.problems(client)
    client.plan = plan
    client.plan_chosen_at, client.plan_chosen_by = utcnow(), by[:300]
    rules.check(client, known=known)
    db.session.flush()


def trial_ended_condition():
    """Active clients whose trial is over without a plan chosen by the client (they stay active)."""
    return sa.and_(Client.status == ClientStatus.ACTIVE.value, Client.trial_end < today(), Client.plan_chosen_at.is_(None))
