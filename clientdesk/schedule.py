"""Work that runs by itself, on RQ's cron scheduler (rq.cron), which `flask worker --with-scheduler` runs beside its jobs.

SCHEDULES is the one list: what each schedule does, the setting that holds when it runs (a cron expression, UTC, or
"off") with its default, and the job of its runs. When a schedule is due, the scheduler enqueues `fire(name, ...)`;
that job launches the run as a normal task (tasks.launch: progress, retries, its page), keyed by the schedule and the
time the run was due. The key is unique: when two schedulers run (two workers started with the scheduler), both
enqueue the run, and the job that comes second finds it taken and does nothing.
"""
import logging
import pkgutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from croniter import croniter
from flask import Flask, current_app
from flask_babel import LazyString, gettext as _, lazy_gettext as _l
from redis.exceptions import RedisError
from rq import get_current_job
from rq.cron import CronScheduler
from rq.exceptions import SchedulerNotFound
from sqlalchemy.exc import IntegrityError

from . import tasks
from .broker import get_redis
from .extensions import db
from .models import Task, TaskKind, TaskStatus, utcnow

log = logging.getLogger(__name__)

OFF = "off"
RETRY_SECONDS = 5  # after Redis did not answer the scheduler


@dataclass(frozen=True)
class Schedule:
    name: str
    title: LazyString
    setting: str  # the environment variable (and app setting) that holds its cron expression
    default: str
    kind: TaskKind  # its runs' tasks
    job: str  # "module:function" of its runs, called with the task's id
    describe: Callable[[dict], str]  # what it does, in plain words (the interface's language), from the app's settings

    def expression(self, config) -> str | None:
        """Its cron expression, None when it is off."""
        value = config.get(self.setting, self.default)
        return None if value == OFF else value


SCHEDULES = (
    Schedule("invitation_reminders", _l("Invitation reminders"), "SCHEDULE_INVITATION_REMINDERS", "0 * * * *",
             TaskKind.INVITATION_REMINDERS, "clientdesk.jobs.reminders:send_due", lambda config: _(
                 "E-mails a reminder, with the same link, to the contact of each invitation that expires in %(days)s days "
                 "(INVITATION_REMINDER_DAYS): once per invitation and per reminder, in the contact's language.",
                 days=", ".join(str(days) for days in sorted(config["INVITATION_REMINDER_DAYS"], reverse=True)))),
    Schedule("vat_recheck", _l("VAT re-check"), "SCHEDULE_VAT_RECHECK", "30 2 * * *", TaskKind.VAT_RECHECK,
             "clientdesk.jobs.register:recheck_vat", lambda config: _(
                 "Looks up the clients entered with “don't verify VAT” in the company register: those it now knows "
                 "are unmarked, the others stay flagged.")),
    Schedule("purge_imports", _l("Import file purge"), "SCHEDULE_PURGE_IMPORTS", "0 3 * * *", TaskKind.PURGE_IMPORTS,
             "clientdesk.jobs.imports:purge_files", lambda config: _(
                 "Deletes the uploaded files of the imports older than %(days)d days (IMPORT_FILES_KEEP_DAYS); the "
                 "imports' records stay.", days=config["IMPORT_FILES_KEEP_DAYS"])),
    Schedule("trial_reminders", _l("Trial-ending reminders"), "SCHEDULE_TRIAL_REMINDERS", "0 8 * * *",
             TaskKind.TRIAL_REMINDERS, "clientdesk.jobs.trial_reminders:send_due", lambda config: _(
                 "E-mails the primary contact and the firm contact of each active client without a plan whose trial ends "
                 "in %(days)s days (TRIAL_REMINDER_DAYS): once per client and per reminder, each in their language.",
                 days=", ".join(str(days) for days in sorted(config["TRIAL_REMINDER_DAYS"], reverse=True)))),
    Schedule("notification_digest", _l("Notification digest"), "SCHEDULE_NOTIFICATION_DIGEST", "0 7 * * *",
             TaskKind.NOTIFICATION_DIGEST, "clientdesk.jobs.notification_digest:send_due", lambda config: _(
                 "E-mails each user who chose a daily e-mail their notifications of the last day not e-mailed yet, "
                 "in their language: each notification at most once.")),
    Schedule("kbo_updates", _l("Company register updates"), "SCHEDULE_KBO_UPDATES", "15 6 * * *", TaskKind.KBO_UPDATES,
             "clientdesk.jobs.register:load_updates", lambda config: _(
                 "Loads the KBO/BCE extracts waiting in %(folder)s (KBO_INBOX_DIR), in extract-number order, moving "
                 "each to done/ (or failed/, with the reason); clients whose name, seat address or status changed in "
                 "the register are flagged for review.", folder=config["KBO_INBOX_DIR"] or _("no folder configured"))),
)
BY_NAME = {schedule.name: schedule for schedule in SCHEDULES}


