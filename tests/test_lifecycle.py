"""The lifecycle over HTTP with a real Redis, a real worker process and a real SMTP server."""
import re
import threading
from datetime import date, timedelta

import pytest

from clientdesk.lifecycle import ClientLifecycle
from clientdesk.models import AuditEvent, Client, ClientUser, Invitation, Role, Task, utcnow
from clientdesk.models.invitation import hash_token
from clientdesk.retries import DELAYS_MINUTES
from tests.helpers import csrf_token, flashes, post
from tests.servers import run_worker_burst

LINK = re.compile(r"http://clientdesk\.test/invitation/([\w-]+)")


@pytest.fixture
def team(make):
    group = make.group("Team A")
    return {
        "group": group,
        "staff": make.user(Role.STAFF, groups=[group]),
        "supervisor": make.user(Role.SUPERVISOR),
        "admin": make.user(Role.ADMIN),
    }


def invite(http, client_id, action="invite"):
    return post(http, "/admin/client/lifecycle/", {"id": client_id, "action": action})


def token_of(message) -> str:
    return LINK.search(message.get_body(preferencelist=("plain",)).get_content()).group(1)


def accept(http, token, password="a-strong-password", confirm=None, terms="y"):
    return post(http, f"/invitation/{token}", {"password": password, "password_confirm": confirm or password, "accept_terms": terms})


def test_invite_email_accept_active_with_30_day_trial(team, make, as_user, app_config, smtp, store, client):
    acme = make.client(team["group"], name="Boulangerie Dupont SRL")
    http = as_user(team["staff"])
    assert invite(http, acme.id).status_code == 302
    assert store.get(Client, acme.id).status == "created"  # nothing changes before the worker runs

    run_worker_burst(app_config, MAIL_URL=smtp.url)

    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["To"] == acme.contacts[0].email
    assert message["Subject"] == "Demo Accounting Firm invite Boulangerie Dupont SRL sur ClientDesk"  # the contact's French
    assert "Créer mon accès" in message.get_body(preferencelist=("html",)).get_content()
    assert store.get(Client, acme.id).status == "invited"
    token = token_of(message)
    invitation = store.one(Invitation, client_id=acme.id)
    assert invitation.status == "sent" and token not in invitation.token_hash
    assert (invitation.expires_at - utcnow()).days in (20, 21)

    page = client.get(f"/invitation/{token}")
    assert page.status_code == 200 and "Boulangerie Dupont SRL" in page.text
    mismatch = accept(client, token, confirm="something-else")
    # The page speaks the contact's language (French), whatever the browser's.
    assert mismatch.status_code == 200 and "ne sont pas identiques" in mismatch.text
    assert store.get(Client, acme.id).status == "invited"
    no_terms = accept(client, token, terms="")
    assert "accepter les conditions" in no_terms.text
    done = accept(client, token)
    assert done.status_code == 302 and done.headers["Location"] == "/portal/"  # signed in to the portal (test_portal.py)

    active = store.get(Client, acme.id)
    assert active.status == "active"
    assert active.trial_end == date.today() + timedelta(days=30)
    assert client.get(f"/invitation/{token}").status_code == 410
    assert store.count(AuditEvent, client_id=acme.id, action="accept") >= 1
    assert store.count(AuditEvent, client_id=acme.id, action="invite") >= 1


def test_invitation_is_in_the_contacts_language(team, make, as_user, app_config, smtp, store):
    dutch = make.client(team["group"], name="Bakkerij Peeters BV")
    store.run(lambda s: setattr(s.get(Client, dutch.id).contacts[0], "language", "nl-BE"))
    german = make.client(team["group"], name="Bäckerei Schmitz")
    store.run(lambda s: setattr(s.get(Client, german.id).contacts[0], "language", "de-BE"))
    http = as_user(team["supervisor"])
    post(http, "/admin/client/action/", {"action": "invite", "rowid": [str(dutch.id), str(german.id)]})
    run_worker_burst(app_config, MAIL_URL=smtp.url)
    subjects = sorted(m["Subject"] for m in smtp.messages)
    assert any("nodigt" in s for s in subjects) and any("lädt" in s for s in subjects)


