"""Client users on both sides: an owner invites colleagues from the portal (the company invitations' machinery, its
e-mail sent by a real worker to a real SMTP server) and removes users; staff see every client user on the client page
and deactivate or reactivate one, within their scope."""
from datetime import timedelta

import pytest

from clientdesk.models import AuditEvent, Client, ClientUser, Contact, Group, Invitation, Role, Task, today
from tests.helpers import flashes, portal_login, post
from tests.servers import run_worker_burst
from tests.test_lifecycle import accept, token_of


@pytest.fixture
def acme(make):
    return make.client(name="Boulangerie Dupont SRL", status="active", trial_end=today() + timedelta(days=20))


@pytest.fixture
def owner(make, acme):
    return make.client_user(acme, email="marie@dupont.example.com", ui_language="en")


def signed_in(app, email: str):
    http = app.test_client()
    portal_login(http, email)
    return http


def invite(http, email="luc@dupont.example.com", role="member", **fields):
    return post(http, "/portal/users/invite", {"first_name": "Luc", "last_name": "Peeters", "email": email, "role": role,
                                               "language": "nl-BE", **fields})


def test_an_owner_invites_a_colleague_who_accepts_and_lands_signed_in_with_the_role(app, app_config, smtp, store, acme,
                                                                                   owner):
    http = signed_in(app, owner.email)
    page = http.get("/portal/users")
    assert page.status_code == 200 and 'href="/portal/users"' in page.text and owner.email in page.text
    assert 'action="/portal/users/invite"' in page.text

    sent = invite(http, email="Luc@Dupont.example.com")
    assert sent.status_code == 303 and sent.headers["Location"] == "/portal/users"
    contact = store.one(Contact, email="luc@dupont.example.com")
    assert (contact.client_id, contact.is_primary, contact.language, contact.full_name) == (acme.id, False, "nl-BE", "Luc Peeters")
    invitation = store.one(Invitation, contact_id=contact.id)
    assert (invitation.role, invitation.invited_by_id, invitation.status) == ("member", owner.id, "pending")
    assert round((invitation.expires_at - invitation.created_at).total_seconds() / 86400) == 21
    assert "luc@dupont.example.com" in http.get("/portal/users").text  # invited, not yet joined

    run_worker_burst(app_config, MAIL_URL=smtp.url)
    [message] = smtp.messages
    assert message["To"] == "luc@dupont.example.com"
    assert message["Subject"] == "Portal User{} nodigt u uit om Boulangerie Dupont SRL te vervoegen op ClientDesk".format(
        owner.full_name.removeprefix("Portal User"))
    assert store.get(Invitation, invitation.id).status == "sent"
    assert store.one(Task, kind="colleague_invite").status == "finished"

    colleague = app.test_client()
    token = token_of(message)
    page = colleague.get(f"/invitation/{token}")
    assert page.status_code == 200 and '<html lang="nl">' in page.text and owner.full_name in page.text
    accepted = accept(colleague, token)
    assert accepted.status_code == 302 and accepted.headers["Location"] == "/portal/"
    home = colleague.get("/portal/")
    assert home.status_code == 200 and "Boulangerie Dupont SRL" in home.text
    luc = store.one(ClientUser, email="luc@dupont.example.com")
    assert (luc.client_id, luc.role, luc.contact_id, luc.full_name, luc.ui_language) == \
        (acme.id, "member", contact.id, "Luc Peeters", "nl")
    assert store.get(Invitation, invitation.id).status == "accepted"
    assert store.get(Client, acme.id).status == "active"
    assert colleague.get(f"/invitation/{token}").status_code == 410  # single use

    members_page = colleague.get("/portal/users").text
    assert owner.email in members_page and 'action="/portal/users/invite"' not in members_page
    events = store.all(AuditEvent, client_id=acme.id)
    assert {(e.action, e.object_type) for e in events if e.actor == owner.email} >= {
        ("invite_colleague", "client"), ("invite_colleague", "contact")}
    assert ("accept", "client_user") in {(e.action, e.object_type) for e in events if e.actor == "luc@dupont.example.com"}


def test_an_owner_invites_another_owner_who_may_invite_in_turn(app, app_config, smtp, store, owner):
    http = signed_in(app, owner.email)
    assert invite(http, email="anne@dupont.example.com", role="owner", language="fr-BE").status_code == 303
    run_worker_burst(app_config, MAIL_URL=smtp.url)
    [message] = smtp.messages
    assert "vous invite à rejoindre" in message["Subject"]
    anne = app.test_client()
    assert accept(anne, token_of(message)).status_code == 302
    assert store.one(ClientUser, email="anne@dupont.example.com").role == "owner"
    assert invite(anne, email="paul@dupont.example.com").status_code == 303


