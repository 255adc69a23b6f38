"""The firm-wide default delivery: set by admins on the Firm screen, used by every client whose integration says
"firm default" (resolved when documents go, so a change of the default changes those clients at once, without a
write to them), shown on the client's Integration tab; and templates that set it, or a client-facing contact."""
import html as html_lib
import re
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from clientdesk.models import (
    AuditEvent,
    Client,
    ClientIntegration,
    ConfigTemplate,
    Document,
    FirmSettings,
    IntegrationProduct,
    Role,
    Task,
    User,
    utcnow,
)
from tests.helpers import flashes, post
from tests.import_files import BANQUP_FR, banqup_row, run_import, write_xlsx
from tests.servers import run_worker_burst
from tests.test_documents import connect, documents as documents_fixture
from tests.test_plans import empty_database as empty_database_fixture
from tests.test_reorganise import _confirm, _preview

documents = documents_fixture  # stored documents in a client's inbox (a fixture of test_documents.py)
empty_database = empty_database_fixture  # an empty database of the suite's kind (a fixture of test_plans.py)

FIRM_FORM = {"unauthenticated_mail": "keep", "delivery_method": "email", "delivery_email": "boekhouding@firm.example.com",
             "credit_card_statements": "purchase"}


@pytest.fixture
def team(make):
    group = make.group("Team F")
    return SimpleNamespace(group=group, staff=make.user(Role.STAFF, groups=[group]), admin=make.user(Role.ADMIN))


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", page)))


def _integration_tab(http, client_id) -> str:
    page = http.get(f"/admin/client/details/?id={client_id}").text
    return _text(re.search(r'<section aria-labelledby="integration-title">.*?</section>', page, re.S).group(0))


def test_admins_set_the_firm_default_on_the_firm_screen_checked_and_audited_with_secrets_masked(team, as_user, store):
    admin = as_user(team.admin)
    incomplete = post(admin, "/admin/firm/edit/?id=1", {**FIRM_FORM, "delivery_email": ""})
    assert incomplete.status_code == 200 and "E-mail delivery needs an address" in html_lib.unescape(incomplete.text)
    assert store.get(FirmSettings, 1).delivery_method == "manual"

    assert post(admin, "/admin/firm/edit/?id=1", {**FIRM_FORM, "delivery_method": "api", "delivery_email": "",
                                                  "api_url": "https://api.clearfacts.example/graphql",
                                                  "api_token": "firm-token"}).status_code == 302
    firm = store.get(FirmSettings, 1)
    assert (firm.delivery_method, firm.api_token) == ("api", "firm-token")
    event = store.one(AuditEvent, object_type="firm_settings", action="update")
    assert event.changes["delivery_method"] == ["manual", "api"] and "firm-token" not in str(event.changes)
    page = admin.get("/admin/firm/edit/?id=1").text
    assert "firm-token" not in page and "firm-token" not in admin.get("/admin/firm/details/?id=1").text

    staff = as_user(team.staff)
    assert post(staff, "/admin/firm/edit/?id=1", FIRM_FORM).status_code == 403
    assert admin.post("/admin/firm/edit/?id=1", data=FIRM_FORM).status_code == 400  # no CSRF token


