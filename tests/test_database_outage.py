"""The database out of reach: pages answer 503 with a page that needs neither the database nor the signed-in user.

The outage is real: the app is pointed at a SQLite file in a folder that is not there (a volume gone), or at a
PostgreSQL port where nothing listens; the browser keeps the session it signed in with while the database was up."""
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from clientdesk.app import create_app
from clientdesk.extensions import db
from clientdesk.models import Role
from tests.helpers import csrf_token
from tests.servers import free_port, wait_for

UNAVAILABLE = {
    "en": "The service is briefly unavailable, try again in a minute.",
    "fr": "Le service est brièvement indisponible, réessayez dans une minute.",
    "nl": "De dienst is even niet beschikbaar, probeer het over een minuut opnieuw.",
}


def unreachable(database_url: str, folder) -> str:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return url.set(database=str(folder / "unmounted" / "clientdesk.db")).render_as_string(hide_password=False)
    return url.set(port=free_port()).render_as_string(hide_password=False)


@pytest.fixture
def down(app_config, database_url, tmp_path):
    """The app whose database went away."""
    return create_app(dict(app_config, SQLALCHEMY_DATABASE_URI=unreachable(database_url, tmp_path)))


@pytest.fixture
def outage(down, make, as_user):
    """A browser signed in as an admin while the database was up, talking to the app after it went away."""
    signed_in = as_user(make.user(Role.ADMIN))
    http = down.test_client()
    http.set_cookie("session", signed_in.get_cookie("session").value)
    return http


@pytest.mark.parametrize("language", ["en", "fr", "nl"])
def test_a_signed_in_page_answers_503_in_the_browsers_language(outage, language):
    response = outage.get("/admin/client/", headers={"Accept-Language": language})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "60"
    assert response.mimetype == "text/html"
    assert UNAVAILABLE[language] in response.text
    assert f'<html lang="{language}">' in response.text


def test_a_sign_in_attempt_answers_503(down):
    http = down.test_client()
    assert http.get("/login").status_code == 200  # the sign-in page itself needs no database
    response = http.post("/login", data={"email": "someone@example.com", "password": "x", "csrf_token": csrf_token(http)})
    assert response.status_code == 503 and UNAVAILABLE["en"] in response.text


def test_json_requests_get_json(outage):
    response = outage.get("/admin/client/", headers={"Accept": "application/json"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "60"
    assert response.json == {"error": UNAVAILABLE["en"]}


def test_healthz_says_the_database_is_down(outage):
    response = outage.get("/healthz")
    assert response.status_code == 503
    assert (response.json["status"], response.json["database"], response.json["redis"]) == ("down", "down", "ok")


def test_connections_that_a_database_restart_closed_are_replaced(app, database_url, make, as_user):
    """pool_pre_ping reaches the engine: a pooled connection whose server process is gone is noticed and
    replaced before a request uses it, so the first request after a PostgreSQL restart is answered."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server process to lose")
    http = as_user(make.user(Role.ADMIN))
    with app.app_context():
        db.engine.dispose()  # the pool now holds only the connection opened below
        with db.engine.connect() as connection:
            pid = connection.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    # Each statement its own transaction: within one, pg_stat_activity answers from a snapshot taken at its first read,
    # and a backend still seen there (pg_terminate_backend only signals it) would be seen until the timeout.
    admin_engine = sa.create_engine(database_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as connection:
        connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        wait_for(lambda: not connection.execute(
            sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}).scalar())
    admin_engine.dispose()
    assert http.get("/admin/client/").status_code == 200
