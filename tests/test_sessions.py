"""Sessions end on the server: signing out, a new password, a deactivation or an admin's "sign out everywhere"
ends every session of the user, copies of the cookie included; sessions also end when idle or too old."""
import time

import pytest
from flask_login import encode_cookie

from clientdesk.models import AuditEvent, Role, User
from tests.helpers import flashes, form_fields, login, post


@pytest.fixture
def admin(make):
    return make.user(Role.ADMIN)


def copy_of(http):
    """Another browser holding a copy of `http`'s session cookie (e.g. one taken from the user's machine)."""
    other = http.application.test_client()
    other.set_cookie("session", http.get_cookie("session").value)
    return other


def signed_in(http) -> bool:
    return http.get("/admin/").status_code == 200


def save_user_form(http, user_id: int, **changes):
    """The admin's edit form of a user, submitted as shown with `changes` (None: a checkbox left unticked)."""
    fields = form_fields(http.get(f"/admin/user/edit/?id={user_id}").text)
    for name, value in changes.items():
        fields.pop(name, None)
        if value is not None:
            fields[name] = value
    response = http.post(f"/admin/user/edit/?id={user_id}", data=fields)
    assert response.status_code == 302, flashes(response.text)


def test_signing_out_ends_every_session_of_the_user_copies_included(as_user, make):
    user = make.user(Role.STAFF)
    laptop, phone = as_user(user), as_user(user)
    copy = copy_of(laptop)
    assert signed_in(copy) and signed_in(phone)
    response = post(laptop, "/logout")
    assert response.status_code == 302
    assert not signed_in(laptop) and not signed_in(copy) and not signed_in(phone)
    assert signed_in(as_user(user))  # signing in again works


def test_a_new_password_set_by_an_admin_ends_the_users_sessions(as_user, make, admin):
    user = make.user(Role.STAFF)
    http = as_user(user)
    save_user_form(as_user(admin), user.id, new_password="a-brand-new-password")
    assert not signed_in(http)
    fresh = http.application.test_client()
    login(fresh, user.email, "a-brand-new-password")
    assert signed_in(fresh)


def test_deactivation_ends_the_users_sessions_for_good(as_user, make, admin, store):
    user = make.user(Role.STAFF)
    http = as_user(user)
    admin_http = as_user(admin)
    save_user_form(admin_http, user.id, active=None)
    assert store.get(User, user.id).active is False
    assert not signed_in(http)
    save_user_form(admin_http, user.id, active="y")  # reactivated: the old cookie still opens nothing
    assert not signed_in(http)
    assert signed_in(as_user(user))


def test_an_admin_signs_a_user_out_everywhere_and_the_audit_says_so(as_user, make, admin, store):
    user, other = make.user(Role.STAFF), make.user(Role.STAFF)
    http, other_http = as_user(user), as_user(other)
    response = post(as_user(admin), "/admin/user/action/", {"action": "end_sessions", "rowid": [str(user.id)]})
    assert response.status_code == 302
    assert not signed_in(http) and signed_in(other_http)
    events = [e for e in store.all(AuditEvent) if e.action == "end_sessions"]
    assert [(e.object_type, e.object_id, e.actor) for e in events] == [("user", str(user.id), admin.email)]


def test_the_sign_out_everywhere_action_is_for_admins_only(as_user, make):
    user = make.user(Role.STAFF)
    http = as_user(user)
    supervisor = as_user(make.user(Role.SUPERVISOR))
    post(supervisor, "/admin/user/action/", {"action": "end_sessions", "rowid": [str(user.id)]})
    assert signed_in(http)


def set_session_times(http, **seconds_ago):
    now = int(time.time())
    with http.session_transaction() as session:
        for key, ago in seconds_ago.items():
            session[key] = now - ago


def test_a_session_ends_after_the_idle_time(as_user, make, app):
    http = as_user(make.user(Role.STAFF))
    idle = app.config["SESSION_IDLE_MINUTES"] * 60
    set_session_times(http, seen_at=idle - 60)
    assert signed_in(http)  # and the visit counts as activity:
    with http.session_transaction() as session:
        assert session["seen_at"] >= time.time() - 5
    set_session_times(http, seen_at=idle + 60)
    response = http.get("/admin/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_a_session_ends_after_its_longest_life_even_when_used(as_user, make, app):
    http = as_user(make.user(Role.STAFF))
    longest = app.config["SESSION_MAX_HOURS"] * 3600
    set_session_times(http, signed_in_at=longest - 60)
    assert signed_in(http)
    set_session_times(http, signed_in_at=longest + 60)
    assert not signed_in(http)


def test_a_remember_me_cookie_alone_opens_no_session(app, make):
    user = make.user(Role.STAFF)
    http = app.test_client()
    with app.app_context():
        http.set_cookie("remember_token", encode_cookie(user.get_id()))
    assert not signed_in(http)


def test_the_lifetimes_come_from_the_environment(monkeypatch, tmp_path):
    from clientdesk import config

    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("SESSION_IDLE_MINUTES", "15")
    monkeypatch.setenv("SESSION_MAX_HOURS", "8")
    settings = config.from_environment(debug=False, testing=True)
    assert (settings["SESSION_IDLE_MINUTES"], settings["SESSION_MAX_HOURS"]) == (15, 8)
    monkeypatch.setenv("SESSION_MAX_HOURS", "0")
    with pytest.raises(config.ConfigError, match="SESSION_MAX_HOURS"):
        config.from_environment(debug=False, testing=True)



def test_a_page_behind_sign_in_says_why_in_the_visitors_language(client):
    response = client.get("/account/two-factor", headers={"Accept-Language": "nl"}, follow_redirects=True)
    assert response.request.path == "/login" and "Meld u aan om deze pagina te zien." in flashes(response.text)
