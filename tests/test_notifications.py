"""Notifications of staff users: each event tells the right people once (the firm contact, the client's users to notify,
the starter of background work; active users only), written where the event happens (real workers for the jobs); the
notification page shows only the reader's own, names a client only in the reader's scope, marks read by POST with CSRF;
the bell counts the unread ones."""
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest

from clientdesk import notifications, tasks
from clientdesk.extensions import db
from clientdesk.jobs.imports import import_clients
from clientdesk.models import Client, ConfigTemplate, Notification, Role, Task, User, utcnow
from tests.helpers import csrf_token, flashes, form_fields, portal_login, post
from tests.import_files import BANQUP_FR, banqup_row, write_xlsx
from tests.servers import SmtpServer, run_worker_burst
from tests.test_documents import connect, documents  # noqa: F401 - the fixture
from tests.test_import_web import upload
from tests.test_peppol import toggle
from tests.test_portal import invitation_token


@pytest.fixture
def team(make):
    north, south = make.group("North"), make.group("South")
    return SimpleNamespace(north=north, south=south, contact=make.user(Role.STAFF, groups=[north]),
                           watcher=make.user(Role.STAFF, groups=[south]), gone=make.user(Role.STAFF, groups=[north]),
                           supervisor=make.user(Role.SUPERVISOR))


def watched(make, store, team, **fields) -> Client:
    """A client of North whose firm contact is team.contact, with team.watcher, team.contact again and team.gone
    (deactivated) as users to notify."""
    client = make.client(team.north, firm_contact_id=team.contact.id, **fields)

    def watch(s):
        row = s.get(Client, client.id)
        row.watchers = [s.get(User, team.watcher.id), s.get(User, team.contact.id), s.get(User, team.gone.id)]
        s.get(User, team.gone.id).active = False

    store.run(watch)
    return client


def told(store, kind: str) -> dict[int, Notification]:
    rows = store.all(Notification, kind=kind)
    assert len({row.user_id for row in rows}) == len(rows), "one notification per person and event"
    return {row.user_id: row for row in rows}


def text(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)).strip()


def test_an_accepted_invitation_tells_the_firm_contact_and_the_users_to_notify_once(app, make, store, team):
    client = watched(make, store, team, name="Accepting BV")
    token = invitation_token(store, client.id)
    browser = app.test_client()
    accepted = post(browser, f"/invitation/{token}", {"password": "a-strong-password", "password_confirm": "a-strong-password",
                                                      "accept_terms": "y"})
    assert accepted.status_code == 302
    rows = told(store, "invitation_accepted")
    assert set(rows) == {team.contact.id, team.watcher.id}  # not the deactivated user, the contact once
    assert all(row.client_id == client.id and row.read_at is None for row in rows.values())


def test_changes_proposed_in_the_portal_tell_the_clients_people(app, make, store, team):
    client = watched(make, store, team, name="Proposing BV", status="active", street="Rue Haute")
    owner = make.client_user(client, email="owner@proposing.example.com")
    portal = app.test_client()
    portal_login(portal, owner.email)
    assert post(portal, "/portal/corrections/company", {"street": "Rue Basse"}).status_code == 303
    assert set(told(store, "changes_proposed")) == {team.contact.id, team.watcher.id}


def test_an_invitation_e_mail_refused_for_good_tells_the_starter_and_the_clients_people(app_config, make, store, team,
                                                                                         as_user):
    client = watched(make, store, team, name="Refused Mail BV")
    server = SmtpServer(refuse={client.contacts[0].email}).start()
    try:
        post(as_user(team.supervisor), "/admin/client/action/", {"action": "invite", "rowid": [str(client.id)]})
        run_worker_burst(app_config, MAIL_URL=server.url)
    finally:
        server.stop()
    rows = told(store, "invitation_undelivered")
    assert set(rows) == {team.supervisor.id, team.contact.id, team.watcher.id}
    assert rows[team.contact.id].params["to"] == client.contacts[0].email and "550" in rows[team.contact.id].params["reason"]


def test_documents_not_delivered_tell_the_sender_once_when_they_are_the_firm_contact(app_config, make, store, team, as_user,
                                                                                     documents):  # noqa: F811
    client = watched(make, store, team, name="Refused Docs BV")
    connect(store, client, "Octopus", delivery_method="email", delivery_email="gone@octopus.example.com")
    first, second = documents(client, ("a.pdf", "purchase"), ("b.pdf", "sales"))
    smtp = SmtpServer(refuse={"gone@octopus.example.com"}).start()
    try:
        post(as_user(team.contact), "/admin/document/action/", {"action": "send", "rowid": [str(first.id), str(second.id)]})
        run_worker_burst(app_config, MAIL_URL=smtp.url)
    finally:
        smtp.stop()
    rows = told(store, "documents_undelivered")
    assert set(rows) == {team.contact.id, team.watcher.id}  # the sender is the firm contact: told once
    assert rows[team.watcher.id].params["count"] == 2 and "550" in rows[team.watcher.id].params["reason"]


