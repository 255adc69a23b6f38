"""Sign-in throttling: failed attempts slow down the address they come from and the account (e-mail) they name,
known or not, never locking it. Accounts are counted per realm (signin.py: staff, portal), addresses across both.

Each setting is a list of tiers in the notation of the `limits` library, e.g. "5/minute;10/15 minutes;20/hour":
past a tier, attempts wait until that tier's window has room, so the wait grows the more attempts fail (a
minute, then a quarter of an hour, then an hour...). An account's tiers do not hold back an attempt from one of
its usual addresses (where it signed in within USUAL_ADDRESS_DAYS): someone failing from elsewhere slows down
their own attempts, not the real user's; that address's own tiers still apply.

The counts are kept in Redis, shared by every web process. While Redis does not answer they are kept in this
process's memory instead (and a warning logged): sign-in keeps working and is still throttled, per process,
with no usual addresses known.
"""
import logging
import math
import time

import redis
from flask import current_app
from limits import parse_many
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter

from .broker import get_redis
from .config import ConfigError

log = logging.getLogger(__name__)

SETTINGS = ("LOGIN_LIMITS_PER_ADDRESS", "LOGIN_LIMITS_PER_ACCOUNT")
USUAL_ADDRESS_DAYS = 90

_in_memory = MovingWindowRateLimiter(MemoryStorage())


def init_app(app) -> None:
    """Refuse a setting the `limits` notation cannot read, at start-up rather than at the first sign-in."""
    for name in SETTINGS:
        try:
            parse_many(app.config[name])
        except ValueError:
            raise ConfigError(f"{name} must be limits such as '5/minute;20/hour' (it is {app.config[name]!r}).") from None


def _usual_addresses_key(realm: str, email: str) -> str:
    return f"login:usual-addresses:{realm}:{email}"


class _Counts:
    """The tiers and counts of one attempt, in Redis (`client`) or, without it, in this process's memory."""

    def __init__(self, realm: str, email: str, address: str, client: redis.Redis | None):
        config = current_app.config
        self.realm, self.email, self.address, self.client = realm, email, address, client
        storage = RedisStorage("redis://", connection_pool=client.connection_pool) if client is not None else None
        self.limiter = MovingWindowRateLimiter(storage) if storage is not None else _in_memory
        self.tiers = [(limit, ("login-address", address)) for limit in parse_many(config["LOGIN_LIMITS_PER_ADDRESS"])]
        self.tiers += [(limit, ("login-account", realm, email)) for limit in parse_many(config["LOGIN_LIMITS_PER_ACCOUNT"])]

    def from_usual_address(self) -> bool:
        if self.client is None:
            return False
        signed_in_at = self.client.zscore(_usual_addresses_key(self.realm, self.email), self.address)
        return signed_in_at is not None and signed_in_at > time.time() - USUAL_ADDRESS_DAYS * 86400

    def wait_seconds(self) -> int:
        usual = self.from_usual_address()
        waits = [0]
        for limit, key in self.tiers:
            if (key[0] == "login-account" and usual) or self.limiter.test(limit, *key):
                continue
            reset_at = self.limiter.get_window_stats(limit, *key).reset_time
            waits.append(max(1, math.ceil(reset_at - time.time())))
        return max(waits)

    def failed(self) -> None:
        for limit, key in self.tiers:
            self.limiter.hit(limit, *key)

    def succeeded(self) -> None:
        if self.client is not None:
            key = _usual_addresses_key(self.realm, self.email)
            cutoff = time.time() - USUAL_ADDRESS_DAYS * 86400
            self.client.pipeline().zadd(key, {self.address: time.time()}).zremrangebyscore(key, "-inf", cutoff) \
                .expire(key, USUAL_ADDRESS_DAYS * 86400).execute()


def _counted(realm: str, email: str, address: str, step):
    try:
        return step(_Counts(realm, email, address, get_redis()))
    except (redis.RedisError, OSError) as error:
        log.warning("Redis unavailable, sign-in attempts are counted in this process only: %s", error)
        return step(_Counts(realm, email, address, None))


def wait_seconds(realm: str, email: str, address: str) -> int:
    """Seconds before an attempt to sign in to `realm` as `email` from `address` is heard; 0: now."""
    return _counted(realm, email, address, _Counts.wait_seconds)


def record_failure(realm: str, email: str, address: str) -> None:
    _counted(realm, email, address, _Counts.failed)


def record_success(realm: str, email: str, address: str) -> None:
    """`address` becomes one of the account's usual addresses."""
    _counted(realm, email, address, _Counts.succeeded)
