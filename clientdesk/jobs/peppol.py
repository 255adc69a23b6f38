"""Peppol registration of clients, as one task: `sync` (the switches were set by the request) or
`peppol_on` / `peppol_off` on selected rows (the switches are set here, chunk by chunk, each client
that may not change skipped with its reason), then each client's registration brought in line.

Idempotent: the registration follows the switches as they stand when the job runs. A client whose access
point could not be reached is left pending with the time of its next attempt, which `retry_due` (called by
the reconciler) starts as a task of its own. One client is synced by one job at a time (a Redis lock), so
two quick toggles end on the last choice.
"""
import logging

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _, ngettext

from .. import tasks
from ..broker import get_redis
from ..einvoicing import PeppolRegistration, PeppolSwitches, launch_registration
from ..errors import Refused
from ..extensions import db
from ..i18n import localdatetime
from ..models import Client, PeppolState
from ..retries import start_due
from ..services.peppol import PeppolError

log = logging.getLogger(__name__)

CHUNK = 200
LOCK_SECONDS = 300
BULK = {"peppol_on": {"send": True, "receive": True}, "peppol_off": {"send": False, "receive": False}}


def _sync_one(registration: PeppolRegistration, client_id: int, outcome: dict) -> None:
    with get_redis().lock(f"clientdesk:peppol:{client_id}", timeout=LOCK_SECONDS, blocking_timeout=LOCK_SECONDS):
        client = db.session.get(Client, client_id)
        if client is None:
            return  # deleted since
        db.session.refresh(client)  # the switches as they are now, after any job that held the lock
        wanted = (client.peppol_send, client.peppol_receive)
        try:
            result = registration.sync(client)
        except PeppolError as error:
            db.session.refresh(client)
            PeppolRegistration.record_failure(client, error)
            db.session.commit()
            if client.peppol_retry_at is None:
                outcome["failed"].append({"client_id": client.id, "client": client.name, "reason": str(error)})
            else:
                outcome["retrying"].append({"client_id": client.id, "client": client.name, "retry_at": client.peppol_retry_at,
                                            "reason": _("tried again at %(time)s: %(reply)s",
                                                        time=localdatetime(client.peppol_retry_at), reply=error)})
            return
        db.session.refresh(client)
        if (client.peppol_send, client.peppol_receive) != wanted:
            return  # toggled again meanwhile: the job for that change records the outcome
        PeppolRegistration.record(client, result)
        db.session.commit()
        if result.state == PeppolState.TAKEN:
            outcome["skipped"].append({"client_id": client.id, "client": client.name, "reason": result.message})
        else:
            outcome["done"] += 1


def _apply(action: str, ids: list[int], outcome: dict) -> list[int]:
    """Set the switches of a chunk of clients; returns the ids to sync."""
    query = sa.select(Client).where(Client.id.in_(ids)).order_by(Client.id).with_for_update(of=Client)
    ready = []
    for client in db.session.scalars(query):
        try:
            PeppolSwitches.set(client, current_app.config, **BULK[action])
        except Refused as refusal:
            outcome["skipped"].append({"client_id": client.id, "client": client.name, "reason": str(refusal)})
            continue
        ready.append(client.id)
    db.session.commit()
    return ready


def run_peppol(task_id: str, action: str, client_ids: list[int]) -> dict:
    with tasks.running(task_id) as task:
        registration = PeppolRegistration.from_config(current_app.config)
        outcome = {"action": action, "done": 0, "skipped": [], "retrying": [], "failed": []}
        ids = sorted(set(client_ids))
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            for client_id in (_apply(action, chunk, outcome) if action in BULK else chunk):
                _sync_one(registration, client_id, outcome)
            task.result = outcome
            tasks.progress(task, min(start + CHUNK, len(ids)), len(ids))
        task.error = _note(outcome) or None
        db.session.commit()
        return {key: value if key == "done" else len(value) for key, value in outcome.items() if key != "action"}


def _note(outcome: dict) -> str:
    """What the finished task says of the clients that are not registered: who is failed, when the others are retried."""
    notes = []
    if outcome["failed"]:
        notes.append(ngettext("%(num)d client not registered: %(reason)s", "%(num)d clients not registered: %(reason)s",
                              len(outcome["failed"]), reason=outcome["failed"][0]["reason"]))
    if outcome["retrying"]:
        notes.append(ngettext("%(num)d client will be tried again automatically, from %(time)s.",
                              "%(num)d clients will be tried again automatically, from %(time)s.", len(outcome["retrying"]),
                              time=localdatetime(min(row["retry_at"] for row in outcome["retrying"]))))
    return " ".join(notes)


def retry_due() -> int:
    """Start, as one task, the registrations whose retry time has passed; returns how many (the reconciler calls it)."""
    return start_due(Client, Client.peppol_retry_at, lambda ids: launch_registration(
        ngettext("Peppol registration tried again: %(num)d client", "Peppol registration tried again: %(num)d clients",
                 len(ids)), ids, user=None))