def test_a_peppol_registration_refused_tells_the_starter_and_the_clients_people(app_config, make, store, team, as_user,
                                                                                peppol):
    client = watched(make, store, team, name="Peppol Refused BV", e_invoicing_mandate=True)
    peppol.ap.app.fail_with = (400, "name: too long for the SMP")
    toggle(as_user(team.supervisor), client.id, "receive", True)
    run_worker_burst(app_config, **peppol.env)
    assert store.get(Client, client.id).peppol_state == "failed"
    rows = told(store, "peppol_failed")
    assert set(rows) == {team.supervisor.id, team.contact.id, team.watcher.id}
    assert "too long for the SMP" in rows[team.contact.id].params["reason"]


def test_an_import_tells_its_starter_how_it_ended(app_config, make, store, as_user, tmp_path):
    admin = make.user(Role.ADMIN)
    http = as_user(admin)
    good = write_xlsx(tmp_path / "good.xlsx", BANQUP_FR, [banqup_row("Alpha SRL", "alpha@example.org", "0403170701")])
    bad = write_xlsx(tmp_path / "bad.xlsx", BANQUP_FR, [banqup_row("Beta SRL", "not-an-address", "0403170701")])
    upload(http, good)
    upload(http, bad)
    run_worker_burst(app_config)
    finished, = store.all(Notification, kind="import_finished")
    failed, = store.all(Notification, kind="import_failed")
    assert finished.user_id == failed.user_id == admin.id and finished.client_id is None
    assert (finished.params["file"], finished.params["new"], failed.params["file"]) == ("good.xlsx", 1, "bad.xlsx")
    page = text(http.get("/admin/notifications/").text)
    assert "Your import of good.xlsx is done: 1 new, 0 changed, 0 unchanged clients." in page
    assert "Your import of bad.xlsx imported nothing: 1 error." in page
    assert f'href="/admin/import/{finished.params["batch_id"]}/"' in http.get("/admin/notifications/").text


def test_a_task_that_fails_for_good_tells_its_starter_and_its_clients_people(app, app_config, make, store, team):
    client = watched(make, store, team, name="Task Failed BV")
    with app.app_context():
        tasks.launch("import", "An import that cannot run", import_clients, 987654, user=db.session.get(User, team.supervisor.id),
                     client=db.session.get(Client, client.id), retries=0)
        db.session.remove()
    run_worker_burst(app_config)
    assert store.one(Task).status == "failed"
    rows = told(store, "task_failed")
    assert set(rows) == {team.supervisor.id, team.contact.id, team.watcher.id}
    assert rows[team.supervisor.id].params["title"] == "An import that cannot run"
    assert "987654" in rows[team.supervisor.id].params["error"]


def test_a_task_whose_job_cannot_start_tells_its_starter_when_the_reconciler_fails_it(app, app_config, make, store, team):
    with app.app_context():
        task = tasks.launch("import", "A job renamed since", import_clients, 1, user=db.session.get(User, team.supervisor.id))
        task.job_func = "clientdesk.jobs.gone.run"
        tasks.enqueue(task)
        db.session.remove()
    run_worker_burst(app_config)  # the first job finds the task taken by the second, which cannot load
    store.update(Task, task.id, queued_at=utcnow() - timedelta(seconds=tasks.LOST_SECONDS + 1))
    with app.app_context():
        tasks.reconcile()
        db.session.remove()
    row, = store.all(Notification, kind="task_failed")
    assert row.user_id == team.supervisor.id and row.task_id == task.id and "could not start" in row.params["error"]


def test_a_register_change_is_one_call(app, make, store, team):
    client = watched(make, store, team, name="Register BV")
    with app.app_context():
        notifications.notify_client_event("register_change", db.session.get(Client, client.id), fields=["address", "name"])
        db.session.commit()
        row = db.session.scalars(db.select(Notification).where(Notification.user_id == team.watcher.id)).one()
        assert notifications.message(row, "Register BV") == (
            "The company register has changed for Register BV (seat address, name): review it on its page.")
    assert set(told(store, "register_change")) == {team.contact.id, team.watcher.id}


