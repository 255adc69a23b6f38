"""Editing clients through the admin form, inline contacts and bank accounts included; creating them goes through
the wizard (test_wizard.py)."""
import pytest

from clientdesk.models import AuditEvent, BankAccount, Client, Contact, Role
from tests.helpers import flashes, post


def client_form(group_id, contact_id, **overrides):
    """The client form as posted for the client whose (only) contact is `contact_id`."""
    data = {
        "name": "Brasserie Renard SRL", "country": "be", "enterprise_number": "BE 0403.170.701", "vat_number": "",
        "language": "fr-be", "group": str(group_id), "subscription_mode": "full", "plan": "",
        "contacts-0-id": str(contact_id), "contacts-0-first_name": "Élodie", "contacts-0-last_name": "Renard",
        "contacts-0-email": "Elodie@Renard.example.com", "contacts-0-language": "fr-BE", "contacts-0-mobile": "0478 11 22 33",
        "contacts-0-is_primary": "y", "bank_accounts-0-iban": "BE71 0961 2345 6769",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def edit(http, client, **overrides):
    return post(http, f"/admin/client/edit/?id={client.id}", client_form(client.group_id, client.contacts[0].id, **overrides))


@pytest.mark.parametrize("role", [Role.STAFF, Role.SUPERVISOR, Role.ADMIN])
def test_clients_are_created_with_the_wizard_only(make, as_user, store, role):
    """One way to create a client, the wizard (it checks the register): no "Create" tab, and the plain form's
    address leads to the wizard, a post to it creating nothing."""
    group = make.group("Team Liège")
    acme = make.client(group)
    http = as_user(make.user(role, groups=[group]))
    for page in ("/admin/client/", f"/admin/client/details/?id={acme.id}", f"/admin/client/edit/?id={acme.id}"):
        assert "/admin/client/new/" not in http.get(page).text, page
    assert 'href="/admin/client/new-wizard/"' in http.get("/admin/client/").text

    opened = http.get("/admin/client/new/?url=/admin/client/")
    assert opened.status_code == 303 and opened.location == "/admin/client/new-wizard/"
    data = client_form(group.id, acme.contacts[0].id, **{"contacts-0-id": None, "contacts-0-email": "new@renard.example.com"})
    posted = post(http, "/admin/client/new/", data, follow_redirects=True)
    assert posted.request.path == "/admin/client/new-wizard/"
    assert "Nothing was created: new clients are created with this wizard" in " ".join(flashes(posted.text))
    assert store.count(Client) == 1 and store.count(Contact) == 1


def test_staff_edits_a_client_with_contact_and_bank_account(make, as_user, store):
    group = make.group("Team Liège")
    staff = make.user(Role.STAFF, groups=[group])
    acme = make.client(group)
    response = edit(as_user(staff), acme)
    assert response.status_code == 302, response.text[:2000]
    client = store.get(Client, acme.id)
    assert (client.name, client.enterprise_number, client.vat_number, client.country, client.language) == (
        "Brasserie Renard SRL", "0403170701", "BE0403170701", "BE", "fr-BE")
    contact = store.one(Contact, client_id=client.id)
    assert (contact.email, contact.mobile, contact.is_primary) == ("elodie@renard.example.com", "+32478112233", True)
    assert store.one(BankAccount, client_id=client.id).iban == "BE71096123456769"
    changed = store.one(AuditEvent, action="update", object_type="client")
    assert changed.actor == staff.email and changed.changes["name"] == [acme.name, "Brasserie Renard SRL"]


def test_bad_values_get_clear_messages_and_nothing_is_written(make, as_user, store):
    group = make.group("Team Gent")
    acme = make.client(group)
    page = edit(as_user(make.user(Role.STAFF, groups=[group])), acme, enterprise_number="0403.170.702",
                **{"bank_accounts-0-iban": "BE71 0961 2345 6768", "contacts-0-email": "not-an-email"})
    assert page.status_code == 200
    assert "check digits do not match" in page.text
    assert "not a valid IBAN" in page.text
    assert "not a valid e-mail address" in page.text
    assert store.get(Client, acme.id).name == acme.name
    assert store.one(Contact, client_id=acme.id).email == acme.contacts[0].email and store.count(BankAccount) == 0


def test_vat_number_must_match_the_enterprise_number(make, as_user, store):
    acme = make.client(make.group("Team Gent"))
    page = edit(as_user(make.user(Role.ADMIN)), acme, vat_number="BE0417497106")
    assert "does not match enterprise number 0403.170.701" in page.text
    assert store.get(Client, acme.id).enterprise_number == acme.enterprise_number


def test_contact_email_used_by_another_client_is_refused(make, as_user, store):
    group = make.group("Team Gent")
    existing, acme = make.client(group), make.client(group)
    page = edit(as_user(make.user(Role.ADMIN)), acme, **{"contacts-0-email": existing.contacts[0].email})
    assert "already used by a contact of another client" in page.text
    assert store.one(Contact, client_id=acme.id).email == acme.contacts[0].email


def test_staff_cannot_move_a_client_into_a_group_they_are_not_in(make, as_user, store):
    mine, other = make.group("Mine"), make.group("Other")
    acme = make.client(mine)
    page = edit(as_user(make.user(Role.STAFF, groups=[mine])), acme, group=str(other.id))
    assert page.status_code == 200 and "This field is required." in page.text  # the group is not among the choices
    assert store.get(Client, acme.id).group_id == mine.id


def test_managed_by_the_firm_needs_a_bank_account(make, as_user, store):
    acme = make.client(make.group("Team Gent"))
    page = edit(as_user(make.user(Role.ADMIN)), acme, subscription_mode="managed", follow_redirects=True,
                **{"bank_accounts-0-iban": None})
    assert "needs at least one bank account" in page.text
    assert store.get(Client, acme.id).subscription_mode == "full"


def test_only_admins_see_and_set_hidden_and_the_client_facing_contact(make, as_user, store):
    group = make.group("Team Gent")
    acme = make.client(group)
    staff = as_user(make.user(Role.STAFF, groups=[group]))
    form = staff.get(f"/admin/client/edit/?id={acme.id}").text
    assert 'name="hidden"' not in form and 'name="client_facing_contact"' not in form
    edit(staff, acme, hidden="y")
    assert store.get(Client, acme.id).hidden is False
    admin_form = as_user(make.user(Role.ADMIN)).get(f"/admin/client/edit/?id={acme.id}").text
    assert 'name="hidden"' in admin_form and 'name="client_facing_contact"' in admin_form


def test_a_clients_last_contact_cannot_be_removed(make, as_user, store):
    group = make.group("Team Gent")
    acme = make.client(group)
    http = as_user(make.user(Role.STAFF, groups=[group]))
    contact_id = acme.contacts[0].id
    post(http, "/admin/contact/delete/", {"id": contact_id})
    assert store.get(Contact, contact_id) is not None
