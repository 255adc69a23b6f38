# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test test-sqlite test-postgres install bench

$(BIN)/flask: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(BIN)/flask

install: $(BIN)/flask

## Set up and run ClientDesk with demo data: web on http://127.0.0.1:5000, a worker, SQLite and an embedded Redis.
run: install
	FLASK_DEBUG=1 $(BIN)/flask --app app dev

## The whole test suite on SQLite, then on PostgreSQL.
test: install test-sqlite test-postgres

test-sqlite: install
	$(BIN)/python -m pytest -q

test-postgres: install
	@if $(BIN)/python -c "import socket; socket.create_connection(('127.0.0.1', 5432), 2)" 2>/dev/null; then \
		TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest -q; \
	else echo "PostgreSQL is not reachable on 127.0.0.1:5432: skipping the PostgreSQL pass"; fi

bench: install
	$(BIN)/python bench/list_view.py
	$(BIN)/python bench/import.py
	$(BIN)/python bench/bulk_invite.py

## Extract the interface's messages and update the French and Dutch catalogs (then translate, then `make compile-translations`).
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k ngettext:1,2 -o clientdesk/translations/messages.pot .
	$(BIN)/pybabel update -i clientdesk/translations/messages.pot -d clientdesk/translations --no-fuzzy-matching

compile-translations: install
	$(BIN)/pybabel compile -d clientdesk/translations --statistics
