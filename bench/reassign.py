"""Bulk reassignment benchmark: move N clients to another group as the reorganise task does, on one worker.

    python bench/reassign.py [--clients 10000] [--db sqlite|postgresql] [--rounds 3]

1. N clients with a primary contact each (bench/bulk_invite.py's data: Core inserts with their audit rows) and a
   supervisor, in a fresh SQLite file or PostgreSQL database (--pg-url, default $BENCH_PG_URL: its schema
   `public` is dropped);
2. each round moves every client to the other of two groups with `run_reorganise` (jobs/reorganise.py), called
   in this process as a worker calls it (its task, its chunks, its decisions, its audit rows), and checks that it
   wrote one audit row per client;
3. baseline, in the same round: a bare `UPDATE client SET group_id = ? WHERE id IN (...)` of the same rows, back
   again, in one transaction (no audit, no decisions).

Budget (issue 19): ≤ 10 s for 10,000 clients, with one audit row per client. The ratio to the bare UPDATE is the
figure to compare between machines (the load average is printed).
"""
import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

BUDGET_SECONDS = 10.0


def run_round(app, ids: list[int], target_id: int, back_id: int) -> tuple[float, float]:
    """(seconds of the reorganise task, seconds of the bare UPDATE) for one move of every client and back."""
    import sqlalchemy as sa
    from bulk_invite import SUPERVISOR

    from clientdesk.extensions import db
    from clientdesk.jobs.reorganise import run_reorganise
    from clientdesk.models import AuditEvent, Client, Task, User

    with app.app_context():
        supervisor = db.session.scalar(sa.select(User).where(User.email == SUPERVISOR))
        task_id = str(uuid.uuid4())
        db.session.add(Task(id=task_id, kind="reorganise", user_id=supervisor.id, progress_total=len(ids)))
        db.session.commit()
        last_event = db.session.scalar(sa.select(sa.func.max(AuditEvent.id)))
        db.session.remove()
    with app.app_context():
        start = time.perf_counter()
        result = run_reorganise(task_id, ["group", target_id], ids, ids)
        task_seconds = time.perf_counter() - start
        audited = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.id > last_event, AuditEvent.action == "change_group",
            AuditEvent.changes_json.contains(f"[{back_id},{target_id}]")))
        if result["done"] != len(ids) or audited != len(ids):
            raise RuntimeError(f"the task moved {result['done']} clients with {audited} audit rows, not {len(ids)}")
        db.session.remove()
    with app.app_context():
        start = time.perf_counter()
        with db.engine.begin() as connection:
            connection.execute(sa.update(Client).where(Client.id.in_(
                sa.bindparam("ids", ids, expanding=True, literal_execute=True))).values(group_id=back_id))
        bare_seconds = time.perf_counter() - start
    return task_seconds, bare_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL"))
    args = parser.parse_args()
    if args.db == "postgresql" and not args.pg_url:
        parser.error("--db postgresql needs --pg-url or BENCH_PG_URL (its schema public is dropped)")
    os.environ.setdefault("SECRET_KEY", secrets.token_hex(32))
    os.environ.pop("FLASK_DEBUG", None)

    from bulk_invite import build_data, fresh_database
    from flask_migrate import upgrade

    from clientdesk.app import create_app
    from clientdesk.extensions import db
    from clientdesk.models import Group

    with tempfile.TemporaryDirectory(prefix="bench-reassign-") as folder:
        os.environ["INSTANCE_PATH"] = folder
        database_url = fresh_database(args.db, Path(folder), 0, args.pg_url)
        app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
        with app.app_context():
            upgrade(revision="heads")
        ids = build_data(app, args.clients)
        with app.app_context():
            home = Group.default().id
            other = Group(name="Bench Target")
            db.session.add(other)
            db.session.commit()
            target = other.id
            db.session.remove()
        rounds = [run_round(app, ids, target, home) for _ in range(args.rounds)]
        with app.app_context():
            db.engine.dispose()
    task = statistics.median(seconds for seconds, _bare in rounds)
    bare = statistics.median(bare for _seconds, bare in rounds)
    verdict = "OK" if task <= BUDGET_SECONDS else "OVER BUDGET"
    print(f"database: {args.db}; {args.clients} clients; load average {os.getloadavg()[0]:.2f}")
    print(f"reassign task: {task:.2f} s (median of {args.rounds}; {args.clients / task:,.0f} clients/s), "
          f"one audit row per client")
    print(f"bare UPDATE of the same rows: {bare:.3f} s; ratio {task / bare:.1f}x")
    print(f"budget ≤ {BUDGET_SECONDS:.0f} s: {verdict}")
    sys.exit(0 if task <= BUDGET_SECONDS else 1)


if __name__ == "__main__":
    main()
