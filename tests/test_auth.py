import contextlib
import hashlib
import sys

from clientdesk.models import Role
from tests.helpers import PASSWORD, csrf_token, flashes, post


def test_login_with_the_real_form_then_dashboard(client, make):
    user = make.user(Role.STAFF)
    page = client.get("/login")
    assert page.status_code == 200 and 'name="csrf_token"' in page.text
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_token(client)})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_unknown_email_and_wrong_password_get_the_same_message(client, make):
    user = make.user(Role.STAFF)
    wrong_password = post(client, "/login", {"email": user.email, "password": "not-it"})
    unknown = post(client, "/login", {"email": "nobody@example.com", "password": "not-it"})
    assert wrong_password.status_code == unknown.status_code == 200
    assert flashes(wrong_password.text) == flashes(unknown.text) == ["Wrong e-mail or password."]
    assert client.get("/admin/").status_code == 302  # still signed out


def test_login_without_csrf_token_is_refused(client, make):
    user = make.user(Role.STAFF)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302


def test_next_redirect_only_to_this_site(client, make):
    user = make.user(Role.STAFF)
    ok = post(client, "/login?next=/admin/client/", {"email": user.email, "password": PASSWORD})
    assert ok.headers["Location"] == "/admin/client/"
    for evil in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"):
        other = type(client)(client.application)
        response = post(other, "/login?next=" + evil, {"email": user.email, "password": PASSWORD})
        assert response.headers["Location"] == "/admin/", evil


def test_admin_requires_login_and_comes_back_after(client, make):
    response = client.get("/admin/client/?flt0_status_equals=invited")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_logout_is_post_only_with_csrf(client, make, as_user):
    user = make.user(Role.STAFF)
    http = as_user(user)
    assert http.get("/logout").status_code == 405
    assert http.post("/logout").status_code == 400
    assert http.get("/admin/").status_code == 200
    assert post(http, "/logout").status_code == 302
    assert http.get("/admin/").status_code == 302


def test_inactive_user_cannot_sign_in(client, make, store):
    from clientdesk.models import User

    user = make.user(Role.STAFF)
    store.update(User, user.id, active=False)
    response = post(client, "/login", {"email": user.email, "password": PASSWORD})
    assert flashes(response.text) == ["Wrong e-mail or password."]


def test_passwords_are_stored_hashed(make, store):
    from clientdesk.models import User

    user = store.get(User, make.user(Role.STAFF).id)
    assert PASSWORD not in user.password_hash and user.password_hash.startswith(("scrypt:", "pbkdf2:"))


@contextlib.contextmanager
def key_derivations():
    """Counts the key derivations (scrypt or PBKDF2, what verifying a werkzeug password hash runs) made in this
    thread: the test client serves its requests in the calling thread."""
    counted = []
    derivations = (hashlib.scrypt, hashlib.pbkdf2_hmac)

    def profile(frame, event, arg):
        if event == "c_call" and any(arg is function for function in derivations):
            counted.append(arg)

    sys.setprofile(profile)
    try:
        yield counted
    finally:
        sys.setprofile(None)


def test_unknown_and_deactivated_accounts_cost_one_password_check_like_a_known_one(client, make, store):
    from clientdesk.models import User

    known = make.user(Role.STAFF)
    deactivated = make.user(Role.STAFF)
    store.update(User, deactivated.id, active=False)
    post(client, "/login", {"email": "warm-up@example.com", "password": "guess"})  # the stand-in hash is made once
    for email in (known.email, "nobody@example.com", deactivated.email):
        with key_derivations() as counted:
            response = post(client, "/login", {"email": email, "password": "guess"})
        assert flashes(response.text) == ["Wrong e-mail or password."]
        assert len(counted) == 1, email
