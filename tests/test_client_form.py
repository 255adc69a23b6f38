"""Creating and editing clients through the admin form, inline contacts and bank accounts included."""
from clientdesk.models import AuditEvent, BankAccount, Client, Contact, Role
from tests.helpers import post


def client_form(group_id, **overrides):
    data = {
        "name": "Brasserie Renard SRL", "country": "be", "enterprise_number": "BE 0403.170.701", "vat_number": "",
        "language": "fr-be", "group": str(group_id), "subscription_mode": "full", "plan": "standard",
        "contacts-0-first_name": "Élodie", "contacts-0-last_name": "Renard", "contacts-0-email": "Elodie@Renard.example.com",
        "contacts-0-language": "fr-BE", "contacts-0-mobile": "0478 11 22 33", "contacts-0-is_primary": "y",
        "bank_accounts-0-iban": "BE71 0961 2345 6769",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_staff_creates_a_client_with_contact_and_bank_account(make, as_user, store):
    group = make.group("Team Liège")
    staff = make.user(Role.STAFF, groups=[group])
    response = post(as_user(staff), "/admin/client/new/", client_form(group.id))
    assert response.status_code == 302, response.text[:2000]
    client = store.one(Client, name="Brasserie Renard SRL")
    assert (client.enterprise_number, client.vat_number, client.country, client.language) == ("0403170701", "BE0403170701", "BE", "fr-BE")
    contact = store.one(Contact, client_id=client.id)
    assert (contact.email, contact.mobile, contact.is_primary) == ("elodie@renard.example.com", "+32478112233", True)
    assert store.one(BankAccount, client_id=client.id).iban == "BE71096123456769"
    assert client.inbound_email.endswith("@in.clientdesk.example")
    created = store.one(AuditEvent, action="create", object_type="client")
    assert created.actor == staff.email and created.changes["name"] == [None, "Brasserie Renard SRL"]


def test_bad_values_get_clear_messages_and_nothing_is_written(make, as_user, store):
    group = make.group("Team Gent")
    staff = make.user(Role.STAFF, groups=[group])
    page = post(as_user(staff), "/admin/client/new/", client_form(
        group.id, enterprise_number="0403.170.702", **{"bank_accounts-0-iban": "BE71 0961 2345 6768", "contacts-0-email": "not-an-email"}))
    assert page.status_code == 200
    assert "check digits do not match" in page.text
    assert "not a valid IBAN" in page.text
    assert "not a valid e-mail address" in page.text
    assert store.count(Client) == 0 and store.count(Contact) == 0


def test_vat_number_must_match_the_enterprise_number(make, as_user, store):
    group = make.group("Team Gent")
    page = post(as_user(make.user(Role.ADMIN)), "/admin/client/new/", client_form(group.id, vat_number="BE0417497106"))
    assert "does not match enterprise number 0403.170.701" in page.text
    assert store.count(Client) == 0


def test_contact_email_used_by_another_client_is_refused(make, as_user, store):
    group = make.group("Team Gent")
    existing = make.client(group)
    page = post(as_user(make.user(Role.ADMIN)), "/admin/client/new/", client_form(
        group.id, **{"contacts-0-email": existing.contacts[0].email}))
    assert "already used by a contact of another client" in page.text
    assert store.count(Client) == 1


def test_staff_cannot_create_into_a_group_they_are_not_in(make, as_user, store):
    mine, other = make.group("Mine"), make.group("Other")
    staff = make.user(Role.STAFF, groups=[mine])
    page = post(as_user(staff), "/admin/client/new/", client_form(other.id))
    assert page.status_code == 200 and "This field is required." in page.text  # the group is not among the choices
    assert store.count(Client) == 0


def test_managed_by_the_firm_needs_a_bank_account(make, as_user, store):
    group = make.group("Team Gent")
    page = post(as_user(make.user(Role.ADMIN)), "/admin/client/new/", client_form(
        group.id, subscription_mode="managed", **{"bank_accounts-0-iban": None}), follow_redirects=True)
    assert "needs at least one bank account" in page.text
    assert store.count(Client) == 0


def test_only_admins_see_and_set_hidden_and_the_client_facing_contact(make, as_user, store):
    group = make.group("Team Gent")
    staff = make.user(Role.STAFF, groups=[group])
    form = as_user(staff).get("/admin/client/new/").text
    assert 'name="hidden"' not in form and 'name="client_facing_contact"' not in form
    post(as_user(staff), "/admin/client/new/", client_form(group.id, hidden="y"))
    assert store.one(Client, name="Brasserie Renard SRL").hidden is False
    admin_form = as_user(make.user(Role.ADMIN)).get("/admin/client/new/").text
    assert 'name="hidden"' in admin_form and 'name="client_facing_contact"' in admin_form


def test_a_clients_last_contact_cannot_be_removed(make, as_user, store):
    group = make.group("Team Gent")
    acme = make.client(group)
    http = as_user(make.user(Role.STAFF, groups=[group]))
    contact_id = acme.contacts[0].id
    post(http, "/admin/contact/delete/", {"id": contact_id})
    assert store.get(Contact, contact_id) is not None
