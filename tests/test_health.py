"""GET /healthz against real parts: a Redis server of the test's own (with or without its append-only file, with
CONFIG allowed or not), a real SMTP server, a real RQ worker process."""
import contextlib
from datetime import timedelta

from clientdesk.models import Task, utcnow
from tests.servers import RedisServer, SmtpServer, start_worker, stop_process, wait_for


@contextlib.contextmanager
def redis_server(folder, **config):
    """A redis-server of this test's own, configured with `config`; yields its URL."""
    server = RedisServer(folder / "redis", **config).start()
    try:
        yield server.url
    finally:
        server.stop()


def healthz(make_app, **config):
    response = make_app(**config).test_client().get("/healthz")
    return response.status_code, response.json


def test_every_part_answering_is_ok(app_config, make_app, smtp, tmp_path):
    with redis_server(tmp_path, appendonly="yes") as redis_url:
        worker = start_worker(app_config, REDIS_URL=redis_url)
        try:
            app = make_app(REDIS_URL=redis_url, MAIL_URL=smtp.url)
            http = app.test_client()
            response = wait_for(lambda: (r := http.get("/healthz")).json["workers_alive"] and r)
            assert response.status_code == 200
            assert response.json == {
                "status": "ok", "database": "ok", "redis": "ok", "mail": "ok", "workers": "ok", "workers_alive": 1,
                "oldest_queued_job_seconds": None, "redis_persistence": True, "reasons": [],
            }
        finally:
            stop_process(worker)
        # A worker that stops leaves RQ's registry: none alive any more.
        response = http.get("/healthz")
        assert (response.status_code, response.json["workers"], response.json["workers_alive"]) == (200, "down", 0)


def test_mail_unreachable_no_worker_and_no_persistence_are_degraded(make_app, tmp_path):
    stopped_mail_server = SmtpServer()  # a port where nothing listens
    with redis_server(tmp_path, appendonly="no") as redis_url:
        status, body = healthz(make_app, REDIS_URL=redis_url, MAIL_URL=stopped_mail_server.url)
    assert status == 200
    assert (body["status"], body["database"], body["redis"], body["mail"], body["workers"]) == (
        "degraded", "ok", "ok", "down", "down")
    assert body["workers_alive"] == 0 and body["redis_persistence"] is False
    assert len(body["reasons"]) == 3
    assert any("mail server" in reason for reason in body["reasons"])
    assert any("No worker" in reason for reason in body["reasons"])
    assert any("appendonly" in reason for reason in body["reasons"])


def test_the_outbox_folder_needs_no_mail_server(make_app, tmp_path):
    with redis_server(tmp_path) as redis_url:
        status, body = healthz(make_app, REDIS_URL=redis_url, MAIL_URL=None)
    assert (status, body["mail"]) == (200, "ok")


def test_persistence_unknown_when_redis_refuses_config(make_app, tmp_path):
    with redis_server(tmp_path, **{"rename-command": ["CONFIG", ""]}) as redis_url:
        status, body = healthz(make_app, REDIS_URL=redis_url)
    assert body["redis_persistence"] is None
    assert not any("persistence" in reason for reason in body["reasons"])


def test_redis_down_is_down(make_app):
    status, body = healthz(make_app, REDIS_URL="redis://127.0.0.1:1/0")
    assert status == 503
    assert (body["status"], body["database"], body["redis"], body["workers"]) == ("down", "ok", "down", "down")
    assert body["redis_persistence"] is None


def test_oldest_queued_job_is_the_oldest_queued_task(app, store, tmp_path):
    now = utcnow()
    store.run(lambda s: s.add_all([
        Task(id="queued-90s", kind="client_invite", status="queued", created_at=now - timedelta(seconds=90)),
        Task(id="queued-10s", kind="client_invite", status="queued", created_at=now - timedelta(seconds=10)),
        Task(id="started-1h", kind="client_invite", status="started", created_at=now - timedelta(hours=1)),
    ]))
    body = app.test_client().get("/healthz").json
    assert 90 <= body["oldest_queued_job_seconds"] < 120


def test_nothing_queued_is_null(app):
    assert app.test_client().get("/healthz").json["oldest_queued_job_seconds"] is None
