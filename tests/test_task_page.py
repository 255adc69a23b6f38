"""A background task's page: what kind of work it is, in words, and only what happened to it."""
import re
from datetime import timedelta

import pytest

from clientdesk import tasks
from clientdesk.models import Role, Task, User, utcnow


def _rows(html: str) -> dict[str, str]:
    """The details table of the page, as {label: value}."""
    return {label.strip(): re.sub(r"<[^>]+>", "", value).strip() for label, value in re.findall(
        r"<tr>\s*<td>\s*<b>([^<]+)</b>\s*</td>\s*<td>(.*?)</td>\s*</tr>", html, re.S)}


def test_a_finished_bulk_task_says_its_kind_in_words_and_leaves_out_what_it_has_not(make, store, as_user):
    admin = make.user(Role.ADMIN)
    requested = utcnow() - timedelta(minutes=5)
    store.run(lambda s: s.add(Task(
        id="bulk-1", kind="bulk_invite", description="Invite 3 clients", status="finished", user_id=admin.id,
        progress_done=3, progress_total=3, attempts=1, created_at=requested, queued_at=requested,
        started_at=requested + timedelta(seconds=2), ended_at=requested + timedelta(seconds=9))))
    http = as_user(admin)
    page = http.get("/admin/task/details/?id=bulk-1").text
    rows = _rows(page)
    assert rows["Kind"] == "Invite clients" and "bulk_invite" not in page
    assert "Client" not in rows and "Error" not in rows and "Next attempt" not in rows
    assert rows["Requested"] and rows["Started"] and rows["Ended"]

    store.update(User, admin.id, ui_language="fr")
    assert _rows(as_user(admin).get("/admin/task/details/?id=bulk-1").text)["Type"] == "Inviter des clients"
    store.update(User, admin.id, ui_language="nl")
    assert _rows(as_user(admin).get("/admin/task/details/?id=bulk-1").text)["Soort"] == "Klanten uitnodigen"


def test_a_task_no_worker_has_taken_yet_shows_no_start(make, store, as_user):
    admin = make.user(Role.ADMIN)
    store.run(lambda s: s.add(Task(id="queued-1", kind="import", description="Import of clients.xlsx", user_id=admin.id,
                                   queued_at=utcnow())))
    rows = _rows(as_user(admin).get("/admin/task/details/?id=queued-1").text)
    assert rows["Kind"] == "Client import" and rows["Status"] == "Queued" and rows["Requested"]
    assert "Started" not in rows and "Ended" not in rows


def test_only_a_kind_of_task_with_a_label_is_launched(app, store):
    """tasks.launch takes only the kinds TaskKind names (each with its label): an unknown one is refused."""
    with app.app_context(), pytest.raises(ValueError):
        tasks.launch("bulk_frobnicate", "Frobnicate 3 clients", print)
    assert store.count(Task) == 0
