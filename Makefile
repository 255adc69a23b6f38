# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test lint test-sqlite test-postgres soak-ci install bench translations compile-translations

$(BIN)/flask: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(BIN)/flask

install: $(BIN)/flask

## Set up and run ClientDesk with demo data: web on http://127.0.0.1:5000, a worker, SQLite and an embedded Redis.
run: install
	FLASK_DEBUG=1 $(BIN)/flask --app app dev

## The linter, then the whole test suite on SQLite, then on PostgreSQL, then a one-minute soak with two faults.
test: install lint test-sqlite test-postgres soak-ci

## ruff, with the rules in pyproject.toml ([tool.ruff]).
lint: install
	$(BIN)/ruff check .

## Tests run in TEST_WORKERS processes at once (pytest-xdist; `auto`: one per core), each with its own database and
## Redis (tests/conftest.py). The browser tests are marked to share one process and its Chromium (`xdist_group`), which
## pytest 9.2 with pytest-xdist 3.8 does not honour (pytest-xdist issue #1386): each process starts its own. The 15
## slowest are listed.
TEST_WORKERS ?= auto
PYTEST := $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup --durations=15

test-sqlite: install
	$(PYTEST)

## On PG_TEST_URL's database; when it does not answer, every test is skipped and the summary says so in red,
## or, with REQUIRE_POSTGRES=1 (as in CI), the pass fails (tests/conftest.py).
test-postgres: install
	TEST_DATABASE_URL=$(PG_TEST_URL) $(PYTEST)

## One minute of simulated users with two faults on the app's own PostgreSQL, Redis and SMTP (bench/soak.py).
soak-ci: install
	$(BIN)/python bench/soak.py --minutes 1 --users 10 --faults worker,mail

bench: install
	$(BIN)/python bench/cli.py
	$(BIN)/python bench/list_view.py
	$(BIN)/python bench/import.py
	$(BIN)/python bench/bulk_invite.py
	$(BIN)/python bench/reminders.py
	$(BIN)/python bench/reassign.py
	$(BIN)/python bench/kbo.py
	$(BIN)/python bench/documents.py
	$(BIN)/python bench/dashboard.py
	$(BIN)/python bench/million.py

## Extract the interface's messages into messages.pot and add the new ones, untranslated, to the French, Dutch and
## German catalogs (clientdesk/translations/{fr,nl,de}/LC_MESSAGES/messages.po); translate them, then `make compile-translations`.
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k ngettext:1,2 --project ClientDesk \
		--no-location --sort-output --no-wrap -o clientdesk/translations/messages.pot .
	$(BIN)/pybabel update -i clientdesk/translations/messages.pot -d clientdesk/translations \
		--no-fuzzy-matching --ignore-obsolete --no-wrap --ignore-pot-creation-date

## Compile the catalogs into the .mo files the app reads (committed, so a plain `pip install -e .` needs no build step).
compile-translations: install
	$(BIN)/pybabel compile -d clientdesk/translations --statistics
