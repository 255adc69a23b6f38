"""`flask --app app clients import FILE.xlsx --as EMAIL [--group NAME] [--dry-run]`."""
import pytest
import sqlalchemy as sa

from clientdesk.extensions import db
from clientdesk.models import Client, ImportBatch, Role
from tests.import_files import BANQUP_FR, banqup_row, write_xlsx


@pytest.fixture
def admin(make):
    return make.user(Role.ADMIN, email="admin@example.com")


def invoke(app, *args):
    return app.test_cli_runner().invoke(args=["clients", "import", *map(str, args)])


def groups_of_clients(app) -> dict:
    with app.app_context():
        return {c.name: c.group.name for c in db.session.scalars(sa.select(Client))}


def test_import_dry_run_then_real_then_again(app, admin, make, tmp_path):
    make.group("Team Liège")
    path = write_xlsx(tmp_path / "clients.xlsx", BANQUP_FR, [
        banqup_row("Alpha SRL", "alpha@example.org", "0403170701"),
        banqup_row("Beta SRL", "beta@example.org", "0202239951", invitation="Oui"),
    ])

    dry = invoke(app, path, "--as", "admin@example.com", "--group", "team liège", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.output.splitlines() == [
        "Checked clients.xlsx (2 rows): 2 new, 0 unchanged, 0 would change.",
        "1 client would be invited.",
        "Dry run: nothing was imported.",
    ]
    assert groups_of_clients(app) == {}

    real = invoke(app, path, "--as", "admin@example.com", "--group", "Team Liège")
    assert real.exit_code == 0, real.output
    lines = real.output.splitlines()
    assert lines[0] == "Imported clients.xlsx (2 rows): 2 new, 0 unchanged, 0 updated."
    assert lines[1].startswith("Invitation of 1 client queued (task ") and len(lines) == 2
    assert groups_of_clients(app) == {"Alpha SRL": "Team Liège", "Beta SRL": "Team Liège"}

    path = write_xlsx(tmp_path / "clients.xlsx", BANQUP_FR, [
        banqup_row("Alpha SRL", "alpha@example.org", "0403170701", city="Namur"),
        banqup_row("Beta SRL", "beta@example.org", "0202239951"),
    ])
    changed = invoke(app, path, "--as", "admin@example.com", "--dry-run")
    assert changed.exit_code == 0
    assert "Row 2 (Alpha SRL): Commune/ville Bruxelles → Namur" in changed.output
    assert "0 new, 1 unchanged, 1 would change" in changed.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ImportBatch)) == 3


def test_errors_exit_1_and_list_every_row(app, admin, tmp_path):
    path = write_xlsx(tmp_path / "bad.xlsx", BANQUP_FR, [
        banqup_row("Alpha SRL", "alpha@", "0403170701"),
        banqup_row("", "beta@example.org", "0403170702"),
    ])
    result = invoke(app, path, "--as", "admin@example.com")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "Nothing was imported from bad.xlsx: 3 errors to fix."
    assert lines[1].startswith("Row 2, column C (Email de contact*): “alpha@” is not a valid e-mail address")
    assert lines[2] == "Row 3, column A (Raison sociale*): Required: this cell is empty."
    assert lines[3].startswith("Row 3, column G (Numéro d'entreprise): ")
    assert groups_of_clients(app) == {}


def test_a_bad_file_exits_1_with_its_message(app, admin, tmp_path):
    path = tmp_path / "clients.xlsx"
    path.write_text("a,b,c\n1,2,3\n")
    result = invoke(app, path, "--as", "admin@example.com")
    assert result.exit_code == 1 and "text (CSV) file" in result.output


@pytest.mark.parametrize("role", [Role.STAFF, Role.SUPERVISOR])
def test_only_admins(app, make, tmp_path, role):
    user = make.user(role)
    path = write_xlsx(tmp_path / "c.xlsx", BANQUP_FR, [banqup_row()])
    result = invoke(app, path, "--as", user.email)
    assert result.exit_code == 1 and "not an admin user" in result.output
    assert invoke(app, path, "--as", "nobody@example.com").exit_code == 1


def test_unknown_group(app, admin, tmp_path):
    path = write_xlsx(tmp_path / "c.xlsx", BANQUP_FR, [banqup_row()])
    result = invoke(app, path, "--as", "admin@example.com", "--group", "Team Mars")
    assert result.exit_code == 1 and "There is no group called 'Team Mars'." in result.output
