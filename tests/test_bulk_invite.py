"""The bulk lifecycle job's cost does not grow with its rows: statements per chunk, not per client
(bench/bulk_invite.py measures the rate; these guard its reasons). A chunk's e-mails leave after its commit,
and each outcome lands on its own invitations, whatever fails."""
import uuid
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import sqlalchemy as sa

from clientdesk.jobs import lifecycle as job
from clientdesk.models import AuditEvent, Client, Group, Invitation, Role, Task, User


def run_job(app, user, client_ids, action="invite") -> tuple[dict, list[str]]:
    """run_bulk_action in-process for a new task; returns its result and the SQL statements it sent."""
    from clientdesk.extensions import db

    statements = []

    def count(connection, cursor, statement, *args):
        statements.append(statement)

    task_id = str(uuid.uuid4())
    with app.app_context():
        db.session.add(Task(id=task_id, kind="bulk", user_id=user.id))
        db.session.commit()
        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            result = job.run_bulk_action(task_id, action, client_ids)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
    return result, statements


def without_invitation_inserts(statements) -> list[str]:
    return [s for s in statements if not s.startswith("INSERT INTO invitation")]


@pytest.fixture
def supervisor(make):
    return make.user(Role.SUPERVISOR)


def test_statements_per_chunk_not_per_client(app, app_config, make, supervisor, store):
    few = [make.client().id for _ in range(3)]
    many = [make.client().id for _ in range(12)]
    result_few, statements_few = run_job(app, supervisor, few)
    result_many, statements_many = run_job(app, supervisor, many)
    assert result_few["done"] == 3 and result_many["done"] == 12
    # No lazy load, flush or update per client. (New invitations are one INSERT each on SQLite, which cannot
    # tie RETURNING rows to a batch's parameters; PostgreSQL batches them too.)
    assert len(without_invitation_inserts(statements_many)) == len(without_invitation_inserts(statements_few))

    outbox = sorted(Path(app_config["OUTBOX_DIR"]).glob("*.eml"))
    assert len(outbox) == 15
    message = message_from_bytes(outbox[0].read_bytes(), policy=policy.default)
    assert "/invitation/" in message.get_body(("plain",)).get_content()


def test_one_invite_audit_record_per_client_written_with_the_change(app, make, supervisor, store, monkeypatch):
    ids = [make.client().id for _ in range(4)]
    ineligible = make.client(status="active").id
    monkeypatch.setattr(job, "CHUNK", 2)  # three chunks
    result, _ = run_job(app, supervisor, [*ids, ineligible])
    assert result == {"done": 4, "skipped": 1, "failed": 0, "retrying": 0}
    for client_id in ids:
        event = store.one(AuditEvent, client_id=client_id, action="invite")
        assert event.actor == supervisor.email
        assert event.changes["status"] == ["created", "invited"] and "invited_at" in event.changes
        invitation = store.one(Invitation, client_id=client_id)
        assert invitation.status == "sent" and invitation.sent_at is not None
    assert store.count(AuditEvent, client_id=ineligible, action="invite") == 0
    task = store.one(Task)
    assert task.progress_done == task.progress_total == 5 and task.status == "finished"


def test_audit_records_only_what_changed(app, make, store):
    group = make.group("Audit Team")
    user = make.user(Role.STAFF)

    def join_and_rename(session):
        member = session.get(User, user.id)
        member.groups.append(session.get(Group, group.id))
        member.full_name = "Renamed"
        member.role = member.role  # set to the same value: not a change

    store.run(join_and_rename)
    event = store.one(AuditEvent, object_type="user", action="update")
    assert event.changes == {"full_name": [user.full_name, "Renamed"], "groups": {"added": ["Audit Team"], "removed": []}}

    acme = make.client(name="Alpha BV")
    store.run(lambda session: setattr(session.get(Client, acme.id), "name", "Alpha BV"))
    assert store.count(AuditEvent, object_type="client", action="update") == 0
    store.run(lambda session: setattr(session.get(Client, acme.id), "name", "Beta BV"))
    assert store.one(AuditEvent, object_type="client", action="update").changes == {"name": ["Alpha BV", "Beta BV"]}


