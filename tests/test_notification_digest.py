"""The daily notification digest (schedule "notification_digest"): one e-mail to each active user who chose it, with
their notifications of the last day, in their language, each notification at most once; over a real SMTP server, in
this process and by two real workers running the scheduler."""
import functools
from datetime import timedelta

import pytest

from clientdesk import notifications, schedule
from clientdesk.extensions import db
from clientdesk.jobs.notification_digest import send_due
from clientdesk.models import Client, MailLog, Notification, Task, User, utcnow
from tests.servers import SmtpServer, stop_process, wait_for
from tests.test_schedule import finished_runs, only_schedule, run_here, start_scheduling_worker

DIGEST = schedule.BY_NAME["notification_digest"]


@pytest.fixture
def people(make, store):
    """Users who chose the digest (French), both (Dutch, outside the client's group), the bell, and a deactivated one
    who chose the digest; all users to notify of one client of North, which has a notification for each."""
    north, south = make.group("North"), make.group("South")
    users = {"digest": make.user(groups=[north]), "both": make.user(groups=[south]), "bell": make.user(groups=[north]),
             "gone": make.user(groups=[north])}
    for name, language, notify_by in [("digest", "fr", "digest"), ("both", "nl", "both"), ("bell", None, "bell"),
                                      ("gone", None, "digest")]:
        store.update(User, users[name].id, ui_language=language, notify_by=notify_by)
    client = make.client(north, name="Digest BV")

    def watch(s):
        s.get(Client, client.id).watchers = [s.get(User, user.id) for user in users.values()]

    store.run(watch)
    return users | {"client": client}


def notify(app, client, change: str) -> None:
    with app.app_context():
        row = db.session.get(Client, client.id)
        for user in row.watchers:  # the deactivated user as well: they chose the digest before they left
            notifications.notify("documents_undelivered", [user], client=row, count=1, reason=change)
        db.session.commit()


run_digest = functools.partial(run_here, due=DIGEST, job=send_due)


def test_each_digest_user_gets_the_last_days_notifications_once_in_their_language(app, people, store, smtp, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_URL", smtp.url)
    store.update(User, people["gone"].id, active=False)
    notify(app, people["client"], "new address")
    old = store.one(Notification, user_id=people["digest"].id)
    store.run(lambda s: s.add(Notification(user_id=people["digest"].id, kind="documents_undelivered",
                                           client_id=people["client"].id, params_json='{"count": 1, "reason": "last week"}',
                                           created_at=utcnow() - timedelta(days=2))))

    assert run_digest(app) == {"done": 2, "failed": 0}
    by_address = {message["To"]: message for message in smtp.messages}
    assert set(by_address) == {people["digest"].email, people["both"].email}
    french = by_address[people["digest"].email]
    body = smtp.text_of(french)
    assert french["Subject"] == "ClientDesk : 1 notification"
    assert "Digest BV" in body and "new address" in body and "last week" not in body
    assert "http://clientdesk.test/admin/notifications/" in body
    dutch = smtp.text_of(by_address[people["both"].email])
    assert by_address[people["both"].email]["Subject"] == "ClientDesk: 1 melding"
    assert "Digest BV" not in dutch and "een klant buiten uw groepen" in dutch  # South does not see the client
    assert store.get(Notification, old.id).emailed_at is not None
    assert store.one(Notification, user_id=people["bell"].id).emailed_at is None
    assert store.count(MailLog, kind="notification_digest", outcome="sent") == 2

    assert run_digest(app) == {"done": 0, "failed": 0}
    notify(app, people["client"], "new name")
    assert run_digest(app) == {"done": 2, "failed": 0}
    assert len(smtp.messages) == 4 and "new address" not in smtp.text_of(smtp.messages[-1])


def test_a_refused_digest_gives_its_notifications_back_for_the_next_run(app, people, store, monkeypatch):
    store.update(User, people["gone"].id, active=False)
    notify(app, people["client"], "new address")
    server = SmtpServer(refuse={people["digest"].email}).start()
    try:
        monkeypatch.setitem(app.config, "MAIL_URL", server.url)
        assert run_digest(app) == {"done": 1, "failed": 1}
    finally:
        server.stop()
    assert store.one(Notification, user_id=people["digest"].id).emailed_at is None
    assert "could not be sent" in store.all(Task)[-1].error
    assert store.count(MailLog, kind="notification_digest", outcome="refused") == 1
    server = SmtpServer().start()
    try:
        monkeypatch.setitem(app.config, "MAIL_URL", server.url)
        assert run_digest(app) == {"done": 1, "failed": 0}
    finally:
        server.stop()
    assert [message["To"] for message in server.messages] == [people["digest"].email]


def test_two_workers_schedule_at_once_and_each_notification_is_e_mailed_once(app, app_config, people, store, smtp):
    store.update(User, people["gone"].id, active=False)
    notify(app, people["client"], "new address")
    env = only_schedule(DIGEST.name, MAIL_URL=smtp.url)
    workers = [start_scheduling_worker(app_config, **env) for _ in range(2)]
    runs = lambda: finished_runs(store, DIGEST.name)  # noqa: E731
    try:
        with app.app_context():
            wait_for(lambda: len(schedule.running_schedulers()) == 2, timeout=30)
        wait_for(lambda: len(smtp.messages) == 2, timeout=20)
        done = runs()
        wait_for(lambda: runs() >= done + 2, timeout=20)  # more runs: nothing more to send
        notify(app, people["client"], "new name")
        wait_for(lambda: len(smtp.messages) == 4, timeout=20)
        done = runs()
        wait_for(lambda: runs() >= done + 2, timeout=20)
    finally:
        for worker in workers:
            stop_process(worker)
    assert [worker.returncode for worker in workers] == [0, 0]
    assert sorted(message["To"] for message in smtp.messages) == sorted([people["digest"].email, people["both"].email] * 2)
    assert store.count(Notification, emailed_at=None) == 4  # the bell user's and the deactivated user's
