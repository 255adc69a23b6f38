"""`flask dev` (what `make run` runs): where it serves, and how it stops."""
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from clientdesk import config
from clientdesk.cli import dev_command
from tests.servers import ROOT, free_port, wait_for


def test_links_in_emails_point_where_make_run_serves(tmp_path, monkeypatch):
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    served = {option.name: option.default for option in dev_command.params}

    assert config.from_environment(debug=False, testing=True)["PUBLIC_BASE_URL"] == f"http://{served['host']}:{served['port']}"


def running_in_group(group: int) -> dict[int, str]:
    """pid -> command line of the live (not zombie) processes of a process group."""
    members = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[2]) == group:
                members[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    return members


def ignore_sigint() -> None:
    """What a shell does to a script's background job: it starts with SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.long
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_dev_started_without_a_terminal_stops_web_worker_and_redis(tmp_path, stop):
    instance, port = tmp_path / "instance", free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "DATABASE_URL", "SECRET_KEY")}
    env.update(INSTANCE_PATH=str(instance), FLASK_DEBUG="1")  # as `make run`
    log = tmp_path / "dev.log"
    with open(log, "wb") as output:
        dev = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "dev", "--port", str(port), "--demo-clients", "3"],
                               cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                               start_new_session=True, preexec_fn=ignore_sigint)
    try:
        wait_for(lambda: "Running on" in log.read_text() and "Listening on" in log.read_text(), timeout=120)
        commands = running_in_group(dev.pid).values()
        assert any(" dev " in c for c in commands) and any(c.endswith(" worker --with-scheduler ") for c in commands)
        assert any("redis-server" in c for c in commands)

        dev.send_signal(stop)

        wait_for(lambda: not running_in_group(dev.pid), timeout=60)
        assert dev.wait() == 0
        leftovers = [p.relative_to(instance) for p in instance.rglob("*") if p.suffix in (".sock", ".pid")]
        assert leftovers == []
    except AssertionError:
        print(log.read_text()[-5000:], running_in_group(dev.pid))
        raise
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(dev.pid, signal.SIGKILL)
        dev.wait()
