""""Forgot password" for staff: the same answer for every address, a single-use one-hour link by e-mail (a real
worker, a real SMTP server), retried when the mail server is down, and the password rule on the new password."""
import re
from datetime import timedelta

from clientdesk.models import AuditEvent, PasswordReset, Role, Task, User, utcnow
from clientdesk.models.invitation import hash_token
from tests.helpers import PASSWORD, flashes, post
from tests.servers import run_worker_burst

LINK = re.compile(r"http://clientdesk\.test/password/reset/([\w-]+)")
NEW_PASSWORD = "fresh-start-at-the-office"


def ask(http, email):
    return post(http, "/password/forgot", {"email": email}, follow_redirects=True)


def token_of(smtp) -> str:
    [message] = smtp.messages
    return LINK.search(message.get_body(preferencelist=("plain",)).get_content()).group(1)


def signs_in(app, email, password) -> bool:
    http = app.test_client()
    return post(http, "/login", {"email": email, "password": password}).status_code == 302


def test_known_and_unknown_addresses_get_the_same_answer_and_only_a_user_gets_mail(app, make, app_config, smtp, store):
    user = make.user(Role.STAFF)
    known, unknown = ask(app.test_client(), user.email.upper()), ask(app.test_client(), "nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    assert [m.replace(user.email.upper(), "X") for m in flashes(known.text)] == \
        [m.replace("nobody@example.com", "X") for m in flashes(unknown.text)]
    assert "on its way" in flashes(known.text)[0]
    run_worker_burst(app_config, MAIL_URL=smtp.url)
    [message] = smtp.messages
    assert message["To"] == user.email
    reset = store.one(PasswordReset)
    assert reset.user_id == user.id and reset.sent_at is not None and token_of(smtp) not in reset.token_hash
    assert hash_token(token_of(smtp)) == reset.token_hash
    assert store.count(AuditEvent, action="password_reset_requested") == 1


def test_the_link_sets_a_new_password_once(app, make, app_config, smtp, client, store):
    user = make.user(Role.STAFF)
    ask(client, user.email)
    run_worker_burst(app_config, MAIL_URL=smtp.url)
    url = f"/password/reset/{token_of(smtp)}"
    assert client.get(url).status_code == 200
    weak = post(client, url, {"password": "password1234", "password_confirm": "password1234"})
    assert weak.status_code == 200 and "most common passwords" in weak.text
    mismatch = post(client, url, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD + "x"})
    assert mismatch.status_code == 200 and "not the same" in mismatch.text
    assert signs_in(app, user.email, PASSWORD)  # nothing changed yet

    done = post(client, url, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    assert signs_in(app, user.email, NEW_PASSWORD) and not signs_in(app, user.email, PASSWORD)
    assert client.get(url).status_code == 410  # single use
    assert post(client, url, {"password": "another-new-password", "password_confirm": "another-new-password"}).status_code == 410
    assert store.one(AuditEvent, action="password_reset").object_id == str(user.id)
    assert "password_hash" in store.one(AuditEvent, action="password_reset").changes


def test_unknown_expired_and_replaced_links(app, make, app_config, smtp, client, store):
    user = make.user(Role.STAFF)
    assert client.get("/password/reset/not-a-token").status_code == 404
    ask(client, user.email)
    run_worker_burst(app_config, MAIL_URL=smtp.url)
    first = token_of(smtp)
    smtp.messages.clear()
    ask(client, user.email)
    run_worker_burst(app_config, MAIL_URL=smtp.url)
    second = token_of(smtp)
    assert first != second
    assert client.get(f"/password/reset/{first}").status_code == 410  # only the latest link works
    assert client.get(f"/password/reset/{second}").status_code == 200
    store.update(PasswordReset, store.one(PasswordReset, token_hash=hash_token(second)).id,
                 expires_at=utcnow() - timedelta(seconds=1))
    gone = client.get(f"/password/reset/{second}")
    assert gone.status_code == 410 and "more than an hour old" in gone.text


def test_an_admin_setting_a_password_voids_open_links(app, make, app_config, smtp, client, as_user, store):
    user = make.user(Role.STAFF)
    ask(client, user.email)
    run_worker_burst(app_config, MAIL_URL=smtp.url)
    admin = as_user(make.user(Role.ADMIN))
    form = {"email": user.email, "full_name": user.full_name, "role": "staff", "active": "y", "ui_language": "",
            "new_password": NEW_PASSWORD}
    assert post(admin, f"/admin/user/edit/?id={user.id}", form).status_code == 302
    assert client.get(f"/password/reset/{token_of(smtp)}").status_code == 410


def test_mail_server_down_the_same_link_is_sent_later(app, make, app_config, smtp, client, store):
    from clientdesk.jobs.password_reset import retry_due

    user = make.user(Role.STAFF)
    smtp.stop()
    ask(client, user.email)
    run_worker_burst(app_config, MAIL_URL=smtp.url, MAIL_RETRY_DELAYS="0")
    reset = store.one(PasswordReset)
    assert reset.sent_at is None and reset.failed_attempts == 1 and reset.retry_at is not None and reset.error
    store.update(PasswordReset, reset.id, retry_at=utcnow() - timedelta(seconds=1))
    smtp.start()
    with app.app_context():
        assert retry_due() == 1
    run_worker_burst(app_config, MAIL_URL=smtp.url)
    assert hash_token(token_of(smtp)) == reset.token_hash
    assert store.get(PasswordReset, reset.id).sent_at is not None
    assert store.one(Task, kind="password_reset_retry").status == "finished"


def test_redis_down_answers_the_same_error_for_every_address(make, make_app, store):

    user = make.user(Role.STAFF)
    down = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    answers = [post(down.test_client(), "/password/forgot", {"email": email}) for email in (user.email, "nobody@example.com")]
    assert [a.status_code for a in answers] == [503, 503]
    assert all("queue is not reachable" in flashes(a.text)[0] for a in answers)
    assert store.count(PasswordReset) == 0 and store.count(Task) == 0
    assert store.get(User, user.id).password_hash
