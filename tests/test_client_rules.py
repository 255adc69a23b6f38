"""Client rules hold on every screen, not only on the one built for them (found in review)."""
import http.server
from types import SimpleNamespace

import pytest

from clientdesk.models import BankAccount, Client, ClientIntegration, Contact, IntegrationProduct, Role
from tests.helpers import flashes, post


@pytest.fixture
def team(make):
    group = make.group("Team R")
    return SimpleNamespace(group=group, staff=make.user(Role.STAFF, groups=[group]), admin=make.user(Role.ADMIN),
                           supervisor=make.user(Role.SUPERVISOR))


def edit_form(client, contacts, **overrides):
    data = {"name": client.name, "country": "BE", "enterprise_number": client.enterprise_number, "vat_number": "",
            "language": "fr-BE", "group": str(client.group_id), "subscription_mode": client.subscription_mode,
            "plan": ""}
    for i, c in enumerate(contacts):
        data.update({f"contacts-{i}-id": str(c.id), f"contacts-{i}-first_name": c.first_name,
                     f"contacts-{i}-last_name": c.last_name, f"contacts-{i}-email": c.email,
                     f"contacts-{i}-language": c.language})
        if c.is_primary:
            data[f"contacts-{i}-is_primary"] = "y"
    data.update(overrides)
    return data


def managed_client_with_one_account(make, store, group):
    acme = make.client(group, subscription_mode="managed", ibans=["BE71096123456769"])
    return acme, acme.bank_accounts[0]


def test_the_last_bank_account_of_a_managed_client_stays(team, make, as_user, store):
    acme, account = managed_client_with_one_account(make, store, team.group)
    response = post(as_user(team.staff), "/admin/bankaccount/delete/", {"id": account.id}, follow_redirects=True)
    assert any("needs at least one bank account" in m for m in flashes(response.text))
    data = edit_form(acme, acme.contacts, **{"bank_accounts-0-id": str(account.id), "bank_accounts-0-iban": account.iban,
                                             "del-bank_accounts-0": "y"})
    post(as_user(team.staff), f"/admin/client/edit/?id={acme.id}", data)
    assert store.count(BankAccount, client_id=acme.id) == 1


def test_the_last_contact_stays_whatever_the_screen(team, make, as_user, store):
    acme = make.client(team.group, contacts=1)
    http = as_user(team.staff)
    post(http, f"/admin/client/edit/?id={acme.id}", edit_form(acme, acme.contacts, **{"del-contacts-0": "y"}))
    assert store.count(Contact, client_id=acme.id) == 1
    assert 'name="client"' not in http.get(f"/admin/contact/edit/?id={acme.contacts[0].id}").text  # cannot be moved away


def test_deleting_the_primary_inline_promotes_another(team, make, as_user, store):
    acme = make.client(team.group, contacts=2)
    contacts = sorted(acme.contacts, key=lambda c: c.id)
    response = post(as_user(team.staff), f"/admin/client/edit/?id={acme.id}", edit_form(acme, contacts, **{"del-contacts-0": "y"}))
    assert response.status_code == 302, flashes(response.text)
    [left] = store.all(Contact, client_id=acme.id)
    assert left.is_primary is True


def test_deleting_the_primary_on_the_contact_screen_promotes_another(team, make, as_user, store):
    acme = make.client(team.group, contacts=2)
    first, second = sorted(acme.contacts, key=lambda c: c.id)
    response = post(as_user(team.staff), "/admin/contact/delete/", {"id": first.id}, follow_redirects=True)
    assert not [m for m in flashes(response.text) if "error" in m.lower()], flashes(response.text)
    assert store.get(Contact, first.id) is None and store.get(Contact, second.id).is_primary


def test_the_primary_of_an_active_client_cannot_change_on_the_contact_screen(team, make, as_user, store):
    acme = make.client(team.group, contacts=2, status="active")
    first, second = sorted(acme.contacts, key=lambda c: c.id)
    fields = {"first_name": second.first_name, "last_name": second.last_name, "email": second.email,
              "language": second.language, "is_primary": "y"}
    response = post(as_user(team.staff), f"/admin/contact/edit/?id={second.id}", fields, follow_redirects=True)
    assert "can no longer be replaced" in response.text
    assert store.get(Contact, first.id).is_primary and not store.get(Contact, second.id).is_primary