def _email_of(client) -> str:
    return client.contacts[0].email


def test_each_chunk_outcome_is_recorded_on_its_own_invitations(app, make, supervisor, store, monkeypatch):
    """Refusals in every chunk land on the right clients."""
    from tests.servers import SmtpServer

    clients = [make.client() for _ in range(5)]
    refused = {clients[1].id, clients[2].id, clients[4].id}  # one in each chunk
    server = SmtpServer(refuse={_email_of(c) for c in clients if c.id in refused}).start()
    try:
        monkeypatch.setitem(app.config, "MAIL_URL", server.url)
        monkeypatch.setattr(job, "CHUNK", 2)
        result, _ = run_job(app, supervisor, [c.id for c in clients])
    finally:
        server.stop()
    assert result == {"done": 2, "skipped": 0, "failed": 3, "retrying": 0}
    assert sorted(m["To"] for m in server.messages) == sorted(_email_of(c) for c in clients if c.id not in refused)
    for client in clients:
        invitation = store.one(Invitation, client_id=client.id)
        if client.id in refused:
            assert invitation.status == "failed" and "refused" in invitation.error
            assert store.one(AuditEvent, client_id=client.id, action="invitation_failed").changes["to"] == _email_of(client)
        else:
            assert invitation.status == "sent" and invitation.error is None
            assert store.count(AuditEvent, client_id=client.id, action="invitation_failed") == 0
    task = store.one(Task)
    assert sorted(f["client_id"] for f in task.result["failed"]) == sorted(refused)
    assert task.progress_done == 5 and "3 invitation e-mails could not be sent" in task.error


def test_no_email_leaves_before_its_invitation_is_committed(app, app_config, make, supervisor, monkeypatch):
    """Read from another connection as each message arrives: its client is invited and audited already,
    however slow the commit."""
    import time

    from sqlalchemy.orm import Session

    from tests.servers import SmtpServer

    engine = sa.create_engine(app_config["SQLALCHEMY_DATABASE_URI"])
    seen = []

    def slow_commit(session):
        time.sleep(0.1)

    def committed_state(message):
        with engine.connect() as connection:
            seen.append(connection.execute(sa.text(
                "SELECT client.status, (SELECT count(*) FROM audit_event WHERE audit_event.client_id = client.id"
                " AND action = 'invite') FROM client JOIN contact ON contact.client_id = client.id"
                " WHERE contact.email = :to"), {"to": message["To"]}).one())

    ids = [make.client().id for _ in range(5)]
    server = SmtpServer(on_message=committed_state).start()
    sa.event.listen(Session, "before_commit", slow_commit)
    try:
        monkeypatch.setitem(app.config, "MAIL_URL", server.url)
        monkeypatch.setattr(job, "CHUNK", 2)
        result, _ = run_job(app, supervisor, ids)
    finally:
        sa.event.remove(Session, "before_commit", slow_commit)
        server.stop()
        engine.dispose()
    assert result["done"] == 5
    assert [tuple(row) for row in seen] == [("invited", 1)] * 5


