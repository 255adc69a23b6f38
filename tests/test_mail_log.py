"""The e-mail log: every e-mail sent is logged with its outcome (a real worker, a real SMTP server), never its link;
shown on the client's page and on the admins' /admin/email-log/."""
from datetime import timedelta

import pytest

from clientdesk.jobs.documents import retry_due
from clientdesk.models import Document, MailLog, Role, utcnow
from tests.helpers import post
from tests.servers import SmtpServer, run_worker_burst
from tests.test_documents import connect, documents, team  # noqa: F401 - the documents' fixtures

LOG = "/admin/email-log/"


@pytest.fixture
def supervisor(make):
    return make.user(Role.SUPERVISOR)


def test_a_sent_invitation_is_logged_and_shown_on_the_client_page(app_config, make, supervisor, as_user, smtp, store):
    acme = make.client(name="Logged BV")
    http = as_user(supervisor)
    post(http, "/admin/client/action/", {"action": "invite", "rowid": [str(acme.id)]})
    run_worker_burst(app_config, MAIL_URL=smtp.url)
    [message] = smtp.messages
    entry = store.one(MailLog)
    assert (entry.kind, entry.outcome, entry.client_id, entry.recipient, entry.reply) == (
        "invitation", "sent", acme.id, acme.contacts[0].email, None)
    assert entry.subject == message["Subject"] and "/invitation/" not in entry.subject
    page = http.get(f"/admin/client/details/?id={acme.id}").text
    assert 'id="client-mails"' in page and acme.contacts[0].email in page.split('id="client-mails"')[1]
    admin = as_user(make.user(Role.ADMIN))
    filters = "flt0_kind_equals=invitation&flt1_outcome_equals=sent&flt2_recipient_contains={}&flt3_client_id_equals={}"
    assert acme.contacts[0].email in admin.get(f"{LOG}?{filters.format(acme.contacts[0].email, acme.id)}").text
    assert acme.contacts[0].email not in admin.get(f"{LOG}?flt0_outcome_equals=refused").text
    for other in ("flt0_kind_equals=document", f"flt0_client_id_equals={acme.id + 1}", "flt0_recipient_contains=nobody@"):
        assert acme.contacts[0].email not in admin.get(f"{LOG}?{other}").text


def test_a_refused_recipient_is_logged_with_the_reply(app_config, make, supervisor, as_user, store):
    refused = make.client(name="Refused BV")
    server = SmtpServer(refuse={refused.contacts[0].email}).start()
    try:
        post(as_user(supervisor), "/admin/client/action/", {"action": "invite", "rowid": [str(refused.id)]})
        run_worker_burst(app_config, MAIL_URL=server.url)
    finally:
        server.stop()
    entry = store.one(MailLog)
    assert entry.outcome == "refused" and entry.client_id == refused.id
    assert "550" in entry.reply and "No such mailbox" in entry.reply
    page = as_user(make.user(Role.ADMIN)).get(f"{LOG}?flt0_outcome_equals=refused").text
    assert refused.contacts[0].email in page and "No such mailbox" in page


def test_a_password_reset_is_logged_without_a_client_and_a_server_down_as_retrying(app, app_config, make, smtp, store):
    user = make.user(Role.STAFF)
    smtp.stop()
    post(app.test_client(), "/password/forgot", {"email": user.email})
    run_worker_burst(app_config, MAIL_URL=smtp.url, MAIL_RETRY_DELAYS="0")
    entry = store.one(MailLog)
    assert (entry.kind, entry.outcome, entry.client_id, entry.recipient) == ("password_reset", "retrying", None, user.email)
    assert "unreachable" in entry.reply


def test_a_sent_password_reset_is_logged_without_a_client(app, app_config, make, smtp, store):
    user = make.user(Role.STAFF)
    post(app.test_client(), "/password/forgot", {"email": user.email})
    run_worker_burst(app_config, MAIL_URL=smtp.url)
    entry = store.one(MailLog)
    assert (entry.kind, entry.outcome, entry.client_id, entry.recipient) == ("password_reset", "sent", None, user.email)


def test_documents_by_e_mail_retrying_failed_after_retries_and_refused(team, make, as_user, app, app_config,  # noqa: F811
                                                                      documents, store):  # noqa: F811

    smtp = SmtpServer(defer={"greylisted@octopus.example.com"}, refuse={"gone@octopus.example.com"}).start()
    try:
        deferred, refused = make.client(team.group, name="Deferred BV"), make.client(team.group, name="Refused BV")
        connect(store, deferred, "Octopus", delivery_method="email", delivery_email="greylisted@octopus.example.com")
        connect(store, refused, "Octopus", delivery_method="email", delivery_email="gone@octopus.example.com")
        later, stale = documents(deferred, ("later.pdf", "purchase"), ("stale.pdf", "purchase"))
        never, = documents(refused, ("never.pdf", "purchase"))
        post(as_user(team.staff), "/admin/document/action/", {"action": "send", "rowid": [str(later.id), str(never.id)]})
        run_worker_burst(app_config, MAIL_URL=smtp.url)
        # The last attempt of a retry window: the reconciler starts it, it fails for a passing reason again.
        store.update(Document, stale.id, error="451", failed_attempts=14, first_failed_at=utcnow() - timedelta(hours=24),
                     retry_at=utcnow() - timedelta(seconds=1))
        with app.app_context():
            assert retry_due() == 1
        run_worker_burst(app_config, MAIL_URL=smtp.url)
    finally:
        smtp.stop()
    logged = {entry.subject: entry for entry in store.all(MailLog)}
    assert {subject: (entry.kind, entry.client_id, entry.outcome) for subject, entry in logged.items()} == {
        "Deferred BV: later.pdf": ("document", deferred.id, "retrying"),
        "Deferred BV: stale.pdf": ("document", deferred.id, "failed"),
        "Refused BV: never.pdf": ("document", refused.id, "refused"),
    }
    assert "451" in logged["Deferred BV: later.pdf"].reply and "550" in logged["Refused BV: never.pdf"].reply
    assert store.get(Document, stale.id).status == "failed"


@pytest.mark.parametrize("role", [Role.STAFF, Role.SUPERVISOR])
def test_only_admins_open_the_log(make, as_user, role):
    assert as_user(make.user(role)).get(LOG).status_code == 403
    assert as_user(make.user(Role.ADMIN)).get(LOG).status_code == 200
