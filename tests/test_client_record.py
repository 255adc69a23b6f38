"""The client record's fields from the reference pages (issue 19): company type, parent company (scoped, no loops),
address line 2, billing address "same as the company address" or its own, the contact's switchboard phone and source."""
import io
import re

import sqlalchemy as sa
from openpyxl import load_workbook

from clientdesk import rules
from clientdesk.extensions import db
from clientdesk.models import AuditEvent, Client, Contact, ImportStatus, Role
from tests.helpers import flashes, form_fields, post
from tests.import_files import run_import, write_xlsx


def edit(http, client, **changes):
    """The client's edit form as a browser sends it, with `changes` over it."""
    data = form_fields(http.get(f"/admin/client/edit/?id={client.id}").text)
    for name, value in changes.items():
        data.setlist(name, [value])
    return post(http, f"/admin/client/edit/?id={client.id}", data)


def test_staff_fill_in_the_new_fields_and_the_page_shows_them(make, as_user, store):
    group = make.group("Team Liège")
    staff = make.user(Role.STAFF, groups=[group])
    holding = make.client(group, name="Renard Holding SA")
    acme = make.client(group, name="Brasserie Renard SRL")
    http = as_user(staff)
    response = edit(http, acme, company_type="non_profit", parent=str(holding.id), street="Rue Haute", house_number="12",
                    address_line2="Bâtiment B", postal_code="1000", city="Bruxelles", billing_same_as_address="0",
                    billing_street="Kalverstraat", billing_house_number="1", billing_postal_code="1012ab",
                    billing_city="Amsterdam", billing_country="nl")
    assert response.status_code == 302, flashes(response.text) or response.text[:3000]
    client = store.get(Client, acme.id)
    assert (client.company_type, client.parent_id, client.address_line2) == ("non_profit", holding.id, "Bâtiment B")
    assert (client.billing_same_as_address, client.billing_postal_code, client.billing_country) == (False, "1012 AB", "NL")
    changes = store.one(AuditEvent, action="update", object_type="client").changes
    assert changes["parent_id"] == [None, holding.id] and changes["company_type"] == [None, "non_profit"]

    page = http.get(f"/admin/client/details/?id={acme.id}").text
    assert "Non-profit organisation" in page and "Bâtiment B" in page
    assert "Kalverstraat 1, 1012 AB Amsterdam, Netherlands" in page
    assert f'href="/admin/client/details/?id={holding.id}">Renard Holding SA</a>' in page
    parent_page = http.get(f"/admin/client/details/?id={holding.id}").text
    assert f'href="/admin/client/details/?id={acme.id}">Brasserie Renard SRL</a>' in parent_page

    listed = http.get("/admin/client/?flt0_company_type_equals=non_profit").text
    assert "Brasserie Renard SRL" in listed and "Renard Holding SA" not in listed


def test_same_as_the_company_address_clears_the_billing_address(make, as_user, store):
    group = make.group("Team Gent")
    acme = make.client(group, billing_same_as_address=False, billing_street="Veldstraat", billing_postal_code="9000",
                       billing_city="Gent")
    http = as_user(make.user(Role.STAFF, groups=[group]))
    assert "A separate billing address" in http.get(f"/admin/client/edit/?id={acme.id}").text
    assert edit(http, acme, billing_same_as_address="1").status_code == 302
    client = store.get(Client, acme.id)
    assert (client.billing_same_as_address, client.billing_street, client.billing_city) == (True, None, None)
    assert "Same as the company address" in http.get(f"/admin/client/details/?id={acme.id}").text


def test_bad_addresses_get_clear_messages_and_nothing_is_written(make, as_user, store):
    group = make.group("Team Gent")
    acme = make.client(group)
    http = as_user(make.user(Role.STAFF, groups=[group]))
    page = edit(http, acme, postal_code="12345", billing_same_as_address="0", billing_street="Veldstraat",
                billing_postal_code="ABC", billing_country="FR", city="Gent")
    assert page.status_code == 200
    assert "“12345” is not a postal code of BE (e.g. 1000)." in page.text
    assert "“ABC” is not a postal code of FR (e.g. 75001)." in page.text

    incomplete = edit(http, acme, billing_same_as_address="0", billing_street="Veldstraat")
    assert "A separate billing address needs at least its street, postal code and city" in " ".join(flashes(incomplete.text))
    client = store.get(Client, acme.id)
    assert (client.billing_same_as_address, client.billing_street, client.postal_code, client.city) == (True, None, None, None)


