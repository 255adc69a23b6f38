"""The password rule (clientdesk/passwords.py), the same for staff and for clients accepting an invitation, on every
path that sets a password: the invitation page, the admin's user form, the CLI, and the models themselves."""
import pytest

from clientdesk.models import Client, ClientUser, Contact, Invitation, Role, User
from clientdesk.passwords import WeakPassword, common_passwords, problem
from tests.helpers import PASSWORD, post
from tests.test_cli import flask
from tests.test_lifecycle import accept

LENGTH = "Use at least 12 characters."
COMMON = "This password is one of the most common passwords"
RUN = "This password is a repeated or sequential run"
PERSONAL = "The password may not contain your e-mail address or your name."


@pytest.mark.parametrize(("password", "reason"), [
    ("aaaaaaaaaa", LENGTH),
    ("password12", LENGTH),
    ("short-pw", LENGTH),
    ("aaaaaaaaaaaa", RUN),
    ("abcabcabcabc", RUN),
    ("abcdefghijkl", RUN),
    ("890123456789", RUN),
    ("1qaz2wsx3edc", COMMON),  # in the list as it is
    ("Password1234!", COMMON),  # a listed one with digits and a symbol added
    ("Sunshine2024!!", COMMON),
    ("nora.peeters@example.com", PERSONAL),
    ("my nora.peeters rocks", PERSONAL),
    ("i-am-PEETERS-and-proud", PERSONAL),
    ("NoraPeeters@Brussel", PERSONAL),
    ("correct-horse-battery", None),
    ("Trois petits chats blancs", None),
    ("demo-password-2026", None),
])
def test_the_rule_says_which_part_failed(app, password, reason):
    with app.test_request_context():
        found = problem(password, "nora.peeters@example.com", ["Nora Peeters"])
        assert str(found).startswith(reason) if reason else found is None, found


def test_the_shipped_list_is_a_real_one(app):
    passwords = common_passwords()
    assert len(passwords) == 30000 and {"123456", "password", "qwerty", "iloveyou"} <= passwords


def test_models_refuse_a_weak_password_whatever_the_path(app):
    with app.test_request_context():
        user = User(email="nora@example.com", full_name="Nora Peeters")
        with pytest.raises(WeakPassword, match="at least 12"):
            user.set_password("aaaaaaaaaa")
        client_user = ClientUser(full_name="Jan Claessens", email="jan@client.example.com")
        with pytest.raises(WeakPassword, match="your e-mail address or your name"):
            client_user.set_password("claessens-2026-bv")
        assert user.password_hash is None and client_user.password_hash is None


def test_invitation_refuses_a_common_password_and_the_contacts_own_name(make, app, store, client):
    from clientdesk.extensions import db
    from clientdesk.lifecycle import ClientLifecycle

    acme = make.client(status="created")
    with app.test_request_context():
        invitation = ClientLifecycle.invite(db.session.get(Client, acme.id))
        token = invitation.token
        db.session.commit()
    contact = acme.contacts[0]
    store.update(Contact, contact.id, language="en-GB")  # the page speaks the contact's language
    for password, message in (("password12", LENGTH), ("password1234", COMMON),
                              (contact.email.split("@")[0] + "-pw", PERSONAL)):
        page = accept(client, token, password=password)
        assert page.status_code == 200 and message in page.text, password
    assert store.get(Client, acme.id).status == "invited"
    assert store.count(ClientUser) == 0
    assert accept(client, token, password=PASSWORD).status_code == 302
    assert store.one(Invitation, client_id=acme.id).status == "accepted"


def test_admin_user_form_applies_the_rule(make, as_user, store):
    http = as_user(make.user(Role.ADMIN))
    form = {"email": "nora@example.com", "full_name": "Nora Peeters", "role": "staff", "active": "y", "ui_language": ""}
    for password, message in (("password12", LENGTH), ("qazwsxedcrfv", COMMON), ("peeters-rules-2026", PERSONAL)):
        page = post(http, "/admin/user/new/", {**form, "new_password": password})
        assert page.status_code == 200 and message in page.text, password
        assert store.count(User, email="nora@example.com") == 0
    assert post(http, "/admin/user/new/", {**form, "new_password": PASSWORD}).status_code == 302
    assert store.one(User, email="nora@example.com").password_hash


@pytest.mark.long
def test_cli_applies_the_rule(app_config, store):
    refused = flask(app_config, "users", "create", "--email", "nora@example.com", "--password", "password1234", expect=1)
    assert COMMON in refused.stderr
    refused = flask(app_config, "users", "create", "--email", "nora@example.com", "--name", "Nora Peeters",
                    "--password", "nora-peeters-2026", expect=1)
    assert PERSONAL in refused.stderr
    assert store.count(User, email="nora@example.com") == 0


def test_passwords_are_hashed_by_the_configured_method_on_every_path(app, app_config, make, store):
    """PASSWORD_HASH_METHOD: the suite's is a cheap one (tests/conftest.py), in this process and in the CLI's."""
    from tests.conftest import CHEAP_PASSWORD_HASH

    flask(app_config, "users", "create", "--email", "nora@example.com", "--password", "long-enough-pw", "--role", "staff")
    with app.app_context():
        client_user = ClientUser(full_name="Nora Peeters", email="nora.peeters@example.com")
        client_user.set_password("long-enough-pw")
    hashes = [store.get(User, make.user(Role.STAFF).id).password_hash, store.one(User, email="nora@example.com").password_hash,
              client_user.password_hash]
    assert all(h.startswith(f"{CHEAP_PASSWORD_HASH}$") for h in hashes), hashes


@pytest.mark.parametrize("value", ["md5", "scrypt:16384", "pbkdf2:sha256:0", "pbkdf2:no-such-digest"])
def test_a_mistyped_password_hash_method_stops_the_start(monkeypatch, tmp_path, value):
    from clientdesk.config import ConfigError, from_environment

    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("PASSWORD_HASH_METHOD", value)
    with pytest.raises(ConfigError, match="PASSWORD_HASH_METHOD: .* \\(e.g. scrypt, or pbkdf2:sha256:600000\\)"):
        from_environment(debug=False, testing=True)
    monkeypatch.setenv("PASSWORD_HASH_METHOD", "scrypt:16384:8:1")
    assert from_environment(debug=False, testing=True)["PASSWORD_HASH_METHOD"] == "scrypt:16384:8:1"
    monkeypatch.delenv("PASSWORD_HASH_METHOD")
    assert from_environment(debug=False, testing=True)["PASSWORD_HASH_METHOD"] == "scrypt"
