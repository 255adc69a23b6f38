"""Scheduled work: RQ's cron scheduler in real workers (two at once: each run happens once), invitation reminders sent
once per day mark in the contact's language over a real SMTP server, time moved forward by the test clock (clock.py),
and the admins' Schedule page with "Run now"."""
import functools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rq.cron import CronScheduler, get_cron_job_ids
from rq.job import Job

from clientdesk import clock, config, schedule
from clientdesk.broker import get_redis
from clientdesk.extensions import db
from clientdesk.jobs.reminders import retry_due, run_retry, send_due
from clientdesk.models import AuditEvent, Client, Contact, Invitation, InvitationReminder, InvitationStatus, Task, utcnow
from clientdesk.models.invitation import hash_token
from tests.servers import FLASK, SmtpServer, start_process, start_worker, stop_process, wait_for, worker_env
from tests.test_lifecycle import token_of

DAY = 24 * 3600
REMINDERS = schedule.BY_NAME["invitation_reminders"]
SUBJECT_START = {"fr-BE": "Rappel :", "nl-BE": "Herinnering:", "en-GB": "Reminder:"}


def invited(app, make, store, language="fr-BE", status=InvitationStatus.SENT, client_status="invited", role=None):
    """A client invited (its invitation's e-mail `status`, valid 21 days from now), its contact speaking `language`;
    with a `role`, a colleague's invitation to its second contact."""
    acme = make.client(status=client_status, contacts=2 if role else 1)
    store.update(Contact, acme.contacts[0].id, language=language)
    with app.app_context():
        [invitation] = Invitation.issue_many([db.session.get(Client, acme.id)], Invitation.valid_until())
        if role:
            invitation.role, invitation.contact_id = role, acme.contacts[1].id
        invitation.status = status.value
        invitation.sent_at = utcnow() if status != InvitationStatus.PENDING else None
        db.session.commit()
        return store.get(Invitation, invitation.id)


def move_clock(app, days: float) -> None:
    """Scheduled work's time: `days` from now (TEST_CLOCK)."""
    with app.app_context():
        get_redis().set(clock.SHIFT_KEY, days * DAY)


def reminded(store, invitation) -> list[int]:
    return sorted(r.days_before for r in store.all(InvitationReminder, invitation_id=invitation.id, status="sent"))


@pytest.fixture
def test_clock(app, monkeypatch):
    monkeypatch.setitem(app.config, "TEST_CLOCK", True)


def run_here(app, due: schedule.Schedule, job) -> dict:
    """A run of `due` in this process, as the worker runs its job (`job`: the run's function, called with its task)."""
    with app.app_context():
        task = schedule.launch_run(due, utcnow())
        result = job(task.id)
        db.session.remove()
    return result


def only_schedule(name: str, **env) -> dict:
    """A scheduling worker's settings: schedule `name` every second, every other one off, and `env`."""
    return {**{other.setting: schedule.OFF for other in schedule.SCHEDULES}, schedule.BY_NAME[name].setting: "* * * * * *",
            **env}


run_reminders = functools.partial(run_here, due=REMINDERS, job=send_due)


