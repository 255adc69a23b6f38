"""Background tasks: a `Task` row per RQ job, created with the request's changes and enqueued after
the commit; jobs report progress and outcome on it, and the UI shows it.

Web side: `launch(...)` (checks Redis first, so nothing is written when the queue is down).
Job side: `with running(task_id) as task:` around the job body.
"""
import contextlib
import json
import logging
import os
import socket
import uuid

from flask import has_request_context
from flask_babel import force_locale, lazy_gettext as _l, ngettext
from redis.exceptions import RedisError
from rq import Retry, Worker, get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from . import i18n
from .broker import get_queue, get_redis
from .extensions import db
from .models import Task, TaskStatus, utcnow
from .models.audit import acting_as

log = logging.getLogger(__name__)

RETRY = Retry(max=3, interval=[10, 60, 300])
JOB_TIMEOUT = 60 * 60


class QueueUnavailable(RuntimeError):
    """Redis cannot be reached: nothing was enqueued, and nothing may be changed."""

    def __str__(self) -> str:
        return str(_l("The background queue is not reachable right now, so nothing was done. Try again in a minute."))


def require_queue() -> None:
    try:
        get_redis().ping()
    except (RedisError, OSError) as error:
        raise QueueUnavailable() from error


def launch(kind: str, description: str, func, *args, user=None, client=None, total: int = 0, queue: str = "default",
           retry: Retry | None = RETRY) -> Task:
    """Create the Task row (committing the session with it), then enqueue `func(task_id, *args)`."""
    require_queue()
    task = Task(id=str(uuid.uuid4()), kind=kind, description=description[:255], progress_total=total, queue=queue,
                user_id=user.id if user is not None else None, client_id=client.id if client is not None else None,
                job_func=f"{func.__module__}.{func.__qualname__}", job_args_json=json.dumps(list(args)))
    db.session.add(task)
    db.session.commit()
    _enqueue(task, retry)
    return task


def _enqueue(task: Task, retry: Retry | None = RETRY) -> None:
    # The job writes its messages (reasons, errors) in the language of the request that launched it.
    meta = {"language": i18n.current_language()} if has_request_context() else None
    try:
        get_queue(task.queue).enqueue_call(task.job_func, args=(task.id, *json.loads(task.job_args_json)), job_id=task.id,
                                           retry=retry, timeout=JOB_TIMEOUT, result_ttl=7 * 86400, failure_ttl=30 * 86400,
                                           meta=meta)
    except (RedisError, OSError) as error:
        task.status, task.error, task.ended_at = TaskStatus.FAILED.value, str(QueueUnavailable()), utcnow()
        db.session.commit()
        raise QueueUnavailable() from error


def is_stalled(task: Task) -> bool:
    """Started, but no live worker is running it (the worker was killed or its machine restarted)."""
    if task.status != TaskStatus.STARTED:
        return False
    try:
        job = Job.fetch(task.id, connection=get_redis())
    except NoSuchJobError:
        return True
    if job.get_status() != JobStatus.STARTED or not job.worker_name:
        return True
    worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + job.worker_name, connection=get_redis())
    return worker is None or not _process_alive(worker)


def _process_alive(worker) -> bool:
    """A worker on another machine is trusted until its registration expires; on this one, its pid must run."""
    if worker.hostname != socket.gethostname() or not worker.pid:
        return True
    try:
        os.kill(worker.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def can_rerun(task: Task) -> bool:
    return task.job_func is not None and (task.status == TaskStatus.FAILED or is_stalled(task))


def rerun(task: Task) -> None:
    """Run a failed or stalled task again (its job is idempotent: it completes what is left)."""
    require_queue()
    task.status, task.error, task.ended_at, task.started_at = TaskStatus.QUEUED.value, None, None, None
    db.session.commit()
    _enqueue(task)


def progress(task: Task, done: int, total: int | None = None) -> None:
    """Record progress (commits the job's session: call it between units of work)."""
    task.progress_done = done
    if total is not None:
        task.progress_total = total
    db.session.commit()


def progress_apart(task_id: str, done: int, total: int | None = None) -> None:
    """Record progress through a connection of its own, for a job that keeps all its work in one transaction until
    the end (an import): the job's session is left as it is."""
    values = {"progress_done": done} if total is None else {"progress_done": done, "progress_total": total}
    with db.engine.begin() as connection:
        connection.execute(db.update(Task).where(Task.id == task_id).values(values))


@contextlib.contextmanager
def running(task_id: str):
    """The job body's frame: marks the task started, attributes changes to the task's user, and records
    success or failure (re-raising, so RQ retries transient errors)."""
    task = db.session.get(Task, task_id)
    if task is None:
        raise LookupError(f"task {task_id} does not exist")
    task.status, task.started_at, task.error = TaskStatus.STARTED.value, utcnow(), None
    db.session.commit()
    locale = i18n.locale_of(_job_language(task))
    try:
        with acting_as(task.user), force_locale(locale):
            yield task
    except Exception as error:
        db.session.rollback()
        job = get_current_job()
        will_retry = bool(job is not None and job.retries_left)
        task = db.session.get(Task, task_id)
        task.status = TaskStatus.QUEUED.value if will_retry else TaskStatus.FAILED.value
        with force_locale(locale):
            task.error = (_retry_note(job) if will_retry else "") + f"{error.__class__.__name__}: {error}"
        task.ended_at = None if will_retry else utcnow()
        db.session.commit()
        log.exception("task %s (%s) failed%s", task_id, task.kind, ", will retry" if will_retry else "")
        raise
    else:
        task.status, task.ended_at = TaskStatus.FINISHED.value, utcnow()
        if task.progress_total and task.progress_done < task.progress_total:
            task.progress_done = task.progress_total
        db.session.commit()


def _job_language(task: Task) -> str | None:
    """The language of the request that launched the job, else its user's choice (None: the default)."""
    job = get_current_job()
    return (job.meta.get("language") if job is not None else None) or (task.user and task.user.ui_language)


def _retry_note(job) -> str:
    return ngettext("Retrying (%(num)d attempt left) after: ", "Retrying (%(num)d attempts left) after: ", job.retries_left)
