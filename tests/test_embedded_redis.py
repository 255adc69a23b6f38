"""The default setup (no REDIS_URL): the embedded Redis under the usual ways of running the app, each a real
process serving real requests from several threads at once."""
import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.servers import free_port, kill_group, run_command, start_process, wait_for


def serve(command: list[str], instance: Path) -> subprocess.Popen:
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "DATABASE_URL", "FLASK_DEBUG")}
    env.update(INSTANCE_PATH=str(instance), SECRET_KEY="test-secret-key-not-for-production")
    return start_process(command, env, instance / "server.log")


def health(port: int) -> dict:
    """/healthz's answer (503 here: the database is not migrated; Redis is what these tests are about)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read())


def up(port: int) -> bool:
    try:
        return health(port)["redis"] == "ok"
    except OSError:
        return False


@pytest.mark.parametrize("server", ["flask run", "gunicorn --threads"])
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_the_embedded_redis_serves_threaded_requests_and_stops_with_the_server(tmp_path, server, stop):
    port, instance = free_port(), tmp_path / "instance"
    instance.mkdir()
    command = {
        "flask run": [sys.executable, "-m", "flask", "--app", "app", "run", "--port", str(port), "--with-threads"],
        "gunicorn --threads": [sys.executable, "-m", "gunicorn", "--threads", "4", "-b", f"127.0.0.1:{port}", "wsgi:app"],
    }[server]
    process = serve(command, instance)
    try:
        wait_for(lambda: up(port), timeout=60)
        with concurrent.futures.ThreadPoolExecutor(8) as pool:  # the first uses, at once, from request threads
            answers = list(pool.map(lambda _n: health(port)["redis"], range(16)))
        assert answers == ["ok"] * 16
        socket = instance / "redis" / "redis.sock"
        assert socket.exists() and sorted(p.name for p in (instance / "redis").iterdir()) == [
            "appendonly.aof", "redis.log", "redis.sock", "start.lock"]

        process.send_signal(stop)
        process.wait(timeout=30)
        assert wait_for(lambda: not socket.exists(), timeout=10)  # redis-server shut down (it removes its socket)
        assert "Redis is now ready to exit" in (instance / "redis" / "redis.log").read_text()
    finally:
        kill_group(process)


def without_test_settings(tmp: Path) -> dict:
    """This environment with its temporary folder at `tmp`, and the child's own SQLite and Redis."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("TEST_DATABASE_URL", "TEST_REDIS_URL", "BENCH_PG_URL") and not key.startswith("PYTEST_")}
    return dict(env, TMPDIR=str(tmp))


@pytest.mark.long
def test_a_test_session_leaves_nothing_outside_its_folders(tmp_path_factory):
    """The session's Redis and a test's own one (test_health) keep every file in the test's folders."""
    tmp, base = tmp_path_factory.mktemp("tmp"), tmp_path_factory.mktemp("b")  # short: a socket's path has 107 bytes
    result = run_command([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={base}",
                          "tests/test_health.py::test_the_outbox_folder_needs_no_mail_server"],
                         without_test_settings(tmp), timeout=300)

    assert result.returncode == 0, result.stdout + result.stderr
    assert list(tmp.iterdir()) == []


@pytest.mark.long
def test_the_bulk_invitation_benchmark_leaves_nothing_behind(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("b")  # short: the benchmark's Redis socket is in a folder below it (107 bytes at most)
    result = run_command([sys.executable, "bench/bulk_invite.py", "--clients", "20", "--rounds", "1", "--posts", "1"],
                         without_test_settings(tmp), timeout=300)

    assert result.returncode == 0, result.stdout + result.stderr
    assert list(tmp.iterdir()) == []
