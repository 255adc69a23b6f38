"""The bulk lifecycle job's cost does not grow with its rows: statements per chunk, not per client
(bench/bulk_invite.py measures the rate; these guard its reasons)."""
import uuid
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
    assert result == {"done": 4, "skipped": 1, "failed": 0}
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


def test_resend_voids_the_old_links_and_audits_what_changed(app, make, supervisor, store):
    ids = [make.client().id for _ in range(2)]
    run_job(app, supervisor, ids)
    first = {client_id: store.one(Invitation, client_id=client_id) for client_id in ids}
    result, _ = run_job(app, supervisor, ids, action="resend")
    assert result == {"done": 2, "skipped": 0, "failed": 0}
    for client_id in ids:
        old, new = sorted(store.all(Invitation, client_id=client_id), key=lambda invitation: invitation.id)
        assert old.id == first[client_id].id and old.status == "voided" and old.voided_at is not None
        assert new.status == "sent" and new.token_hash != old.token_hash
        client = store.get(Client, client_id)
        assert client.status == "invited" and client.invitation_expires_at == new.expires_at
        event = store.one(AuditEvent, client_id=client_id, action="resend")
        assert set(event.changes) == {"invited_at", "invitation_expires_at"}  # the status did not change
        assert event.changes["invitation_expires_at"] == [old.expires_at.isoformat(), new.expires_at.isoformat()]
