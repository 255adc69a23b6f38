"""`flask dev` (what `make run` runs): where it serves, and how it stops."""
from clientdesk import config
from clientdesk.cli import dev_command


def test_links_in_emails_point_where_make_run_serves(tmp_path, monkeypatch):
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    served = {option.name: option.default for option in dev_command.params}

    assert config.from_environment(debug=False, testing=True)["PUBLIC_BASE_URL"] == f"http://{served['host']}:{served['port']}"