def test_a_member_sees_the_list_but_cannot_invite_or_remove(app, make, store, acme, owner):
    member = make.client_user(acme, role="member", email="jan@dupont.example.com")
    http = signed_in(app, member.email)
    page = http.get("/portal/users")
    assert page.status_code == 200 and owner.email in page.text and member.email in page.text
    assert "/portal/users/invite" not in page.text and "/remove" not in page.text
    assert invite(http).status_code == 403
    assert post(http, f"/portal/users/{owner.id}/remove").status_code == 403
    assert store.count(Contact, email="luc@dupont.example.com") == 0 and store.get(ClientUser, owner.id).active


def test_an_owner_removes_a_user_whose_sessions_end_but_not_the_last_owner(app, make, store, acme, owner):
    member = make.client_user(acme, role="member", email="jan@dupont.example.com")
    jan = signed_in(app, member.email)
    http = signed_in(app, owner.email)

    alone = post(http, f"/portal/users/{owner.id}/remove")
    assert alone.status_code == 400
    assert "is the company's last active owner" in " ".join(flashes(alone.text))
    assert store.get(ClientUser, owner.id).active

    assert post(http, f"/portal/users/{member.id}/remove").status_code == 303
    assert not store.get(ClientUser, member.id).active
    assert jan.get("/portal/").status_code == 302  # signed out
    [event] = [e for e in store.all(AuditEvent, client_id=acme.id) if e.action == "deactivate"]
    assert (event.actor, event.object_type, event.changes["active"]) == (owner.email, "client_user", [True, False])

    second = make.client_user(acme, email="anne@dupont.example.com")
    assert post(signed_in(app, second.email), f"/portal/users/{owner.id}/remove").status_code == 303  # another owner is left


def test_an_address_that_already_signs_in_or_belongs_elsewhere_is_refused_with_a_clear_message(app, make, store, acme,
                                                                                                owner):
    make.user(Role.STAFF, email="staff@firm.example.com")
    other = make.client(name="Autre Société SA", status="active")
    taken = make.client_user(other, email="taken@autre.example.com")
    http = signed_in(app, owner.email)
    for email, reason in ((owner.email, "already signs in to a client space"),
                          (taken.email, "already signs in to a client space"),
                          ("staff@firm.example.com", "belongs to a user of the firm"),
                          (other.contacts[0].email, "already used by a contact of another company"),
                          (acme.contacts[0].email, "primary contact: your accountant invites them")):
        refused = invite(http, email=email)
        assert refused.status_code == 400 and reason in refused.text, email
    invalid = invite(http, email="not an address")
    assert invalid.status_code == 400 and "is not a valid e-mail address" in invalid.text
    assert store.count(Invitation) == 0 and store.count(Contact, client_id=acme.id) == 1


def test_a_new_invitation_to_the_same_colleague_voids_the_earlier_link(app, store, acme, owner):
    http = signed_in(app, owner.email)
    assert invite(http).status_code == 303
    assert invite(http, role="owner").status_code == 303
    first, second = store.all(Invitation, client_id=acme.id)
    assert (first.status, second.status, second.role) == ("voided", "pending", "owner")
    assert store.count(Contact, email="luc@dupont.example.com") == 1


def test_another_companys_client_user_is_404_on_every_new_route(app, make, store, acme, owner):
    other = make.client(name="Autre Société SA", status="active")
    theirs = make.client_user(other, email="someone@autre.example.com")
    http = signed_in(app, owner.email)
    assert post(http, f"/portal/users/{theirs.id}/remove").status_code == 404
    assert theirs.email not in http.get("/portal/users").text
    assert store.get(ClientUser, theirs.id).active


@pytest.fixture
def team(make):
    return make.group("Team Brussels")


def test_staff_see_the_users_tab_and_deactivate_a_user_whose_session_ends(app, make, as_user, store, team):
    acme = make.client(name="Brasserie Lambiek BV", status="active", group=team)
    owner = make.client_user(acme, email="lotte@lambiek.example.com")
    member = make.client_user(acme, role="member", email="jan@lambiek.example.com")
    portal = signed_in(app, member.email)
    staff = as_user(make.user(Role.STAFF, groups=[team]))

    page = staff.get(f"/admin/client/details/?id={acme.id}").text
    assert 'href="#users"' in page and member.email in page and owner.email in page
    assert 'action="/admin/client/client-user/"' in page

    last_owner = post(staff, "/admin/client/client-user/", {"id": owner.id, "active": "0"}, follow_redirects=True)
    assert "last active owner" in last_owner.text and store.get(ClientUser, owner.id).active

    done = post(staff, "/admin/client/client-user/", {"id": member.id, "active": "0"})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/admin/client/details/?id={acme.id}#users")
    assert not store.get(ClientUser, member.id).active
    assert portal.get("/portal/").status_code == 302  # that user's session ended
    assert post(staff, "/admin/client/client-user/", {"id": member.id, "active": "1"}).status_code == 302
    assert store.get(ClientUser, member.id).active
    portal_login(portal, member.email)
    assert portal.get("/portal/").status_code == 200
    actions = [(e.action, e.object_type, e.actor) for e in store.all(AuditEvent, client_id=acme.id) if e.object_type == "client_user"]
    assert ("deactivate", "client_user", staff_email(store)) in actions and ("reactivate", "client_user", staff_email(store)) in actions


