"""The client portal's sign-in (its own realm: cookie and sessions), the invitation that leads into it, and the
company page, scoped to the signed-in client user's company."""
import re
import time
from datetime import timedelta

import pytest

from clientdesk.lifecycle import ClientLifecycle
from clientdesk.models import (
    AllowedSender,
    AuditEvent,
    BankAccount,
    ChangeProposal,
    Client,
    ClientIntegration,
    ClientUser,
    Document,
    IntegrationProduct,
    PasswordReset,
    Role,
    today,
)
from clientdesk.signin import PORTAL_COOKIE_NAME
from tests.helpers import PASSWORD, flashes, login, portal_login, post
from tests.servers import run_worker_burst
from tests.test_auth import key_derivations


@pytest.fixture
def acme(make):
    return make.client(name="Boulangerie Dupont SRL", status="active", trial_end=today() + timedelta(days=12),
                       street="Rue Haute", house_number="12", postal_code="1000", city="Bruxelles")


@pytest.fixture
def owner(make, acme):
    return make.client_user(acme, email="marie@dupont.example.com")


def signed_in_to_portal(http) -> bool:
    return http.get("/portal/").status_code == 200


def signed_in_to_staff(http) -> bool:
    return http.get("/admin/").status_code == 200


def test_a_client_user_signs_in_sees_the_company_and_signs_out(client, owner):
    page = client.get("/portal/login")
    assert page.status_code == 200 and 'name="email"' in page.text and 'name="csrf_token"' in page.text
    wrong = post(client, "/portal/login", {"email": owner.email, "password": "not-the-password"})
    assert wrong.status_code == 200 and flashes(wrong.text) == ["Wrong e-mail or password."]
    assert client.get("/portal/").headers["Location"].startswith("/portal/login")

    response = portal_login(client, "  Marie@Dupont.example.com ")
    assert response.headers["Location"] == "/portal/"
    assert client.get_cookie(PORTAL_COOKIE_NAME) is not None and client.get_cookie("session") is None
    home = client.get("/portal/")
    assert home.status_code == 200 and "Boulangerie Dupont SRL" in home.text

    assert post(client, "/portal/logout").headers["Location"] == "/portal/login"
    assert not signed_in_to_portal(client)


def test_staff_and_client_sessions_live_side_by_side_without_mixing(app, make, owner):
    staff = make.user(Role.ADMIN, email="marie@dupont.example.com")  # the same e-mail in both realms
    both = app.test_client()
    login(both, staff.email)
    portal_login(both, owner.email)
    assert signed_in_to_staff(both) and signed_in_to_portal(both)

    client_only = app.test_client()
    client_only.set_cookie(PORTAL_COOKIE_NAME, both.get_cookie(PORTAL_COOKIE_NAME).value)
    assert signed_in_to_portal(client_only)
    assert client_only.get("/admin/").headers["Location"].startswith("/login")
    client_only.set_cookie("session", both.get_cookie(PORTAL_COOKIE_NAME).value)  # the client cookie as a staff one
    assert not signed_in_to_staff(client_only)

    staff_only = app.test_client()
    staff_only.set_cookie("session", both.get_cookie("session").value)
    assert signed_in_to_staff(staff_only)
    assert staff_only.get("/portal/").headers["Location"].startswith("/portal/login")
    staff_only.set_cookie(PORTAL_COOKIE_NAME, both.get_cookie("session").value)  # the staff cookie as a client one
    assert not signed_in_to_portal(staff_only)

    post(both, "/portal/logout")  # signing out of one realm leaves the other
    assert signed_in_to_staff(both) and not signed_in_to_portal(both)


def test_portal_sessions_end_when_idle_signed_out_elsewhere_or_deactivated(app, make, acme, owner, store):
    http = app.test_client()
    portal_login(http, owner.email)
    with http.session_transaction("/portal/") as session:
        session["seen_at"] -= app.config["SESSION_IDLE_MINUTES"] * 60 + 1
    assert not signed_in_to_portal(http)

    laptop, phone = app.test_client(), app.test_client()
    portal_login(laptop, owner.email)
    portal_login(phone, owner.email)
    post(laptop, "/portal/logout")
    assert not signed_in_to_portal(phone)

    portal_login(phone, owner.email)
    store.update(Client, acme.id, status="deactivated", deactivated_at=acme.activated_at)
    assert not signed_in_to_portal(phone)  # a deactivated company's users are signed out, and cannot sign in
    refused = post(app.test_client(), "/portal/login", {"email": owner.email, "password": PASSWORD})
    assert refused.status_code == 200 and flashes(refused.text) == ["Wrong e-mail or password."]