def test_resend_sends_the_same_link_while_it_works(team, make, as_user, app_config, smtp, client, store):
    acme = make.client(team["group"])
    http = as_user(team["staff"])
    invite(http, acme.id)
    run_worker_burst(app_config, MAIL_URL=smtp.url)
    invite(http, acme.id, action="resend")
    run_worker_burst(app_config, MAIL_URL=smtp.url)
    first, second = (token_of(message) for message in smtp.messages)
    assert first == second and store.count(Invitation, client_id=acme.id) == 1
    assert client.get(f"/invitation/{first}").status_code == 200
    assert store.get(Client, acme.id).status == "invited"


def test_expired_link_is_refused_and_resend_still_works(team, make, as_user, app_config, smtp, client, store):
    acme = make.client(team["group"], name="Garage Lambert SA")
    http = as_user(team["staff"])
    invite(http, acme.id)
    run_worker_burst(app_config, MAIL_URL=smtp.url)
    token = token_of(smtp.messages[0])
    invitation = store.one(Invitation, client_id=acme.id)
    moved = utcnow() - timedelta(days=22)  # the link was sent 22 days ago
    store.update(Invitation, invitation.id, expires_at=moved + timedelta(days=21))
    store.update(Client, acme.id, invitation_expires_at=moved + timedelta(days=21))

    gone = client.get(f"/invitation/{token}")
    assert gone.status_code == 410 and "a expiré" in gone.text
    assert accept(client, token).status_code == 410
    assert store.get(Client, acme.id).status == "invited"
    assert "invitation expired" in http.get("/admin/client/").text

    invite(http, acme.id, action="resend")
    run_worker_burst(app_config, MAIL_URL=smtp.url)
    assert client.get(f"/invitation/{token_of(smtp.messages[1])}").status_code == 200
    replaced = client.get(f"/invitation/{token}")  # a new link: the expired one is voided
    assert replaced.status_code == 410 and "remplacé par une invitation plus récente" in replaced.text


def test_unknown_token_answers_404_with_a_page_that_says_so(client):
    response = client.get("/invitation/not-a-real-token")
    assert response.status_code == 404 and "not known" in response.text


def test_double_invite_sends_one_mail(team, make, as_user, app_config, smtp, store):
    acme = make.client(team["group"])
    http = as_user(team["staff"])
    invite(http, acme.id)
    invite(http, acme.id)  # a double click: two tasks
    run_worker_burst(app_config, MAIL_URL=smtp.url)
    assert len(smtp.messages) == 1
    tasks = store.all(Task)
    assert len(tasks) == 2 and all(t.status == "finished" for t in tasks)
    skipped = [t.result["skipped"] for t in tasks if t.result["skipped"]]
    assert len(skipped) == 1 and "only new clients can be invited" in skipped[0][0]["reason"]


def test_smtp_down_then_retried_with_the_same_link(team, make, as_user, app_config, app, smtp, client, store):
    """The in-process retries run out: the invitation waits for its next attempt with the server's reply, shown on
    the client page and the task; once the server is back, retry_due sends the link the client was given."""
    from clientdesk.jobs.lifecycle import retry_due

    acme = make.client(team["group"], name="Transport Claes NV")
    http = as_user(team["staff"])
    smtp.stop()
    invite(http, acme.id)
    run_worker_burst(app_config, MAIL_URL=smtp.url)

    invitation = store.one(Invitation, client_id=acme.id)
    assert invitation.status == "pending" and "unreachable" in invitation.error
    assert invitation.failed_attempts == 1 and invitation.retry_at - invitation.first_failed_at == timedelta(minutes=DELAYS_MINUTES[0])
    task = store.one(Task)
    assert task.status == "finished" and "will be tried again automatically" in task.error
    page = http.get(f"/admin/client/details/?id={acme.id}").text
    assert "could not be sent yet" in page and "tried again automatically" in page and "unreachable" in page

    store.update(Invitation, invitation.id, retry_at=utcnow() + timedelta(minutes=5))
    with app.app_context():
        assert retry_due() == 0  # not due yet
    store.update(Invitation, invitation.id, retry_at=utcnow() - timedelta(seconds=1))
    smtp.start()
    with app.app_context():
        assert retry_due() == 1
        assert retry_due() == 0  # claimed: not started twice
    run_worker_burst(app_config, MAIL_URL=smtp.url)

    [message] = smtp.messages
    sent = store.one(Invitation, client_id=acme.id)
    assert sent.id == invitation.id and sent.status == "sent" and sent.error is None and sent.retry_at is None
    assert hash_token(token_of(message)) == invitation.token_hash  # the link issued before the outage
    assert store.get(Task, store.one(Task, kind="invitation_retry").id).status == "finished"
    assert accept(client, token_of(message)).status_code == 302
    assert store.get(Client, acme.id).status == "active"


