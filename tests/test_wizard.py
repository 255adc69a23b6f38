"""The new-client wizard over HTTP (CSRF on): register search, the three steps, duplicates, templates, groups."""
import json
import re
import secrets
from html import unescape

import pytest
import sqlalchemy as sa

from clientdesk.admin.wizard import DRAFT_TTL, SESSION_KEY
from clientdesk.broker import get_redis
from clientdesk.models import AuditEvent, Client, ConfigTemplate, IntegrationProduct, Role, Task
from clientdesk.models.client import VatCheck
from clientdesk.services.kbo_loader import SAMPLE, load_register
from tests.helpers import flashes, post

WIZARD = "/admin/client/new-wizard/"


@pytest.fixture
def register(app, db_session):
    load_register(SAMPLE)


@pytest.fixture
def team(make):
    return make.group("Team Namur")


@pytest.fixture
def staff(make, team):
    return make.user(Role.STAFF, groups=[team])


def company_form(**overrides):
    data = {"name": "Boulangerie Lefèvre-Dubois", "country": "BE", "enterprise_number": "1001.234.592",
            "vat_number": "BE1001234592", "legal_form": "Société à responsabilité limitée", "street": "Rue du Château",
            "house_number": "12", "box": "B", "postal_code": "5000", "city": "Namur", "website": "", "action": "next"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def details_form(group, **overrides):
    data = {"template": "", "prefilled_template": "", "civility": "ms", "first_name": "Élodie", "last_name": "Lefèvre",
            "email": "elodie@lefevre-dubois.example.com", "mobile": "0478 11 22 33", "language": "fr-BE",
            "group": str(group.id), "firm_contact": "", "subscription_mode": "full", "iban": "", "action": "next"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def draft_key(http, user) -> str:
    """The Redis key of the wizard draft this browser's session points at."""
    with http.session_transaction() as session:
        return f"wizard-draft:{user.id}:{session[SESSION_KEY]}"


def errors(html: str) -> list[str]:
    """The field errors shown on a page."""
    found = re.findall(r'<ul class="form-text text-danger[^"]*">\s*<li>(.*?)</li>', html, re.S)
    return [unescape(re.sub(r"\s+", " ", e).strip()) for e in found]


def test_wizard_end_to_end_over_http(register, staff, team, as_user, db_session):
    http = as_user(staff)

    page = http.get("/admin/client/")
    assert WIZARD in page.text and "+ New client" in page.text
    assert "register-search" in http.get(WIZARD).text

    found = http.get(WIZARD + "search/?q=lefevre dubois").json
    assert found["results"][0]["enterprise_number"] == "1001234592"
    assert found["results"][0]["address"] == "Rue du Château 12 box B, 5000 Namur"
    assert http.get(WIZARD + "search/?q=BE1001234592").json["results"][0]["name"] == "Boulangerie Lefèvre-Dubois"
    without_js = http.get(WIZARD + "?q=lefevre dubois").text  # the same search as a plain form
    assert "Boulangerie Lefèvre-Dubois" in without_js and 'name="enterprise_number" value="1001234592"' in without_js

    assert http.post(WIZARD + "pick/", data={"enterprise_number": "1001234592"}).status_code == 400  # no CSRF token
    picked = post(http, WIZARD + "pick/", {"enterprise_number": "1001234592"}, follow_redirects=True)
    assert "Filled in from the company register: Boulangerie Lefèvre-Dubois" in " ".join(flashes(picked.text))
    assert 'value="Boulangerie Lefèvre-Dubois"' in picked.text and 'value="1001.234.592"' in picked.text
    assert 'value="Société à responsabilité limitée"' in picked.text

    step1 = post(http, WIZARD, company_form())
    assert step1.status_code == 302 and step1.location.endswith("/details/")
    details = http.get(WIZARD + "details/")
    assert details.status_code == 200 and '<option selected value="fr-BE">' in details.text  # the company's language

    step2 = post(http, WIZARD + "details/", details_form(team, firm_contact=str(staff.id)))
    assert step2.status_code == 302 and step2.location.endswith("/summary/")
    summary = http.get(WIZARD + "summary/")
    assert "1001.234.592" in summary.text and "elodie@lefevre-dubois.example.com" in summary.text and "Team Namur" in summary.text

    created = post(http, WIZARD + "summary/", {})
    assert created.status_code == 302 and "/admin/client/details/" in created.location

    client = db_session.scalars(sa.select(Client).where(Client.enterprise_number == "1001234592")).one()
    assert (client.name, client.vat_number, client.legal_form) == (
        "Boulangerie Lefèvre-Dubois", "BE1001234592", "Société à responsabilité limitée")
    address = (client.street, client.house_number, client.box, client.postal_code, client.city)
    assert address == ("Rue du Château", "12", "B", "5000", "Namur")
    assert client.group_id == team.id and client.firm_contact_id == staff.id and client.language == "fr-BE"
    assert client.skip_vat_check is False and client.vat_check is None
    contact = client.primary_contact
    assert (contact.first_name, contact.email, contact.mobile, contact.is_primary) == (
        "Élodie", "elodie@lefevre-dubois.example.com", "+32478112233", True)
    audit = db_session.scalars(sa.select(AuditEvent).where(AuditEvent.client_id == client.id, AuditEvent.object_type == "client")).one()
    assert audit.action == "create" and audit.actor == staff.email
    # The wizard starts afresh after creating.
    assert 'value="Boulangerie' not in http.get(WIZARD).text
    assert http.get(created.location).status_code == 200


def test_back_and_forward_keep_what_was_typed(register, staff, team, as_user):
    http = as_user(staff)
    post(http, WIZARD, company_form())
    back = post(http, WIZARD + "details/", details_form(team, first_name="Zoë", email="not-an-address", action="back"))
    assert back.status_code == 302 and back.location.endswith(WIZARD)
    assert 'value="Boulangerie Lefèvre-Dubois"' in http.get(WIZARD).text

    forward = post(http, WIZARD, company_form(name="Boulangerie Lefèvre-Dubois SRL"))
    assert forward.status_code == 302
    details = http.get(WIZARD + "details/").text
    assert 'value="Zoë"' in details and 'value="not-an-address"' in details
    assert 'value="Boulangerie Lefèvre-Dubois SRL"' in http.get(WIZARD).text


def test_every_step_is_checked_on_the_server(register, staff, team, as_user):
    http = as_user(staff)
    bad = post(http, WIZARD, company_form(name="", enterprise_number="1001.234.593", vat_number="", country="Belgium"))
    assert bad.status_code == 200
    assert "The legal name is missing." in errors(bad.text)
    assert any("two letters" in e for e in errors(bad.text))

    wrong_digits = post(http, WIZARD, company_form(enterprise_number="1001.234.593", vat_number=""))
    assert any("the check digits do not match" in e for e in errors(wrong_digits.text))
    mismatch = post(http, WIZARD, company_form(vat_number="BE0403170701"))
    assert any("does not match enterprise number" in e for e in errors(mismatch.text))

    assert http.get(WIZARD + "details/").status_code == 302  # no valid company yet
    post(http, WIZARD, company_form())
    step2 = post(http, WIZARD + "details/", details_form(team, first_name="", email="jan@", mobile="12"))
    messages = errors(step2.text)
    assert "The contact's first name is missing." in messages
    assert any("not a valid e-mail address" in m for m in messages)
    assert any("not a valid phone number" in m for m in messages)
    assert http.get(WIZARD + "summary/").status_code == 302


def test_unknown_number_needs_dont_verify_then_is_marked_for_a_later_check(register, staff, team, as_user, db_session):
    http = as_user(staff)
    new_company = company_form(name="Nieuwe Zaak", enterprise_number="0417.497.007", vat_number="", legal_form="")
    refused = post(http, WIZARD, new_company)
    assert any("0417.497.007 is not in the company register" in e and "Don't verify VAT" in e for e in errors(refused.text))

    accepted = post(http, WIZARD, {**new_company, "skip_vat_check": "y"})
    assert accepted.status_code == 302
    post(http, WIZARD + "details/", details_form(team, email="owner@nieuwe-zaak.example.com"))
    assert post(http, WIZARD + "summary/", {}).status_code == 302
    client = db_session.scalars(sa.select(Client).where(Client.name == "Nieuwe Zaak")).one()
    assert client.skip_vat_check is True and client.vat_check == VatCheck.PENDING.value and client.vat_number == "BE0417497007"

    # Check digits are still enforced with "don't verify VAT".
    still_checked = post(http, WIZARD, {**new_company, "enterprise_number": "0417.497.008", "skip_vat_check": "y"})
    assert any("check digits" in e for e in errors(still_checked.text))


def test_already_a_client_is_detected_and_linked(register, staff, team, make, as_user):
    mine = make.client(group=team, name="Electrabel (ours)", enterprise_number="0403170701")
    make.client(group=make.group("Team Antwerp"), name="KBC (theirs)", enterprise_number="0403227515")
    http = as_user(staff)

    found = http.get(WIZARD + "search/?q=0403.170.701").json["results"][0]
    assert found["client"] == {"name": "Electrabel (ours)", "url": f"/admin/client/details/?id={mine.id}"}
    theirs = http.get(WIZARD + "search/?q=0403.227.515").json["results"][0]
    assert theirs["client"] == {"name": None, "url": None}  # exists, but not shown to this user

    typed = post(http, WIZARD, company_form(name="Electrabel", enterprise_number="BE 0403 170 701", vat_number=""))
    assert typed.status_code == 200
    assert f'Already a client: <a href="/admin/client/details/?id={mine.id}">Electrabel (ours)</a>' in typed.text
    picked = post(http, WIZARD + "pick/", {"enterprise_number": "0403227515"}, follow_redirects=True)
    assert "Already a client, one you do not have access to" in picked.text and "KBC (theirs)" not in picked.text
    assert http.get(WIZARD + "details/").status_code == 302


def test_staff_cannot_create_into_a_group_they_are_not_in(register, staff, team, make, as_user, db_session, app):
    other = make.group("Team Gent")
    http = as_user(staff)
    post(http, WIZARD, company_form())
    page = http.get(WIZARD + "details/").text
    assert "Team Namur" in page and "Team Gent" not in page

    refused = post(http, WIZARD + "details/", details_form(other))
    assert "You can only create clients in your own groups." in errors(refused.text)
    # The summary checks again, so a tampered draft cannot get through either.
    key = draft_key(http, staff)
    details = json.loads(get_redis(app).hget(key, "details"))
    get_redis(app).hset(key, "details", json.dumps({**details, "group": str(other.id)}))
    assert http.get(WIZARD + "summary/").status_code == 302
    assert post(http, WIZARD + "summary/", {}).status_code == 302
    assert db_session.scalar(sa.select(sa.func.count(Client.id))) == 0


def test_supervisors_and_admins_may_choose_any_group(register, make, team, as_user, db_session):
    other = make.group("Team Gent")
    http = as_user(make.user(Role.SUPERVISOR))
    post(http, WIZARD, company_form())
    assert post(http, WIZARD + "details/", details_form(other)).status_code == 302
    assert post(http, WIZARD + "summary/", {}).status_code == 302
    assert db_session.scalars(sa.select(Client)).one().group_id == other.id


def test_contact_email_and_bank_account_rules(register, staff, team, make, as_user):
    make.client(group=team, contacts=1)
    http = as_user(staff)
    post(http, WIZARD, company_form())
    taken_email = make.client(group=team).contacts[0].email
    taken = post(http, WIZARD + "details/", details_form(team, email=taken_email.upper()))
    assert any("already used by a contact of another client" in e for e in errors(taken.text))
    managed = post(http, WIZARD + "details/", details_form(team, subscription_mode="managed"))
    assert "A client managed by the firm needs at least one bank account: enter its IBAN." in errors(managed.text)
    assert post(http, WIZARD + "details/", details_form(team, subscription_mode="managed", iban="BE71 0961 2345 6769")).status_code == 302


@pytest.fixture
def template(app, db_session, team):
    winbooks = db_session.scalars(sa.select(IntegrationProduct).where(IntegrationProduct.name == "Winbooks")).one()
    template = ConfigTemplate(
        name="Delivery only (Winbooks)", subscription_mode="delivery_only", integration_product=winbooks,
        delivery_method="email", delivery_email="inbox@winbooks.example.com", attach_ubl=True,
        e_invoicing_mandate=True, peppol_send=True, assigned_group_id=team.id,
    )
    db_session.add(template)
    db_session.commit()
    return db_session.get(ConfigTemplate, template.id)


def test_template_defaults_are_filled_in_copied_and_overridable(register, staff, team, template, as_user, db_session, peppol):
    http = as_user(staff)
    post(http, WIZARD, company_form())
    # Without JavaScript, choosing a template first fills its defaults in.
    chosen = post(http, WIZARD + "details/", details_form(team, template=str(template.id)))
    assert chosen.status_code == 200 and "The template's defaults are filled in" in unescape(chosen.text)
    assert '<option selected value="delivery_only">' in chosen.text
    assert re.search(r'id="e_invoicing_mandate"[^>]*checked|checked[^>]*id="e_invoicing_mandate"', chosen.text)
    # The page's script would do the same (it ships the defaults of every template).
    assert '"subscription_mode": "delivery_only"' in http.get(WIZARD + "details/").text
    # The user changes the subscription before creating: the wizard's choice wins over the template's.
    step2 = post(http, WIZARD + "details/", details_form(team, template=str(template.id), prefilled_template=str(template.id),
                                                         subscription_mode="full", e_invoicing_mandate="y"))
    assert step2.status_code == 302
    assert "Delivery only (Winbooks)" in http.get(WIZARD + "summary/").text
    post(http, WIZARD + "summary/", {})

    client = db_session.scalars(sa.select(Client)).one()
    assert client.template_id == template.id
    assert client.subscription_mode == "full" and client.e_invoicing_mandate is True
    # The template's Peppol sending, switched on as a person would: pending, its registration task launched.
    assert (client.peppol_send, client.peppol_receive, client.peppol_state) == (True, False, "pending")
    task = db_session.scalars(sa.select(Task)).one()
    assert (task.kind, task.client_id, json.loads(task.job_args_json)) == ("peppol_sync", client.id, ["sync", [client.id]])
    assert client.integration.product.name == "Winbooks"
    assert (client.integration.delivery_method, client.integration.delivery_email, client.integration.attach_ubl) == (
        "email", "inbox@winbooks.example.com", True)
    details = http.get(f"/admin/client/details/?id={client.id}").text
    assert "Delivery only (Winbooks)" in details

    # Copied, not linked: changing the client leaves the template alone, and the other way round.
    client.integration.delivery_email = "boekhouding@client.example.com"
    template = db_session.get(ConfigTemplate, template.id)
    template.peppol_send = False
    db_session.commit()
    db_session.expire_all()
    assert db_session.get(ConfigTemplate, template.id).delivery_email == "inbox@winbooks.example.com"
    assert db_session.get(Client, client.id).peppol_send is True


def test_a_template_that_turns_peppol_on_needs_an_access_point(register, staff, team, template, as_user, db_session):
    http = as_user(staff)
    post(http, WIZARD, company_form())
    form = details_form(team, template=str(template.id), prefilled_template=str(template.id), e_invoicing_mandate="y")
    refused = post(http, WIZARD + "details/", form)
    assert refused.status_code == 200
    assert any("no access point is configured" in e for e in errors(refused.text))
    assert db_session.scalar(sa.select(sa.func.count(Client.id))) == 0


def test_search_endpoint_explains_empty_results(register, staff, as_user, db_session):
    http = as_user(staff)
    assert "check digits" in http.get(WIZARD + "search/?q=0403.170.702").json["message"]
    assert http.get(WIZARD + "search/?q=zzzzzz").json["message"].startswith("No company found")
    assert http.get(WIZARD + "search/?q=e").json["results"] == []


def test_without_a_register_the_wizard_says_so(staff, team, as_user):
    http = as_user(staff)
    assert "The company register is not loaded" in http.get(WIZARD).text
    assert "not loaded" in http.get(WIZARD + "search/?q=electrabel").json["message"]
    refused = post(http, WIZARD, company_form())
    assert any("register has not been loaded" in e for e in errors(refused.text))


def test_the_wizard_needs_a_signed_in_user(client):
    assert client.get(WIZARD).status_code == 302
    assert client.get(WIZARD + "search/?q=x").status_code == 302


def test_a_huge_field_gets_a_message_and_the_cookie_stays_small(register, staff, team, as_user):
    """40 KB in one field used to go into the session cookie: the browser dropped it and the user was signed out."""
    http = as_user(staff)
    response = post(http, WIZARD, company_form(legal_form=secrets.token_urlsafe(30_000)))  # 40 KB that does not compress
    assert response.status_code == 200
    assert "Field cannot be longer than 120 characters." in errors(response.text)
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert len(cookie) < 1000
    assert http.get("/admin/client/").status_code == 200  # still signed in

    post(http, WIZARD, company_form())
    big = post(http, WIZARD + "details/", details_form(team, email="e" * 40_000 + "@example.com", iban="BE" * 20_000))
    assert "Field cannot be longer than 254 characters." in errors(big.text)
    assert "Field cannot be longer than 50 characters." in errors(big.text)


def test_the_draft_is_on_the_server_for_its_user_only_and_expires(register, staff, team, make, as_user, app):
    http = as_user(staff)
    post(http, WIZARD, company_form(unknown_field="not kept"))
    key = draft_key(http, staff)
    redis = get_redis(app)
    assert json.loads(redis.hget(key, "company"))["city"] == "Namur"
    assert "unknown_field" not in json.loads(redis.hget(key, "company"))
    assert 0 < redis.ttl(key) <= DRAFT_TTL.total_seconds()  # Redis deletes it when it expires

    other = as_user(make.user(Role.STAFF, groups=[team]))
    with http.session_transaction() as session:
        draft_id = session[SESSION_KEY]
    with other.session_transaction() as session:
        session[SESSION_KEY] = draft_id  # someone else's draft id: not found
    assert "Namur" not in other.get(WIZARD).text
    assert other.get(WIZARD + "details/").status_code == 302  # "Start with the company"
    assert "Namur" in http.get(WIZARD).text

    redis.delete(key)  # as when it has expired
    assert http.get(WIZARD + "details/").status_code == 302

    post(http, WIZARD, company_form())
    post(http, WIZARD + "details/", details_form(team))
    key = draft_key(http, staff)
    assert post(http, WIZARD + "summary/", {}).status_code == 302  # created: the draft is gone
    assert redis.exists(key) == 0
    with http.session_transaction() as session:
        assert SESSION_KEY not in session


def test_redis_down_the_wizard_says_so_and_the_list_keeps_working(register, staff, make_app):
    from tests.helpers import login

    down = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    http = down.test_client()
    login(http, staff.email)
    assert http.get(WIZARD).status_code == 200  # no draft yet: nothing to read
    response = post(http, WIZARD, company_form(), follow_redirects=True)
    assert any("cannot be reached right now: nothing was created" in m for m in flashes(response.text))
    assert response.request.path == "/admin/client/"