def test_making_a_contact_primary_before_activation_moves_the_flag(team, make, as_user, store):
    acme = make.client(team.group, contacts=2)
    first, second = sorted(acme.contacts, key=lambda c: c.id)
    fields = {"first_name": second.first_name, "last_name": second.last_name, "email": second.email,
              "language": second.language, "is_primary": "y"}
    assert post(as_user(team.staff), f"/admin/contact/edit/?id={second.id}", fields).status_code == 302
    assert store.get(Contact, second.id).is_primary and not store.get(Contact, first.id).is_primary


def test_mandate_cannot_be_dropped_while_receiving_through_peppol(team, make, as_user, store):
    acme = make.client(team.group, e_invoicing_mandate=True, peppol_receive=True, peppol_state="registered")
    response = post(as_user(team.staff), f"/admin/client/edit/?id={acme.id}", edit_form(acme, acme.contacts))
    assert "needs the e-invoicing mandate" in response.text
    assert store.get(Client, acme.id).e_invoicing_mandate is True


def test_unknown_peppol_switch_is_a_bad_request(team, make, as_user):
    acme = make.client(team.group)
    assert post(as_user(team.staff), "/admin/client/peppol/", {"id": acme.id, "switch": "client", "on": "1"}).status_code == 400


def test_no_selected_client_message(team, make, as_user):
    response = post(as_user(team.supervisor), "/admin/client/action/",
                    {"action": "invite", "rowid": ["999999", "²"], "url": "/admin/client/"}, follow_redirects=True)
    assert "None of the selected clients is one you can act on." in flashes(response.text)


def test_replace_primary_contact_keeping_the_same_email(team, make, as_user, store):
    acme = make.client(team.group, contacts=1)
    old = acme.contacts[0]
    response = post(as_user(team.staff), f"/admin/client/replace-contact/?id={acme.id}",
                    {"first_name": "New", "last_name": "Person", "email": old.email, "language": "fr-BE"})
    assert response.status_code == 302
    [contact] = store.all(Contact, client_id=acme.id)
    assert (contact.first_name, contact.email, contact.is_primary) == ("New", old.email, True)


def test_a_client_once_invited_is_never_deleted(team, make, as_user, store, app):
    from clientdesk.extensions import db
    from clientdesk.lifecycle import ClientLifecycle

    acme = make.client(team.group)
    with app.app_context():
        ClientLifecycle.invite(db.session.get(Client, acme.id))
        db.session.commit()
    admin = as_user(team.admin)
    for action in ("deactivate", "reactivate"):
        post(admin, "/admin/client/lifecycle/", {"id": acme.id, "action": action})
    assert store.get(Client, acme.id).status == "created"
    post(admin, "/admin/client/delete/", {"id": acme.id})
    assert store.get(Client, acme.id) is not None


def test_a_hidden_clients_name_is_not_given_away_by_a_duplicate_number(team, make, as_user):
    secret = make.client(make.group("Board"), name="Secret Holding NV", hidden=True)
    acme = make.client(team.group)
    data = edit_form(acme, acme.contacts, enterprise_number=secret.enterprise_number)
    page = post(as_user(team.staff), f"/admin/client/edit/?id={acme.id}", data).text
    assert "Secret Holding NV" not in page and "a client you do not have access to" in page


class _Capture(http.server.BaseHTTPRequestHandler):
    seen = []

    def do_POST(self):
        self.seen.append(self.headers.get("Authorization"))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_stored_api_token_never_follows_a_new_address(team, make, as_user, store):
    acme = make.client(team.group)

    def add(s):
        product = s.query(IntegrationProduct).filter_by(name="Clearfacts").one()
        s.add(ClientIntegration(client_id=acme.id, product_id=product.id, delivery_method="api",
                                api_url="https://api.clearfacts.example/graphql", api_token="SECRET-TOKEN"))

    store.run(add)
    integration = store.one(ClientIntegration, client_id=acme.id)
    form = {"product": integration.product_id, "delivery_method": "api", "credit_card_statements": "purchase",
            "api_url": "http://127.0.0.1:9/steal", "api_token": ""}
    response = post(as_user(team.staff), f"/admin/clientintegration/edit/?id={integration.id}", form)
    assert "API delivery needs the API token." in response.text
    saved = store.one(ClientIntegration, client_id=acme.id)
    assert (saved.api_url, saved.api_token) == ("https://api.clearfacts.example/graphql", "SECRET-TOKEN")
    edit_page = as_user(team.staff).get(f"/admin/clientintegration/edit/?id={integration.id}").text
    assert 'name="sftp_host_key"' not in edit_page and 'name="client"' not in edit_page
