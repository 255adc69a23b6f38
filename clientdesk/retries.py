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
    """Claim the rows of `model` whose `retry_at` column has passed (cleared, so that a second call does not start
    them again) and `launch(ids)` one task for them, which commits the claim with its Task row. Returns how many
    rows were started. When the queue cannot take the task, the rows stay due and QueueUnavailable is raised."""
    now = utcnow()
    ids = sorted(db.session.scalars(sa.update(model).where(retry_at <= now).values({retry_at: None})
                                     .returning(model.id).execution_options(synchronize_session=False)))
    if not ids:
        db.session.rollback()
        return 0
    try:
        launch(ids)
    except QueueUnavailable:
        db.session.rollback()  # the claim, unless the task row was committed before the queue refused it:
        db.session.execute(sa.update(model).where(model.id.in_(ids), retry_at.is_(None)).values({retry_at: now})
                           .execution_options(synchronize_session=False))
        db.session.commit()
        raise
    return len(ids)
