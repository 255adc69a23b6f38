"""Client status changes: the one place that decides what may happen to a client, and records it.

Every change here is made in the caller's transaction together with its audit record (written by the
flush, see models/audit.py, under the action's name); the caller commits, then enqueues any job.
"""
from flask_babel import lazy_gettext as _l

from .extensions import db
from .models import Client, ClientStatus
from .models.audit import audit_action


class LifecycleError(ValueError):
    """A transition that the client's current state does not allow; str() says why."""


class ClientLifecycle:
    @staticmethod
    def check_delete(client: Client) -> None:
        if client.status != ClientStatus.CREATED:
            raise LifecycleError(
                _l("%(name)s was invited before: deactivate it instead of deleting it.", name=client.name)
            )

    @classmethod
    def delete(cls, client: Client) -> None:
        cls.check_delete(client)
        with audit_action("delete"):
            db.session.delete(client)
            db.session.flush()
