"""Background tasks. The `Task` row is the source of truth; an RQ job only carries out one attempt of it.

Web side: `launch(...)` creates the row with the request's changes, commits, and enqueues a job.
Job side: `with running(task_id) as task:` around the job body, and `progress(...)` between units of work,
which is also where a worker that is asked to stop hands its task back to the queue.
Worker side (jobs/worker.py): `beat(worker)` every few seconds on the tasks the worker runs, and
`reconcile()`, which gives a new job to every task that should run and has none: its worker died (no
heartbeat), its job was lost (Redis restarted without persistence), its retry is due.

Each attempt gets a job of its own id, recorded on the task: a job of an earlier attempt that turns up
again (a Redis restored from disk, a worker that was only slow) finds its task taken and does nothing.
Jobs are idempotent: an attempt completes what the earlier ones left.
"""
import contextlib
import json
import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app, has_request_context
from flask_babel import force_locale, gettext as _, ngettext
from redis.exceptions import RedisError
from rq import Worker, get_current_job
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus

from . import i18n, notifications
from .broker import get_queue, get_redis
from .errors import QueueUnavailable
from .extensions import db
from .models import Task, TaskKind, TaskStatus, utcnow
from .models.audit import acting_as

log = logging.getLogger(__name__)

JOB_TIMEOUT = 60 * 60
RETRY_DELAYS = (10, 60, 300)  # seconds before a failed task is tried again
RETRIES = len(RETRY_DELAYS)
LOST_SECONDS = 60  # a queued task whose job is nowhere in Redis after this long gets a new one
MAX_STARTS = 8  # a task that keeps losing its worker (one it crashes?) fails after this many starts

_stop_requested = threading.Event()


# Both derive from BaseException: a job's own `except Exception` (an import recording its failure) must not take them.
class Interrupted(BaseException):
    """The worker is stopping: the task goes back to the queue from where it stands."""


class Superseded(BaseException):
    """This job's attempt is over (another job runs the task, or it is done): the job stops, changing nothing."""


def require_queue() -> None:
    try:
        get_redis().ping()
    except (RedisError, OSError) as error:
        raise QueueUnavailable() from error


def launch(kind: str, description: str, func, *args, user=None, client=None, total: int = 0, queue: str = "default",
           retries: int = RETRIES, schedule: str | None = None, scheduled_for: datetime | None = None) -> Task:
    """Create the Task row (committing the session with it), then enqueue `func(task_id, *args)`. Refused while
    Redis is down; should the enqueue itself fail, the task waits, queued, for the reconciler. `kind`: a TaskKind
    (ValueError otherwise: the task screens show each kind by its label). A scheduled run (schedule.py) names its
    schedule and due time: IntegrityError, nothing enqueued, when that run exists already."""
    kind = TaskKind(kind)
    require_queue()
    task = Task(id=str(uuid.uuid4()), kind=kind.value, description=description[:255], progress_total=total, queue=queue,
                user_id=user.id if user is not None else None, client_id=client.id if client is not None else None,
                job_func=f"{func.__module__}.{func.__qualname__}", job_args_json=json.dumps(list(args)),
                language=i18n.current_language() if has_request_context() else None, retries_left=retries,
                schedule=schedule, scheduled_for=scheduled_for)
    db.session.add(task)
    enqueue(task)
    return task


def enqueue(task: Task, **changes) -> bool:
    """A new job for the task's next attempt (with `changes` to the row); commits the session. Superseded when the task
    changed since it was read (another reconciler took it over, its job finished meanwhile): nothing is done. False
    when Redis cannot take the job: the task stays queued and `reconcile` enqueues it once Redis is back."""
    values = {"status": TaskStatus.QUEUED.value, "job_id": str(uuid.uuid4()), "queued_at": utcnow(), "retry_at": None,
              "worker": None, "heartbeat_at": None, **changes}
    if sa.inspect(task).persistent:
        status, job_id = task.status, task.job_id  # as read (callers change neither before)
        taken = db.session.execute(sa.update(Task).where(
            Task.id == task.id, Task.status == status, Task.job_id.is_(None) if job_id is None else Task.job_id == job_id)
            .values(values).execution_options(synchronize_session=False))
        if taken.rowcount != 1:
            db.session.rollback()
            raise Superseded(f"task {task.id} changed since it was read")
    else:
        for name, value in values.items():
            setattr(task, name, value)
    db.session.commit()  # before the enqueue: a worker that takes the job at once must find its id on the task
    try:
        get_queue(task.queue).enqueue_call(task.job_func, args=(task.id, *json.loads(task.job_args_json)),
                                           job_id=task.job_id, timeout=JOB_TIMEOUT, result_ttl=86400, failure_ttl=7 * 86400)
    except (RedisError, OSError) as error:
        log.warning("task %s: not enqueued (%s); the reconciler will enqueue it", task.id, error)
        return False
    return True


def can_rerun(task: Task) -> bool:
    return task.job_func is not None and task.status == TaskStatus.FAILED