def staff_email(store) -> str:
    from clientdesk.models import User

    return store.one(User, role="staff").email


def test_client_users_of_a_client_outside_ones_scope_are_404(app, make, as_user, store, team):
    acme = make.client(name="Brasserie Lambiek BV", status="active", group=team)
    member = make.client_user(acme, role="member", email="jan@lambiek.example.com")
    make.client_user(acme, email="lotte@lambiek.example.com")
    outsider = as_user(make.user(Role.STAFF, groups=[make.group("Team Antwerp")]))
    assert post(outsider, "/admin/client/client-user/", {"id": member.id, "active": "0"}).status_code == 404
    assert post(outsider, "/admin/client/client-user/", {"id": "999999", "active": "0"}).status_code == 404
    assert outsider.get("/admin/client/client-user/").status_code == 405

    supervisor = as_user(make.user(Role.SUPERVISOR))
    store.update(Client, acme.id, hidden=True)
    assert post(supervisor, "/admin/client/client-user/", {"id": member.id, "active": "0"}).status_code == 404
    assert store.get(ClientUser, member.id).active
    store.update(Client, acme.id, hidden=False)
    assert post(supervisor, "/admin/client/client-user/", {"id": member.id, "active": "0"}).status_code == 302
    assert not store.get(ClientUser, member.id).active
    assert store.count(Group) >= 2


def test_the_rules_say_where_a_colleagues_link_may_be_and_that_a_company_keeps_an_owner(app, store, acme, owner):
    """The SQL form of the rules (checked after every test) finds what a path bypassing client_users.py would leave."""
    from clientdesk import rules
    from clientdesk.extensions import db

    def broken() -> list[str]:
        with app.app_context():
            found = rules.violations()
            db.session.remove()
        return found

    assert invite(signed_in(app, owner.email)).status_code == 303
    contact = store.one(Contact, email="luc@dupont.example.com")
    assert broken() == []
    store.update(Contact, contact.id, accepted_at=acme.activated_at)  # as if the contact had joined already
    assert broken() == [f"client {acme.id}: A colleague's invitation link works only while the client is active, for one "
                        "of its contacts who is not the primary one and has no access yet, and only one at a time for each."]
    store.update(Contact, contact.id, accepted_at=None)
    store.update(ClientUser, owner.id, active=False)
    assert broken() == [f"client {acme.id}: A company with client users keeps at least one active owner: the owner "
                        "invites and removes the others."]
    store.update(ClientUser, owner.id, active=True)


def test_a_colleagues_open_link_is_voided_when_the_client_is_deactivated(app, make, as_user, store, acme, owner):
    assert invite(signed_in(app, owner.email)).status_code == 303
    admin = as_user(make.user(Role.ADMIN))
    assert post(admin, "/admin/client/lifecycle/", {"id": acme.id, "action": "deactivate"}).status_code == 302
    assert [i.status for i in store.all(Invitation, client_id=acme.id)] == ["voided"]


def test_a_colleagues_invitation_e_mail_that_fails_shows_and_is_tried_again_or_failed(app, app_config, make, as_user,
                                                                                       store, acme, owner):
    from tests.servers import SmtpServer

    server = SmtpServer(refuse={"gone@dupont.example.com"}, defer={"later@dupont.example.com"}).start()
    try:
        http = signed_in(app, owner.email)
        assert invite(http, email="gone@dupont.example.com").status_code == 303
        assert invite(http, email="later@dupont.example.com").status_code == 303
        run_worker_burst(app_config, MAIL_URL=server.url)
    finally:
        server.stop()
    refused = store.one(Invitation, contact_id=store.one(Contact, email="gone@dupont.example.com").id)
    deferred = store.one(Invitation, contact_id=store.one(Contact, email="later@dupont.example.com").id)
    assert (refused.status, refused.retry_at) == ("failed", None) and "550" in refused.error
    assert (deferred.status, deferred.failed_attempts) == ("pending", 1) and deferred.retry_at is not None
    assert any(e.action == "invitation_failed" for e in store.all(AuditEvent, client_id=acme.id))

    page = http.get("/portal/users").text
    assert "gone@dupont.example.com" in page and "e-mail not delivered yet" in page
    staff_page = as_user(make.user(Role.ADMIN)).get(f"/admin/client/details/?id={acme.id}").text
    assert "e-mail not delivered" in staff_page and "later@dupont.example.com" in staff_page and owner.full_name in staff_page


def test_a_colleague_the_firm_keeps_as_a_contact_gets_the_invitation_on_that_contact(app, make, store):
    acme = make.client(name="Brouwerij De Kroon BV", status="active", contacts=2)
    owner = make.client_user(acme, email="els@kroon.example.com", ui_language="en")
    kept = acme.contacts[1]
    assert invite(signed_in(app, owner.email), email=kept.email.upper()).status_code == 303
    assert store.count(Contact, client_id=acme.id) == 2
    assert store.one(Invitation, client_id=acme.id).contact_id == kept.id
