"""The `flask --app app ...` commands of the contract, run as real processes where it matters."""
import csv

import openpyxl
import pytest

from clientdesk.models import AuditEvent, Client, Group, User
from tests.servers import FLASK, run_command, run_flask, worker_env


def flask(app_config, *args, expect=0, fresh=False):
    """`flask --app app *args` forked (tests/servers.py), or `fresh`: with a new interpreter, as an operator runs it."""
    env = worker_env(app_config)
    result = run_command([*FLASK, *args], env) if fresh else run_flask(list(args), env)
    assert result.returncode == expect, result.stdout + result.stderr
    return result


@pytest.mark.long
def test_users_and_groups(app_config, store):
    flask(app_config, "groups", "create", "Team Namur", fresh=True)
    assert "already exists" in flask(app_config, "groups", "create", "team namur", expect=1).stderr
    out = flask(app_config, "users", "create", "--email", "Nora@Example.com", "--password", "long-enough-pw",
                "--role", "staff", "--group", "Team Namur").stdout
    assert "Created staff nora@example.com" in out
    user = store.one(User, email="nora@example.com")
    assert user.role == "staff" and user.password_hash != "long-enough-pw"
    assert store.run(lambda s: [g.name for g in s.get(User, user.id).groups]) == ["Team Namur"]
    assert "Created supervisor ines@example.com in Everyone." in flask(
        app_config, "users", "create", "--email", "ines@example.com", "--password", "long-enough-pw", "--role", "supervisor").stdout
    ines = store.one(User, email="ines@example.com")
    assert store.run(lambda s: [g.name for g in s.get(User, ines.id).groups]) == ["Everyone"]
    assert "at least 12" in flask(app_config, "users", "create", "--email", "x@example.com", "--password", "short", expect=1).stderr
    assert "not a valid e-mail" in flask(app_config, "users", "create", "--email", "nope", "--password", "long-enough-pw", expect=1).stderr


def test_demo_load_makes_every_status_with_valid_numbers(app_config, store):
    from clientdesk.forms.validators import enterprise_number

    out = flask(app_config, "demo", "load", "--clients", "60").stdout
    assert "Added 60 demo clients" in out and "admin@example.com" in out
    clients = store.all(Client)
    assert len(clients) == 60
    assert {c.status for c in clients} == {"created", "invited", "active", "deactivated"}
    assert all(enterprise_number(c.enterprise_number) == c.enterprise_number for c in clients)
    assert store.count(Group) >= 5 and store.count(User) == 6
    flask(app_config, "demo", "load", "--clients", "5")  # again: users and groups are not duplicated
    assert store.count(User) == 6 and store.count(Client) == 65


@pytest.mark.long
def test_export_csv_and_xlsx(app_config, make, tmp_path, store):
    group = make.group("Team Export")
    make.client(group, name="=HYPERLINK(\"http://evil\")", enterprise_number="0403170701")
    make.client(group, name="Plain BV", status="active", trial_end=__import__("datetime").date(2026, 12, 24))
    csv_path = tmp_path / "clients.csv"
    assert "Exported 2 clients" in flask(app_config, "clients", "export", str(csv_path), fresh=True).stdout
    with open(csv_path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    header = list(rows[0].keys())
    assert header[:9] == ["id", "name", "enterprise_number", "vat_number", "country", "status", "group", "contact_email", "trial_end"]
    evil = next(r for r in rows if "HYPERLINK" in r["name"])
    assert evil["name"].startswith("'=")  # neutralised for spreadsheets
    assert evil["enterprise_number"] == "0403170701" and evil["vat_number"] == "BE0403170701"
    plain = next(r for r in rows if r["name"] == "Plain BV")
    assert plain["status"] == "active" and plain["group"] == "Team Export" and plain["trial_end"] == "2026-12-24"
    assert plain["contact_email"].endswith("example.com")
    assert int(plain["id"]) == store.one(Client, name="Plain BV").id

    xlsx_path = tmp_path / "clients.xlsx"
    flask(app_config, "clients", "export", str(xlsx_path))
    sheet = openpyxl.load_workbook(xlsx_path).active
    values = list(sheet.values)
    assert values[0][:3] == ("id", "name", "enterprise_number") and len(values) == 3
    assert any(row[2] == "0403170701" for row in values[1:])  # kept as text, leading zero included
    assert "must end in .csv or .xlsx" in flask(app_config, "clients", "export", str(tmp_path / "x.pdf"), expect=1).stderr


def test_web_export_xlsx_for_supervisors(make, as_user):
    import io

    from clientdesk.models import Role

    make.client(make.group("G"), name="Xlsx BV")
    response = as_user(make.user(Role.SUPERVISOR)).get("/admin/client/export/xlsx/")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment; filename=clients-")
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    assert [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["Xlsx BV"]


def test_audit_records_who_what_and_the_changed_fields_with_the_change(make, as_user, store):
    from clientdesk.models import Role
    from tests.helpers import post

    admin = make.user(Role.ADMIN)
    group = make.group("Audit Team")
    acme = make.client(group, name="Audit BV")
    http = as_user(admin)
    response = post(http, f"/admin/client/edit/?id={acme.id}", {
        "name": "Audit Renamed BV", "country": "BE", "enterprise_number": acme.enterprise_number, "language": "nl-BE",
        "group": str(group.id), "subscription_mode": "full", "plan": "",
    })
    assert response.status_code == 302, response.text[:500]
    event = store.one(AuditEvent, action="update", object_type="client")
    assert event.actor == admin.email and event.client_id == acme.id
    assert event.changes["name"] == ["Audit BV", "Audit Renamed BV"]
    assert event.changes["language"] == ["fr-BE", "nl-BE"]
    page = http.get(f"/admin/client/details/?id={acme.id}").text
    assert "Audit Renamed BV" in page and "Activity" in page

    # A change that fails leaves no audit record either (same transaction).
    before = store.count(AuditEvent)
    other = make.client(group, name="Other BV")
    store_count = store.count(AuditEvent)
    clash = post(http, f"/admin/client/edit/?id={acme.id}", {
        "name": "Clash", "country": "BE", "enterprise_number": other.enterprise_number, "language": "nl-BE",
        "group": str(group.id), "subscription_mode": "full", "plan": "",
    })
    assert "already used by the client Other BV" in clash.text
    assert store.get(Client, acme.id).name == "Audit Renamed BV"
    assert store.count(AuditEvent) == store_count and store_count > before


def test_healthz(client):
    response = client.get("/healthz")
    # No worker runs here: degraded, not down (the states of every part: tests/test_health.py).
    assert response.status_code == 200 and response.json["status"] == "degraded"
    assert {key: response.json[key] for key in ("database", "redis", "mail", "workers", "workers_alive")} == {
        "database": "ok", "redis": "ok", "mail": "ok", "workers": "down", "workers_alive": 0}


def test_a_migration_leaves_the_apps_sqlite_connections_enforcing_foreign_keys(app):
    """Batch migrations turn foreign keys off on their connection, which then goes back to the app's pool
    (`make run` migrates and serves from one process)."""
    from flask_migrate import upgrade

    from clientdesk.extensions import db

    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("a SQLite setting")
        upgrade()
        connections = [db.engine.connect() for _ in range(db.engine.pool.checkedin())]
        try:
            assert [c.exec_driver_sql("PRAGMA foreign_keys").scalar() for c in connections] == [1] * len(connections)
        finally:
            for connection in connections:
                connection.close()
