"""A reorganisation of selected clients (reorganise.py) as one task: rows in chunks, each decided as it stands
when the chunk runs (the same `decide` the preview showed), written and committed with the task's progress.

Idempotent: a rerun decides again, and a row already changed is "already" as the change says. A row whose
decision differs from what the preview showed (changed meanwhile by someone else) is reported as such.
"""
from flask import current_app
from flask_babel import gettext as _, ngettext

from .. import reorganise, tasks
from ..einvoicing import launch_registration
from ..extensions import db

CHUNK = 2000


def run_reorganise(task_id: str, change_args: list, client_ids: list[int], expected: list[int] | None = None) -> dict:
    """`change_args`: Change.args(); `expected`: the ids the preview said would change (None: no preview)."""
    with tasks.running(task_id) as task:
        try:
            change = reorganise.build(*change_args, task.user, current_app.config)
        except reorganise.Unknown:  # nothing to retry: the change itself is gone
            task.error = _("Nothing was changed: the target was deleted or deactivated, or your role no longer allows "
                           "this change.")
            db.session.commit()
            return {"done": 0}
        outcome = task.result or {"done": 0, "unchanged": 0, "skipped": [], "since_preview": []}
        expected = set(expected) if expected is not None else None
        ids = list(dict.fromkeys(client_ids))
        for start in range(task.progress_done, len(ids), CHUNK):
            decisions = reorganise.decide(change, ids[start:start + CHUNK], task.user)
            switched = reorganise.write(change, decisions)
            for decision in decisions:
                _count(decision, outcome, expected)
            task.result = outcome
            if switched:  # committed with the chunk and the task's progress
                launch_registration(ngettext("Peppol registration: %(num)d client", "Peppol registration: %(num)d clients",
                                             len(switched)), switched, task.user)
            tasks.progress(task, min(start + CHUNK, len(ids)), len(ids))
        if outcome["since_preview"]:
            task.error = ngettext("%(num)d client changed since the preview: decided again as it stands now.",
                                  "%(num)d clients changed since the preview: decided again as they stand now.",
                                  len(outcome["since_preview"]))
        db.session.commit()
        return {"done": outcome["done"], "unchanged": outcome["unchanged"], "skipped": len(outcome["skipped"]),
                "since_preview": len(outcome["since_preview"])}


def _count(decision: reorganise.Decision, outcome: dict, expected: set | None) -> None:
    name = decision.client.name if decision.client is not None else None
    if decision.changes:
        outcome["done"] += 1
    elif decision.unchanged:
        outcome["unchanged"] += 1
    else:
        outcome["skipped"].append({"client_id": decision.client_id, "client": name, "reason": decision.reason})
    if expected is not None and decision.changes != (decision.client_id in expected):
        outcome["since_preview"].append({"client_id": decision.client_id, "client": name, "reason": (
            _("changed as the preview said it would not") if decision.changes else decision.reason)})
