"""Fixtures: a real database (SQLite file, or PostgreSQL via TEST_DATABASE_URL), migrated with the
project's migrations; a real Redis (embedded redis-server, or TEST_REDIS_URL); the app; helpers to
sign in through the real login form with a real CSRF token.

Under pytest-xdist (`-n 2`) every worker process has its own of each: its SQLite file and embedded Redis in its
own temporary folder, its PostgreSQL database (TEST_DATABASE_URL's name + `_gw0`, `_gw1`, ..., made when missing),
its database number on TEST_REDIS_URL."""
import contextvars
import functools
import os
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit, urlunsplit

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from tests import factories
from tests.helpers import login
from tests.servers import WORKER_TIMINGS

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
REQUIRE_POSTGRES = bool(os.environ.get("REQUIRE_POSTGRES"))


@functools.cache
def unreachable_database() -> str | None:
    """Why TEST_DATABASE_URL's server does not answer, or None when it does (or when the tests run on SQLite)."""
    if not TEST_DATABASE_URL:
        return None
    engine = sa.create_engine(TEST_DATABASE_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return None
    except sa.exc.OperationalError as error:
        return str(error.orig).strip().splitlines()[0]
    finally:
        engine.dispose()


def database_in_use() -> str:
    if not TEST_DATABASE_URL:
        return "SQLite (a file in a temporary folder; TEST_DATABASE_URL=postgresql+psycopg://... for PostgreSQL)"
    shown = sa.engine.make_url(TEST_DATABASE_URL).render_as_string(hide_password=True)
    problem = unreachable_database()
    return f"{shown}" + (f" -- UNREACHABLE: {problem}" if problem else "")


def pytest_collection_modifyitems(config, items):
    """The long tests first (`@pytest.mark.long`), so that under pytest-xdist none of them starts when the other
    workers are nearly done and keeps one busy alone at the end of the pass.

    A pass on a database that does not answer fails under REQUIRE_POSTGRES (CI), and is otherwise skipped,
    every test and the summary saying why."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)  # stable: the rest keep their order
    problem = unreachable_database()
    if problem is None:
        return
    if REQUIRE_POSTGRES:
        raise pytest.UsageError(f"REQUIRE_POSTGRES is set but the database of TEST_DATABASE_URL does not answer: {problem}")
    skip = pytest.mark.skip(reason=f"the database of TEST_DATABASE_URL does not answer: {problem}")
    for item in items:
        item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    """Which database this pass ran on, last (shown under -q too, where pytest leaves out its header)."""
    if unreachable_database() is None:
        terminalreporter.write_line(f"database: {database_in_use()}")
    else:
        terminalreporter.write_sep("!", f"NOTHING RAN on {database_in_use()}", red=True, bold=True)
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")  # "gw0", "gw1", ... in a worker of pytest-xdist; else unset
# Passwords hashed at a test's cost, not a production one (each sign-in and each user made would take ~50 ms).
CHEAP_PASSWORD_HASH = "pbkdf2:sha256:1"


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in an empty context: Flask would otherwise reuse an app
    context the test holds open (e.g. db_session), sharing `g` (the signed-in user!) and the database
    session between the test and its requests, and between requests of different users. Bodies are read at once
    and closed, as a WSGI server closes them (a file sent stays open otherwise), unless `buffered=False`."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("buffered", True)
        context = contextvars.Context()
        response = context.run(super().open, *args, **kwargs)
        if response.is_streamed:
            response.response = _IterateIn(context, response.response)  # a streamed body is read there too
        return response


class _IterateIn:
    def __init__(self, context, iterable):
        self.context, self.iterator = context, iter(iterable)

    def __iter__(self):
        return self

    def __next__(self):
        return self.context.run(next, self.iterator)

    def close(self):
        if hasattr(self.iterator, "close"):
            self.context.run(self.iterator.close)
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    if TEST_REDIS_URL:
        parts = urlsplit(TEST_REDIS_URL)  # redis://host:port/N: this worker's database is N + its number
        database = int(parts.path.strip("/") or 0) + (int(XDIST_WORKER.removeprefix("gw")) if XDIST_WORKER else 0)
        yield urlunsplit(parts._replace(path=f"/{database}"))
        return
    from tests.servers import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server.url
    server.stop()


def _empty_postgresql(url: sa.URL) -> None:
    """The database at `url` made if missing, with an empty schema."""
    server = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        if not connection.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}):
            connection.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
    server.dispose()
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
        # Every connection to it (the tests', their workers' and commands') commits without waiting for the disk: a
        # commit returns in 0.3 ms instead of 3-4, and what it shows the other connections is the same.
        connection.execute(sa.text(f'ALTER DATABASE "{url.database}" SET synchronous_commit = off'))
    engine.dispose()


MEMORY = Path("/dev/shm")  # a tmpfs on Linux


@pytest.fixture(scope="session")
def memory_folder(tmp_path_factory):
    """A folder of this session in memory (tmpfs) where the system has one, else in pytest's temporary folder; removed
    at the end. The SQLite file and the instance folder are there: every SQLite commit and every stored document waits
    for the disk (fsync, 3-4 ms here), for nothing in a test."""
    if not (MEMORY.is_dir() and os.access(MEMORY, os.W_OK)):
        yield tmp_path_factory.mktemp("session")
        return
    path = Path(tempfile.mkdtemp(prefix="clientdesk-tests-", dir=MEMORY))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(memory_folder):
    if TEST_DATABASE_URL:
        url = sa.make_url(TEST_DATABASE_URL)
        if XDIST_WORKER:
            url = url.set(database=f"{url.database}_{XDIST_WORKER}")
        if url.get_backend_name() == "postgresql":
            _empty_postgresql(url)
        return url.render_as_string(hide_password=False)
    return f"sqlite:///{memory_folder / 'test.db'}"


@pytest.fixture(scope="session")
def instance_path(memory_folder):
    path = memory_folder / "instance"
    path.mkdir()
    os.environ["INSTANCE_PATH"] = str(path)
    return path


@pytest.fixture(scope="session")
def app_config(database_url, redis_url, instance_path):
    """The configuration of the app under test, also given to worker processes as environment."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "INSTANCE_PATH": str(instance_path),
        "OUTBOX_DIR": str(instance_path / "outbox"),
        "PUBLIC_BASE_URL": "http://clientdesk.test",
        "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.1",  # the test servers (tests/outside.py); 127.0.0.2 stays refused
        "PASSWORD_HASH_METHOD": CHEAP_PASSWORD_HASH,
        **WORKER_TIMINGS,
    }


