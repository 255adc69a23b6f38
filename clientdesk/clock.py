"""The time scheduled work goes by (naive UTC, as stored), which tests move forward across processes: with the
TEST_CLOCK setting on (never in production), it is the real time plus the seconds stored in Redis under SHIFT_KEY,
so a worker started by a test sees the time the test set, without waiting for it."""
from datetime import datetime, timedelta

from flask import current_app

from .broker import get_redis
from .models import utcnow

SHIFT_KEY = "clientdesk:test-clock-shift"


def now() -> datetime:
    if not current_app.config["TEST_CLOCK"]:
        return utcnow()
    return utcnow() + timedelta(seconds=float(get_redis().get(SHIFT_KEY) or 0))

