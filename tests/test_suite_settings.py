"""The suite's own settings (README, "Tests"): each pass names its database, and a PostgreSQL pass whose server
does not answer is skipped loudly, or fails under REQUIRE_POSTGRES."""
import os
import subprocess
import sys

import pytest

from tests.servers import free_port, run_command

ONE_TEST = "tests/test_readme.py::test_the_command_line_section_says_which_flask_to_run"


def run_pytest(tmp_path, **settings) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items()
           if key not in ("TEST_DATABASE_URL", "REQUIRE_POSTGRES", "TEST_REDIS_URL") and not key.startswith("PYTEST_")}
    return run_command([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={tmp_path}", ONE_TEST],
                       dict(env, **settings), timeout=300)


@pytest.mark.long
def test_a_pass_says_which_database_it_ran_on(tmp_path):
    result = run_pytest(tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "\ndatabase: SQLite" in result.stdout


def test_a_postgresql_pass_without_its_server_is_skipped_loudly(tmp_path):
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"

    result = run_pytest(tmp_path, TEST_DATABASE_URL=url)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"NOTHING RAN on {url} -- UNREACHABLE: connection failed" in result.stdout
    assert "1 skipped" in result.stdout


def test_a_postgresql_pass_without_its_server_fails_under_require_postgres(tmp_path):
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"

    result = run_pytest(tmp_path, TEST_DATABASE_URL=url, REQUIRE_POSTGRES="1")

    assert result.returncode != 0
    assert "REQUIRE_POSTGRES is set but the database of TEST_DATABASE_URL does not answer" in result.stderr