def test_a_client_on_the_firm_default_follows_it_and_one_with_its_own_settings_does_not(
        team, make, as_user, app_config, smtp, documents, store):
    admin, staff = as_user(team.admin), as_user(team.staff)
    assert post(admin, "/admin/firm/edit/?id=1", FIRM_FORM).status_code == 302
    on_default = make.client(team.group, name="Brasserie Dubois SRL")
    own = make.client(team.group, name="Bakkerij Peeters BV")
    connect(store, own, "Yuki", delivery_method="email", delivery_email="peeters@yukiworks.example.com")
    products = {p.name: p.id for p in store.all(IntegrationProduct)}

    # Staff connect a client on the firm default: no delivery settings of its own needed.
    response = post(staff, "/admin/clientintegration/new/", {
        "client": on_default.id, "product": products["Octopus"], "uses_firm_default": "y", "delivery_method": "manual",
        "credit_card_statements": "purchase"})
    assert response.status_code == 302, flashes(response.text)
    integration = store.one(ClientIntegration, client_id=on_default.id)
    assert integration.uses_firm_default and integration.delivery_method == "manual"
    tab = _integration_tab(staff, on_default.id)
    assert "Octopus, delivery: E-mail (boekhouding@firm.example.com" in tab and "Firm default" in tab
    assert "Firm default" not in _integration_tab(staff, own.id)
    listed = _text(staff.get("/admin/clientintegration/").text)
    assert "E-mail (firm default) boekhouding@firm.example.com" in listed

    documents(on_default, ("F-1.pdf", "purchase"))
    documents(own, ("P-1.pdf", "purchase"))
    post(staff, "/admin/client/send-documents/", {"id": on_default.id})
    post(staff, "/admin/client/send-documents/", {"id": own.id})
    run_worker_burst(app_config, MAIL_URL=smtp.url)
    assert sorted(m["To"] for m in smtp.messages) == ["boekhouding@firm.example.com", "peeters@yukiworks.example.com"]

    # The default changes: the client on it follows at once, without a write to its integration.
    audited = store.count(AuditEvent, object_type="client_integration")
    assert post(admin, "/admin/firm/edit/?id=1", {**FIRM_FORM, "delivery_email": "nieuw@firm.example.com"}).status_code == 302
    assert store.count(AuditEvent, object_type="client_integration") == audited
    assert store.one(ClientIntegration, client_id=on_default.id).updated_at == integration.updated_at
    assert "nieuw@firm.example.com" in _integration_tab(staff, on_default.id)
    documents(on_default, ("F-2.pdf", "purchase"))
    documents(own, ("P-2.pdf", "purchase"))
    post(staff, "/admin/client/send-documents/", {"id": on_default.id})
    post(staff, "/admin/client/send-documents/", {"id": own.id})
    smtp.messages.clear()
    run_worker_burst(app_config, MAIL_URL=smtp.url)
    assert sorted(m["To"] for m in smtp.messages) == ["nieuw@firm.example.com", "peeters@yukiworks.example.com"]

    # Back to its own settings: those are checked like any client's.
    edit = f"/admin/clientintegration/edit/?id={integration.id}"
    refused = post(staff, edit, {"client": on_default.id, "product": products["Octopus"], "delivery_method": "email",
                                 "credit_card_statements": "purchase"})
    assert refused.status_code == 200 and "E-mail delivery needs an address" in html_lib.unescape(refused.text)
    assert post(staff, edit, {"client": on_default.id, "product": products["Octopus"], "delivery_method": "email",
                              "delivery_email": "dubois@octopus.example.com", "credit_card_statements": "purchase"}).status_code == 302
    assert "Firm default" not in _integration_tab(staff, on_default.id)


def test_a_default_the_clients_software_does_not_take_leaves_it_on_manual_with_a_warning(
        team, make, as_user, app_config, documents, store):
    admin, staff = as_user(team.admin), as_user(team.staff)
    client = make.client(team.group, name="Garage Lambert SA")
    connect(store, client, "Yuki", uses_firm_default=True)  # Yuki takes manual, e-mail and API: not sFTP
    response = post(admin, "/admin/firm/edit/?id=1", {**FIRM_FORM, "delivery_method": "sftp", "delivery_email": "",
                                                      "sftp_url": "sftp://firm@sftp.example.com/in", "sftp_password": "pw"},
                    follow_redirects=True)
    assert "1 client on the firm default uses software that does not take this delivery" in " ".join(flashes(response.text))
    other = make.client(team.group)
    yuki = store.run(lambda s: s.scalar(sa.select(IntegrationProduct.id).where(IntegrationProduct.name == "Yuki")))
    saved = post(staff, "/admin/clientintegration/new/", {"client": other.id, "product": yuki, "uses_firm_default": "y",
                                                          "delivery_method": "manual", "credit_card_statements": "purchase"},
                 follow_redirects=True)
    assert "does not go to Yuki" in " ".join(flashes(saved.text))
    tab = _integration_tab(staff, client.id)
    assert "delivery: Manual" in tab and "does not go to Yuki" in tab
    document, = documents(client, ("F-1.pdf", "purchase"))
    post(staff, "/admin/client/send-documents/", {"id": client.id})
    run_worker_burst(app_config)
    assert store.get(Document, document.id).status == "inbox"
    assert "does not go to Yuki" in store.one(Task, kind="send_documents").result["skipped"][0]["reason"]


def test_a_template_sets_the_firm_default_and_the_client_facing_contact(team, make, as_user, store, app):
    admin = as_user(team.admin)
    facing, gone, already = make.user(Role.STAFF), make.user(Role.STAFF), make.user(Role.STAFF)
    octopus = store.run(lambda s: s.scalar(sa.select(IntegrationProduct.id).where(IntegrationProduct.name == "Octopus")))
    form = {"name": "Octopus, firm default", "subscription_mode": "full", "integration_product": str(octopus),
            "uses_firm_default": "y", "delivery_method": "manual", "credit_card_statements": "purchase",
            "client_facing_contact": str(facing.id)}
    assert post(admin, "/admin/template/new/", form).status_code == 302
    template = store.one(ConfigTemplate, name="Octopus, firm default")
    assert (template.uses_firm_default, template.client_facing_contact_id) == (True, facing.id)
    assert "Apply to existing clients" in admin.get(f"/admin/template/details/?id={template.id}").text

    bare = make.client(team.group).id
    kept = make.client(team.group, client_facing_contact_id=already.id).id
    page = _preview(admin, "template", template.id, [bare, kept])
    assert "2 clients change" in _text(page)
    _confirm(admin, app, page)
    assert store.get(Client, bare).client_facing_contact_id == facing.id
    assert store.get(Client, kept).client_facing_contact_id == already.id  # only where the client has none
    assert store.one(ClientIntegration, client_id=bare).uses_firm_default

    # A deactivated user is nobody's contact: the template no longer sets one.
    store.update(ConfigTemplate, template.id, client_facing_contact_id=gone.id)
    store.update(User, gone.id, active=False)
    later = make.client(team.group).id
    _confirm(admin, app, _preview(admin, "template", template.id, [later]))
    assert store.get(Client, later).client_facing_contact_id is None and store.get(Client, later).template_id == template.id