def rerun(task: Task) -> None:
    """Run a failed task again (its job is idempotent: it completes what is left)."""
    require_queue()
    with contextlib.suppress(Superseded):  # run again by someone else a moment ago
        enqueue(task, error=None, ended_at=None, started_at=None)


def request_stop() -> None:
    """Called by a worker asked to stop: the task it runs hands itself back at its next `progress` call."""
    _stop_requested.set()


def stop_requested() -> bool:
    return _stop_requested.is_set()


def _check_stop() -> None:
    if _stop_requested.is_set():
        raise Interrupted()


def progress(task: Task, done: int, total: int | None = None) -> None:
    """Record progress (commits the job's session: call it after each unit of work). A job resumes from
    `task.progress_done`, so the work it counts must be committed with it."""
    _check_still_ours(task.id)
    task.progress_done = done
    if total is not None:
        task.progress_total = total
    db.session.commit()
    if done < task.progress_total:
        _check_stop()


def progress_apart(task_id: str, done: int, total: int | None = None) -> None:
    """Record progress through a connection of its own, for a job that keeps all its work in one transaction until
    the end (an import): the job's session is left as it is."""
    _check_stop()
    values = {"progress_done": done} if total is None else {"progress_done": done, "progress_total": total}
    with db.engine.begin() as connection:
        _check_still_ours(task_id, connection)
        connection.execute(db.update(Task).where(Task.id == task_id).values(values))


def _check_still_ours(task_id: str, connection=None) -> None:
    """Superseded when another job has taken the task over (this worker was taken for dead, wrongly)."""
    job = get_current_job()
    if job is not None and (connection or db.session).scalar(sa.select(Task.job_id).where(Task.id == task_id)) != job.id:
        raise Superseded(f"task {task_id} was taken over by another job")


def _claim(task_id: str) -> Task:
    """Mark the task started by this job's worker; Superseded if it is not this job's to run."""
    job = get_current_job()
    condition = [Task.id == task_id]
    if job is not None:
        condition += [Task.job_id == job.id, Task.status == TaskStatus.QUEUED.value]
    else:  # called directly, outside a worker
        condition.append(Task.status != TaskStatus.FINISHED.value)
    now = utcnow()
    claimed = db.session.execute(sa.update(Task).where(*condition).values(
        status=TaskStatus.STARTED.value, started_at=now, heartbeat_at=now, error=None, ended_at=None,
        worker=job.worker_name if job is not None else None, attempts=Task.attempts + 1))
    db.session.commit()
    if claimed.rowcount != 1:
        raise Superseded(f"task {task_id}: not this job's to run (another attempt has it, or it is over)")
    return db.session.get(Task, task_id)


def _hand_back(task_id: str, reason: str) -> None:
    """The task was stopped by its worker, not by an error: queued again at once, where it stands (the attempt is
    given back: stops for a deploy do not count towards MAX_STARTS)."""
    task = db.session.get(Task, task_id)
    if not enqueue(task, started_at=None, error=reason, attempts=max(task.attempts - 1, 0)):
        log.warning("task %s handed back; waiting for Redis", task_id)


@contextlib.contextmanager
def running(task_id: str):
    """The job body's frame: claims the task, attributes changes to the task's user, writes in its language, and
    records the outcome. A failure is retried after RETRY_DELAYS while the task has retries left (and re-raised,
    for the worker's log); a worker that stops hands the task back to the queue."""
    task = _claim(task_id)
    locale = i18n.locale_of(task.language or (task.user and task.user.ui_language))
    try:
        with acting_as(task.user), force_locale(locale):
            yield task
        _check_still_ours(task_id)
    except Superseded:
        db.session.rollback()
        log.warning("task %s: taken over by another job; this one stops", task_id)
    except Interrupted:
        db.session.rollback()
        with force_locale(locale):
            _hand_back(task_id, _("Its worker stopped: it continues on another one."))
    except (SystemExit, KeyboardInterrupt):  # a worker's cold stop, in the middle of the work
        db.session.rollback()
        with force_locale(locale):
            _hand_back(task_id, _("Its worker stopped: it continues on another one."))
        raise
    except Exception as error:
        db.session.rollback()
        with force_locale(locale):
            _record_failure(task_id, error)
        raise
    else:
        task.status, task.ended_at, task.worker = TaskStatus.FINISHED.value, utcnow(), None
        if task.progress_total and task.progress_done < task.progress_total:
            task.progress_done = task.progress_total
        db.session.commit()


