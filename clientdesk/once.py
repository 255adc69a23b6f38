"""The one place for "at most once per X and day mark": a row per thing and mark, inserted under a unique key before its
e-mail leaves; a run at the same time (a second scheduler, a rerun) inserts nothing for it and so sends nothing."""
from sqlalchemy.dialects import postgresql, sqlite

from . import tasks
from .extensions import db

CHUNK = 200


def claim(model, key: list[str], rows: list[dict]) -> list[int]:
    """Insert `rows` of `model`, whose unique key is the columns `key`; the ids of those inserted (a row whose key is
    taken is left out)."""
    if not rows:
        return []
    insert = (postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert)(model)
    return list(db.session.scalars(insert.on_conflict_do_nothing(index_elements=key).returning(model.id), rows))


def send_in_chunks(task, outcome: dict, pending: list[int], due: list, claim_chunk, load, send) -> None:
    """Send what an earlier attempt of `task` claimed and left `pending` (row ids), then claim and send the `due`
    items, CHUNK at a time: `send(load(ids))` records each row's outcome in `outcome`, which becomes the task's result;
    `claim_chunk(items, task_id)` returns the ids of the rows it could claim. The task's progress after each chunk."""
    chunks = [pending[start:start + CHUNK] for start in range(0, len(pending), CHUNK)]
    to_claim = [due[start:start + CHUNK] for start in range(0, len(due), CHUNK)]
    total, done = len(pending) + len(due), 0
    tasks.progress(task, 0, total)
    for items, claimed in [(items, False) for items in chunks] + [(items, True) for items in to_claim]:
        send(load(claim_chunk(items, task.id) if claimed else items))
        done += len(items)
        task.result = outcome
        tasks.progress(task, done, total)