def test_the_parent_pick_list_offers_only_clients_in_scope_and_not_deactivated(make, as_user):
    team_a, team_b = make.group("Team A"), make.group("Team B")
    make.client(team_a, name="Ours Bakkerij BV")
    make.client(team_a, name="Gone Bakkerij BV", status="deactivated")
    make.client(team_a, name="Hidden Bakkerij BV", hidden=True)
    make.client(team_b, name="Theirs Bakkerij BV")
    http = as_user(make.user(Role.STAFF, groups=[team_a]))
    found = http.get("/admin/client/ajax/lookup/?name=parent&query=bakkerij&limit=1000").json
    assert [name for _id, name in found] == ["Ours Bakkerij BV"]


def test_a_posted_parent_outside_the_users_scope_is_refused(make, as_user, store):
    team_a, team_b = make.group("Team A"), make.group("Team B")
    ours = make.client(team_a, name="Ours Bakkerij BV")
    theirs = make.client(team_b, name="Theirs Brasserie SRL")
    hidden = make.client(team_a, name="Hidden Garage NV", hidden=True)
    http = as_user(make.user(Role.STAFF, groups=[team_a]))
    for refused in (theirs.id, hidden.id, 999999, "1,2"):
        page = edit(http, ours, parent=str(refused))
        assert page.status_code == 200
        assert "That client does not exist or is outside your groups." in page.text
        assert "Theirs Brasserie SRL" not in page.text and "Hidden Garage NV" not in page.text
    assert store.get(Client, ours.id).parent_id is None


def test_a_parent_outside_the_users_groups_is_kept_unnamed(make, as_user, store):
    team_a, team_b = make.group("Team A"), make.group("Team B")
    theirs = make.client(team_b, name="Theirs Brasserie SRL")
    ours = make.client(team_a, name="Ours Bakkerij BV", parent_id=theirs.id)
    http = as_user(make.user(Role.STAFF, groups=[team_a]))
    page = http.get(f"/admin/client/details/?id={ours.id}").text
    assert "a client outside your scope" in page and "Theirs Brasserie SRL" not in page
    form = http.get(f"/admin/client/edit/?id={ours.id}").text
    assert 'name="parent"' not in form and "Theirs Brasserie SRL" not in form
    assert edit(http, ours, name="Ours Bakkerij NV").status_code == 302
    assert store.get(Client, ours.id).parent_id == theirs.id
    # A client's page lists only the subsidiaries the user sees.
    make.client(team_a, name="Hidden Daughter BV", hidden=True, parent_id=ours.id)
    make.client(team_b, name="Their Daughter BV", parent_id=ours.id)
    make.client(team_a, name="Our Daughter BV", parent_id=ours.id)
    listed = http.get(f"/admin/client/details/?id={ours.id}").text.split('id="client-subsidiaries">')[1].split("</dd>")[0]
    assert "Our Daughter BV" in listed and "Their Daughter BV" not in listed and "Hidden Daughter BV" not in listed
    supervisor = as_user(make.user(Role.SUPERVISOR))
    assert "Ours Bakkerij NV" in supervisor.get(f"/admin/client/details/?id={theirs.id}").text


def test_a_client_cannot_be_its_own_parent_directly_or_through_its_subsidiaries(make, as_user, store):
    group = make.group("Team A")
    top = make.client(group, name="Top SA")
    middle = make.client(group, name="Middle SRL", parent_id=top.id)
    bottom = make.client(group, name="Bottom BV", parent_id=middle.id)
    http = as_user(make.user(Role.STAFF, groups=[group]))
    for parent in (top, bottom):
        refused = edit(http, top, parent=str(parent.id))
        assert refused.status_code == 200 and "A client cannot be its own parent company" in refused.text, parent.name
    assert store.get(Client, top.id).parent_id is None
    assert edit(http, bottom, parent=str(top.id)).status_code == 302  # a shorter chain, no loop
    assert store.get(Client, bottom.id).parent_id == top.id


