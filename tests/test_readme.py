"""The README says what the app and the Makefile do: checked against the app itself."""
import re

from clientdesk.models import Role
from tests.servers import ROOT

README = (ROOT / "README.md").read_text()


def roles_table() -> dict[str, tuple[str, str]]:
    """The README's roles table: role -> (sees, may)."""
    section = README.split("## Roles", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (staff|supervisor|admin) \| (.+?) \| (.+?) \|$", section, re.MULTILINE)
    return {role: (sees, may) for role, sees, may in rows}


def test_the_roles_table_says_that_staff_filter_and_count_their_clients(make, as_user):
    gent = make.group("Team Gent")
    make.client(gent, name="Active Gent BV", status="active")
    make.client(gent, name="Created Gent BV", status="created")
    staff = as_user(make.user(Role.STAFF, groups=[gent]))

    html = staff.get("/admin/client/?flt0_status_equals=active").get_data(as_text=True)

    assert re.search(r"List\s*\(1\)", html) and "Active Gent BV" in html and "Created Gent BV" not in html
    staff_may, supervisor_may = roles_table()["staff"][1], roles_table()["supervisor"][1]
    assert "filter and count" in staff_may
    assert "filter" not in supervisor_may and "count" not in supervisor_may  # not as something staff lack


def test_the_command_line_section_says_which_flask_to_run():
    section = README.split("## Command line", 1)[1].split("\n## ", 1)[0]

    assert "`.venv/bin/flask --app app ...`" in section and "`. .venv/bin/activate`" in section
    assert "VENV := .venv" in (ROOT / "Makefile").read_text()  # where `make install` puts it
