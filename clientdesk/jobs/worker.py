"""The RQ worker: each job runs in its own app context (its own database session), in-process.

Beside the jobs, threads of the worker (Housekeeping) keep the tasks healthy (tasks.py): one beats every few
seconds on the task this worker runs and keeps the worker registered with RQ (again after a Redis restart);
another, when no other worker holds the lock, runs the reconciler (every WORKER_RECONCILE_SECONDS): tasks, then the outside effects whose
retry is due (RETRY_SWEEPS); a third carries out the cold stop below. A worker started with the scheduler runs
RQ's cron scheduler in a fourth (schedule.py): it ends with the worker, so nothing is left behind.

Asked to stop (SIGTERM, Ctrl-C), an idle worker exits at once; a busy one hands its task back at the
task's next progress point, and if that takes longer than WORKER_STOP_GRACE_SECONDS, stops it there (cold stop):
either way the task is queued again and another worker continues it.
"""
import contextlib
import gc
import logging
import os
import signal
import threading
import time

from flask import current_app
from redis.exceptions import LockError, RedisError
from rq import SimpleWorker, worker_registration
from sqlalchemy.exc import SQLAlchemyError

from .. import tasks
from ..broker import QUEUE_NAMES, get_redis
from ..schedule import run_scheduler
from . import documents, lifecycle, password_reset, peppol, reminders

log = logging.getLogger(__name__)

JOIN_SECONDS = 2  # how long a stopping worker waits for a housekeeping step in progress
RESTART_SECONDS = 2
RECONCILE_LOCK_SECONDS = 120  # longer than any round: a round after an outage may have much to enqueue
# What starts the outside effects (e-mails, registrations, deliveries) whose next attempt is due.
RETRY_SWEEPS = (lifecycle.retry_due, peppol.retry_due, documents.retry_due, password_reset.retry_due, reminders.retry_due)


class AppWorker(SimpleWorker):
    """SimpleWorker (no fork per job: no process start-up per job, no inherited database connections) that
    gives every job a fresh app context, so a job's session never leaks into the next one, and runs its
    housekeeping threads (below) from its registration with RQ to its goodbye."""

    app = None
    with_scheduler = False
    running_job_id = None  # what the heartbeat beats on (RQ keeps it only in Redis, which may restart)
    housekeeping = None
    stop_asked_early = None  # the signal that asked to stop while the worker registered

    def bootstrap(self, *args, **kwargs):
        # RQ puts its signal handlers in place after the registration: a stop asked in between would end the worker
        # by the signal's default action, still registered. It is noted here, and carried out below.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self.note_early_stop)
        super().bootstrap(*args, **kwargs)

    def note_early_stop(self, signum, frame):
        self.stop_asked_early = signum

    def dequeue_job_and_maintain_ttl(self, *args, **kwargs):
        if self.housekeeping is None:  # the first wait for a job: registered, RQ's signal handlers in place
            self.housekeeping = Housekeeping(self)
            if self.stop_asked_early is not None:
                self.request_stop(self.stop_asked_early, None)
        return super().dequeue_job_and_maintain_ttl(*args, **kwargs)

    def perform_job(self, job, queue):
        self.running_job_id = job.id
        try:
            with self.app.app_context():
                return super().perform_job(job, queue)
        finally:
            self.running_job_id = None

    def subscribe(self):
        """No pub/sub channel: RQ's commands over it (stop a job, shut down) are not used here, and closing its
        listening thread, blocked in a 60 s read, held the worker's exit for up to a minute."""

    def request_stop(self, signum, frame):
        tasks.request_stop()
        if self.housekeeping is not None:
            self.housekeeping.stop_asked_at = time.monotonic()
        super().request_stop(signum, frame)

    def teardown(self):
        if self.housekeeping is not None:
            # Before RQ's goodbye: a registration beat after it would register the departed worker again.
            self.housekeeping.stop()
        super().teardown()


