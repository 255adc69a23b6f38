"""Trial-ending reminders (schedule "trial_reminders"): 7 and 1 days before an active client's trial ends without a
plan, one e-mail to its primary contact (in the contact's language, with the portal's link) and one to its firm contact
(in their interface language), each once; over a real SMTP server, with the test clock, in this process and by two
real workers running the scheduler."""
import functools
from datetime import timedelta

import pytest

from clientdesk import schedule
from clientdesk.jobs.trial_reminders import send_due
from clientdesk.models import AuditEvent, Client, Contact, MailLog, TrialReminder, User, today, utcnow
from tests.servers import SmtpServer, stop_process, wait_for
from tests.test_schedule import finished_runs, move_clock, only_schedule, run_here, start_scheduling_worker

TRIAL = schedule.BY_NAME["trial_reminders"]
CLIENT_SUBJECT = {"fr-BE": "votre période d'essai", "nl-BE": "uw proefperiode", "en-GB": "your ClientDesk trial",
                  "de-BE": "Ihr Testzeitraum"}
FIRM_SUBJECT = {"fr": "L'essai de", "nl": "Proefperiode van", "en": "Trial of", "de": "Testzeitraum von"}


@pytest.fixture
def test_clock(app, monkeypatch):
    monkeypatch.setitem(app.config, "TEST_CLOCK", True)


def in_trial(app, make, store, language="fr-BE", staff_language=None, days=10, **fields):
    """An active client whose trial ends in `days` days, its contact speaking `language`, its firm contact a staff user
    with the interface language `staff_language`."""
    staff = make.user()
    store.update(User, staff.id, ui_language=staff_language)
    with app.app_context():
        trial_end = today() + timedelta(days=days)
    client = make.client(status=fields.pop("status", "active"), trial_end=trial_end, firm_contact_id=staff.id, **fields)
    store.update(Contact, client.contacts[0].id, language=language)
    return client


def addresses(store, client) -> tuple[str, str]:
    client = store.get(Client, client.id)
    return store.one(Contact, client_id=client.id, is_primary=True).email, store.get(User, client.firm_contact_id).email


def reminded(store, client) -> list[tuple[int, str]]:
    return sorted((r.days_before, r.recipient) for r in store.all(TrialReminder, client_id=client.id, status="sent"))


run_reminders = functools.partial(run_here, due=TRIAL, job=send_due)


def test_reminders_at_7_and_1_days_once_each_to_both_in_their_language(app, make, store, smtp, test_clock, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_URL", smtp.url)
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://desk.example.com")
    waiting = in_trial(app, make, store, "nl-BE", "de")
    others = [in_trial(app, make, store, plan_chosen_at=utcnow()),  # chose a plan
              in_trial(app, make, store, status="deactivated"),
              in_trial(app, make, store, status="invited")]

    both = ["client", "firm"]
    for days, expected in [(2, []), (3, [7]), (4, [7]), (9, [1, 7]), (10, [1, 7]), (12, [1, 7])]:
        move_clock(app, days)
        run_reminders(app)
        assert reminded(store, waiting) == [(mark, who) for mark in expected for who in both], f"{days} days on"
    assert all(store.count(TrialReminder, client_id=other.id) == 0 for other in others)

    contact, staff = addresses(store, waiting)
    assert len(smtp.messages) == 4 and sorted(m["To"] for m in smtp.messages) == sorted([contact, staff] * 2)
    to_contact = [m for m in smtp.messages if m["To"] == contact]
    assert all(CLIENT_SUBJECT["nl-BE"] in m["Subject"] for m in to_contact)
    assert all("https://desk.example.com/portal/" in m.get_body(("plain",)).get_content() for m in to_contact)
    assert all(m["Subject"].startswith(FIRM_SUBJECT["de"]) for m in smtp.messages if m["To"] == staff)
    events = store.all(AuditEvent, client_id=waiting.id, action="trial_reminder")
    assert sorted((e.changes["days_before"], e.changes["recipient"]) for e in events) == [(1, "client"), (1, "firm"),
                                                                                       (7, "client"), (7, "firm")]
    assert store.count(MailLog, client_id=waiting.id, kind="trial_reminder", outcome="sent") == 4


def test_two_workers_schedule_at_once_and_each_reminder_goes_out_once(app, app_config, make, store, smtp):
    clients = {(language, staff): in_trial(app, make, store, language, staff)
               for language, staff in [("fr-BE", "nl"), ("en-GB", None), ("de-BE", "fr")]}
    move_clock(app, 3)
    env = only_schedule(TRIAL.name, MAIL_URL=smtp.url, TEST_CLOCK="1")
    workers = [start_scheduling_worker(app_config, **env) for _ in range(2)]
    runs = lambda: finished_runs(store, TRIAL.name)  # noqa: E731
    try:
        with app.app_context():
            wait_for(lambda: len(schedule.running_schedulers()) == 2, timeout=30)
        wait_for(lambda: len(smtp.messages) == 6, timeout=20)
        done = runs()
        wait_for(lambda: runs() >= done + 2, timeout=20)  # more runs: nothing more to send
        move_clock(app, 9)
        wait_for(lambda: len(smtp.messages) == 12, timeout=20)
        done = runs()
        wait_for(lambda: runs() >= done + 2, timeout=20)
    finally:
        for worker in workers:
            stop_process(worker)
    assert [worker.returncode for worker in workers] == [0, 0]
    assert len(smtp.messages) == 12
    for (language, staff_language), client in clients.items():
        contact, staff = addresses(store, client)
        to_contact = [m for m in smtp.messages if m["To"] == contact]
        assert len(to_contact) == 2 and all(CLIENT_SUBJECT[language] in m["Subject"] for m in to_contact)
        to_staff = [m for m in smtp.messages if m["To"] == staff]
        assert len(to_staff) == 2 and all(m["Subject"].startswith(FIRM_SUBJECT[staff_language or "en"]) for m in to_staff)
        assert reminded(store, client) == [(1, "client"), (1, "firm"), (7, "client"), (7, "firm")]


def test_a_refused_reminder_fails_and_is_audited_the_other_goes_out(app, make, store, test_clock, monkeypatch):
    client = in_trial(app, make, store)
    contact, staff = addresses(store, client)
    server = SmtpServer(refuse={contact}).start()
    try:
        monkeypatch.setitem(app.config, "MAIL_URL", server.url)
        move_clock(app, 3)
        assert run_reminders(app) == {"done": 1, "failed": 1}
    finally:
        server.stop()
    assert [m["To"] for m in server.messages] == [staff]
    failed = store.one(TrialReminder, client_id=client.id, recipient="client")
    assert failed.status == "failed" and "550" in failed.error
    assert store.one(AuditEvent, action="trial_reminder_failed").client_id == client.id
    move_clock(app, 4)
    run_reminders(app)  # not tried again
    assert store.count(TrialReminder, client_id=client.id) == 2