def test_the_page_names_a_client_only_in_the_readers_scope_and_marks_read(app, make, store, team, as_user):
    client = watched(make, store, team, name="Scoped BV")
    with app.app_context():
        notifications.notify_client_event("changes_proposed", db.session.get(Client, client.id))
        db.session.commit()
    contact, watcher = as_user(team.contact), as_user(team.watcher)
    mine = text(contact.get("/admin/notifications/").text)
    assert "Scoped BV proposed changes to its details" in mine
    assert f'href="/admin/client/details/?id={client.id}"' in contact.get("/admin/notifications/").text
    page = watcher.get("/admin/notifications/").text  # South does not see a client of North
    assert "a client outside your groups proposed changes" in text(page) and "Scoped BV" not in page
    assert "/admin/client/details/" not in page
    assert re.search(r'id="notification-bell"[^>]*>.*?badge[^>]*>1<', watcher.get("/admin/").text, re.S)

    row = store.one(Notification, user_id=team.watcher.id)
    theirs = store.one(Notification, user_id=team.contact.id)
    assert watcher.post("/admin/notifications/read/", data={"id": row.id}).status_code == 400  # CSRF
    assert post(watcher, "/admin/notifications/read/", {"id": theirs.id}).status_code == 404  # another user's
    assert post(watcher, "/admin/notifications/read/", {"id": "1,2"}).status_code == 404
    assert store.get(Notification, theirs.id).read_at is None
    assert post(watcher, "/admin/notifications/read/", {"id": row.id}).status_code == 302
    assert store.get(Notification, row.id).read_at is not None
    assert 'class="badge badge-warning"' not in watcher.get("/admin/").text
    assert watcher.post("/admin/notifications/read-all/", data={}).status_code == 400
    done = post(contact, "/admin/notifications/read-all/", {}, follow_redirects=True)
    assert "Every notification is marked read." in flashes(done.text)
    assert store.get(Notification, theirs.id).read_at is not None
    assert watcher.get("/admin/notifications/read/").status_code == 405


def test_the_list_is_paginated_newest_first(app, make, store, team, as_user):
    client = watched(make, store, team)
    with app.app_context():
        row = db.session.get(Client, client.id)
        for number in range(30):
            notifications.notify_client_event("documents_undelivered", row, reason=f"change {number}")
        db.session.commit()
    http = as_user(team.watcher)
    first, second = http.get("/admin/notifications/").text, http.get("/admin/notifications/?page=2").text
    assert "change 29" in first and "change 5<" in first and "change 4<" not in first and "Older" in first
    assert "change 4" in second and "change 29" not in second and "Newer" in second
    assert http.get("/admin/notifications/?page=x").status_code == 200


def test_the_choice_of_digest_instead_of_the_bell(app, make, store, team, as_user):
    http = as_user(team.watcher)
    refused = post(http, "/admin/notifications/preference/", {"notify_by": "pigeon"}, follow_redirects=True)
    assert "Choose how you want to be told" in flashes(refused.text)[0]
    assert store.get(User, team.watcher.id).notify_by == "bell"
    assert http.post("/admin/notifications/preference/", data={"notify_by": "digest"}).status_code == 400
    post(http, "/admin/notifications/preference/", {"notify_by": "digest"})
    assert store.get(User, team.watcher.id).notify_by == "digest"
    client = watched(make, store, team)
    with app.app_context():
        notifications.notify_client_event("changes_proposed", db.session.get(Client, client.id))
        db.session.commit()
    assert store.one(Notification, user_id=team.watcher.id).read_at is not None  # listed, not counted by the bell
    assert store.one(Notification, user_id=team.contact.id).read_at is None


def test_users_to_notify_are_set_on_the_client_form_and_copied_by_a_template(app, make, store, team, as_user):
    client = make.client(team.north, name="Form BV")
    http = as_user(team.contact)
    fields = form_fields(http.get(f"/admin/client/edit/?id={client.id}").text)
    fields.setlist("watchers", [str(team.watcher.id)])
    fields["csrf_token"] = csrf_token(http)
    response = http.post(f"/admin/client/edit/?id={client.id}", data=fields)
    assert response.status_code == 302, flashes(response.text)
    with app.app_context():
        row = db.session.get(Client, client.id)
        assert [user.id for user in row.watchers] == [team.watcher.id]
        template = ConfigTemplate(name="With watchers", watchers=[db.session.get(User, team.supervisor.id),
                                                                  db.session.get(User, team.watcher.id)])
        db.session.add(template)
        template.apply_to(row)
        assert sorted(user.id for user in row.watchers) == sorted([team.watcher.id, team.supervisor.id])
        db.session.rollback()