def test_the_database_check_finds_a_parent_loop(app, make):
    group = make.group("Team A")
    first = make.client(group, name="First SA")
    second = make.client(group, name="Second SA", parent_id=first.id)
    with app.app_context():
        db.session.execute(sa.update(Client).where(Client.id == first.id).values(parent_id=second.id))
        broken = rules.violations()
        db.session.execute(sa.update(Client).where(Client.id == first.id).values(parent_id=None))
        db.session.commit()
        message = next(rule for rule in rules.RULES if rule.field == "parent").message()
    assert [line for line in broken if "own parent company" in line] == [f"client {first.id}: {message}",
                                                                          f"client {second.id}: {message}"]


def test_contact_switchboard_phone_and_source(make, as_user, store):
    group = make.group("Team A")
    acme = make.client(group)
    http = as_user(make.user(Role.STAFF, groups=[group]))
    contact_id = acme.contacts[0].id
    bad = edit(http, acme, **{"contacts-0-switchboard_phone": "12"})
    assert "“12” is not a valid phone number" in bad.text
    assert edit(http, acme, **{"contacts-0-switchboard_phone": "02 512 34 56", "contacts-0-source": "referral"}).status_code == 302
    contact = store.get(Contact, contact_id)
    assert (contact.switchboard_phone, contact.source) == ("+3225123456", "referral")
    page = http.get(f"/admin/client/details/?id={acme.id}").text
    assert "+3225123456" in page and "Referral" in page

    form = form_fields(http.get(f"/admin/contact/edit/?id={contact_id}").text)
    form.setlist("switchboard_phone", ["+32 9 223 45 67"])
    form.setlist("source", ["event"])
    saved = post(http, f"/admin/contact/edit/?id={contact_id}", form)
    assert saved.status_code == 302, re.findall(r'class="[^"]*(?:invalid-feedback|help-block)[^"]*">(.*?)<', saved.text, re.S)
    contact = store.get(Contact, contact_id)
    assert (contact.switchboard_phone, contact.source) == ("+3292234567", "event")


def exported(http) -> list[dict]:
    """The list's XLSX export (its text cells are as stored; the CSV guards those that start with +)."""
    sheet = load_workbook(io.BytesIO(http.get("/admin/client/export/xlsx/").data)).active
    header, *rows = sheet.iter_rows(values_only=True)
    return [{key: "" if value is None else value for key, value in zip(header, row)} for row in rows]


# The export's columns that the import reads back (the import matches their names to its own headers).
ROUND_TRIP = ("name", "country", "enterprise_number", "contact_email", "contact_first_name", "contact_last_name",
              "contact_language", "contact_switchboard_phone", "contact_source", "street", "house_number", "box",
              "address_line2", "postal_code", "city", "billing_same_as_address", "billing_street", "billing_house_number",
              "billing_box", "billing_address_line2", "billing_postal_code", "billing_city", "billing_country",
              "company_type", "parent_enterprise_number")