def cron_expression(setting: str, value: str) -> str:
    """A schedule's setting as given (`off`, or a cron expression of 5 fields, or 6 with seconds last); ValueError
    otherwise."""
    value = " ".join(value.split())
    if value != OFF and not croniter.is_valid(value):
        raise ValueError(f"{setting} must be a cron expression (e.g. '0 * * * *': every hour, in UTC) or {OFF!r} "
                         f"(it is {value!r}).")
    return value


def due_time(expression: str, at: datetime) -> datetime:
    """The time of `expression` that a run enqueued at `at` (aware) is for: its latest time at or before `at`."""
    return croniter(expression, at + timedelta(microseconds=1)).get_prev(datetime)


def next_time(expression: str, after: datetime | None = None) -> datetime:
    """When `expression` is next due (naive UTC)."""
    after = (after or utcnow()).replace(tzinfo=UTC)
    return croniter(expression, after).get_next(datetime).replace(tzinfo=None)


def latest_run(schedule: Schedule) -> Task | None:
    return db.session.scalar(sa.select(Task).where(Task.schedule == schedule.name).order_by(Task.scheduled_for.desc())
                             .limit(1))


def launch_run(schedule: Schedule, due: datetime, user=None) -> Task | None:
    """Launch the run of `schedule` due at `due` (naive UTC); None when that run was launched already."""
    func = pkgutil.resolve_name(schedule.job)
    try:
        return tasks.launch(schedule.kind, str(schedule.kind.label), func, user=user, schedule=schedule.name,
                            scheduled_for=due)
    except IntegrityError:
        db.session.rollback()
        if db.session.scalar(sa.select(Task.id).where(Task.schedule == schedule.name, Task.scheduled_for == due)) is None:
            raise  # not the key: something else
        return None


def fire(name: str, expression: str) -> str | None:
    """The job the scheduler enqueues when the schedule `name` is due (by `expression`, as the scheduler had it): launches
    the run; returns its task id, None when another scheduler's job launched it first."""
    due = due_time(expression, get_current_job().enqueued_at).replace(tzinfo=None)
    task = launch_run(BY_NAME[name], due)
    if task is None:
        log.info("%s due at %s: launched already (by another scheduler)", name, due)
        return None
    return task.id


class AlreadyRunning(Exception):
    pass


def run_now(schedule: Schedule, user) -> Task:
    """A run of `schedule` at once, by `user`; AlreadyRunning while one has not ended (a second press adds nothing),
    tasks.QueueUnavailable while Redis is down."""
    unfinished = sa.select(Task.id).where(Task.schedule == schedule.name,
                                          Task.status.in_([TaskStatus.QUEUED.value, TaskStatus.STARTED.value]))
    if db.session.scalar(unfinished.limit(1)) is not None:
        raise AlreadyRunning()
    task = launch_run(schedule, utcnow().replace(microsecond=0), user=user)  # a second press in the same second: taken
    if task is None:
        raise AlreadyRunning()
    return task


def cron_scheduler(app: Flask, name: str) -> CronScheduler:
    """RQ's cron scheduler with a cron job per schedule that is not off."""
    scheduler = CronScheduler(connection=get_redis(app), name=name)
    for schedule in SCHEDULES:
        expression = schedule.expression(app.config)
        if expression is not None:
            scheduler.register(fire, "default", args=(schedule.name, expression), cron=expression, name=schedule.name,
                               result_ttl=86400)
    return scheduler


def run_scheduler(app: Flask, name: str, ended: threading.Event) -> None:
    """RQ's CronScheduler.start() as a thread of a worker, until `ended`: start() would install signal handlers (the
    main thread's, the worker's) and sleep past a stop. What is due and how long to wait are RQ's; its heartbeat
    registers the scheduler again after a Redis restart (rq:cron_schedulers, which the Schedule page reads)."""
    scheduler = cron_scheduler(app, name)
    try:
        while not ended.is_set():
            try:
                scheduler.connection = get_redis(app)  # an embedded Redis that ended is started again
                if scheduler.enqueue_jobs():
                    scheduler.save()
                scheduler.heartbeat()
                wait = scheduler.calculate_sleep_interval()
            except (RedisError, OSError) as error:
                log.warning("scheduler: %s (trying again in %d s)", error, RETRY_SECONDS)
                wait = RETRY_SECONDS
            except Exception:  # a bug here must not end the scheduling for as long as the worker runs
                log.exception("scheduler")
                wait = RETRY_SECONDS
            ended.wait(wait)
    finally:
        try:
            scheduler.register_death()
        except (RedisError, OSError, SchedulerNotFound) as error:  # its entry in the registry expires by itself
            log.warning("scheduler: not unregistered (%s)", error)


def running_schedulers(app: Flask | None = None) -> list[str]:
    """The names of the schedulers that beat recently."""
    return [scheduler.name for scheduler in CronScheduler.all(get_redis(app or current_app))]