def test_portal_sign_in_is_throttled_per_portal_account(app, make, owner, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_LIMITS_PER_ACCOUNT", "2/minute")
    staff = make.user(Role.STAFF, email=owner.email)
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.66"
    for _ in range(2):
        assert post(attacker, "/portal/login", {"email": owner.email, "password": "guess"}).status_code == 200
    throttled = post(attacker, "/portal/login", {"email": owner.email, "password": PASSWORD})
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
    assert flashes(throttled.text) == ["Too many failed attempts. Try again in 1 minute."]
    assert not signed_in_to_portal(attacker)
    login(attacker, staff.email)  # the staff account of the same e-mail is another account
    assert signed_in_to_staff(attacker)


def test_unknown_and_deactivated_client_users_cost_one_password_check_like_a_known_one(client, make, acme, owner, store):
    other = make.client_user(acme, role="member")
    store.update(ClientUser, other.id, active=False)
    post(client, "/portal/login", {"email": "warm-up@example.com", "password": "guess"})
    for email in (owner.email, "nobody@example.com", other.email):
        with key_derivations() as counted:
            response = post(client, "/portal/login", {"email": email, "password": "guess"})
        assert flashes(response.text) == ["Wrong e-mail or password."]
        assert len(counted) == 1, email


def invitation_token(store, client_id: int) -> str:
    def issue(s):
        invitation = ClientLifecycle.invite(s.get(Client, client_id))
        invitation.status = "sent"
        return invitation.token
    return store.run(issue)


def test_accepting_the_invitation_signs_in_to_the_portal_in_the_contacts_language(app, make, store):
    invited = make.client(name="Brouwerij De Kroon BV")
    store.update(type(invited.contacts[0]), invited.contacts[0].id, language="nl-BE")
    token = invitation_token(store, invited.id)
    browser = app.test_client()
    headers = {"Accept-Language": "fr-BE,fr;q=0.9"}  # the browser's language is not the contact's
    page = browser.get(f"/invitation/{token}", headers=headers)
    assert '<html lang="nl">' in page.text and "Kies een wachtwoord" in page.text
    weak = post(browser, f"/invitation/{token}", {"password": "short", "password_confirm": "short", "accept_terms": "y"},
                headers=headers)
    assert weak.status_code == 200 and "Gebruik minstens 12 tekens." in weak.text

    accepted = post(browser, f"/invitation/{token}", {"password": "a-strong-password", "password_confirm": "a-strong-password",
                                                      "accept_terms": "y"}, headers=headers)
    assert accepted.status_code == 302 and accepted.headers["Location"] == "/portal/"
    home = browser.get("/portal/", headers=headers)
    assert home.status_code == 200 and "Brouwerij De Kroon BV" in home.text and '<html lang="nl">' in home.text
    client_user = store.one(ClientUser, client_id=invited.id)
    assert (client_user.email, client_user.role, client_user.ui_language) == (invited.contacts[0].email, "owner", "nl")
    assert client_user.contact_id == invited.contacts[0].id
    assert store.get(Client, invited.id).status == "active"
    accept_events = store.all(AuditEvent, client_id=invited.id, action="accept")
    assert any(event.object_type == "client_user" for event in accept_events)

    again = app.test_client().get(f"/invitation/{token}")
    assert again.status_code == 410 and 'href="/portal/login"' in again.text and "Meld u aan" in again.text
    fresh = app.test_client()
    portal_login(fresh, client_user.email, "a-strong-password")
    assert signed_in_to_portal(fresh)


def test_a_german_speaking_contact_is_invited_and_served_in_german(app, make, store):
    invited = make.client(name="Bäckerei Schmitz GmbH")
    store.update(type(invited.contacts[0]), invited.contacts[0].id, language="de-BE")
    token = invitation_token(store, invited.id)
    browser = app.test_client()
    headers = {"Accept-Language": "en-GB,en;q=0.9"}  # the browser's language is not the contact's
    page = browser.get(f"/invitation/{token}", headers=headers)
    assert '<html lang="de">' in page.text and "Wählen Sie ein Passwort" in page.text
    weak = post(browser, f"/invitation/{token}", {"password": "short", "password_confirm": "short", "accept_terms": "y"},
                headers=headers)
    assert weak.status_code == 200 and "Verwenden Sie mindestens 12 Zeichen." in weak.text

    accepted = post(browser, f"/invitation/{token}", {"password": "a-strong-password", "password_confirm": "a-strong-password",
                                                      "accept_terms": "y"}, headers=headers)
    assert accepted.headers["Location"] == "/portal/"
    home = browser.get("/portal/", headers=headers).text
    assert '<html lang="de">' in home and "Bäckerei Schmitz GmbH" in home and 'aria-current="true">DE</button>' in home
    assert store.one(ClientUser, client_id=invited.id).ui_language == "de"


def test_the_company_page_shows_what_the_firm_keeps_in_the_users_language(app, make, store, acme):
    def connect(s):
        s.add(ClientIntegration(client_id=acme.id, product_id=s.query(IntegrationProduct.id).filter_by(name="Octopus").scalar()))
    store.run(connect)
    other = make.client(name="Autre Société SA", status="active")
    owner = make.client_user(acme, ui_language="fr")
    http = app.test_client()
    portal_login(http, owner.email)
    page = http.get("/portal/").text
    client = store.get(Client, acme.id)
    for shown in ("Boulangerie Dupont SRL", client.enterprise_number_display, client.vat_number, "Rue Haute 12",
                  "1000 Bruxelles", acme.contacts[0].email, client.plan, "12 jours restants", "Octopus",
                  client.inbound_email, '<html lang="fr">'):
        assert shown in page, shown
    assert "Autre Société SA" not in page and other.contacts[0].email not in page

    assert post(http, "/portal/language", {"language": "nl", "next": "/portal/"}).headers["Location"] == "/portal/"
    assert store.get(ClientUser, owner.id).ui_language == "nl"
    assert "nog 12 dagen" in http.get("/portal/").text


def test_portal_rows_are_the_client_users_company_only(app, make, acme, owner):
    """The one base query of the portal: another company's rows (and the company itself) are out of reach."""
    from clientdesk import scoping
    from clientdesk.extensions import db
    from clientdesk.models import Contact

    other = make.client(name="Autre Société SA", status="active")
    with app.app_context():
        me = db.session.get(ClientUser, owner.id)
        assert db.session.scalars(scoping.portal_rows(Client, me)).all() == [db.session.get(Client, acme.id)]
        assert {c.id for c in db.session.scalars(scoping.portal_rows(Contact, me))} == {c.id for c in acme.contacts}
        assert other.id not in {c.id for c in db.session.scalars(scoping.portal_rows(Client, me))}


def test_every_portal_route_with_an_id_answers_404_for_another_companys_row(app, make, acme, owner, store):
    other = make.client(name="Autre Société SA", status="active", ibans=["BE68539007547034"])
    sender = store.run(lambda s: s.merge(AllowedSender(client_id=other.id, pattern="@other.example.com")))
    document = store.run(lambda s: s.merge(Document(client_id=other.id, filename="theirs.pdf", storage_path="theirs.pdf")))
    proposal = store.run(lambda s: s.merge(ChangeProposal(client_id=other.id, subject="company",
                                                          changes_json='{"name": ["Autre Société SA", "Autre SA"]}')))
    theirs = make.client_user(other, email="someone@autre.example.com")
    http = app.test_client()
    portal_login(http, owner.email)
    ids = {"client_id": other.id, "contact_id": other.contacts[0].id, "bank_account_id": other.bank_accounts[0].id,
           "allowed_sender_id": sender.id, "document_id": document.id, "proposal_id": proposal.id,
           "client_user_id": theirs.id}
    checked = []
    for rule in app.url_map.iter_rules():
        id_arguments = [name for name in rule.arguments if f"<int:{name}>" in rule.rule]
        if not rule.rule.startswith("/portal/") or not id_arguments:
            continue
        path = rule.rule
        for name in id_arguments:
            path = path.replace(f"<int:{name}>", str(ids[name]))
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = http.get(path) if method == "GET" else post(http, path)
            assert response.status_code == 404, (method, path)
            checked.append(path)
    assert len(checked) >= 3
    assert store.count(BankAccount, client_id=other.id) == 1 and store.count(AllowedSender, client_id=other.id) == 1
    assert store.count(ChangeProposal, client_id=other.id) == 1
    assert store.get(ClientUser, theirs.id).active


def test_a_session_expired_by_age_is_over_too(app, owner):
    http = app.test_client()
    portal_login(http, owner.email)
    with http.session_transaction("/portal/") as session:
        session["signed_in_at"] = int(time.time()) - app.config["SESSION_MAX_HOURS"] * 3600 - 1
    assert not signed_in_to_portal(http)


PORTAL_RESET_LINK = re.compile(r"http://clientdesk\.test/portal/password/reset/([\w-]+)")


def test_a_client_user_who_forgot_the_password_chooses_a_new_one_in_the_portal(app, make, app_config, smtp, owner, store):
    staff = make.user(Role.STAFF, email="staff.same@example.com")
    http = app.test_client()
    page = http.get("/portal/login")
    assert 'href="/portal/password/forgot"' in page.text
    asked = post(http, "/portal/password/forgot", {"email": owner.email.upper()}, follow_redirects=True)
    unknown = post(app.test_client(), "/portal/password/forgot", {"email": staff.email}, follow_redirects=True)
    assert asked.status_code == unknown.status_code == 200 and asked.request.path == "/portal/login"
    assert [m.replace(owner.email.upper(), "X") for m in flashes(asked.text)] == \
        [m.replace(staff.email, "X") for m in flashes(unknown.text)]  # a staff account is not a client user
    run_worker_burst(app_config, MAIL_URL=smtp.url)
    [message] = smtp.messages
    assert message["To"] == owner.email
    token = PORTAL_RESET_LINK.search(message.get_body(preferencelist=("plain",)).get_content()).group(1)
    assert store.one(PasswordReset).client_user_id == owner.id
    assert http.get(f"/password/reset/{token}").status_code == 404  # not a staff link

    url = f"/portal/password/reset/{token}"
    weak = post(http, url, {"password": "password1234", "password_confirm": "password1234"})
    assert weak.status_code == 200 and "most common passwords" in weak.text
    done = post(http, url, {"password": "fresh-start-at-the-bakery", "password_confirm": "fresh-start-at-the-bakery"})
    assert done.status_code == 302 and done.headers["Location"] == "/portal/login"
    portal_login(app.test_client(), owner.email, "fresh-start-at-the-bakery")
    assert http.get(url).status_code == 410  # single use
    assert store.one(AuditEvent, action="password_reset").object_type == "client_user"


def test_the_onboarding_checklist_is_finished_through_the_client_rules_and_audited_as_the_client_user(
        app, make, as_user, store):
    acme = make.client(name="Boulangerie Dupont SRL", status="active", subscription_mode="managed", ibans=["BE68539007547034"])
    owner = make.client_user(acme, email="marie@dupont.example.com")
    http = app.test_client()
    portal_login(http, owner.email)
    assert 'aria-valuenow="25"' in http.get("/portal/").text  # the bank account the firm entered

    bad = post(http, "/portal/bank-accounts", {"iban": "BE68 5390 0754 7035"})
    assert bad.status_code == 400 and "is not a valid IBAN" in bad.text
    assert post(http, "/portal/bank-accounts", {"iban": "be71 0961 2345 6769"}).status_code == 303
    assert sorted(a.iban for a in store.all(BankAccount, client_id=acme.id)) == ["BE68539007547034", "BE71096123456769"]
    again = post(http, "/portal/bank-accounts", {"iban": "BE71096123456769"})
    assert again.status_code == 400 and "already registered" in again.text

    first, second = sorted(store.all(BankAccount, client_id=acme.id), key=lambda a: a.id)
    assert post(http, f"/portal/bank-accounts/{first.id}/delete").status_code == 303
    last = post(http, f"/portal/bank-accounts/{second.id}/delete")  # managed by the firm: needs one (rules.py)
    assert last.status_code == 400 and "needs at least one bank account" in last.text
    assert store.count(BankAccount, client_id=acme.id) == 1

    incomplete = post(http, "/portal/billing-address", {"billing_street": "Rue Haute", "billing_country": "BE"})
    assert incomplete.status_code == 400 and store.get(Client, acme.id).billing_street is None
    assert post(http, "/portal/billing-address", {"billing_street": "Rue Haute", "billing_house_number": "12",
                                                  "billing_postal_code": "1000", "billing_city": "Bruxelles",
                                                  "billing_country": "be"}).status_code == 303

    unticked = post(http, "/portal/mandate", {})
    assert unticked.status_code == 400 and "Tick the box" in unticked.text
    assert post(http, "/portal/mandate", {"agree": "y"}, environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 303

    assert post(http, "/portal/allowed-senders", {"pattern": "not an address"}).status_code == 400
    assert post(http, "/portal/allowed-senders", {"pattern": "@Supplier.example.com"}).status_code == 303
    duplicate = post(http, "/portal/allowed-senders", {"pattern": "@supplier.example.com"})
    assert duplicate.status_code == 400 and "already an allowed sender" in duplicate.text

    client = store.get(Client, acme.id)
    assert (client.billing_city, client.billing_country, client.e_invoicing_mandate) == ("Bruxelles", "BE", True)
    assert client.e_invoicing_mandate_by == f"{owner.full_name} <marie@dupont.example.com>"
    assert client.e_invoicing_mandate_address == "198.51.100.7"
    assert client.e_invoicing_mandate_at is not None
    assert [s.pattern for s in store.all(AllowedSender, client_id=acme.id)] == ["@supplier.example.com"]
    assert 'aria-valuenow="100"' in http.get("/portal/").text

    events = [e for e in store.all(AuditEvent, client_id=acme.id) if e.actor == owner.email]
    assert {e.object_type for e in events} == {"bank_account", "client", "allowed_sender"}
    assert all(e.actor_id is None and e.client_user_id == owner.id for e in events)
    staff_page = as_user(make.user(Role.ADMIN)).get(f"/admin/client/details/?id={acme.id}").text
    assert "Mandate given by" in staff_page and "198.51.100.7" in staff_page
    assert f"{owner.full_name} (client user, {owner.email})" in staff_page


def test_withdrawing_the_mandate_turns_peppol_receiving_off_through_the_switches(app, make, app_config, peppol, store):
    acme = make.client(name="Brasserie Lambiek BV", status="active", e_invoicing_mandate=True, peppol_receive=True)
    owner = make.client_user(acme)
    peppol.ap.app.participants[f"iso6523-actorid-upis::0208:{acme.enterprise_number}"] = {"receive": True, "send": False}
    http = app.test_client()
    portal_login(http, owner.email)
    assert post(http, "/portal/mandate/withdraw").status_code == 303
    pending = store.get(Client, acme.id)
    assert (pending.e_invoicing_mandate, pending.peppol_receive, pending.peppol_state) == (False, False, "pending")

    run_worker_burst(app_config, **peppol.env)
    client = store.get(Client, acme.id)
    assert (client.peppol_receive, client.peppol_state) == (False, "off")
    assert ("DELETE", f"iso6523-actorid-upis::0208:{acme.enterprise_number}") in peppol.ap.app.calls
    assert {e.action for e in store.all(AuditEvent, client_id=acme.id) if e.actor == owner.email} >= {"peppol_off"}


def test_an_invitation_to_an_address_that_already_signs_in_elsewhere_is_refused_with_nothing_written(app, make, store):
    earlier = make.client(name="Ancienne Société SA", status="active")
    make.client_user(earlier, email="jan@client.example.com")  # kept after the firm removed the contact there
    invited = make.client(name="Nouvelle Société SA")
    store.update(type(invited.contacts[0]), invited.contacts[0].id, email="jan@client.example.com", language="en-GB")
    token = invitation_token(store, invited.id)
    browser = app.test_client()
    refused = post(browser, f"/invitation/{token}", {"password": "a-strong-password", "password_confirm": "a-strong-password",
                                                     "accept_terms": "y"})
    assert refused.status_code == 409
    assert flashes(refused.text) == ["jan@client.example.com already signs in to a client space. Ask your accountant to "
                                     "invite you at another address."]
    assert store.get(Client, invited.id).status == "invited" and store.count(ClientUser) == 1
    assert browser.get(f"/invitation/{token}").status_code == 200  # the link still works once that is sorted out


def test_contacts_who_had_accepted_become_owners_who_sign_in_after_the_migration(app_config, tmp_path):
    """On a database of its own (a SQLite file: SQLite hands the dates back as text, which the migration must take
    as they are), migrated to just before client users, with a contact who had accepted an invitation."""
    import flask_migrate
    import sqlalchemy as sa
    from werkzeug.security import generate_password_hash

    from clientdesk.app import create_app
    from clientdesk.extensions import db
    from tests.conftest import IsolatedClient

    own = create_app(dict(app_config, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'before.db'}"))
    own.test_client_class = IsolatedClient
    with own.app_context():
        flask_migrate.upgrade(revision="b4e6a8c0d2f3")
        with db.engine.begin() as connection:
            group_id = connection.execute(sa.text('SELECT id FROM "group"')).scalar()
            client_id = connection.execute(sa.text(
                "INSERT INTO client (name, country, subscription_mode, plan, status, language, group_id, hidden, "
                "track_transactions_without_documents, inbound_email, e_invoicing_mandate, peppol_send, peppol_receive, "
                "peppol_state, peppol_failed_attempts, refused_senders_count, search_text, skip_vat_check, trial_end, "
                "activated_at, created_at, updated_at) VALUES ('Atelier Maes NV', 'BE', 'full', 'Starter', 'active', "
                "'nl-BE', :group, 0, 0, 'maes@in.example.com', 0, 0, 0, 'off', 0, 0, '', 0, '2030-01-31', "
                "'2026-01-01 09:00:00', '2026-01-01 09:00:00', '2026-01-01 09:00:00') RETURNING id"),
                {"group": group_id}).scalar()
            connection.execute(sa.text(
                "INSERT INTO contact (client_id, first_name, last_name, email, language, is_primary, password_hash, "
                "accepted_at, created_at, updated_at) VALUES (:client, 'Lotte', 'Maes', 'Lotte@Maes.example.com', "
                "'nl-BE', 1, :hash, '2026-01-01 09:00:00', '2026-01-01 09:00:00', '2026-01-01 09:00:00')"),
                {"client": client_id, "hash": generate_password_hash("a-strong-password")})
        flask_migrate.upgrade(revision="heads")
        owner = db.session.scalars(sa.select(ClientUser)).one()
        assert (owner.email, owner.role, owner.ui_language, owner.full_name) == \
            ("lotte@maes.example.com", "owner", "nl", "Lotte Maes")
        db.session.remove()
    http = own.test_client()
    portal_login(http, "lotte@maes.example.com", "a-strong-password")
    assert "Atelier Maes NV" in http.get("/portal/").text


def test_german_speaking_client_users_get_german_after_the_migration(app_config, tmp_path):
    """Made while the portal spoke no German, a de-BE contact's client user had no language: now German, unless the
    client user chose one."""
    import flask_migrate
    import sqlalchemy as sa

    from clientdesk.app import create_app
    from clientdesk.extensions import db

    own = create_app(dict(app_config, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'before.db'}"))
    with own.app_context():
        flask_migrate.upgrade(revision="d5f7b9c1e3a4")
        with db.engine.begin() as connection:
            group_id = connection.execute(sa.text('SELECT id FROM "group"')).scalar()
            client_id = connection.execute(sa.text(
                "INSERT INTO client (name, country, subscription_mode, plan, status, language, group_id, hidden, "
                "track_transactions_without_documents, inbound_email, e_invoicing_mandate, peppol_send, peppol_receive, "
                "peppol_state, peppol_failed_attempts, refused_senders_count, search_text, skip_vat_check, trial_end, "
                "activated_at, created_at, updated_at) VALUES ('Bäckerei Schmitz GmbH', 'BE', 'full', 'Starter', "
                "'active', 'de-BE', :group, 0, 0, 'schmitz@in.example.com', 0, 0, 0, 'off', 0, 0, '', 0, '2030-01-31', "
                "'2026-01-01 09:00:00', '2026-01-01 09:00:00', '2026-01-01 09:00:00') RETURNING id"),
                {"group": group_id}).scalar()
            for name, chosen in (("anna", None), ("paul", "fr")):
                contact_id = connection.execute(sa.text(
                    "INSERT INTO contact (client_id, first_name, last_name, email, language, is_primary, created_at, "
                    "updated_at) VALUES (:client, :name, 'Schmitz', :email, 'de-BE', :primary, '2026-01-01 09:00:00', "
                    "'2026-01-01 09:00:00') RETURNING id"),
                    {"client": client_id, "name": name, "email": f"{name}@schmitz.example.com",
                     "primary": chosen is None}).scalar()
                connection.execute(sa.text(
                    "INSERT INTO client_user (client_id, contact_id, full_name, role, email, password_hash, active, "
                    "ui_language, session_token, created_at, updated_at) VALUES (:client, :contact, :name, 'owner', "
                    ":email, 'x', 1, :chosen, :name, '2026-01-01 09:00:00', '2026-01-01 09:00:00')"),
                    {"client": client_id, "contact": contact_id, "name": name, "email": f"{name}@schmitz.example.com",
                     "chosen": chosen})
        flask_migrate.upgrade(revision="heads")
        languages = dict(db.session.execute(sa.select(ClientUser.email, ClientUser.ui_language)).all())
        assert languages == {"anna@schmitz.example.com": "de", "paul@schmitz.example.com": "fr"}
        db.session.remove()
