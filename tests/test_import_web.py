"""The import screen: admins only, template downloads, upload → RQ job → result page, errors by row,
annotated workbook, dry run then import, CSRF, Redis down; and the CLI giving the same result."""
import html
import io
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from clientdesk.extensions import db
from clientdesk.models import Client, ConfigTemplate, ImportBatch, ImportStatus, Role, Task
from tests.helpers import csrf_token, flashes
from tests.import_files import BANQUP_FR, DUTCH, banqup_row, run_jobs, write_xlsx


@pytest.fixture
def admin(make):
    return make.user(Role.ADMIN, email="admin@example.com")


def upload(http, path: Path, dry_run: bool = False, group: int = 0, token: bool = True):
    data = {"file": (io.BytesIO(path.read_bytes()), path.name), "group": str(group)}
    if dry_run:
        data["dry_run"] = "y"
    if token:
        data["csrf_token"] = csrf_token(http)
    return http.post("/admin/import/", data=data, content_type="multipart/form-data")


def batches(app) -> list[ImportBatch]:
    with app.app_context():
        found = db.session.scalars(sa.select(ImportBatch).order_by(ImportBatch.id)).all()
        db.session.expunge_all()
    return found


def text(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


@pytest.mark.parametrize("role", [Role.STAFF, Role.SUPERVISOR])
def test_only_admins_import(make, as_user, tmp_path, role):
    http = as_user(make.user(role))
    assert http.get("/admin/import/").status_code == 403
    assert http.get("/admin/import/template/fr.xlsx").status_code == 403
    path = write_xlsx(tmp_path / "c.xlsx", BANQUP_FR, [banqup_row()])
    assert upload(http, path).status_code == 403
    assert "/admin/import/" not in http.get("/admin/client/").get_data(as_text=True)


def test_anonymous_users_are_sent_to_the_login_page(client):
    response = client.get("/admin/import/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("language, first_header, yes_no", [
    ("fr", "Raison sociale*", '"Oui,Non"'), ("nl", "Juridische naam*", '"Ja,Nee"'), ("en", "Legal name*", '"Yes,No"'),
])
def test_template_download(app, admin, as_user, language, first_header, yes_no):
    with app.app_context():
        db.session.add(ConfigTemplate(name="Standard Yuki"))
        db.session.commit()
    response = as_user(admin).get(f"/admin/import/template/{language}.xlsx")

    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    workbook = load_workbook(io.BytesIO(response.data))
    data, instructions, lists = workbook.worksheets
    header = [c.value for c in data[1]]
    assert header[0] == first_header and len(header) == 33
    assert [h for h in header if h.endswith("*")] == header[:6]  # the six required columns are marked
    assert data["C2"].value.endswith("@example.com")  # the example row
    validations = {str(v.sqref).split(":")[0]: v.formula1 for v in data.data_validations.dataValidation}
    assert validations["P2"] == yes_no and validations["R2"] == yes_no  # Mandat, Invitation
    assert "$A$1:$A$249" in validations["B2"]  # every ISO country
    assert [lists.cell(row=r, column=2).value for r in range(1, 5)] == ["fr-BE", "nl-BE", "de-BE", "en-BE"]
    assert lists.cell(row=1, column=3).value == "Standard Yuki" and "Q2" in validations
    assert lists.sheet_state == "hidden"
    assert any(first_header in (c.value or "") for c in instructions["A"])
    assert as_user(admin).get("/admin/import/template/de.xlsx").status_code == 404


def test_the_template_as_downloaded_is_refused_for_its_example_row_and_imports_once_filled(app, admin, as_user, tmp_path):
    http = as_user(admin)
    path = tmp_path / "sjabloon.xlsx"
    path.write_bytes(http.get("/admin/import/template/nl.xlsx").data)
    upload(http, path)
    run_jobs(app)
    first = batches(app)[-1]
    assert [(e["row"], e["letter"]) for e in first.errors] == [(2, "C")] and "example row" in first.errors[0]["message"]

    workbook = load_workbook(path)
    sheet = workbook.worksheets[0]
    filled = ["Bakkerij Maes", "BE", "griet@maes.example.com", "Griet", "Maes", "nl-BE", "0403.227.515"]
    for column in range(1, sheet.max_column + 1):
        sheet.cell(row=2, column=column).value = filled[column - 1] if column <= len(filled) else None
    workbook.save(path)
    upload(http, path)
    run_jobs(app)
    assert batches(app)[-1].status == ImportStatus.IMPORTED, batches(app)[-1].errors


