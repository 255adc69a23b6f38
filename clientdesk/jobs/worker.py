"""The RQ worker: each job runs in its own app context (its own database session), in-process."""
import gc

from flask import current_app
from rq import SimpleWorker

from ..broker import QUEUE_NAMES, get_redis


class AppWorker(SimpleWorker):
    """SimpleWorker (no fork per job: no process start-up per job, no inherited database connections) that
    gives every job a fresh app context, so a job's session never leaks into the next one."""

    app = None

    def perform_job(self, job, queue):
        with self.app.app_context():
            return super().perform_job(job, queue)


def run_worker(queues=QUEUE_NAMES, burst: bool = False) -> bool:
    app = current_app._get_current_object()
    connection = get_redis(app)
    worker = AppWorker(list(queues), connection=connection)
    worker.app = app
    # The ~150,000 objects of the loaded app live as long as the worker: frozen, they are left out of the
    # full collections that a bulk job's many short-lived ORM objects trigger (a fifth of its CPU time).
    gc.freeze()
    return worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
