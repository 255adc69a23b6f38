"""The README says what the app and the Makefile do: checked against the app itself."""
import os
import re
import sys

import pytest

from clientdesk.models import Role
from tests.servers import ROOT, run_command

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


def test_make_bench_runs_every_benchmark_the_readme_lists():
    makefile = (ROOT / "Makefile").read_text()
    in_make_bench = re.findall(r"^\t\$\(BIN\)/python (bench/\w+\.py)$", makefile.split("\nbench:", 1)[1].split("\n\n", 1)[0],
                               re.MULTILINE)
    section = README.split("## Benchmarks", 1)[1].split("\n## ", 1)[0]
    in_readme = re.findall(r"\(`(bench/\w+\.py)`\)", section)
    scripts = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "bench").glob("*.py")
                     if '__name__ == "__main__"' in p.read_text() and p.name != "soak.py")  # the soak: `make soak-ci`

    assert sorted(in_make_bench) == sorted(in_readme) == scripts


@pytest.mark.long
def test_the_kbo_benchmark_runs_without_postgresql_as_make_bench_starts_it(tmp_path):
    """`make bench` stops at the first script that fails: without BENCH_PG_URL, the PostgreSQL part is skipped."""
    env = {key: value for key, value in os.environ.items() if key != "BENCH_PG_URL"}
    result = run_command([sys.executable, "bench/kbo.py", "--enterprises", "300", "--memory-sizes", "200", "--load-runs", "1",
                          "--search-runs", "1", "--workdir", str(tmp_path)], env, timeout=300)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "postgresql skipped" in result.stdout and "Search on sqlite" in result.stdout


@pytest.mark.long
def test_the_million_clients_benchmark_runs_at_small_sizes(tmp_path):
    """bench/million.py measures at 100k and 1M on PostgreSQL; at 300 and 600 clients it runs in a minute or two,
    which keeps its requests, targets and plans from rotting. Without PostgreSQL it is skipped, as `make bench`
    starts it."""
    env = {key: value for key, value in os.environ.items() if key != "BENCH_PG_URL"}
    env["INSTANCE_PATH"] = str(tmp_path)
    url = os.environ.get("TEST_DATABASE_URL", "")
    command = [sys.executable, "bench/million.py", "--sizes", "300,600", "--runs", "1"]
    if url.startswith("postgresql"):
        command += ["--pg-url", url, "--drop"]  # its databases: <name>_300 and <name>_600, dropped at the end
    result = run_command(command, env, timeout=900)

    assert result.returncode == 0, result.stdout + result.stderr
    if url.startswith("postgresql"):
        assert "### Targets at 600" in result.stdout and "EXPLAIN" in result.stdout and "Index" in result.stdout
        assert "- details page statements:" in result.stdout and "- demo load:" in result.stdout
    else:
        assert "postgresql skipped" in result.stdout


def test_every_setting_the_tests_read_is_documented():
    read = {name for path in (ROOT / "tests").rglob("*.py")
            for name in re.findall(r'os\.environ\.get\("([A-Z_]+)"', path.read_text()) if not name.startswith("PYTEST_")}
    section = README.split("## Tests", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([A-Z_]+)`", section, re.MULTILINE))

    assert read <= documented and "PG_TEST_URL" in documented
