"""Corrections a client proposes in the portal to what only the firm edits, and the staff's decision on the client
page: checked by the back office's validators and client rules when proposed and when accepted, audited on the
client's trail, scoped on both sides."""
import re

import pytest

from clientdesk.models import AuditEvent, ChangeProposal, Client, Contact, Role
from tests.helpers import flashes, portal_login, post
from tests.test_dashboard import LIST_COUNT, dashboard_links


@pytest.fixture
def team(make):
    return make.group("Team Proposals")


@pytest.fixture
def acme(make, team):
    return make.client(team, name="Boulangerie Dupont SRL", status="active", street="Rue Haute", house_number="12",
                       postal_code="1000", city="Bruxelles", contacts=2)


@pytest.fixture
def portal(app, make, acme):
    owner = make.client_user(acme, email="marie@dupont.example.com")
    http = app.test_client()
    portal_login(http, owner.email)
    http.owner = owner
    return http


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_a_correction_goes_from_the_portal_to_the_client_page_and_the_dashboard_and_is_applied_and_audited(
        app, make, team, acme, portal, as_user, store):
    assert "/portal/corrections" in portal.get("/portal/").text  # the tab and the links on the company page
    page = portal.get("/portal/corrections")
    assert page.status_code == 200 and 'value="Boulangerie Dupont SRL"' in page.text

    proposed = post(portal, "/portal/corrections/company", {"street": "Rue Basse", "comment": "We moved."})
    assert proposed.status_code == 303
    proposal = store.one(ChangeProposal, client_id=acme.id)
    assert (proposal.state, proposal.subject, proposal.proposed_by_id) == ("open", "company", portal.owner.id)
    assert proposal.changes == {"street": ["Rue Haute", "Rue Basse"]}  # only what differs, with the value at the time
    assert "Rue Haute → Rue Basse" in text_of(portal.get("/portal/corrections").text)

    staff_user = make.user(Role.STAFF, groups=[team])
    staff = as_user(staff_user)
    client_page = staff.get(f"/admin/client/details/?id={acme.id}").text
    assert 'id="tab-proposals"' in client_page and f'data-proposal="{proposal.id}"' in client_page
    assert "Rue Haute" in client_page and "Rue Basse" in client_page and "We moved." in client_page

    dashboard = staff.get("/admin/").text
    assert "1 clients with corrections to accept or refuse" in text_of(dashboard)
    [(href, number)] = [(href, n) for href, n in dashboard_links(dashboard) if "changes_proposed" in href]
    assert number == 1 and int(LIST_COUNT.search(staff.get(href).text).group(1)) == 1
    assert "Boulangerie Dupont SRL" in staff.get(href).text

    accepted = post(staff, "/admin/client/proposal/", {"id": proposal.id, "decision": "accept"})
    assert accepted.status_code == 302 and accepted.headers["Location"].endswith("#proposals")
    assert store.get(Client, acme.id).street == "Rue Basse"
    decided = store.get(ChangeProposal, proposal.id)
    assert decided.state == "accepted" and decided.decided_at is not None
    again = post(staff, "/admin/client/proposal/", {"id": proposal.id, "decision": "accept"}, follow_redirects=True)
    assert "already accepted" in text_of(again.text)

    events = {(e.actor, e.action, e.object_type) for e in store.all(AuditEvent, client_id=acme.id)}
    assert (portal.owner.email, "propose", "change_proposal") in events
    assert decided.decided_by_id == staff_user.id
    assert {(staff_user.email, "accept_proposal", "client"), (staff_user.email, "accept_proposal", "change_proposal")} <= events
    assert "0 clients with corrections" in text_of(staff.get("/admin/").text)
    assert "Accepted on" in portal.get("/portal/corrections").text


def test_contact_corrections_a_new_contact_and_a_refusal_with_its_reason(app, make, team, acme, portal, as_user, store):
    first, second = sorted(acme.contacts, key=lambda c: c.id)
    form = portal.get(f"/portal/corrections/contacts/{second.id}")
    assert form.status_code == 200 and f'value="{second.email}"' in form.text
    assert post(portal, f"/portal/corrections/contacts/{second.id}", {
        "first_name": second.first_name, "last_name": "Dupont", "email": second.email, "job_title": "Gérante",
        "phone": "02 511 22 33"}).status_code == 303
    assert post(portal, "/portal/corrections/contacts/new", {
        "first_name": "Luc", "last_name": "Peeters", "email": "Luc@Dupont.example.com"}).status_code == 303
    edit, new = store.all(ChangeProposal, client_id=acme.id)
    assert edit.changes == {"last_name": [second.last_name, "Dupont"], "job_title": [None, "Gérante"],
                            "phone": [None, "+3225112233"]}  # the back office's stored forms
    assert new.subject == "new_contact" and new.changes["email"] == [None, "luc@dupont.example.com"]

    staff = as_user(make.user(Role.STAFF, groups=[team]))
    assert post(staff, "/admin/client/proposal/", {"id": edit.id, "decision": "accept"}).status_code == 302
    contact = store.get(Contact, second.id)
    assert (contact.last_name, contact.job_title, contact.phone) == ("Dupont", "Gérante", "+3225112233")

    no_reason = post(staff, "/admin/client/proposal/", {"id": new.id, "decision": "refuse", "reason": "  "},
                     follow_redirects=True)
    assert "Say why" in text_of(no_reason.text) and store.get(ChangeProposal, new.id).state == "open"
    assert post(staff, "/admin/client/proposal/", {"id": new.id, "decision": "refuse",
                                                    "reason": "Luc left the company in May."}).status_code == 302
    assert store.count(Contact, client_id=acme.id) == 2
    assert store.get(ChangeProposal, new.id).state == "refused"
    assert "Luc left the company in May." in portal.get("/portal/corrections").text
    decisions = staff.get(f"/admin/client/details/?id={acme.id}").text.split('id="proposal-decisions"')[1]
    assert "Luc left the company in May." in decisions and "Gérante" in decisions
    assert any(e.action == "refuse_proposal" for e in store.all(AuditEvent, client_id=acme.id))