def _record_failure(task_id: str, error: Exception) -> None:
    task = db.session.get(Task, task_id)
    job = get_current_job()
    if job is not None and task.job_id != job.id:
        return  # taken over by another job, which records its own outcome
    message = f"{error.__class__.__name__}: {error}"
    task.worker = None
    if task.retries_left > 0:
        delay = RETRY_DELAYS[min(task.attempts, len(RETRY_DELAYS)) - 1]
        task.retries_left -= 1
        task.status, task.retry_at = TaskStatus.QUEUED.value, utcnow() + timedelta(seconds=delay)
        task.error = ngettext("Retrying (%(num)d attempt left) after: ", "Retrying (%(num)d attempts left) after: ",
                              task.retries_left + 1) + message
        log.exception("task %s (%s) failed, will retry in %d s", task.id, task.kind, delay)
    else:
        task.status, task.ended_at, task.error = TaskStatus.FAILED.value, utcnow(), message
        notifications.notify_task_failed(task)
        log.exception("task %s (%s) failed", task.id, task.kind)
    db.session.commit()


def beat(worker_name: str, job_id: str | None) -> None:
    """The worker's heartbeat on the task of the job it runs, if any (a connection of its own: the job's session is
    left alone). Only that one: a task its job left started by mistake gets no beat, and the reconciler resumes it."""
    if job_id is None:
        return
    with db.engine.begin() as connection:
        connection.execute(sa.update(Task).where(Task.worker == worker_name, Task.job_id == job_id,
                                                 Task.status == TaskStatus.STARTED.value).values(heartbeat_at=utcnow()))


def reconcile() -> int:
    """Give a new job to every task that should run and has none; returns how many were enqueued. Safe to run by two
    workers at once: a task taken over by one is left alone by the other (`enqueue` compares before it writes)."""
    now = utcnow()
    stalled = db.session.scalars(sa.select(Task).where(
        Task.status == TaskStatus.STARTED.value, Task.job_func.is_not(None),
        sa.func.coalesce(Task.heartbeat_at, Task.started_at) < now - stall_time())).all()
    due = db.session.scalars(sa.select(Task).where(Task.status == TaskStatus.QUEUED.value, Task.job_func.is_not(None),
                                                   Task.retry_at <= now)).all()
    waiting = db.session.scalars(sa.select(Task).where(
        Task.status == TaskStatus.QUEUED.value, Task.job_func.is_not(None), Task.retry_at.is_(None),
        Task.queued_at < now - timedelta(seconds=LOST_SECONDS))).all()
    to_enqueue = [task for task in stalled if not _worker_alive(task)] + due
    for task in waiting:
        job, status = _job_of(task)
        if status == JobStatus.FAILED:  # failed before it could claim the task: running it again would fail again
            _fail(task, job)
        elif status not in (JobStatus.QUEUED, JobStatus.STARTED):
            to_enqueue.append(task)  # lost (Redis restarted without it), or stopped by hand
    enqueued = 0
    for task in to_enqueue:
        try:
            if task.status == TaskStatus.STARTED and task.attempts >= MAX_STARTS:
                _fail(task, None)
                continue
            log.warning("task %s (%s): %s; enqueued again", task.id, task.kind,
                        f"worker {task.worker} gone" if task.status == TaskStatus.STARTED else "no job waiting")
            if not enqueue(task):
                return enqueued  # Redis is down: the next round
        except Superseded:
            continue
        enqueued += 1
    return enqueued


def stall_time() -> timedelta:
    """A running task (or a worker) that has not beaten for this long has lost its worker (WORKER_STALL_SECONDS)."""
    return timedelta(seconds=current_app.config["WORKER_STALL_SECONDS"])


def _worker_alive(task: Task) -> bool:
    """The task's worker still beats in Redis and runs its job (its database beats may fail while the database is
    away: that alone does not make it dead)."""
    if not task.worker:
        return False
    worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + task.worker, connection=get_redis())
    return (worker is not None and worker.last_heartbeat is not None
            and worker.last_heartbeat > datetime.now(UTC) - stall_time()
            and worker.get_current_job_id() == task.job_id)


def _job_of(task: Task) -> tuple[Job | None, JobStatus | None]:
    """The task's job in Redis and its status; (None, None) when it is not there (or expires as it is read)."""
    try:
        job = Job.fetch(task.job_id, connection=get_redis())
        return job, job.get_status()
    except (NoSuchJobError, InvalidJobOperation):
        return None, None


def _fail(task: Task, job: Job | None) -> None:
    """Fail for good a task whose job failed before it could start it, or that lost its worker MAX_STARTS times."""
    if job is not None:
        result = job.latest_result()
        lines = (result.exc_string or "").strip().splitlines() if result is not None else []
        error = _("Its job could not start: %(error)s", error=lines[-1] if lines else "?")
    else:
        error = _("Its worker stopped %(num)d times before it was done: it is not tried again.", num=task.attempts)
    failed = db.session.execute(sa.update(Task).where(Task.id == task.id, Task.job_id == task.job_id,
                                                      Task.status == task.status)
                                .values(status=TaskStatus.FAILED.value, ended_at=utcnow(), worker=None, error=str(error)))
    if failed.rowcount:
        db.session.refresh(task)
        notifications.notify_task_failed(task)
    db.session.commit()
    if failed.rowcount:
        log.error("task %s (%s) failed: %s", task.id, task.kind, error)