def test_a_failure_in_a_later_chunk_keeps_what_was_sent_and_the_rerun_completes(app, make, supervisor, store, monkeypatch):
    """The second chunk fails after the first one's e-mails went out: those stay marked sent (the rerun does not
    send them again), the failed chunk is undone, and the rerun completes the task."""
    from clientdesk.lifecycle import ClientLifecycle
    from tests.servers import SmtpServer

    clients = [make.client() for _ in range(4)]
    server = SmtpServer().start()
    apply_many = ClientLifecycle.apply_many
    calls = []

    def second_chunk_fails(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return apply_many(*args, **kwargs)

    try:
        monkeypatch.setitem(app.config, "MAIL_URL", server.url)
        monkeypatch.setattr(job, "CHUNK", 2)
        monkeypatch.setattr(ClientLifecycle, "apply_many", second_chunk_fails)
        with pytest.raises(RuntimeError, match="went away"):
            run_job(app, supervisor, [c.id for c in clients])
        assert [store.one(Invitation, client_id=c.id).status for c in clients[:2]] == ["sent", "sent"]
        assert [store.get(Client, c.id).status for c in clients[2:]] == ["created", "created"]
        task = store.one(Task)
        assert task.status == "failed" and task.progress_done == 2

        with app.app_context():
            job.run_bulk_action(task.id, "invite", [c.id for c in clients])
    finally:
        server.stop()
    assert sorted(m["To"] for m in server.messages) == sorted(_email_of(c) for c in clients)  # each one once
    assert all(store.one(Invitation, client_id=c.id).status == "sent" for c in clients)
    assert store.get(Task, task.id).status == "finished"


def test_an_error_while_sending_fails_the_task_and_its_rerun_sends_that_chunk(app, make, supervisor, store, monkeypatch):
    """send_many reports what the server refuses; anything it raises fails the task with the chunk committed and
    its e-mails unrecorded: the rerun sends them, with the same links (the first e-mails may have left)."""
    from clientdesk.services.mail import Mailer
    from tests.servers import SmtpServer

    clients = [make.client() for _ in range(3)]
    send_many = Mailer.send_many

    def first_chunk_breaks(mailer, mails):
        if any(mail.to == _email_of(clients[0]) for mail in mails):
            raise ConnectionResetError("reset by peer")
        return send_many(mailer, mails)

    server = SmtpServer().start()
    try:
        monkeypatch.setitem(app.config, "MAIL_URL", server.url)
        monkeypatch.setattr(job, "CHUNK", 2)
        monkeypatch.setattr(Mailer, "send_many", first_chunk_breaks)
        with pytest.raises(ConnectionResetError):
            run_job(app, supervisor, [c.id for c in clients])
        task = store.one(Task)
        assert task.status == "failed" and task.progress_done == 0
        assert [store.one(Invitation, client_id=c.id).status for c in clients[:2]] == ["pending", "pending"]

        monkeypatch.setattr(Mailer, "send_many", send_many)
        with app.app_context():
            assert job.run_bulk_action(task.id, "invite", [c.id for c in clients]) == {
                "done": 3, "skipped": 0, "failed": 0, "retrying": 0}
    finally:
        server.stop()
    assert sorted(m["To"] for m in server.messages) == sorted(_email_of(c) for c in clients)  # each one once
    assert all(store.one(Invitation, client_id=c.id).status == "sent" for c in clients)  # one invitation each
    assert store.get(Task, task.id).status == "finished"


def test_resend_sends_the_same_link_for_longer_and_audits_what_changed(app, make, supervisor, store):
    ids = [make.client().id for _ in range(2)]
    run_job(app, supervisor, ids)
    first = {client_id: store.one(Invitation, client_id=client_id) for client_id in ids}
    result, _ = run_job(app, supervisor, ids, action="resend")
    assert result == {"done": 2, "skipped": 0, "failed": 0, "retrying": 0}
    for client_id in ids:
        again = store.one(Invitation, client_id=client_id)
        assert again.id == first[client_id].id and again.token_hash == first[client_id].token_hash
        assert again.status == "sent" and again.expires_at > first[client_id].expires_at
        client = store.get(Client, client_id)
        assert client.status == "invited" and client.invitation_expires_at == again.expires_at
        event = store.one(AuditEvent, client_id=client_id, action="resend")
        assert set(event.changes) == {"invited_at", "invitation_expires_at"}  # the status did not change
        assert event.changes["invitation_expires_at"] == [first[client_id].expires_at.isoformat(), again.expires_at.isoformat()]


def test_resend_of_an_expired_invitation_voids_it_for_a_new_link(app, make, supervisor, store):
    client_id = make.client().id
    run_job(app, supervisor, [client_id])
    old = store.one(Invitation, client_id=client_id)
    store.update(Invitation, old.id, expires_at=old.expires_at - timedelta(days=22))
    store.update(Client, client_id, invitation_expires_at=old.expires_at - timedelta(days=22))
    run_job(app, supervisor, [client_id], action="resend")
    voided, new = sorted(store.all(Invitation, client_id=client_id), key=lambda invitation: invitation.id)
    assert voided.id == old.id and voided.status == "voided" and voided.voided_at is not None
    assert new.status == "sent" and new.token_hash != old.token_hash