def test_upload_runs_in_the_background_and_the_result_links_to_the_clients(app, admin, as_user, make, tmp_path, monkeypatch):
    monkeypatch.setattr("clientdesk.imports.validate.PROGRESS_EVERY", 1)
    make.client(name="Not From The Import")
    http = as_user(admin)
    path = write_xlsx(tmp_path / "clients.xlsx", BANQUP_FR, [
        banqup_row("Alpha SRL", "alpha@example.org", "0403170701"),
        banqup_row("Beta SRL", "beta@example.org", "0202239951", invitation="Oui"),
    ])

    response = upload(http, path)

    [batch] = batches(app)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/admin/import/{batch.id}/")
    assert batch.status == ImportStatus.QUEUED and batch.user_email == "admin@example.com" and batch.filename == "clients.xlsx"
    page = http.get(f"/admin/import/{batch.id}/").get_data(as_text=True)
    assert 'id="import-progress"' in page and "status.json" in page
    assert http.get(f"/admin/import/{batch.id}/status.json").get_json()["finished"] is False

    run_jobs(app)

    state = http.get(f"/admin/import/{batch.id}/status.json").get_json()
    assert (state["status"], state["finished"], state["percent"]) == ("imported", True, 100)
    page = text(http.get(f"/admin/import/{batch.id}/").get_data(as_text=True))
    assert "Imported: 2 new clients, 0 updated, 0 unchanged." in page
    assert "The invitation for the client whose row said Invitation = Oui is being sent." in page
    link = f"/admin/client/?flt0_import_batch_equals={batch.id}"
    assert link in http.get(f"/admin/import/{batch.id}/").get_data(as_text=True)
    listed = http.get(link).get_data(as_text=True)
    assert "Alpha SRL" in listed and "Beta SRL" in listed and "Not From The Import" not in listed
    with app.app_context():
        task = db.session.get(Task, batch.task_id)
        assert (task.kind, task.status, task.user_id) == ("import", "finished", admin.id)
        invitations = db.session.get(Task, batches(app)[0].invite_task_id)
        assert (invitations.kind, invitations.status) == ("bulk_invite", "finished")  # run by the same burst
        statuses = {name: status for name, status in db.session.execute(sa.select(Client.name, Client.status))}
        assert (statuses["Alpha SRL"], statuses["Beta SRL"]) == ("created", "invited")
        assert (task.progress_done, task.progress_total) == (2, 2)  # reported row by row while checking
    history = text(http.get("/admin/import/").get_data(as_text=True))
    assert "clients.xlsx" in history and "admin@example.com" in history


def test_errors_are_shown_by_row_paginated_and_in_the_annotated_workbook(app, admin, as_user, tmp_path):
    http = as_user(admin)
    rows = [banqup_row(f"Client {i}", f"c{i}@example.org", "0403.170.702", language="xx") for i in range(60)]
    rows.append(banqup_row("Good", "good@example.org"))
    path = write_xlsx(tmp_path / "wrong.xlsx", BANQUP_FR, rows)
    upload(http, path)
    run_jobs(app)
    [batch] = batches(app)
    assert (batch.status, batch.error_count, batch.rows_count) == (ImportStatus.INVALID, 120, 61)

    page = text(http.get(f"/admin/import/{batch.id}/").get_data(as_text=True))
    assert "Nothing was imported: the file has 120 errors to fix." in page
    assert "Errors by row (60 rows)" in page
    assert (" 2 F Langue du contact (locale)* “xx” is not a supported language: use one of fr-BE, nl-BE, de-BE, en-BE."
            " G Numéro d'entreprise “0403.170.702” is not a valid enterprise number: the check digits do not match.") in page
    assert " 51 F " in page and " 52 F " not in page  # 50 rows a page
    page2 = text(http.get(f"/admin/import/{batch.id}/?page=2").get_data(as_text=True))
    assert " 52 F " in page2 and " 2 F " not in page2

    response = http.get(f"/admin/import/{batch.id}/annotated.xlsx")
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.data))
    data, listing = workbook["Clients"], workbook["Errors"]
    assert data["A2"].value == "Client 0" and data["G2"].value == "0403.170.702"
    assert "check digits" in data["G2"].comment.text and data["G2"].fill.fgColor.rgb.endswith("FFC7CE")
    assert "not a supported language" in data["F2"].comment.text
    assert data["A2"].comment is None and data["G62"].comment is None
    assert listing.max_row == 121 and [c.value for c in listing[2]][:3] == [2, "F", "Langue du contact (locale)*"]