def test_export_and_import_round_trip_the_new_fields(app, make, as_user, store, tmp_path):
    group = make.group("Team A")
    admin = make.user(Role.ADMIN)
    holding = make.client(group, name="Renard Holding SA", company_type="company")
    acme = make.client(group, name="Brasserie Renard SRL", company_type="non_profit", parent_id=holding.id,
                       street="Rue Haute", house_number="12", address_line2="Bâtiment B", postal_code="1000",
                       city="Bruxelles", billing_same_as_address=False, billing_street="Kalverstraat",
                       billing_postal_code="1012 AB", billing_city="Amsterdam", billing_country="NL")
    with app.app_context():
        contact = db.session.get(Contact, acme.contacts[0].id)
        contact.switchboard_phone, contact.source = "+3225123456", "referral"
        db.session.commit()
    rows = {row["name"]: row for row in exported(as_user(admin))}
    row = rows["Brasserie Renard SRL"]
    assert (row["company_type"], row["parent_enterprise_number"], row["address_line2"]) == (
        "non_profit", holding.enterprise_number, "Bâtiment B")
    assert (row["billing_same_as_address"], row["billing_postal_code"], row["billing_country"]) == ("false", "1012 AB", "NL")
    assert (row["contact_switchboard_phone"], row["contact_source"]) == ("+3225123456", "referral")
    assert rows["Renard Holding SA"]["billing_same_as_address"] == "true"

    def import_rows(changes: dict):
        lines = [[{**rows[name], **changes.get(name, {})}[key] for key in ROUND_TRIP] for name in sorted(rows)]
        header = ["Legal name" if key == "name" else key for key in ROUND_TRIP]  # the export's other names are the import's
        return run_import(app, write_xlsx(tmp_path / "clients.xlsx", header, lines), admin)

    again = import_rows({})
    assert again.status == ImportStatus.IMPORTED and (again.unchanged_count, again.changed_count) == (2, 0), again.errors
    changed = import_rows({"Brasserie Renard SRL": {"company_type": "Organisme public", "billing_city": "Rotterdam",
                                                    "billing_postal_code": "3011ab", "contact_source": "Événement"}})
    assert changed.status == ImportStatus.IMPORTED and changed.changed_count == 1, changed.errors
    client = store.get(Client, acme.id)
    assert (client.company_type, client.billing_city, client.billing_postal_code, client.parent_id) == (
        "public_body", "Rotterdam", "3011 AB", holding.id)
    assert store.get(Contact, acme.contacts[0].id).source == "event"


def test_import_refuses_bad_new_field_values_row_by_row(app, make, tmp_path, store):
    admin = make.user(Role.ADMIN)
    top = make.client(make.group("Team A"), name="Top SA")
    header = ["Raison sociale", "Pays", "Email de contact", "Prénom du contact", "Nom de famille du contact",
              "Langue du contact", "Numéro d'entreprise", "Société mère", "Type de société", "Code postal",
              "Facturation à la même adresse (Oui/Non)", "Rue de facturation", "Téléphone standard du contact",
              "Source du contact"]
    base = ["Nouvelle SRL", "BE", "anne@nouvelle.example.com", "Anne", "Dupont", "fr-BE", "", "", "", "", "", "", "", ""]
    lines = [
        base[:7] + ["0417.497.106", "Coopérative", "12345", "Oui", "Rue Haute", "12", "Salon"],
        [*base[:2], "bob@nouvelle.example.com", *base[3:7], top.enterprise_number, "Indépendant", "", "Non", "", "", ""],
        [*base[:2], "eve@nouvelle.example.com", *base[3:6], top.enterprise_number, top.enterprise_number, "", "", "", "", "",
         "site web"],
    ]
    batch = run_import(app, write_xlsx(tmp_path / "bad.xlsx", header, lines), admin)
    assert batch.status == ImportStatus.INVALID and store.count(Client) == 1
    messages = {(error["row"], error["column"]): error["message"] for error in batch.errors}
    assert messages[(2, "Société mère")] == ("No client has the enterprise number 0417.497.106: import the parent company "
                                             "first.")
    assert messages[(2, "Type de société")].startswith("“Coopérative” is not one of: Company, Sole trader")
    assert messages[(2, "Code postal")] == "“12345” is not a postal code of BE (e.g. 1000)."
    assert messages[(2, "Facturation à la même adresse (Oui/Non)")].startswith("The row has a billing address of its own")
    assert messages[(2, "Téléphone standard du contact")] == "“12” is not a valid phone number (write it as +32 478 11 22 33)."
    assert messages[(2, "Source du contact")].startswith("“Salon” is not one of: Website, Referral")
    assert messages[(3, "Facturation à la même adresse (Oui/Non)")].startswith("A separate billing address needs")
    assert (4, "Société mère") in messages and "own parent company" in messages[(4, "Société mère")]
    assert not [key for key in messages if key[0] == 3 and key[1] in ("Type de société", "Source du contact")]


