"""Client-list filters behind the dashboard's numbers (invitation deadlines and delivery, waiting documents)."""
from datetime import timedelta

import sqlalchemy as sa
from flask_admin.contrib.sqla.filters import BaseSQLAFilter
from flask_babel import lazy_gettext as _l

from ..models import Client, ClientStatus, Document, DocumentStatus, Invitation, utcnow

EXPIRING_WITHIN_DAYS = 3


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
