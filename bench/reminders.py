"""Invitation reminders benchmark: N invitations expiring in 7 days, one worker sends their reminders.

    python bench/reminders.py [--invitations 10000] [--pg URL] [--rounds 3] [--profile FILE]

Each round starts from fresh data (a new SQLite file, or the PostgreSQL database's schema dropped and re-migrated: a
round reminds every invitation once, so it cannot be repeated on the same rows):

1. N invited clients, each with a primary contact and a sent company invitation (derivable link) that expires in
   7 days less an hour, so that the first mark of INVITATION_REMINDER_DAYS (7) is due now: no clock is moved
   (Core inserts, with the clients' audit rows);
2. an aiosmtpd server in its own process (bench/bulk_invite.py's: it does not compete for a GIL) that only counts;
3. a run of the "invitation_reminders" schedule launched as "Run now" does (schedule.launch_run: its Task row, its
   job on the default queue), then `python -m flask --app app worker --burst --queue default` as a subprocess,
   with DATABASE_URL/REDIS_URL/MAIL_URL in its environment; reminders/s over the job (Task.started_at → ended_at)
   and over the worker process (start-up included);
4. baseline: the very messages the server received, sent again by a bare smtplib loop over one connection
   (3 passes right after the worker, median).

Budget: ≥ 300 reminders/s on one worker (issue 20); the ratio to the bare loop is the figure to compare across
machines. Redis and PostgreSQL as in bench/bulk_invite.py (--pg: its schema `public` is dropped at each round;
default $BENCH_PG_URL, none: SQLite). --profile FILE runs the worker under cProfile, writing FILE.<round>.
"""
import argparse
import os
import pickle
import secrets
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import redis

# bulk_invite.py's helpers (this script's folder is on sys.path); importing it puts this checkout's clientdesk first.
from bulk_invite import BARE_RUNS, LANGUAGES, ROOT, SmtpProcess, bare_smtplib, enterprise_number, fresh_database, start_redis

EXPIRES_IN = timedelta(days=7, hours=-1)  # within the 7-day mark, past the 2-day one


def build_data(app, invitations: int) -> None:
    """N invited clients with a primary contact and a sent, open invitation each, and the clients' audit rows
    (Core inserts: the ORM flush hook is not involved, so the audit rows are written here)."""
    import sqlalchemy as sa

    from clientdesk.extensions import db
    from clientdesk.models import AuditEvent, Client, Contact, Group, Invitation, utcnow
    from clientdesk.models.invitation import derive_token, hash_token
    from clientdesk.reference_data import ensure_reference_data
    from clientdesk.search import fold

    with app.app_context():
        ensure_reference_data()
        group_id = Group.default().id
        now = utcnow()
        client_rows, contact_rows = [], []
        for n in range(invitations):
            number = enterprise_number(n)
            name = f"Bench Client {n:05d} BV"
            email = f"owner{n:05d}@client{n:05d}.example.com"
            client_rows.append({
                "name": name, "country": "BE", "enterprise_number": number, "vat_number": "BE" + number,
                "status": "invited", "language": LANGUAGES[n % 4], "group_id": group_id,
                "inbound_email": f"{secrets.token_hex(5)}@in.clientdesk.example",
                "search_text": fold(f"{name} {number} BE{number} {email}"), "created_at": now, "updated_at": now,
            })
            contact_rows.append({
                "first_name": f"Owner{n:05d}", "last_name": "Bench", "email": email, "language": LANGUAGES[n % 4],
                "is_primary": True, "created_at": now, "updated_at": now,
            })
        with db.engine.begin() as connection:
            client_ids = connection.execute(sa.insert(Client.__table__).returning(
                Client.__table__.c.id, sort_by_parameter_order=True), client_rows).scalars().all()
            for row, client_id in zip(contact_rows, client_ids):
                row["client_id"] = client_id
            contact_ids = connection.execute(sa.insert(Contact.__table__).returning(
                Contact.__table__.c.id, sort_by_parameter_order=True), contact_rows).scalars().all()
            nonces = [secrets.token_urlsafe(32) for _client in client_ids]
            connection.execute(sa.insert(Invitation.__table__), [{
                "client_id": client_id, "contact_id": contact_id, "nonce": nonce,
                "token_hash": hash_token(derive_token(nonce)), "status": "sent", "sent_at": now,
                "expires_at": now + EXPIRES_IN, "failed_attempts": 0, "created_at": now, "updated_at": now,
            } for client_id, contact_id, nonce in zip(client_ids, contact_ids, nonces)])
            connection.execute(sa.insert(AuditEvent.__table__), [{
                "at": now, "actor_id": None, "actor": "system", "action": "bench_load", "object_type": "client",
                "object_id": str(client_id), "object_repr": row["name"], "client_id": client_id, "changes_json": "{}",
            } for row, client_id in zip(client_rows, client_ids)])


def launch(app) -> str:
    """The schedule's run, as "Run now" launches it; its Task id."""
    from clientdesk import schedule
    from clientdesk.models import utcnow

    with app.app_context():
        return schedule.launch_run(schedule.BY_NAME["invitation_reminders"], utcnow().replace(microsecond=0)).id


