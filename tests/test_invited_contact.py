"""An invitation is for one person at one address: correcting the invited contact's e-mail, making another
contact primary or removing the contact voids the open link, on every path that can do it, and says so."""
from types import SimpleNamespace

import pytest

from clientdesk.extensions import db
from clientdesk.lifecycle import ClientLifecycle
from clientdesk.models import AuditEvent, Client, Contact, Invitation, Role
from tests.helpers import flashes, post
from tests.servers import run_worker_burst
from tests.test_client_rules import edit_form
from tests.test_lifecycle import token_of


@pytest.fixture
def team(make):
    group = make.group("Team I")
    return SimpleNamespace(group=group, staff=make.user(Role.STAFF, groups=[group]), admin=make.user(Role.ADMIN))


@pytest.fixture
def invited(team, make, app):
    """An invited client with two contacts (the first primary) and the token of its working link."""
    acme = make.client(team.group, contacts=2, name="Acme Invited BV")
    with app.app_context():
        token = ClientLifecycle.invite(db.session.get(Client, acme.id)).token
        db.session.commit()
    first, second = sorted(acme.contacts, key=lambda c: c.id)
    return SimpleNamespace(client=acme, token=token, primary=first, other=second)


def contact_fields(contact, **overrides):
    fields = {"first_name": contact.first_name, "last_name": contact.last_name, "email": contact.email,
              "language": contact.language, "is_primary": "y" if contact.is_primary else ""}
    fields.update(overrides)
    return {key: value for key, value in fields.items() if value != ""}


def link_works(http, token) -> bool:
    return http.get(f"/invitation/{token}").status_code == 200


def assert_voided_and_said(invited, response, store, client):
    assert not link_works(client, invited.token)
    [event] = store.all(AuditEvent, action="void_invitation")
    assert event.client_id == invited.client.id and event.changes["to"] == invited.primary.email
    said = [m for m in flashes(response.text) if "no longer works" in m]
    assert said and invited.client.name in said[0], flashes(response.text)
    assert 'name="action" value="resend"' in response.text  # "Resend invitation" offered right there


def test_correcting_the_invited_contacts_email_on_the_contact_screen(invited, team, as_user, store, client, app_config,
                                                                      smtp):
    http = as_user(team.staff)
    response = post(http, f"/admin/contact/edit/?id={invited.primary.id}",
                    contact_fields(invited.primary, email="corrected@acme.example.com"), follow_redirects=True)
    assert_voided_and_said(invited, response, store, client)
    # The offered Resend e-mails the corrected address a new link, which works.
    post(http, "/admin/client/lifecycle/", {"id": invited.client.id, "action": "resend"})
    run_worker_burst(app_config, MAIL_URL=smtp.url)
    [message] = smtp.messages
    assert message["To"] == "corrected@acme.example.com" and link_works(client, token_of(message))


def test_making_another_contact_primary_on_the_contact_screen(invited, team, as_user, store, client):
    response = post(as_user(team.staff), f"/admin/contact/edit/?id={invited.other.id}",
                    contact_fields(invited.other, is_primary="y"), follow_redirects=True)
    assert store.get(Contact, invited.other.id).is_primary
    assert_voided_and_said(invited, response, store, client)


def test_correcting_the_email_inline_on_the_client_form(invited, team, as_user, store, client):
    contacts = [invited.primary, invited.other]
    data = edit_form(invited.client, contacts, **{"contacts-0-email": "fixed@acme.example.com"})
    response = post(as_user(team.staff), f"/admin/client/edit/?id={invited.client.id}", data, follow_redirects=True)
    assert store.get(Contact, invited.primary.id).email == "fixed@acme.example.com"
    assert_voided_and_said(invited, response, store, client)


def test_making_another_contact_primary_inline(invited, team, as_user, store, client):
    contacts = [invited.primary, invited.other]
    data = edit_form(invited.client, contacts, **{"contacts-1-is_primary": "y"})
    del data["contacts-0-is_primary"]
    response = post(as_user(team.staff), f"/admin/client/edit/?id={invited.client.id}", data, follow_redirects=True)
    assert store.get(Contact, invited.other.id).is_primary
    assert_voided_and_said(invited, response, store, client)


def test_deleting_the_invited_contact(invited, team, as_user, store, client):
    response = post(as_user(team.staff), "/admin/contact/delete/", {"id": invited.primary.id}, follow_redirects=True)
    assert store.get(Contact, invited.other.id).is_primary
    assert_voided_and_said(invited, response, store, client)


def test_the_import_and_other_code_paths_void_too(invited, app, store, client):
    """Paths without a screen (import, CLI, jobs) change contacts through the same session: the rule holds."""
    with app.app_context():
        db.session.get(Contact, invited.primary.id).email = "typo-fixed@acme.example.com"
        db.session.commit()
    assert not link_works(client, invited.token)
    assert store.count(AuditEvent, action="void_invitation") == 1


def test_other_edits_leave_the_link_working(invited, team, as_user, store, client):
    http = as_user(team.staff)
    response = post(http, f"/admin/contact/edit/?id={invited.primary.id}",
                    contact_fields(invited.primary, last_name="Corrected", mobile="+32 478 11 22 33"), follow_redirects=True)
    assert not [m for m in flashes(response.text) if "no longer works" in m]
    post(http, f"/admin/contact/edit/?id={invited.other.id}", contact_fields(invited.other, email="other@acme.example.com"))
    post(http, f"/admin/client/edit/?id={invited.client.id}",
         edit_form(invited.client, store.all(Contact, client_id=invited.client.id), name="Acme Renamed BV"))
    assert store.get(Client, invited.client.id).name == "Acme Renamed BV"
    assert link_works(client, invited.token)
    assert store.count(AuditEvent, action="void_invitation") == 0
    assert store.one(Invitation, client_id=invited.client.id).status == "pending"
