"""Two-step sign-in (TOTP): set-up with a QR code and recovery codes shown once, the code after the password, no code
accepted twice, wrong codes throttled, REQUIRE_2FA leading to set-up, and the admin's audited reset."""
import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from clientdesk.models import AuditEvent, RecoveryCode, Role, User
from tests.helpers import PASSWORD, csrf_token, flashes, post

SECRET = re.compile(r'<code class="user-select-all">([A-Z2-7]+)</code>')
RECOVERY = re.compile(r"<li><code>([0-9a-f]{5}-[0-9a-f]{5})</code></li>")


def password_step(http, user, next_url=""):
    return http.post("/login" + next_url, data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_token(http)})


def signed_in(http) -> bool:
    return http.get("/admin/").status_code == 200


def set_up(http, url="/account/two-factor"):
    """Scan the QR code (read the key), confirm with the current code; returns (secret, recovery codes)."""
    page = http.get(url)
    assert page.status_code == 200 and "<svg" in page.text and "<script" not in page.text
    secret = SECRET.search(page.text).group(1)
    done = post(http, url, {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200, done.text
    return secret, RECOVERY.findall(done.text)


def code(secret, steps_ahead=0):
    return pyotp.TOTP(secret).at(datetime.now(UTC) + timedelta(seconds=30 * steps_ahead))


def test_set_up_then_the_password_alone_no_longer_signs_in(app, make, as_user, store):
    user = make.user(Role.STAFF)
    secret, recovery = set_up(as_user(user))
    assert len(recovery) == 10 and len(set(recovery)) == 10
    stored = store.get(User, user.id)
    assert stored.totp_secret == secret and stored.totp_enabled_at is not None
    assert all(code not in row.code_hash for row in store.all(RecoveryCode) for code in recovery)  # hashed
    assert store.count(AuditEvent, action="two_factor_enabled") == 1

    http = app.test_client()
    step = password_step(http, user, "?next=/admin/client/")
    assert step.status_code == 302 and step.headers["Location"] == "/login/code"
    assert not signed_in(http)
    wrong = post(http, "/login/code", {"code": "000000"})
    assert wrong.status_code == 200 and "not valid" in wrong.text and not signed_in(http)
    # The next step's code (a phone clock a little ahead) is accepted once.
    ok = post(http, "/login/code", {"code": code(secret, 1)})
    assert ok.status_code == 302 and ok.headers["Location"] == "/admin/client/" and signed_in(http)

    again = app.test_client()
    password_step(again, user)
    assert post(again, "/login/code", {"code": code(secret, 1)}).status_code == 200  # no code twice
    assert not signed_in(again)


def test_a_recovery_code_signs_in_once(app, make, as_user):
    user = make.user(Role.STAFF)
    _secret, recovery = set_up(as_user(user))
    http = app.test_client()
    password_step(http, user)
    used = post(http, "/login/code", {"code": recovery[0].upper()}, follow_redirects=True)
    assert signed_in(http) and "9 are left" in " ".join(flashes(used.text))
    other = app.test_client()
    password_step(other, user)
    assert post(other, "/login/code", {"code": recovery[0]}).status_code == 200 and not signed_in(other)


def test_wrong_codes_are_throttled_like_wrong_passwords(app, make, as_user):
    user = make.user(Role.STAFF)
    secret, _recovery = set_up(as_user(user))
    http = app.test_client()
    http.environ_base["REMOTE_ADDR"] = "198.51.100.7"  # not an address the user signed in from
    password_step(http, user)
    for _ in range(5):
        post(http, "/login/code", {"code": "123456"})
    locked = post(http, "/login/code", {"code": code(secret)})
    assert locked.status_code == 429 and not signed_in(http)


def test_the_code_page_needs_the_password_step_first(client):
    response = client.get("/login/code")
    assert response.status_code == 302 and response.headers["Location"] == "/login"


@pytest.mark.parametrize(("policy", "role", "required"), [
    ("admin", Role.ADMIN, True), ("admin", Role.STAFF, False), ("all", Role.STAFF, True), ("none", Role.ADMIN, False)])
def test_require_2fa_leads_to_set_up_right_after_the_password(app, make, monkeypatch, policy, role, required):
    monkeypatch.setitem(app.config, "REQUIRE_2FA", policy)
    user = make.user(role)
    http = app.test_client()
    step = password_step(http, user, "?next=/admin/client/")
    if not required:
        assert step.headers["Location"] == "/admin/client/" and signed_in(http)
        return
    assert step.headers["Location"] == "/login/two-factor" and not signed_in(http)
    assert "asks you to sign in with a code" in http.get("/login/two-factor").text
    page = http.get("/login/two-factor")
    done = post(http, "/login/two-factor", {"code": pyotp.TOTP(SECRET.search(page.text).group(1)).now()})
    assert done.status_code == 200 and len(RECOVERY.findall(done.text)) == 10 and 'href="/admin/client/"' in done.text
    assert signed_in(http)


def test_an_admin_resets_a_second_factor_audited(app, make, as_user, store):
    user = make.user(Role.STAFF)
    set_up(as_user(user))
    staff = as_user(make.user(Role.STAFF))
    assert post(staff, "/admin/user/action/", {"action": "reset_two_factor", "rowid": [str(user.id)]}).status_code in (302, 403)
    assert store.get(User, user.id).totp_secret is not None
    admin = as_user(make.user(Role.ADMIN))
    done = post(admin, "/admin/user/action/", {"action": "reset_two_factor", "rowid": [str(user.id)]}, follow_redirects=True)
    assert "Two-step sign-in reset for 1 user." in flashes(done.text)
    assert store.get(User, user.id).totp_secret is None and store.count(RecoveryCode) == 0
    event = store.one(AuditEvent, action="two_factor_reset")
    assert event.object_id == str(user.id) and "totp_secret" in event.changes
    assert store.get(User, user.id).totp_enabled_at is None
    http = app.test_client()
    assert password_step(http, user).headers["Location"] == "/admin/"  # the password alone again


@pytest.mark.parametrize("role", [Role.STAFF, Role.SUPERVISOR, Role.ADMIN])
def test_every_screen_leads_to_ones_own_two_step_sign_in(make, as_user, role):
    http = as_user(make.user(role))
    for page in ("/admin/", "/admin/client/"):
        assert 'href="/account/two-factor"' in http.get(page).text, page
    assert http.get("/account/two-factor").status_code == 200
