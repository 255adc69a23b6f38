"""Sign-in throttling: per address and per account, with waits that grow, never a lock on the real user."""
import time

import pytest

from clientdesk.models import Role
from tests.helpers import PASSWORD, flashes, login, post

USUAL, ATTACKER, ELSEWHERE = "192.0.2.10", "203.0.113.66", "198.51.100.7"


@pytest.fixture
def limits(app, monkeypatch):
    """Small tiers, so that tests reach them in a few attempts."""
    def set_limits(per_address="50/minute", per_account="50/minute"):
        monkeypatch.setitem(app.config, "LOGIN_LIMITS_PER_ADDRESS", per_address)
        monkeypatch.setitem(app.config, "LOGIN_LIMITS_PER_ACCOUNT", per_account)
    return set_limits


def browser(app, address: str):
    http = app.test_client()
    http.environ_base["REMOTE_ADDR"] = address
    return http


def attempt(http, email: str, password: str = "guess", **kwargs):
    return post(http, "/login", {"email": email, "password": password}, **kwargs)


def test_guessing_from_elsewhere_does_not_keep_the_user_out_of_their_usual_address(app, make, limits):
    limits(per_account="3/minute;10/day")
    user = make.user(Role.STAFF)
    login(browser(app, USUAL), user.email)  # the user's usual address
    attacker = browser(app, ATTACKER)
    for _ in range(3):
        assert attempt(attacker, user.email).status_code == 200
    assert attempt(attacker, user.email, PASSWORD).status_code == 429  # even with the right password
    assert attempt(browser(app, ELSEWHERE), user.email, PASSWORD).status_code == 429  # the account, from a new address
    usual = browser(app, USUAL)
    assert attempt(usual, user.email, PASSWORD).status_code == 302
    assert usual.get("/admin/").status_code == 200


def test_spraying_many_emails_from_one_address_is_throttled(app, make, limits):
    limits(per_address="4/minute")
    user = make.user(Role.STAFF)
    sprayer = browser(app, ATTACKER)
    for n in range(4):
        assert attempt(sprayer, f"someone{n}@example.com").status_code == 200
    assert attempt(sprayer, "someone-else@example.com").status_code == 429
    assert attempt(sprayer, user.email, PASSWORD).status_code == 429
    assert attempt(browser(app, USUAL), user.email, PASSWORD).status_code == 302  # other addresses are not held back


def test_the_wait_grows_with_the_failures(app, make, limits):
    limits(per_account="2 per 2 seconds;3/hour")
    user = make.user(Role.STAFF)
    http = browser(app, ATTACKER)
    for _ in range(2):
        attempt(http, user.email)
    first = attempt(http, user.email)
    assert first.status_code == 429 and 1 <= int(first.headers["Retry-After"]) <= 2
    time.sleep(2.1)  # the first tier's window has passed
    assert attempt(http, user.email).status_code == 200  # heard (and wrong): the third failure this hour
    second = attempt(http, user.email)
    assert second.status_code == 429 and int(second.headers["Retry-After"]) > 3000


def test_unknown_and_known_emails_are_throttled_alike(app, make, limits):
    limits(per_account="2/minute")
    user = make.user(Role.STAFF)
    answers = {}
    for email in (user.email, "nobody@example.com"):
        http = browser(app, ATTACKER)
        answers[email] = [attempt(http, email).status_code for _ in range(3)]
    assert answers[user.email] == answers["nobody@example.com"] == [200, 200, 429]


def test_a_throttled_attempt_gets_the_sign_in_page_in_the_users_language(app, make, limits):
    limits(per_account="1/minute")
    user = make.user(Role.STAFF)
    http = browser(app, ATTACKER)
    attempt(http, user.email)
    english = attempt(http, user.email)
    assert english.status_code == 429 and 'name="password"' in english.text
    assert flashes(english.text) == ["Too many failed attempts. Try again in 1 minute."]
    french = attempt(http, user.email, headers={"Accept-Language": "fr-BE,fr;q=0.9"})
    assert french.status_code == 429
    assert flashes(french.text) == ["Trop de tentatives échouées. Réessayez dans 1 minute."]


def test_redis_down_signs_in_and_still_throttles_in_memory(make_app, make, caplog):
    down = make_app(REDIS_URL="redis://127.0.0.1:1/0", LOGIN_LIMITS_PER_ADDRESS="50/minute", LOGIN_LIMITS_PER_ACCOUNT="2/minute")
    user = make.user(Role.STAFF)
    assert attempt(browser(down, USUAL), user.email, PASSWORD).status_code == 302
    attacker = browser(down, ATTACKER)
    assert [attempt(attacker, "target@example.com").status_code for _ in range(3)] == [200, 200, 429]
    assert "counted in this process only" in caplog.text


def test_behind_a_proxy_the_forwarded_address_is_the_one_throttled(make, make_app):
    proxied = make_app(TRUSTED_PROXIES=1, LOGIN_LIMITS_PER_ADDRESS="2/minute")
    user = make.user(Role.STAFF)
    http = browser(proxied, "127.0.0.1")  # the proxy
    for n in range(2):
        attempt(http, f"someone{n}@example.com", headers={"X-Forwarded-For": ATTACKER})
    assert attempt(http, "x@example.com", headers={"X-Forwarded-For": ATTACKER}).status_code == 429
    assert attempt(http, user.email, PASSWORD, headers={"X-Forwarded-For": USUAL}).status_code == 302


def test_a_setting_limits_cannot_read_is_refused_at_start(app_config):
    from clientdesk.app import create_app
    from clientdesk.config import ConfigError

    with pytest.raises(ConfigError, match="LOGIN_LIMITS_PER_ACCOUNT"):
        create_app(dict(app_config, LOGIN_LIMITS_PER_ACCOUNT="five a minute"))