def test_a_new_client_gets_the_templates_client_facing_contact_unless_it_is_deactivated(make, db_session):
    """Creation (wizard) and import copy a template through ConfigTemplate.apply_to, onto a client with no contact."""
    facing, gone = make.user(Role.STAFF), make.user(Role.STAFF)
    template = ConfigTemplate(name="With a contact", client_facing_contact_id=facing.id)
    db_session.add(template)
    db_session.flush()
    client = Client(name="Nouveau SRL")
    template.apply_to(client)
    assert client.client_facing_contact.id == facing.id
    template.client_facing_contact = db_session.get(User, gone.id)
    template.client_facing_contact.active = False
    assert "client_facing_contact_id" not in template.defaults_for(Client(name="Later SRL"))


def test_existing_integrations_keep_their_own_settings_through_the_migration(app_config, empty_database):
    """On a database of its own, migrated to just before the firm default, with an integration; then back."""
    import flask_migrate

    from clientdesk.app import create_app
    from clientdesk.extensions import db

    own = create_app(dict(app_config, SQLALCHEMY_DATABASE_URI=empty_database))
    with own.app_context():
        flask_migrate.upgrade(revision="4f4b4de603f0")
        group_id = db.session.scalar(sa.text('SELECT id FROM "group"'))
        product_id = db.session.scalar(sa.text("SELECT id FROM integration_product WHERE name = 'Yuki'"))
        # The client's table as it was then (the model has columns added since).
        columns = dict(name="Ancien BV", country="BE", language="nl-BE", group_id=group_id, inbound_email="ancien@in.example.com",
                       status="created", subscription_mode="full", skip_vat_check=False, hidden=False,
                       track_transactions_without_documents=False, e_invoicing_mandate=False, peppol_send=False,
                       peppol_receive=False, peppol_state="off", peppol_failed_attempts=0, refused_senders_count=0,
                       search_text="ancien bv", created_at=utcnow(), updated_at=utcnow())
        client_id = db.session.execute(sa.table("client", sa.column("id"), *map(sa.column, columns)).insert()
                                       .values(**columns).returning(sa.column("id"))).scalar_one()
        db.session.commit()
        integration = sa.table("client_integration", *(sa.column(name) for name in (
            "client_id", "product_id", "delivery_method", "delivery_email", "credit_card_statements", "created_at",
            "updated_at")), sa.column("attach_ubl", sa.Boolean))
        db.session.execute(integration.insert().values(
            client_id=client_id, product_id=product_id, delivery_method="email", delivery_email="ancien@yukiworks.example.com",
            credit_card_statements="purchase", attach_ubl=True, created_at=sa.func.now(), updated_at=sa.func.now()))
        db.session.commit()
        db.session.remove()

        flask_migrate.upgrade(revision="heads")
        kept = db.session.scalars(sa.select(ClientIntegration)).one()
        assert (kept.uses_firm_default, kept.delivery_method, kept.delivery_email, kept.attach_ubl) == (
            False, "email", "ancien@yukiworks.example.com", True)
        firm = db.session.get(FirmSettings, 1)
        assert firm is None or (firm.delivery_method, firm.credit_card_statements, firm.attach_ubl) == ("manual", "purchase", False)
        db.session.remove()
        flask_migrate.downgrade(revision="4f4b4de603f0")
        with db.engine.connect() as connection:
            assert connection.execute(sa.text("SELECT delivery_email FROM client_integration")).scalar() == (
                "ancien@yukiworks.example.com")
        db.session.remove()
        db.engine.dispose()


def test_an_import_with_the_template_puts_clients_on_the_firm_default_with_its_client_facing_contact(
        app, make, store, tmp_path):
    admin, facing = make.user(Role.ADMIN), make.user(Role.STAFF)
    yuki = store.run(lambda s: s.scalar(sa.select(IntegrationProduct.id).where(IntegrationProduct.name == "Yuki")))
    store.run(lambda s: (s.add(ConfigTemplate(name="Yuki, firm default", integration_product_id=yuki, uses_firm_default=True,
                                              client_facing_contact_id=facing.id)), s.commit()))
    path = write_xlsx(tmp_path / "t.xlsx", BANQUP_FR, [banqup_row("Imported BV", "i@example.org", "0403170701",
                                                                  template="Yuki, firm default")])
    batch = run_import(app, path, admin)
    assert batch.status == "imported", batch.errors
    client = store.one(Client, enterprise_number="0403170701")
    assert client.client_facing_contact_id == facing.id
    assert store.one(ClientIntegration, client_id=client.id).uses_firm_default