def test_retries_end_after_the_retry_window_failed_for_good(team, make, as_user, app_config, app, smtp, store):
    from clientdesk.jobs.lifecycle import retry_due

    acme = make.client(team["group"])
    smtp.stop()
    invite(as_user(team["staff"]), acme.id)
    run_worker_burst(app_config, MAIL_URL=smtp.url)
    invitation = store.one(Invitation, client_id=acme.id)
    store.update(Invitation, invitation.id, first_failed_at=utcnow() - timedelta(hours=24), retry_at=utcnow())
    with app.app_context():
        assert retry_due() == 1
    run_worker_burst(app_config, MAIL_URL=smtp.url)
    failed = store.one(Invitation, client_id=acme.id)
    assert failed.status == "failed" and failed.retry_at is None and "unreachable" in failed.error
    assert failed.failed_attempts == 2
    assert "the mail server refused" in store.one(Task, kind="invitation_retry").error


def test_redis_down_answers_a_clear_error_and_changes_nothing(team, make, store, make_app):
    from tests.helpers import login

    acme = make.client(team["group"])
    down = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    http = down.test_client()
    login(http, team["supervisor"].email)
    response = post(http, "/admin/client/action/", {"action": "invite", "rowid": [str(acme.id)]}, follow_redirects=True)
    assert any("queue is not reachable" in m for m in flashes(response.text))
    response = post(http, "/admin/client/lifecycle/", {"id": acme.id, "action": "invite"}, follow_redirects=True)
    assert any("queue is not reachable" in m for m in flashes(response.text))
    assert store.count(Task) == 0
    assert store.get(Client, acme.id).status == "created"
    assert http.get("/admin/client/").status_code == 200  # reads keep working
    assert http.get("/healthz").status_code == 503


def test_staff_cannot_act_on_another_groups_client(team, make, as_user, app_config, smtp, store):
    other = make.client(make.group("Team B"))
    http = as_user(team["staff"])
    assert invite(http, other.id).status_code == 404
    post(http, "/admin/client/action/", {"action": "invite", "rowid": [str(other.id)]})  # bulk: not a staff action
    supervisor_of_nothing_hidden = make.client(team["group"], hidden=True)
    post(as_user(team["supervisor"]), "/admin/client/action/", {"action": "invite", "rowid": [str(supervisor_of_nothing_hidden.id)]})
    run_worker_burst(app_config, MAIL_URL=smtp.url)
    assert smtp.messages == []
    assert store.get(Client, other.id).status == "created"
    assert store.get(Client, supervisor_of_nothing_hidden.id).status == "created"


def test_bulk_action_skips_ineligible_rows_with_reasons(team, make, as_user, app_config, smtp, store):
    created = [make.client(team["group"]) for _ in range(3)]
    active = make.client(team["group"], name="Already Active BV", status="active")
    http = as_user(team["supervisor"])
    response = post(http, "/admin/client/action/", {"action": "invite", "rowid": [str(c.id) for c in [*created, active]]})
    task_url = response.headers["Location"]
    assert "/admin/task/details/" in task_url
    page = http.get(task_url).text
    assert "Waiting for a worker" in page and 'http-equiv="refresh"' in page

    run_worker_burst(app_config, MAIL_URL=smtp.url)
    assert len(smtp.messages) == 3
    task = store.one(Task)
    assert task.progress_done == task.progress_total == 4 and task.result["done"] == 3
    assert task.result["skipped"][0]["client"] == "Already Active BV"
    page = http.get(task_url).text
    assert "Finished" in page and "Already Active BV" in page and 'http-equiv="refresh"' not in page


