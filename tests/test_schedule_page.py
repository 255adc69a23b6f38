"""The admins' Schedule page: each schedule with what it does, its last run (its task, how it ended) and next run;
"Run now", once while a run has not ended; nobody else opens it."""
import re

import pytest

from clientdesk import schedule
from clientdesk.jobs.imports import purge_files
from clientdesk.models import Role, Task
from tests.helpers import csrf_token, flashes, post


@pytest.fixture
def admin(make):
    return make.user(Role.ADMIN)


def schedule_rows(html: str) -> dict[str, str]:
    return {name: row for name, row in re.findall(r'<tr id="schedule-(\w+)">(.*?)</tr>', html, re.S)}


def test_the_schedule_page_lists_each_schedule_with_its_last_and_next_run(app, admin, as_user, store):
    http = as_user(admin)
    rows = schedule_rows(http.get("/admin/schedule/").text)
    assert list(rows) == [s.name for s in schedule.SCHEDULES]
    assert "“don&#39;t verify VAT”" in rows["vat_recheck"] and "older than 30 days" in rows["purge_imports"]
    assert "expires in 7, 2 days" in rows["invitation_reminders"] and "<code>0 * * * *</code>" in rows["invitation_reminders"]
    assert all("never" in row for row in rows.values())
    with app.app_context():
        from clientdesk.i18n import localdatetime

        next_purge = str(localdatetime(schedule.next_time("0 3 * * *")))
    assert next_purge in rows["purge_imports"]

    response = post(http, "/admin/schedule/run/", {"schedule": "purge_imports"})
    assert response.status_code == 302
    again = post(http, "/admin/schedule/run/", {"schedule": "purge_imports"}, follow_redirects=True)
    assert "Import file purge is running already" in " ".join(flashes(again.text))
    task = store.one(Task, schedule="purge_imports")
    assert task.kind == "purge_imports" and task.user_id == admin.id

    with app.app_context():
        purge_files(task.id)  # what a worker does with its job
    row = schedule_rows(http.get("/admin/schedule/").text)["purge_imports"]
    assert f'href="/admin/task/details/?id={task.id}"' in row and "Finished" in row and admin.email in row
    assert store.get(Task, task.id).result == {"done": 0}
    assert "No scheduler is running" in http.get("/admin/schedule/").text


@pytest.mark.parametrize("role", [Role.STAFF, Role.SUPERVISOR])
def test_the_schedule_page_is_for_admins_only(make, as_user, store, role):
    http = as_user(make.user(role))
    assert http.get("/admin/schedule/").status_code == 403
    assert post(http, "/admin/schedule/run/", {"schedule": "purge_imports"}).status_code == 403
    assert store.count(Task) == 0


def test_run_now_needs_a_post_with_its_token_and_a_known_schedule(admin, as_user, store):
    http = as_user(admin)
    assert http.get("/admin/schedule/run/").status_code == 405
    assert http.post("/admin/schedule/run/", data={"schedule": "purge_imports"}).status_code == 400
    assert http.post("/admin/schedule/run/", data={"schedule": "purge_imports",
                                                   "csrf_token": csrf_token(http)}).status_code == 302
    assert post(http, "/admin/schedule/run/", {"schedule": "nothing"}).status_code == 404
    assert store.count(Task) == 1