def test_dry_run_then_import_from_the_result_page(app, admin, as_user, tmp_path):
    http = as_user(admin)
    path = write_xlsx(tmp_path / "c.xlsx", BANQUP_FR, [banqup_row("Alpha", "a@example.org", "0403170701")])
    upload(http, path, dry_run=True)
    run_jobs(app)
    [checked] = batches(app)
    assert checked.status == ImportStatus.CHECKED and checked.new_count == 1
    page = text(http.get(f"/admin/import/{checked.id}/").get_data(as_text=True))
    assert "The file is valid. Nothing was imported (check only)." in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Client)) == 0

    assert http.post(f"/admin/import/{checked.id}/import/").status_code == 400  # CSRF
    response = http.post(f"/admin/import/{checked.id}/import/", data={"csrf_token": csrf_token(http)})
    run_jobs(app)
    imported = batches(app)[-1]
    assert response.headers["Location"].endswith(f"/admin/import/{imported.id}/")
    assert (imported.status, imported.dry_run, imported.new_count, imported.stored_path) == (
        ImportStatus.IMPORTED, False, 1, checked.stored_path)
    assert http.post(f"/admin/import/{imported.id}/import/", data={"csrf_token": csrf_token(http)}).status_code == 404


def test_upload_without_csrf_token_is_refused(app, admin, as_user, tmp_path):
    path = write_xlsx(tmp_path / "c.xlsx", BANQUP_FR, [banqup_row()])
    assert upload(as_user(admin), path, token=False).status_code == 400
    assert batches(app) == []


def test_upload_without_a_file(admin, as_user):
    http = as_user(admin)
    response = http.post("/admin/import/", data={"csrf_token": csrf_token(http), "group": "0"})
    assert response.status_code == 200 and "Choose the .xlsx file to import." in response.get_data(as_text=True)


def test_redis_down_answers_clearly_and_keeps_nothing(app, admin, as_user, tmp_path, monkeypatch):
    import redis

    monkeypatch.setattr("clientdesk.tasks.get_redis", lambda: redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2))
    http = as_user(admin)
    path = write_xlsx(tmp_path / "c.xlsx", BANQUP_FR, [banqup_row()])
    stored = set((Path(app.config["INSTANCE_PATH"]) / "imports").glob("*.xlsx"))
    response = upload(http, path)
    assert response.status_code == 302
    assert "The background queue is not reachable" in " ".join(flashes(http.get("/admin/import/").get_data(as_text=True)))
    assert batches(app) == []
    assert set((Path(app.config["INSTANCE_PATH"]) / "imports").glob("*.xlsx")) == stored


def test_a_file_over_the_upload_limit_gets_a_clear_page(admin, as_user):
    http = as_user(admin)
    data = {"file": (io.BytesIO(bytes(13 * 1024 * 1024)), "huge.xlsx"), "csrf_token": csrf_token(http), "group": "0"}
    response = http.post("/admin/import/", data=data, content_type="multipart/form-data")
    assert response.status_code == 413 and "at most 10 MB" in response.get_data(as_text=True)


def test_cli_and_web_give_the_same_result(app, admin, as_user, tmp_path):
    header = DUTCH
    rows = [
        ["Bakkerij", "BE", "a@example.org", "An", "Maes", "nl-BE", "0403170701", "BE0403227515", "", "", "", "", "", "", "", "Ja", "", ""],
        ["", "BE", "b@example.org", "Bo", "Maes", "nl-BE", "403170701", "", "", "NL00", "", "", "", "", "", "", "", "misschien"],
    ]
    path = write_xlsx(tmp_path / "klanten.xlsx", header, rows)
    runner = app.test_cli_runner()

    cli = runner.invoke(args=["clients", "import", str(path), "--as", "admin@example.com", "--dry-run"])
    http = as_user(admin)
    upload(http, path, dry_run=True)
    run_jobs(app)

    cli_batch, web_batch = batches(app)
    assert cli.exit_code == 1
    assert cli_batch.errors == web_batch.errors
    assert [(e["row"], e["letter"]) for e in web_batch.errors] == [(2, "H"), (3, "A"), (3, "J"), (3, "R"), (3, "G")]
    page = text(http.get(f"/admin/import/{web_batch.id}/").get_data(as_text=True))
    for error in web_batch.errors:
        assert f"Row {error['row']}, column {error['letter']} ({error['column']}): {error['message']}" in cli.output
        assert f"{error['letter']} {error['column']} {error['message']}" in page

    rows = [rows[0][:7] + [""] + rows[0][8:], ["Garage", "BE", "b@example.org", "Bo", "Maes", "nl-BE"] + [""] * 11 + ["Nee"]]
    path = write_xlsx(tmp_path / "klanten-ok.xlsx", header, rows)
    cli = runner.invoke(args=["clients", "import", str(path), "--as", "admin@example.com"])
    assert cli.exit_code == 0, cli.output
    assert "Imported klanten-ok.xlsx (2 rows): 2 new, 0 unchanged, 0 updated." in cli.output
    upload(http, path)
    run_jobs(app)
    web_batch = batches(app)[-1]
    assert (web_batch.status, web_batch.new_count, web_batch.unchanged_count) == (ImportStatus.IMPORTED, 0, 2)
    cli = runner.invoke(args=["clients", "import", str(path), "--as", "admin@example.com"])
    assert cli.exit_code == 0 and "0 new, 2 unchanged" in cli.output and "Nothing new" in cli.output


