"""When an outside effect that failed for a passing reason (mail server, Peppol access point, a client's
server) is tried again: after growing delays, for DELIVERY_RETRY_HOURS (24 by default), then it is failed.

The in-process retries of MAIL_RETRY_DELAYS (seconds) come first, within one attempt; these are the
attempts after it, each scheduled on the row (`retry_at`) and started by the reconciler.
"""
from datetime import datetime, timedelta

from flask import current_app

from .models import utcnow

# Minutes after the first, second, ... failed attempt; the last delay repeats until the window ends.
DELAYS_MINUTES = (1, 5, 15, 30, 60, 120)


def next_attempt(first_failed_at: datetime, attempts: int, now: datetime | None = None) -> datetime | None:
    """When to try again after `attempts` failed attempts (the first at `first_failed_at`), or None when the
    retry window is over and the effect is to be marked failed for good."""
    now = now or utcnow()
    at = now + timedelta(minutes=DELAYS_MINUTES[min(max(attempts, 1), len(DELAYS_MINUTES)) - 1])
    deadline = first_failed_at + timedelta(hours=current_app.config["DELIVERY_RETRY_HOURS"])
    return at if at <= deadline else None
