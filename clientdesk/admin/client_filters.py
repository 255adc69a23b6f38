"""Client-list filters behind the dashboard's numbers (invitation deadlines and delivery, waiting documents,
outside effects that did not go through, corrections proposed by clients, register changes to review, trials ended
without a plan, onboarding),
and which clients the list leaves out unless asked: the deactivated ones."""
from datetime import timedelta

import sqlalchemy as sa
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, FilterEqual
from flask_babel import lazy_gettext as _l

from .. import checklist, plans, register_changes
from ..models import ChangeProposal, Client, ClientStatus, Document, DocumentStatus, Invitation, PeppolState, ProposalState, utcnow

EXPIRING_WITHIN_DAYS = 3
# Outside effects that did not go through: failed for good, retrying (a passing failure, tried again later), or either.
NOT_DONE = ("any", "failed", "retrying")


# The list's "Show deactivated" switch: `?deactivated=shown`. Links that count deactivated clients carry it.
SHOW_DEACTIVATED = {"deactivated": "shown"}


class StatusFilter(FilterEqual):
    """The status filter: set, it shows the clients of that status, deactivated ones included."""


def hides_deactivated(args, filters) -> bool:
    """Whether the list leaves deactivated clients out: unless its switch is on (`args`, the query string) or a status
    is asked for (`filters`: the list's active filters)."""
    (key, value), = SHOW_DEACTIVATED.items()
    return args.get(key) != value and not any(isinstance(flt, StatusFilter) for flt in filters)


def not_deactivated_condition():
    return Client.status != ClientStatus.DEACTIVATED.value


def invitation_condition(which: str):
    """Invited clients whose link expires within EXPIRING_WITHIN_DAYS ("expiring") or has expired ("expired"), or
    whose latest invitation e-mail failed or waits for its next attempt ("undelivered")."""
    now = utcnow()
    invited = Client.status == ClientStatus.INVITED.value
    if which == "undelivered":
        return sa.and_(invited, Invitation.of_latest(Client.id, Invitation.undelivered_condition()))
    if which == "expired":
        return sa.and_(invited, Client.invitation_expires_at <= now)
    return sa.and_(invited, Client.invitation_expires_at > now,
                   Client.invitation_expires_at <= now + timedelta(days=EXPIRING_WITHIN_DAYS))


def inbox_condition():
    return sa.exists().where(Document.client_id == Client.id, Document.status == DocumentStatus.INBOX.value)


class InvitationFilter(BaseSQLAFilter):
    def __init__(self):
        super().__init__(Client.invitation_expires_at, _l("Invitation"), options=[
            ("expiring", _l("expires within %(num)d days", num=EXPIRING_WITHIN_DAYS)), ("expired", _l("expired")),
            ("undelivered", _l("not delivered"))])

    def validate(self, value):
        return value in ("expiring", "expired", "undelivered")

    def apply(self, query, value, alias=None):
        return query.filter(invitation_condition(value))

    def operation(self):
        return _l("is")


class InboxFilter(BaseSQLAFilter):
    def __init__(self):
        super().__init__(Client.id, _l("Inbox"), options=[("waiting", _l("documents waiting"))])

    def validate(self, value):
        return value == "waiting"

    def apply(self, query, value, alias=None):
        return query.filter(inbox_condition())

    def operation(self):
        return _l("has")


def proposals_condition():
    """Clients with corrections proposed in the portal that staff have not yet accepted or refused."""
    return sa.exists().where(ChangeProposal.client_id == Client.id, ChangeProposal.state == ProposalState.OPEN.value)


class ProposalsFilter(BaseSQLAFilter):
    def __init__(self):
        super().__init__(Client.id, _l("Changes proposed"), options=[("open", _l("to review"))])

    def validate(self, value):
        return value == "open"

    def apply(self, query, value, alias=None):
        return query.filter(proposals_condition())

    def operation(self):
        return _l("are")


class RegisterChangesFilter(BaseSQLAFilter):
    """Clients whose enterprise's name, seat address or status changed in the company register, not yet reviewed."""

    def __init__(self):
        super().__init__(Client.id, _l("Register changes"), options=[("open", _l("to review"))])

    def validate(self, value):
        return value == "open"

    def apply(self, query, value, alias=None):
        return query.filter(register_changes.open_condition())

    def operation(self):
        return _l("are")


def not_done_options():
    return [("any", _l("failed or retrying")), ("failed", _l("failed")), ("retrying", _l("retrying"))]


def peppol_not_done_condition(which: str = "any"):
    """Clients whose Peppol registration failed, or is to be tried again."""
    failed, retrying = Client.peppol_state == PeppolState.FAILED.value, Client.peppol_retry_at.is_not(None)
    return {"any": sa.or_(failed, retrying), "failed": failed, "retrying": retrying}[which]


def delivery_not_done_condition(which: str = "any"):
    """Documents whose delivery failed, or is to be tried again."""
    failed, retrying = Document.status == DocumentStatus.FAILED.value, Document.retry_at.is_not(None)
    return {"any": sa.or_(failed, retrying), "failed": failed, "retrying": retrying}[which]


def client_delivery_not_done_condition(which: str = "any"):
    return sa.exists().where(Document.client_id == Client.id, delivery_not_done_condition(which))


class NotDoneFilter(BaseSQLAFilter):
    """Rows whose outside effect did not go through: failed, retrying, or either (`condition(which)`)."""

    def __init__(self, column, name, operation, condition):
        super().__init__(column, name, options=not_done_options())
        self.condition, self.operation_name = condition, operation

    def validate(self, value):
        return value in NOT_DONE

    def apply(self, query, value, alias=None):
        return query.filter(self.condition(value))

    def operation(self):
        return self.operation_name


class TrialFilter(BaseSQLAFilter):
    def __init__(self):
        super().__init__(Client.trial_end, _l("Trial"), options=[("ended_without_plan", _l("ended without a plan"))])

    def validate(self, value):
        return value == "ended_without_plan"

    def apply(self, query, value, alias=None):
        return query.filter(plans.trial_ended_condition())

    def operation(self):
        return _l("is")


ONBOARDING = {"done": checklist.done_condition, "not_done": lambda: sa.not_(checklist.done_condition()),
              "stuck": checklist.stuck_condition}


class OnboardingFilter(BaseSQLAFilter):
    def __init__(self):
        super().__init__(Client.id, _l("Onboarding"), options=[
            ("done", _l("done")), ("not_done", _l("not finished")),
            ("stuck", _l("not finished %(num)d days after accepting the invitation", num=checklist.STUCK_AFTER_DAYS))])

    def validate(self, value):
        return value in ONBOARDING

    def apply(self, query, value, alias=None):
        return query.filter(ONBOARDING[value]())

    def operation(self):
        return _l("is")