def test_reminders_at_7_and_2_days_once_each_and_only_of_open_invitations(app, make, store, smtp, test_clock, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_URL", smtp.url)
    waiting = invited(app, make, store, "nl-BE")
    others = [invited(app, make, store, status=InvitationStatus.ACCEPTED, client_status="active"),
              invited(app, make, store, status=InvitationStatus.VOIDED),
              invited(app, make, store, status=InvitationStatus.PENDING),  # its e-mail is still being sent
              invited(app, make, store, client_status="active", role="member")]  # a colleague's, not the company's

    for days, expected in [(13, []), (14.1, [7]), (14.2, [7]), (19.1, [2, 7]), (20.9, [2, 7]), (21.1, [2, 7])]:
        move_clock(app, days)
        run_reminders(app)
        assert reminded(store, waiting) == expected, f"{days} days on"
    assert all(store.count(InvitationReminder, invitation_id=other.id) == 0 for other in others)

    assert len(smtp.messages) == 2 and {m["To"] for m in smtp.messages} == {store.one(Contact, id=waiting.contact_id).email}
    assert all(m["Subject"].startswith("Herinnering:") and hash_token(token_of(m)) == waiting.token_hash for m in smtp.messages)
    assert store.get(Invitation, waiting.id).status == "sent"  # the link is the same one, still open
    events = store.all(AuditEvent, client_id=waiting.client_id, action="reminder")
    assert [e.changes["days_before"] for e in events] == [7, 2]


def test_after_a_long_pause_one_reminder_not_one_per_mark(app, make, store, smtp, test_clock, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_URL", smtp.url)
    waiting = invited(app, make, store)
    move_clock(app, 20)
    run_reminders(app)
    assert reminded(store, waiting) == [2] and len(smtp.messages) == 1


def test_a_refused_reminder_fails_and_is_audited_a_passing_failure_is_tried_again(app, make, store, test_clock,
                                                                                 monkeypatch):
    refused, deferred = invited(app, make, store), invited(app, make, store)
    refused_to, deferred_to = (store.one(Contact, id=i.contact_id).email for i in (refused, deferred))
    server = SmtpServer(refuse={refused_to}, defer={deferred_to}).start()
    try:
        monkeypatch.setitem(app.config, "MAIL_URL", server.url)
        monkeypatch.setitem(app.config, "MAIL_RETRY_DELAYS", ())
        move_clock(app, 14.1)
        assert run_reminders(app) == {"done": 0, "retrying": 1, "failed": 1}
        [failed] = store.all(InvitationReminder, invitation_id=refused.id)
        assert failed.status == "failed" and "550" in failed.error
        assert store.one(AuditEvent, action="reminder_failed").client_id == refused.client_id
        [waiting] = store.all(InvitationReminder, invitation_id=deferred.id)
        assert waiting.status == "pending" and waiting.retry_at is not None

        server.defer.clear()
        store.update(InvitationReminder, waiting.id, retry_at=utcnow())
        with app.app_context():
            assert retry_due() == 1
            task = db.session.scalar(db.select(Task).where(Task.kind == "invitation_reminder_retry"))
            run_retry(task.id, [waiting.id])
            db.session.remove()
    finally:
        server.stop()
    assert store.get(InvitationReminder, waiting.id).status == "sent"
    assert [m["To"] for m in server.messages] == [deferred_to]


def test_one_run_per_schedule_and_due_time():
    due = datetime(2026, 12, 7, 22, 0, tzinfo=UTC)
    assert schedule.due_time("0 * * * *", due) == due  # enqueued on the dot
    assert schedule.due_time("0 * * * *", due + timedelta(seconds=3)) == due
    assert schedule.due_time("0 * * * *", due - timedelta(microseconds=1)) == due - timedelta(hours=1)


def test_a_run_is_launched_once_per_due_time(app):
    due = utcnow().replace(microsecond=0)
    with app.app_context():
        first = schedule.launch_run(REMINDERS, due)
        assert first is not None and schedule.launch_run(REMINDERS, due) is None
        assert schedule.launch_run(REMINDERS, due + timedelta(seconds=1)) is not None
        assert db.session.scalar(db.select(db.func.count(Task.id))) == 2


@pytest.mark.parametrize("name, value", [("SCHEDULE_VAT_RECHECK", "every night"), ("INVITATION_REMINDER_DAYS", "7,two")])
def test_a_mistyped_setting_stops_the_start(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(config.ConfigError, match=name):
        config.from_environment(debug=False, testing=True)


def start_scheduling_worker(app_config, fresh=False, **env):
    """`flask worker --with-scheduler` forked (tests/servers.py), or `fresh`: with a new interpreter, as an operator
    starts it."""
    if not fresh:
        return start_worker(app_config, "--with-scheduler", **env)
    log = Path(app_config["INSTANCE_PATH"]) / "worker.log"
    return start_process([*FLASK, "worker", "--with-scheduler"], worker_env(app_config, **env), log)


def finished_runs(store, name: str = REMINDERS.name) -> int:
    return store.count(Task, schedule=name, status="finished")


def test_two_workers_schedule_at_once_and_each_reminder_goes_out_once_in_the_contacts_language(app, app_config, make,
                                                                                             store, smtp):
    languages = ("fr-BE", "nl-BE", "en-GB")
    invitations = {language: invited(app, make, store, language) for language in languages}
    move_clock(app, 14.1)  # a week less an hour and a bit before they expire
    # The reminders every second, the rest off: two schedulers enqueue each run, the runs overlap on two workers.
    env = only_schedule(REMINDERS.name, MAIL_URL=smtp.url, TEST_CLOCK="1")
    workers = [start_scheduling_worker(app_config, fresh=True, **env), start_scheduling_worker(app_config, **env)]
    try:
        with app.app_context():
            wait_for(lambda: len(schedule.running_schedulers()) == 2, timeout=30)
        wait_for(lambda: len(smtp.messages) == 3, timeout=20)
        runs = finished_runs(store)
        wait_for(lambda: finished_runs(store) >= runs + 2, timeout=20)  # more runs: nothing more to send
        move_clock(app, 19.1)
        wait_for(lambda: len(smtp.messages) == 6, timeout=20)
        runs = finished_runs(store)
        wait_for(lambda: finished_runs(store) >= runs + 2, timeout=20)
    finally:
        for worker in workers:
            stop_process(worker)
    assert [worker.returncode for worker in workers] == [0, 0]  # stopped by SIGTERM, scheduler and all
    assert len(smtp.messages) == 6
    for language, invitation in invitations.items():
        to = store.one(Contact, id=invitation.contact_id).email
        messages = [m for m in smtp.messages if m["To"] == to]
        assert len(messages) == 2 and all(m["Subject"].startswith(SUBJECT_START[language]) for m in messages)
        assert {hash_token(token_of(m)) for m in messages} == {invitation.token_hash}
        assert reminded(store, invitation) == [2, 7]
    with app.app_context():
        redis = get_redis()
        # Both schedulers enqueued runs, and the second job of a due time found it taken.
        fired = [Job.fetch(job_id, connection=redis) for job_id in get_cron_job_ids(REMINDERS.name, redis)]
        outcomes = [job.return_value() for job in fired if job.get_status() == "finished"]
        assert None in outcomes and len(set(outcomes) - {None}) == len([o for o in outcomes if o is not None])
        assert CronScheduler.all(redis, cleanup=False) == []  # a stopped worker's scheduler said goodbye