def run_worker(env: dict, profile: str | None) -> float:
    import subprocess

    command = [sys.executable]
    if profile:
        command += ["-m", "cProfile", "-o", profile]
    command += ["-m", "flask", "--app", "app", "worker", "--burst", "--queue", "default"]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise RuntimeError(f"worker failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - start


def check_outcome(app, task_id: str, invitations: int) -> float:
    """The job's seconds, once its outcome is checked: every reminder sent, each with its audit event."""
    import sqlalchemy as sa

    from clientdesk.extensions import db
    from clientdesk.models import AuditEvent, InvitationReminder, Task

    with app.app_context():
        task = db.session.get(Task, task_id)
        sent = db.session.scalar(sa.select(sa.func.count()).where(InvitationReminder.status == "sent",
                                                                  InvitationReminder.days_before == 7))
        audited = db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.action == "reminder"))
        if task.status != "finished" or task.error or sent != invitations or audited != invitations:
            raise RuntimeError(f"wrong outcome: task {task.status} {task.error!r}, {sent} reminders sent, "
                               f"{audited} reminder audit rows")
        return (task.ended_at - task.started_at).total_seconds()


def one_round(args, folder: Path, round_no: int, redis_url: str, smtp: SmtpProcess) -> dict:
    from flask_migrate import upgrade

    from clientdesk.app import create_app
    from clientdesk.broker import get_redis

    database_url = fresh_database("postgresql" if args.pg else "sqlite", folder, round_no, args.pg)
    instance = folder / f"instance-{round_no}"
    instance.mkdir(exist_ok=True)
    os.environ["INSTANCE_PATH"] = str(instance)
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": redis_url, "MAIL_URL": smtp.url,
                      "PUBLIC_BASE_URL": "https://clientdesk.example.com", "OUTBOX_DIR": str(instance / "outbox")})
    with app.app_context():
        upgrade(revision="heads")
        if args.redis_url:
            get_redis().flushdb()  # the dedicated database given on the command line (never 0)
    start = time.perf_counter()
    build_data(app, args.invitations)
    setup_s = time.perf_counter() - start
    task_id = launch(app)

    smtp_before, _ = smtp.ask("count")
    smtp.ask("keep")
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, MAIL_URL=smtp.url,
               INSTANCE_PATH=str(instance), SECRET_KEY=app.config["SECRET_KEY"],
               PUBLIC_BASE_URL=app.config["PUBLIC_BASE_URL"], OUTBOX_DIR=str(instance / "outbox"))
    env.pop("FLASK_DEBUG", None)
    worker_s = run_worker(env, args.profile and f"{args.profile}.{round_no}")
    job_s = check_outcome(app, task_id, args.invitations)
    received = smtp.ask("count")[0] - smtp_before
    kept = folder / "messages.pickle"
    smtp.ask("dump", str(kept))
    messages = pickle.loads(kept.read_bytes())
    kept.unlink()
    if received != args.invitations or len(messages) != args.invitations:
        raise RuntimeError(f"the SMTP server received {received} messages, expected {args.invitations}")
    bare_runs = [bare_smtplib(smtp.port, messages) for _ in range(BARE_RUNS)]
    bare_s = statistics.median(bare_runs)
    return {"setup_s": setup_s, "job_s": job_s, "worker_process_s": worker_s, "bare_s": bare_s,
            "job_rate": args.invitations / job_s, "process_rate": args.invitations / worker_s,
            "bare_rate": args.invitations / bare_s, "message_kb": sum(len(m[2]) for m in messages) / len(messages) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invitations", type=int, default=10000)
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG_URL"),
                        help="PostgreSQL URL (its schema public is dropped); omitted: SQLite")
    parser.add_argument("--rounds", type=int, default=3, help="rounds on fresh data (figures: median)")
    parser.add_argument("--redis-url", help="a real Redis with a dedicated db number, e.g. redis://127.0.0.1:6379/13")
    parser.add_argument("--profile", help="run the worker under cProfile, writing FILE.<round>")
    args = parser.parse_args()
    os.environ.setdefault("SECRET_KEY", secrets.token_hex(32))
    os.environ.pop("FLASK_DEBUG", None)

    load_before = os.getloadavg()[0]  # other processes skew every figure here: say how busy the machine was
    with tempfile.TemporaryDirectory(prefix="reminders-") as tmp:
        folder = Path(tmp)
        redis_server, redis_url = start_redis(args, folder)
        smtp = SmtpProcess().start()
        rounds = []
        try:
            for round_no in range(1, args.rounds + 1):
                figures = one_round(args, folder, round_no, redis_url, smtp)
                rounds.append(figures)
                print(f"round {round_no}: data {figures['setup_s']:.1f} s; job {figures['job_s']:.2f} s = "
                      f"{figures['job_rate']:.0f}/s; worker process {figures['worker_process_s']:.2f} s = "
                      f"{figures['process_rate']:.0f}/s; bare smtplib {figures['bare_s']:.2f} s = "
                      f"{figures['bare_rate']:.0f}/s", flush=True)
        finally:
            smtp.stop()
            if redis_server is not None:
                try:
                    redis_server.shutdown(nosave=True)
                except redis.ConnectionError:
                    pass  # the server closes the connection as it goes

    def median(key):
        return statistics.median(r[key] for r in rounds)

    ratios = [r["job_rate"] / r["bare_rate"] for r in rounds]
    job_rate = median("job_rate")
    print()
    print(f"{args.invitations} invitations expiring in 7 days, {'postgresql' if args.pg else 'sqlite'}, "
          f"{len(rounds)} round(s) on fresh data; messages {median('message_kb'):.1f} KiB each; load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after ({os.cpu_count()} CPUs)")
    print(f"worker, job start → end:   {job_rate:.0f} reminders/s  "
          f"(budget ≥ 300/s: {'met' if job_rate >= 300 else 'NOT met'})")
    print(f"worker process:            {median('process_rate'):.0f} reminders/s  (start-up included)")
    print(f"bare smtplib, one connection: {median('bare_rate'):.0f} messages/s")
    print(f"ratio worker / bare smtplib: {statistics.median(ratios):.2f}  (rounds "
          + "/".join(f"{x:.2f}" for x in ratios) + ")")


if __name__ == "__main__":
    main()