def test_the_wizard_proposes_the_company_type_the_register_suggests(app, make, as_user, store):
    from clientdesk.services.kbo_loader import SAMPLE, load_register

    with app.app_context():
        load_register(SAMPLE)
    team = make.group("Team Namur")
    http = as_user(make.user(Role.STAFF, groups=[team]))
    wizard = "/admin/client/new-wizard/"
    for number, suggested in (("1001234592", "company"), ("0228914159", "non_profit"), ("0222137918", "sole_trader")):
        picked = post(http, wizard + "pick/", {"enterprise_number": number}, follow_redirects=True)
        assert f'<option selected value="{suggested}">' in picked.text, number

    company = {"name": "Paul Peeters", "country": "BE", "enterprise_number": "0222.137.918", "vat_number": "",
               "legal_form": "", "company_type": "public_body", "street": "Rue Haute", "house_number": "1", "box": "",
               "address_line2": "Aile gauche", "postal_code": "5000", "city": "Namur", "website": "", "action": "next"}
    assert post(http, wizard, company).status_code == 302
    details = {"template": "", "prefilled_template": "", "civility": "", "first_name": "Paul", "last_name": "Peeters",
               "email": "paul@peeters.example.com", "mobile": "", "language": "nl-BE", "group": str(team.id),
               "firm_contact": "", "subscription_mode": "full", "iban": "", "action": "next"}
    assert post(http, wizard + "details/", details).status_code == 302
    summary = http.get(wizard + "summary/").text
    assert "Public body" in summary and "Aile gauche" in summary
    assert post(http, wizard + "summary/", {}).status_code == 302
    client = store.one(Client, enterprise_number="0222137918")
    assert (client.company_type, client.address_line2) == ("public_body", "Aile gauche")


def test_billed_at_the_company_address_the_onboarding_billing_step_is_done_once_that_address_is_known(app, make):
    from clientdesk import checklist

    group = make.group("Team A")
    known = make.client(group, street="Rue Haute", postal_code="1000", city="Bruxelles")
    unknown = make.client(group)
    own = make.client(group, billing_same_as_address=False, billing_street="Veldstraat", billing_postal_code="9000",
                      billing_city="Gent")
    with app.app_context():
        done = {client.id: {step.key: step.done for step in checklist.steps(db.session.get(Client, client.id))}["billing_address"]
                for client in (known, unknown, own)}
    assert done == {known.id: True, unknown.id: False, own.id: True}


def test_postal_codes_are_checked_per_country(app):
    from clientdesk.forms import validators as v

    with app.test_request_context():
        assert [v.postal_code(code, country) for code, country in (
            (" 1000 ", "BE"), ("1012ab", "NL"), ("1012", "NL"), ("L-1611", "LU"), ("75001", "FR"), ("sw1a 1aa", "GB"),
        )] == ["1000", "1012 AB", "1012", "1611", "75001", "SW1A 1AA"]
        for code, country in (("0999", "BE"), ("100", "BE"), ("7500", "FR"), ("x", "GB"), ("12#4", "US")):
            try:
                v.postal_code(code, country)
            except v.InvalidValue:
                continue
            raise AssertionError(f"{code} accepted for {country}")


def test_the_list_export_leaves_out_a_parent_outside_the_users_scope(make, as_user):
    group = make.group("Team A")
    hidden = make.client(group, name="Hidden Holding SA", hidden=True)
    make.client(group, name="Visible Daughter BV", parent_id=hidden.id)
    supervisor = {row["name"]: row for row in exported(as_user(make.user(Role.SUPERVISOR)))}
    admin = {row["name"]: row for row in exported(as_user(make.user(Role.ADMIN)))}
    assert supervisor["Visible Daughter BV"]["parent_enterprise_number"] == ""
    assert admin["Visible Daughter BV"]["parent_enterprise_number"] == hidden.enterprise_number
