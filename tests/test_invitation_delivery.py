"""Undelivered invitation e-mails show and heal: a crash before sending, a refused address, a mail server that is
down; the client list filter, the dashboard, the bulk retry and the export, with a real SMTP server, real workers."""
import csv
import re

import pytest

from clientdesk import tasks
from clientdesk.extensions import db
from clientdesk.jobs.lifecycle import run_bulk_action
from clientdesk.lifecycle import ClientLifecycle
from clientdesk.models import Client, Invitation, Role, Task, User
from clientdesk.models.invitation import hash_token
from tests.helpers import post
from tests.servers import SmtpServer, run_worker_burst
from tests.test_cli import flask
from tests.test_lifecycle import token_of

UNDELIVERED = "/admin/client/?flt0_invitation_is=undelivered"


@pytest.fixture
def supervisor(make):
    return make.user(Role.SUPERVISOR)


def listed(http, url) -> set[str]:
    return set(re.findall(r'<a href="/admin/client/details/\?id=\d+[^"]*">([^<]+)</a>', http.get(url).text))


def export(app_config, tmp_path) -> dict[str, str]:
    path = tmp_path / "clients.csv"
    flask(app_config, "clients", "export", str(path))
    with open(path, encoding="utf-8-sig", newline="") as f:
        return {row["name"]: row["invitation_delivery"] for row in csv.DictReader(f)}


def test_a_crash_between_issuing_and_sending_then_the_rerun_sends_the_same_link(app, app_config, make, supervisor,
                                                                               smtp, store, client):
    clients = [make.client() for _ in range(2)]
    ids = [c.id for c in clients]
    with app.app_context():
        task_id = tasks.launch("bulk_invite", "Invite 2 clients", run_bulk_action, "invite", ids,
                               user=db.session.get(User, supervisor.id), total=2, queue="bulk").id
        # What the job commits before its e-mails leave; the worker dies there.
        ClientLifecycle.apply_many("invite", db.session.scalars(db.select(Client).where(Client.id.in_(ids))).all(),
                                   by=db.session.get(User, supervisor.id), task_id=task_id)
        db.session.commit()
        db.session.remove()
    issued = {c.id: store.one(Invitation, client_id=c.id) for c in clients}
    assert {i.status for i in issued.values()} == {"pending"}

    run_worker_burst(app_config, MAIL_URL=smtp.url)  # the queued job, as a rerun would run it

    assert store.get(Task, task_id).status == "finished"
    for acme in clients:
        [message] = [m for m in smtp.messages if m["To"] == acme.contacts[0].email]
        assert hash_token(token_of(message)) == issued[acme.id].token_hash
        assert [i.status for i in store.all(Invitation, client_id=acme.id)] == ["sent"]
        assert client.get(f"/invitation/{token_of(message)}").status_code == 200


def test_an_address_refused_fails_for_good_and_shows(app_config, make, supervisor, as_user, store, tmp_path):
    refused = make.client(name="Refused BV")
    server = SmtpServer(refuse={refused.contacts[0].email}).start()
    http = as_user(supervisor)
    try:
        post(http, "/admin/client/action/", {"action": "invite", "rowid": [str(refused.id)]})
        run_worker_burst(app_config, MAIL_URL=server.url)
    finally:
        server.stop()
    invitation = store.one(Invitation, client_id=refused.id)
    assert invitation.status == "failed" and invitation.retry_at is None and "550" in invitation.error
    page = http.get(f"/admin/client/details/?id={refused.id}").text
    assert "could not be sent:" in page and "No such mailbox" in page and "Send the invitation e-mail again now" in page
    assert "the mail server refused it" in store.one(Task).error
    assert listed(http, UNDELIVERED) == {"Refused BV"}
    assert export(app_config, tmp_path)["Refused BV"] == "failed"


@pytest.mark.long
def test_undelivered_invitations_filtered_counted_exported_and_retried_now(app_config, make, supervisor, as_user,
                                                                           smtp, store, client, tmp_path):
    waiting = [make.client(name=f"Waiting {n} BV") for n in range(2)]
    delivered = make.client(name="Delivered BV")
    make.client(name="Never Invited BV")
    http = as_user(supervisor)
    post(http, "/admin/client/action/", {"action": "invite", "rowid": [str(delivered.id)]})
    run_worker_burst(app_config, MAIL_URL=smtp.url)
    smtp.stop()
    post(http, "/admin/client/action/", {"action": "invite", "rowid": [str(c.id) for c in waiting]})
    run_worker_burst(app_config, MAIL_URL=smtp.url)
    first = {c.id: store.one(Invitation, client_id=c.id) for c in waiting}
    assert all(i.status == "pending" and i.retry_at is not None for i in first.values())

    assert listed(http, UNDELIVERED) == {"Waiting 0 BV", "Waiting 1 BV"}
    dashboard = http.get("/admin/").text
    assert re.search(r'<a href="/admin/client/\?flt0_invitation_is=undelivered">2</a>', dashboard)
    assert export(app_config, tmp_path) == {"Waiting 0 BV": "pending", "Waiting 1 BV": "pending",
                                            "Delivered BV": "sent", "Never Invited BV": ""}

    smtp.start()
    response = post(http, "/admin/client/action/", {
        "action": "retry_delivery", "rowid": [str(c.id) for c in [*waiting, delivered]]})
    assert "/admin/task/details/" in response.headers["Location"]
    run_worker_burst(app_config, MAIL_URL=smtp.url)

    task = store.one(Task, kind="bulk_retry_delivery")
    assert task.result["done"] == 2 and [row["client"] for row in task.result["skipped"]] == ["Delivered BV"]
    for acme in waiting:
        [message] = [m for m in smtp.messages if m["To"] == acme.contacts[0].email]
        assert hash_token(token_of(message)) == first[acme.id].token_hash
        assert store.one(Invitation, client_id=acme.id).status == "sent"
        assert client.get(f"/invitation/{token_of(message)}").status_code == 200
    assert listed(http, UNDELIVERED) == set()
    assert set(export(app_config, tmp_path).values()) == {"sent", ""}


def test_the_bulk_retry_is_not_a_staff_action(make, as_user, store):
    group = make.group("Team R")
    staff = make.user(Role.STAFF, groups=[group])
    acme = make.client(group)
    response = post(as_user(staff), "/admin/client/action/", {"action": "retry_delivery", "rowid": [str(acme.id)]})
    assert response.status_code in (302, 403) and store.count(Task) == 0
