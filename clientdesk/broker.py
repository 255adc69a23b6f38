"""Redis for the app: a real server when REDIS_URL is set, else the instance's embedded one
(services/embedded_redis.py).

One client per process and app, created under a lock (request threads share it; redis-py's pool is
thread-safe). It reconnects by itself after a Redis restart; an embedded server that has gone (the process
that ran it ended) is started again by whoever needs it next.
"""
import os
import threading

import redis
from flask import Flask, current_app
from rq import Queue

QUEUE_NAMES = ("default", "mail", "bulk")

_lock = threading.RLock()


def _embedded(app: Flask):
    from .services.embedded_redis import EmbeddedRedis

    with _lock:
        return app.extensions.setdefault("clientdesk.embedded_redis", EmbeddedRedis(app.config["INSTANCE_PATH"]))


def redis_url(app: Flask | None = None) -> str:
    app = app or current_app
    return app.config["REDIS_URL"] or _embedded(app).ensure_running()


def get_redis(app: Flask | None = None) -> redis.Redis:
    """The app's Redis client (its connections are opened lazily; after a fork, the child makes its own)."""
    app = app or current_app
    if not app.config["REDIS_URL"] and not _embedded(app).socket.exists():
        _embedded(app).ensure_running()  # its process ended: start it again
    with _lock:
        client, pid = app.extensions.get("clientdesk.redis", (None, None))
        if pid != os.getpid():
            client = redis.Redis.from_url(redis_url(app), socket_connect_timeout=2, socket_timeout=10,
                                          health_check_interval=30)
            app.extensions["clientdesk.redis"] = (client, os.getpid())
    return client


def get_queue(name: str = "default", app: Flask | None = None) -> Queue:
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=get_redis(app))


def redis_is_up(app: Flask | None = None) -> bool:
    try:
        return bool(get_redis(app).ping())
    except (redis.RedisError, OSError):
        return False