def test_a_proposal_that_could_never_be_accepted_is_refused_at_once(make, acme, portal, store):
    other = make.client(name="Autre SA", status="active")
    taken = post(portal, "/portal/corrections/contacts/new", {
        "first_name": "Paul", "last_name": "Autre", "email": other.contacts[0].email})
    assert taken.status_code == 400 and "already used by a contact of another client" in taken.text
    bad = post(portal, "/portal/corrections/contacts/new", {"first_name": "Paul", "last_name": "X", "email": "paul@",
                                                            "phone": "12"})
    assert bad.status_code == 400 and "is not a valid e-mail address" in bad.text and "is not a valid phone number" in bad.text
    nameless = post(portal, "/portal/corrections/company", {"name": "", "street": "Rue Haute"})
    assert nameless.status_code == 400
    unchanged = post(portal, "/portal/corrections/company", {
        "name": "Boulangerie Dupont SRL", "street": "Rue Haute", "house_number": "12", "postal_code": "1000",
        "city": "Bruxelles"})
    assert unchanged.status_code == 400 and "Nothing to correct" in unchanged.text
    assert store.count(ChangeProposal) == 0


def test_a_proposal_that_became_invalid_is_not_applied_and_stays_open(make, team, acme, portal, as_user, store):
    assert post(portal, "/portal/corrections/contacts/new", {
        "first_name": "Luc", "last_name": "Peeters", "email": "luc@dupont.example.com"}).status_code == 303
    proposal = store.one(ChangeProposal, client_id=acme.id)
    make.client(name="Autre SA", status="active")
    store.run(lambda s: s.add(Contact(client_id=store.one(Client, name="Autre SA").id, first_name="Luc", last_name="P",
                                      email="luc@dupont.example.com")))
    staff = as_user(make.user(Role.STAFF, groups=[team]))
    refused = post(staff, "/admin/client/proposal/", {"id": proposal.id, "decision": "accept"}, follow_redirects=True)
    assert "Not applied: This e-mail address is already used" in " ".join(flashes(refused.text))
    assert store.count(Contact, client_id=acme.id) == 2 and store.get(ChangeProposal, proposal.id).state == "open"


def test_proposals_are_scoped_in_the_portal_and_on_the_staff_side(app, make, team, acme, portal, as_user, store):
    other = make.client(name="Autre SA", status="active")
    other_user = make.client_user(other, email="paul@autre.example.com")
    other_http = app.test_client()
    portal_login(other_http, other_user.email)
    assert post(other_http, "/portal/corrections/company", {"name": "Autre SA (new)"}).status_code == 303
    theirs = store.one(ChangeProposal, client_id=other.id)

    assert post(portal, f"/portal/corrections/{theirs.id}/withdraw").status_code == 404
    assert portal.get(f"/portal/corrections/contacts/{other.contacts[0].id}").status_code == 404
    assert "Autre SA (new)" not in portal.get("/portal/corrections").text

    outsider = as_user(make.user(Role.STAFF, groups=[make.group("Elsewhere")]))
    for decision in ("accept", "refuse"):
        assert post(outsider, "/admin/client/proposal/", {"id": theirs.id, "decision": decision, "reason": "no"}).status_code == 404
    hidden = make.client(team, name="Hidden SA", status="active", hidden=True)
    hidden_proposal = store.run(lambda s: s.merge(ChangeProposal(client_id=hidden.id, subject="company",
                                                                 changes_json='{"name": ["Hidden SA", "X"]}')))
    supervisor = as_user(make.user(Role.SUPERVISOR))
    assert post(supervisor, "/admin/client/proposal/", {"id": hidden_proposal.id, "decision": "accept"}).status_code == 404
    assert post(supervisor, "/admin/client/proposal/", {"id": 999999, "decision": "accept"}).status_code == 404
    assert "0 clients with corrections" not in text_of(supervisor.get("/admin/").text)  # Autre SA's, not the hidden one
    assert store.get(ChangeProposal, theirs.id).state == "open" and store.get(Client, hidden.id).name == "Hidden SA"

    assert post(other_http, f"/portal/corrections/{theirs.id}/withdraw").status_code == 303
    assert store.count(ChangeProposal, client_id=other.id) == 0
    assert any(e.action == "withdraw_proposal" for e in store.all(AuditEvent, client_id=other.id))