def test_lifecycle_rules(team, make, as_user, store):
    admin = as_user(team["admin"])
    managed = make.client(team["group"], subscription_mode="managed", ibans=["BE71096123456769"])
    full = make.client(team["group"])
    post(admin, "/admin/client/lifecycle/", {"id": managed.id, "action": "activate"})
    assert store.get(Client, managed.id).status == "active"
    refused = post(admin, "/admin/client/lifecycle/", {"id": full.id, "action": "activate"}, follow_redirects=True)
    assert any("not managed by the firm" in m for m in flashes(refused.text))
    post(admin, "/admin/client/lifecycle/", {"id": managed.id, "action": "deactivate"})
    assert store.get(Client, managed.id).status == "deactivated"
    post(admin, "/admin/client/lifecycle/", {"id": managed.id, "action": "reactivate"})
    assert store.get(Client, managed.id).status == "active"
    # staff may not deactivate; nobody may delete an active client
    staff = as_user(team["staff"])
    assert post(staff, "/admin/client/lifecycle/", {"id": managed.id, "action": "deactivate"}).status_code == 403
    post(admin, "/admin/client/action/", {"action": "delete", "rowid": [str(managed.id)]})
    assert store.get(Client, managed.id) is not None


def test_replace_primary_contact_only_before_active(team, make, as_user, store):
    acme = make.client(team["group"])
    http = as_user(team["staff"])
    response = post(http, f"/admin/client/replace-contact/?id={acme.id}", {
        "first_name": "Nieuwe", "last_name": "Zaakvoerder", "email": "nieuwe@acme.example.com", "language": "nl-BE",
    })
    assert response.status_code == 302, re.findall(r'(?:invalid-feedback|help-block)[^>]*>([^<]+)', response.text)
    client = store.run(lambda s: [(c.email, c.is_primary) for c in s.get(Client, acme.id).contacts])
    assert client == [("nieuwe@acme.example.com", True)]
    store.update(Client, acme.id, status="active", activated_at=utcnow())
    refused = http.get(f"/admin/client/replace-contact/?id={acme.id}", follow_redirects=True)
    assert any("can no longer be replaced" in m for m in flashes(refused.text))


def test_two_simultaneous_accepts_one_wins_the_other_gets_the_410_page(app, team, make, store):
    """Two browsers post the same invitation at once (real requests on two threads, two database sessions): both
    find it usable, one claims it; the other gets the "already used" page, not an error."""
    acme = make.client(team["group"])
    token = store.run(lambda s: ClientLifecycle.invite(s.get(Client, acme.id)).token)
    browsers = [app.test_client() for _ in range(2)]
    forms = [{"password": f"password-of-browser-{n}", "password_confirm": f"password-of-browser-{n}", "accept_terms": "y",
              "csrf_token": csrf_token(http, f"/invitation/{token}")} for n, http in enumerate(browsers)]
    both_ready = threading.Barrier(2)
    answers = {}

    def accept_at_once(n):
        both_ready.wait()
        try:
            response = browsers[n].post(f"/invitation/{token}", data=forms[n])
            answers[n] = (response.status_code, response.text)
        except Exception as error:  # TESTING: what would have been a 500
            answers[n] = (500, repr(error))

    threads = [threading.Thread(target=accept_at_once, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(status for status, _text in answers.values()) == [302, 410], answers
    loser = next(text for status, text in answers.values() if status == 410)
    assert "déjà été utilisée" in loser
    winner = next(n for n, (status, _text) in answers.items() if status == 302)
    client_user = store.one(ClientUser, client_id=acme.id)
    assert client_user.check_password(forms[winner]["password"]) and not client_user.check_password(forms[1 - winner]["password"])
    assert store.get(Client, acme.id).status == "active"
    events = store.all(AuditEvent, client_id=acme.id, action="accept")
    assert sorted(event.object_type for event in events) == ["client", "client_user", "contact"], "the accept is recorded once"