def _age(app, batch_ids, days: int) -> None:
    from datetime import timedelta

    from clientdesk.models import utcnow

    with app.app_context():
        db.session.execute(sa.update(ImportBatch).where(ImportBatch.id.in_(batch_ids)).values(
            created_at=utcnow() - timedelta(days=days)))
        db.session.commit()


def test_import_files_are_deleted_after_the_days_they_are_kept(app, admin, as_user, tmp_path):
    """A file is kept IMPORT_FILES_KEEP_DAYS days: older ones go after the next import (and with `clients
    purge-imports`); a file a recent batch still uses stays; the pages say the file is gone."""
    http = as_user(admin)
    wrong = write_xlsx(tmp_path / "wrong.xlsx", BANQUP_FR, [banqup_row("Bad", "bad@example.org", "0403.170.702")])
    valid = write_xlsx(tmp_path / "valid.xlsx", BANQUP_FR, [banqup_row("Alpha", "a@example.org", "0403170701")])
    upload(http, wrong)
    upload(http, valid, dry_run=True)
    run_jobs(app)
    invalid, checked = batches(app)
    assert (invalid.status, checked.status) == (ImportStatus.INVALID, ImportStatus.CHECKED)
    _age(app, [invalid.id, checked.id], days=31)
    # the dry run's file is imported now: a recent batch needs it, so it stays
    http.post(f"/admin/import/{checked.id}/import/", data={"csrf_token": csrf_token(http)})
    run_jobs(app)
    invalid, checked, imported = batches(app)
    assert imported.status == ImportStatus.IMPORTED and imported.stored_path == checked.stored_path
    assert invalid.file_removed_at is not None and not Path(invalid.stored_path).exists()
    assert checked.file_removed_at is None and Path(checked.stored_path).exists()

    page = text(http.get(f"/admin/import/{invalid.id}/").get_data(as_text=True))
    assert "The uploaded file was deleted on" in page and "(import files are kept 30 days)" in page
    assert "Download the file with its errors marked" not in page and "“0403.170.702” is not a valid" in page
    response = http.get(f"/admin/import/{invalid.id}/annotated.xlsx", follow_redirects=True)
    assert response.request.path == f"/admin/import/{invalid.id}/"
    assert ("The file of this import was deleted (import files are kept 30 days): upload it again."
            in flashes(response.get_data(as_text=True)))

    _age(app, [imported.id], days=31)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["clients", "purge-imports"])
    assert result.exit_code == 0 and "Deleted 1 import files older than 30 days." in result.output
    assert not Path(checked.stored_path).exists()
    assert all(b.file_removed_at is not None for b in batches(app))
    assert "Import this file now" not in http.get(f"/admin/import/{checked.id}/").get_data(as_text=True)
    response = http.post(f"/admin/import/{checked.id}/import/", data={"csrf_token": csrf_token(http)})
    assert response.status_code == 302 and len(batches(app)) == 3  # nothing launched
    assert runner.invoke(args=["clients", "purge-imports"]).output.startswith("Deleted 0 import files")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Client)) == 1  # the import itself stands


def test_the_annotated_workbook_writes_formula_like_text_as_text(tmp_path):
    from clientdesk.imports.workbooks import annotated_workbook

    evil = '=HYPERLINK("http://evil.example")'
    path = write_xlsx(tmp_path / "evil.xlsx", BANQUP_FR, [banqup_row("Alpha", "a@example.org")])
    buffer = io.BytesIO()
    annotated_workbook(str(path), [{"row": 2, "letter": "A", "column": evil, "message": "=1+1"}]).save(buffer)
    cells = load_workbook(io.BytesIO(buffer.getvalue()))["Errors"][2][2:4]  # the header and message columns
    assert [(cell.value, cell.data_type) for cell in cells] == [(evil, "s"), ("=1+1", "s")]
