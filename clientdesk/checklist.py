"""The onboarding checklist: what the firm needs from a client, step by step, each step written once as a SQL
condition on a client. The portal shows a client's steps (portal/checklist.py makes the changes); the client list
shows and filters by the steps missing, and the dashboard counts the clients stuck in onboarding."""
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from .extensions import db
from .models import AllowedSender, BankAccount, Client, ClientStatus, Invitation, utcnow

# A client is stuck in onboarding when the checklist is not done this many days after it accepted the invitation
# (the day the portal, and so the checklist, opened to it).
STUCK_AFTER_DAYS = 14


def _filled(column):
    return sa.func.coalesce(column, "") != ""


STEPS = (
    ("bank_account", _l("Bank account"), lambda: sa.exists().where(BankAccount.client_id == Client.id)),
    # Billed at the company address once that address is known, or at a billing address of its own.
    ("billing_address", _l("Billing address"),
     lambda: sa.or_(
         sa.and_(Client.billing_same_as_address.is_(True), _filled(Client.street), _filled(Client.postal_code),
                 _filled(Client.city)),
         sa.and_(_filled(Client.billing_street), _filled(Client.billing_postal_code), _filled(Client.billing_city)))),
    ("mandate", _l("E-invoicing mandate"), lambda: Client.e_invoicing_mandate.is_(True)),
    ("allowed_senders", _l("Allowed senders"), lambda: sa.exists().where(AllowedSender.client_id == Client.id)),
)


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    done: bool


def _done_flags():
    return [sa.case((condition(), 1), else_=0) for _key, _label, condition in STEPS]


def steps(client: Client) -> list[Step]:
    """The client's steps as the database has them (one query)."""
    flags = db.session.execute(sa.select(*_done_flags()).where(Client.id == client.id)).one()
    return [Step(key, label, bool(done)) for (key, label, _condition), done in zip(STEPS, flags)]


def missing_count():
    """The number of steps a client has not done, as a SQL expression on Client."""
    return sum((1 - flag for flag in _done_flags()), sa.literal(0))


def done_condition():
    return sa.and_(*(condition() for _key, _label, condition in STEPS))


def stuck_condition():
    """Active clients who accepted their invitation more than STUCK_AFTER_DAYS ago and have not done every step."""
    accepted_long_ago = sa.exists().where(Invitation.client_id == Client.id, Invitation.accepted_at.is_not(None),
                                          Invitation.accepted_at <= utcnow() - timedelta(days=STUCK_AFTER_DAYS))
    return sa.and_(Client.status == ClientStatus.ACTIVE.value, accepted_long_ago, sa.not_(done_condition()))
