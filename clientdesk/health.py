"""What `GET /healthz` reports: whether each part ClientDesk runs on answers, cheaply enough to be polled.

The database and Redis are needed by every request: either one down makes the whole service "down" (503).
Mail, workers and Redis persistence are needed by the outside effects: without them the screens work but
invitations and other jobs wait or may be lost, so the service is "degraded" (200), with the reasons.
"""
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import redis
import sqlalchemy as sa
from flask import current_app
from rq import Worker
from sqlalchemy.exc import SQLAlchemyError

from . import tasks
from .broker import get_redis, redis_is_up
from .extensions import db
from .models import Task, TaskStatus, utcnow
from .services.mail import Mailer, MailError

MAIL_TIMEOUT_SECONDS = 2
MAIL_CHECK_SECONDS = 30


@dataclass
class Health:
    status: str
    database: str
    redis: str
    mail: str
    workers: str
    workers_alive: int
    oldest_queued_job_seconds: int | None
    redis_persistence: bool | None
    reasons: list[str] = field(default_factory=list)

    @property
    def http_status(self) -> int:
        return 503 if self.status == "down" else 200

    def as_json(self) -> dict:
        return asdict(self)


def _up(flag: bool) -> str:
    return "ok" if flag else "down"


def oldest_queued_job_seconds() -> int | None:
    """Age of the oldest task still queued (the task table is the source of truth), None when none is.
    Raises SQLAlchemyError when the database does not answer."""
    waiting = sa.or_(Task.retry_at.is_(None), Task.retry_at <= utcnow())  # not a retry whose time has not come
    oldest = db.session.scalar(sa.select(sa.func.min(sa.func.coalesce(Task.queued_at, Task.created_at)))
                               .where(Task.status == TaskStatus.QUEUED.value, waiting))
    return None if oldest is None else max(0, int((utcnow() - oldest).total_seconds()))


def workers_alive(connection: redis.Redis) -> int:
    """Workers registered with RQ whose last heartbeat is recent (each beats every WORKER_HEARTBEAT_SECONDS: jobs/worker.py)."""
    now = datetime.now(UTC)
    return sum(1 for worker in Worker.all(connection=connection)
               if worker.last_heartbeat is not None and now - worker.last_heartbeat <= tasks.stall_time())


def redis_persistence(connection: redis.Redis) -> bool | None:
    """Whether Redis writes every change to its append-only file (queued jobs survive a restart); None when the
    server does not let us ask (CONFIG disabled or renamed, as managed Redis services do)."""
    try:
        return connection.config_get("appendonly").get("appendonly") == "yes"
    except redis.ResponseError:
        return None


def mail_server_answers() -> bool:
    """Asked at most every MAIL_CHECK_SECONDS per process: each check signs in to the mail server, and a load balancer
    polls often. A MAIL_URL the mailer cannot use counts as down."""
    checked = current_app.extensions.get("clientdesk.mail_check")
    if checked is None or time.monotonic() - checked[0] > MAIL_CHECK_SECONDS:
        try:
            answers = Mailer.from_config(current_app.config, timeout=MAIL_TIMEOUT_SECONDS).server_answers()
        except MailError:
            answers = False
        checked = current_app.extensions["clientdesk.mail_check"] = (time.monotonic(), answers)
    return checked[1]


def check() -> Health:
    try:
        oldest_queued = oldest_queued_job_seconds()
        database_up = True
    except SQLAlchemyError:
        db.session.rollback()
        oldest_queued, database_up = None, False
    redis_up = redis_is_up()
    connection = get_redis()
    alive = workers_alive(connection) if redis_up else 0
    persistence = redis_persistence(connection) if redis_up else None
    mail_up = mail_server_answers()

    reasons = []
    if not database_up:
        reasons.append("The database does not answer.")
    if not redis_up:
        reasons.append("Redis does not answer: no job can be queued.")
    if not mail_up:
        reasons.append("The mail server (MAIL_URL) does not answer: e-mails wait and are retried.")
    if redis_up and not alive:
        reasons.append("No worker is alive: queued jobs wait (start `flask --app app worker`).")
    if persistence is False:
        reasons.append("Redis persistence is off (appendonly no): queued jobs are lost if Redis restarts.")
    if not (database_up and redis_up):
        status = "down"
    else:
        status = "degraded" if reasons else "ok"
    return Health(status=status, database=_up(database_up), redis=_up(redis_up), mail=_up(mail_up),
                  workers=_up(alive > 0), workers_alive=alive, oldest_queued_job_seconds=oldest_queued,
                  redis_persistence=persistence, reasons=reasons)
