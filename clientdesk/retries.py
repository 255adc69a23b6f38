"""When an outside effect that failed for a passing reason (mail server, Peppol access point, a client's
server) is tried again: after growing delays, for DELIVERY_RETRY_HOURS (24 by default), then it is failed.

The in-process retries of MAIL_RETRY_DELAYS (seconds) come first, within one attempt; these are the
attempts after it, each scheduled on the row (`retry_at`) and started by the reconciler (`start_due`).
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from .errors import QueueUnavailable
from .extensions import db
from .models import utcnow

# Minutes after the first, second, ... failed attempt; the last delay repeats until the window ends.
DELAYS_MINUTES = (0.5, 2, 5, 15, 30, 60, 120)
CLAIM_MINUTES = 15  # how long a started retry may take before its rows are taken for lost and started again


def next_attempt(first_failed_at: datetime, attempts: int, now: datetime | None = None) -> datetime | None:
    """When to try again after `attempts` failed attempts (the first at `first_failed_at`), or None when the
    retry window is over and the effect is to be marked failed for good."""
    now = now or utcnow()
    at = now + timedelta(minutes=DELAYS_MINUTES[min(max(attempts, 1), len(DELAYS_MINUTES)) - 1])
    deadline = first_failed_at + timedelta(hours=current_app.config["DELIVERY_RETRY_HOURS"])
    return at if at <= deadline else None


@dataclass(frozen=True)
class AfterFailure:
    """A row's retry bookkeeping after one more failed attempt; `retry_at` None: failed for good."""

    first_failed_at: datetime
    failed_attempts: int
    retry_at: datetime | None


def after_failure(first_failed_at: datetime | None, failed_attempts: int, transient: bool,
                  now: datetime | None = None) -> AfterFailure:
    """A passing failure is tried again while the window lasts; any other failure is final at once."""
    now = now or utcnow()
    first_failed_at = first_failed_at or now
    failed_attempts += 1
    return AfterFailure(first_failed_at, failed_attempts, next_attempt(first_failed_at, failed_attempts, now) if transient else None)


def start_due(model, retry_at, launch) -> int:
    """Claim the rows of `model` whose `retry_at` column has passed and `launch(ids)` one task for them, which commits
    the claim with its Task row. Returns how many rows were started. The claim is a lease: `retry_at` moves
    CLAIM_MINUTES ahead, and the task replaces it with the attempt's outcome (cleared, or the next attempt); should
    the task never get there, the rows are due again when the lease ends. When the queue cannot take the task,
    nothing is claimed and QueueUnavailable is raised."""
    now = utcnow()
    ids = sorted(db.session.scalars(sa.update(model).where(retry_at <= now)
                                     .values({retry_at: now + timedelta(minutes=CLAIM_MINUTES)})
                                     .returning(model.id).execution_options(synchronize_session=False)))
    if not ids:
        db.session.rollback()
        return 0
    try:
        launch(ids)
    except QueueUnavailable:
        db.session.rollback()
        raise
    return len(ids)