class Housekeeping:
    """The worker's threads beside its jobs: "beats" (the heartbeat on the running task, and the registration),
    "reconciler", "cold-stop", which, WORKER_STOP_GRACE_SECONDS after a stop was asked, sends the second SIGTERM that
    is RQ's cold stop (it ends a job that does not reach its next progress point in time), and "scheduler" when the
    worker runs it.

    They are started once the worker is registered, and stopped and waited for before it says goodbye: none runs
    on while the interpreter exits, and no cold stop fires into a worker that is on its way out. The signal handler
    only notes the time: it takes no lock (the code it interrupts may hold that lock) and starts no thread."""

    def __init__(self, worker: AppWorker):
        self.app = worker.app
        self.ended = threading.Event()
        self.stop_asked_at: float | None = None
        config = self.app.config
        beats = [("heartbeat", lambda: tasks.beat(worker.name, worker.running_job_id)),
                 ("registration", lambda: _stay_registered(worker))]
        self.threads = [
            threading.Thread(target=self.every, args=(config["WORKER_HEARTBEAT_SECONDS"], beats), name="beats", daemon=True),
            threading.Thread(target=self.every, args=(config["WORKER_RECONCILE_SECONDS"], [("reconciler", lambda: _reconcile(self))]),
                             name="reconciler", daemon=True),
            threading.Thread(target=self.cold_stop, name="cold-stop", daemon=True),
        ]
        if worker.with_scheduler:
            self.threads.append(threading.Thread(target=run_scheduler, args=(self.app, worker.name, self.ended),
                                                 name="scheduler", daemon=True))
        for thread in self.threads:
            thread.start()

    def every(self, seconds: float, steps) -> None:
        """Run `steps` ((name, function) pairs, each on its own) every `seconds`, in an app context, until the end."""
        while not self.ended.wait(seconds):
            with self.app.app_context():
                for name, step in steps:
                    if not self.ended.is_set():
                        _step(name, step)

    def cold_stop(self) -> None:
        grace = self.app.config["WORKER_STOP_GRACE_SECONDS"]
        while not self.ended.wait(0.2):
            if self.stop_asked_at is not None and time.monotonic() - self.stop_asked_at >= grace:
                os.kill(os.getpid(), signal.SIGTERM)
                return

    def stop(self) -> None:
        self.ended.set()
        deadline = time.monotonic() + JOIN_SECONDS
        for thread in self.threads:  # a step still in progress after that is left to end with the process
            thread.join(max(deadline - time.monotonic(), 0))


def _step(name: str, func) -> None:
    try:
        func()
    except (RedisError, OSError, SQLAlchemyError, tasks.QueueUnavailable) as error:
        log.warning("%s: %s (trying again at the next round)", name, error)
    except Exception:  # a bug here must not end the heartbeats: the worker's tasks would look dead
        log.exception(name)


def _stay_registered(worker: AppWorker) -> None:
    """Keep the worker's registration with RQ fresh (RQ beats only between jobs, every 405 s when idle: /healthz
    counts the workers that beat recently, the reconciler trusts them), and make it again when a Redis restart lost
    it (RQ's heartbeat only refreshes it; the key may then hold that heartbeat alone, which RQ's birth refuses)."""
    if worker.birth_date is None:
        return  # not registered by RQ yet
    redis = get_redis(worker.app)  # an embedded Redis whose process ended is started again here
    if worker.key not in worker_registration.get_keys(connection=redis):
        redis.delete(worker.key)
        worker.register_birth()
    worker.heartbeat()


def _reconcile(housekeeping: Housekeeping) -> None:
    """Tasks, then the outside effects whose retry is due; one worker at a time (whoever holds the lock)."""
    lock = get_redis(housekeeping.app).lock("clientdesk:reconciler", timeout=RECONCILE_LOCK_SECONDS, blocking=False)
    if not lock.acquire():
        return
    try:
        tasks.reconcile()
        for retry_due in RETRY_SWEEPS:
            if housekeeping.ended.is_set():
                break
            _step(f"{retry_due.__module__}.retry_due", retry_due)
    finally:
        with contextlib.suppress(LockError):  # held longer than its timeout: another worker may have it now
            lock.release()


def run_worker(queues=QUEUE_NAMES, burst: bool = False, with_scheduler: bool = False) -> bool:
    app = current_app._get_current_object()
    # The ~150,000 objects of the loaded app live as long as the worker: frozen, they are left out of the
    # full collections that a bulk job's many short-lived ORM objects trigger.
    gc.freeze()
    while True:
        try:
            worked = _work(app, queues, burst, with_scheduler)
        except (RedisError, OSError) as error:  # Redis gone as the worker said goodbye
            worked, reason = False, error
        else:
            reason = "RQ gave up (see above)"
        if burst or tasks.stop_requested():
            return worked
        # RQ quits on a Redis error outside its wait for jobs (a restart while it cleans its registries): a new
        # worker, as a supervisor would start, once Redis answers again.
        log.warning("the worker ended without being asked to (%s): starting again in %d s", reason, RESTART_SECONDS)
        time.sleep(RESTART_SECONDS)


def _work(app, queues, burst: bool, with_scheduler: bool) -> bool:
    worker = AppWorker(list(queues), connection=get_redis(app))
    worker.app, worker.with_scheduler = app, with_scheduler
    return worker.work(burst=burst, logging_level="INFO")