@pytest.fixture(scope="session")
def app(app_config):
    from flask_migrate import upgrade

    from clientdesk.app import create_app

    app = create_app(dict(app_config))
    app.test_client_class = IsolatedClient
    with app.app_context():
        upgrade(revision="heads")
    yield app
    from clientdesk.extensions import db

    with app.app_context():
        db.engine.dispose()  # its pooled connections closed now, not found open by the garbage collector at exit


def _clear_database(app) -> None:
    """Every row deleted, children first, and PostgreSQL's id sequences started again: on tables of a test's size a
    DELETE takes a few milliseconds where PostgreSQL's TRUNCATE (new files for each table) took 0.6 s a test."""
    from clientdesk.extensions import db
    from clientdesk.reference_data import ensure_reference_data

    with app.app_context():
        db.session.remove()
        with db.engine.begin() as connection:
            for table in reversed(db.metadata.sorted_tables):
                connection.execute(table.delete())
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT setval(oid, 1, false) FROM pg_class "
                                           "WHERE relkind = 'S' AND relnamespace = current_schema()::regnamespace"))
        ensure_reference_data()
        db.session.remove()


@pytest.fixture(autouse=True)
def clean_state(app):
    """Every test starts with an empty database (plus reference data) and an empty Redis, and ends with every
    client rule holding over the whole database (clientdesk/rules.py): whatever path a test took, none may
    leave a client that the rules refuse."""
    from clientdesk import rules
    from clientdesk.broker import get_redis
    from clientdesk.extensions import db

    _clear_database(app)
    get_redis(app).flushdb()
    yield
    with app.app_context():
        broken = rules.violations()
        db.session.remove()
    assert not broken, "rows that break the client rules:\n" + "\n".join(broken)


@pytest.fixture
def make_app(app_config):
    """Another app of the suite's settings with `config` over them (a Redis that is down, another database...); its
    pooled connections are closed when the test ends, not found open by the garbage collector."""
    from clientdesk.app import create_app
    from clientdesk.extensions import db

    made = []

    def make(screens: bool = True, **config):
        made.append(create_app(dict(app_config, **config), screens=screens))
        return made[-1]

    yield make
    for other in made:
        with other.app_context():
            db.engine.dispose()


@pytest.fixture
def store(app):
    """Direct database reads and writes, each in its own short app context (rows come back detached)."""
    return factories.Store(app)


@pytest.fixture
def db_session(app):
    """The database session in an app context held for the whole test (requests do not share it:
    see IsolatedClient)."""
    from clientdesk.extensions import db

    with app.app_context():
        yield db.session
        db.session.remove()


@pytest.fixture
def smtp():
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""
    from tests.servers import SmtpServer

    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def peppol(app, monkeypatch):
    """Peppol's outside parties as real servers: a DNS server (the SML), an SMP and our access point, configured
    on the app; `env` configures a worker process the same way."""
    from tests.outside import SML_TEST_ZONE, AccessPointApp, DnsServer, HttpServer, SmpApp

    token = "ap-secret-token"
    dns, smp, ap = DnsServer().start(), HttpServer(SmpApp()).start(), HttpServer(AccessPointApp(token)).start()
    monkeypatch.setitem(app.config, "PEPPOL_AP_URL", ap.url)
    monkeypatch.setitem(app.config, "PEPPOL_AP_TOKEN", token)
    env = {"PEPPOL_AP_URL": ap.url, "PEPPOL_AP_TOKEN": token, "DNS_SERVER": dns.address, "PEPPOL_SML_ZONE": SML_TEST_ZONE}
    yield SimpleNamespace(dns=dns, smp=smp, ap=ap, env=env)
    for server in (dns, smp, ap):
        server.stop()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make(app):
    """Factories bound to the app: make.user(...), make.group(...), make.client(...)."""
    return factories.Factory(app)


@pytest.fixture
def as_user(app):
    """A test client signed in (through the login form) as the given user."""

    def sign_in(user):
        http = app.test_client()
        login(http, user.email)
        return http

    return sign_in
