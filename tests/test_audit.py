"""The audit trail: one shape of event for every path that writes rows (flush, bulk update, import, explicit
records), secrets masked on each."""
import sqlalchemy as sa

from clientdesk.extensions import db
from clientdesk.models import AuditEvent, BankAccount, Client, ClientIntegration, ConfigTemplate, Contact, IntegrationProduct, Role
from clientdesk.models.audit import SECRET, bulk_updated_events, record
from tests.import_files import BANQUP_FR, banqup_row, run_import, write_xlsx

TOKEN, PASSWORD = "api-token-never-logged", "sftp-password-never-logged"


def _product_id(name: str) -> int:
    return db.session.scalars(sa.select(IntegrationProduct.id).filter_by(name=name)).one()


def _events(**filters) -> list[AuditEvent]:
    return db.session.scalars(sa.select(AuditEvent).filter_by(**filters).order_by(AuditEvent.id)).all()


def _nothing_in_clear() -> bool:
    return not db.session.scalar(sa.select(sa.func.count()).where(
        sa.or_(AuditEvent.changes_json.contains(TOKEN), AuditEvent.changes_json.contains(PASSWORD))))


def test_secrets_are_masked_by_the_flush_hook(app, make):
    acme = make.client(name="Acme BV")
    with app.app_context():
        integration = ClientIntegration(client_id=acme.id, product_id=_product_id("Yuki"), delivery_method="api",
                                        api_url="https://api.example.com", api_token=TOKEN)
        db.session.add(integration)
        db.session.commit()
        integration.sftp_password = PASSWORD
        integration.api_token = TOKEN + "-2"
        db.session.commit()
        created, updated = _events(object_type="client_integration")
        assert created.action == "create" and created.changes["api_token"] == SECRET
        assert created.object_id == updated.object_id == str(integration.id) and created.client_id == acme.id
        assert updated.changes == {"api_token": SECRET, "sftp_password": SECRET}
        assert _nothing_in_clear()


def test_secrets_are_masked_in_bulk_updates_and_explicit_records(app, make):
    acme = make.client(name="Acme BV")
    with app.app_context():
        integration = ClientIntegration(client_id=acme.id, product_id=_product_id("Yuki"), api_token="old")
        db.session.add(integration)
        db.session.flush()
        event, = bulk_updated_events("update", [integration], {"api_token": TOKEN, "delivery_method": "api", "attach_ubl": False})
        assert event["object_id"] == str(integration.id) and event["client_id"] == acme.id
        db.session.execute(sa.insert(AuditEvent.__table__), [event])
        record("checked", integration, {"sftp_password": PASSWORD, "reason": "test"})
        db.session.commit()
        bulk, explicit = _events(action="update", object_type="client_integration") + _events(action="checked")
        assert bulk.changes == {"api_token": SECRET, "delivery_method": ["manual", "api"]}  # attach_ubl did not change
        assert explicit.changes == {"sftp_password": SECRET, "reason": "test"}
        assert _nothing_in_clear()


def test_the_import_audits_each_inserted_row_as_the_flush_hook_audits_a_row_it_creates(app, make, tmp_path):
    admin = make.user(Role.ADMIN, email="admin@example.com")
    with app.app_context():
        db.session.add(ConfigTemplate(name="Yuki API", integration_product_id=_product_id("Yuki"), delivery_method="api",
                                      api_url="https://api.yuki.example.com", api_token=TOKEN, sftp_password=PASSWORD))
        db.session.commit()
    path = write_xlsx(tmp_path / "clients.xlsx", BANQUP_FR, [
        banqup_row("Électricité Dupont", "jean@dupont.example.com", "0403170701", iban="BE71 0961 2345 6769",
                   template="Yuki API"),
    ])
    run_import(app, path, admin)
    with app.app_context():
        client = db.session.scalars(sa.select(Client)).one()
        imported = {event.object_type: event for event in _events(action="import")}
        rows = {"client": client, "contact": client.contacts[0], "bank_account": client.bank_accounts[0],
                "client_integration": client.integration}
        assert imported.keys() == rows.keys()  # one event per inserted row
        for object_type, row in rows.items():
            event = imported[object_type]
            assert (event.object_id, event.client_id, event.object_repr) == (str(row.id), client.id, str(row))
            assert event.actor == "admin@example.com"
        assert imported["client_integration"].changes["api_url"] == [None, "https://api.yuki.example.com"]
        assert imported["client_integration"].changes["api_token"] == SECRET
        assert imported["client_integration"].changes["sftp_password"] == SECRET
        assert _nothing_in_clear()

        # The same rows made through the ORM are recorded with the same fields and values (their client apart).
        twin = Client(name=client.name + " (twin)", group_id=client.group_id)
        db.session.add(twin)
        db.session.flush()
        made = [Contact(client_id=twin.id, first_name="Marie", last_name="Dupont", email="twin@dupont.example.com",
                        language="fr-BE", is_primary=True, source="import"),
                BankAccount(client_id=twin.id, iban="BE71096123456769")]
        ConfigTemplate.by_name("Yuki API").apply_to(twin)
        db.session.add_all(made)
        db.session.flush()
        created = {event.object_type: event.changes for event in _events(action="create")}
        for object_type in ("contact", "bank_account", "client_integration"):
            ours, theirs = created[object_type], imported[object_type].changes
            assert ours.pop("client_id") == [None, twin.id] and theirs.pop("client_id") == [None, client.id]
            ours.pop("email", None), theirs.pop("email", None)
            assert ours == theirs, object_type
        assert set(created["client"]) <= set(imported["client"].changes)
        db.session.rollback()


def test_every_field_an_event_may_name_has_a_label(app):
    from clientdesk.admin.changes import EXTENSION
    from clientdesk.models.audit import _field_rules

    fields = app.extensions[EXTENSION]
    unlabelled = []
    for mapper in db.Model.registry.mappers:
        model = mapper.class_
        if getattr(model, "__audit__", True):
            skipped = _field_rules(model)[0]
            names = [attr.key for attr in mapper.column_attrs] + [rel.key for rel in mapper.relationships if rel.secondary is not None]
            unlabelled += [f"{model.__tablename__}.{name}" for name in names
                           if name not in skipped and fields.label(model.__tablename__, name) == name]
    assert not unlabelled


def test_a_french_admin_reads_the_changes_in_french_and_in_brussels_time(app, make, store, as_user):
    from datetime import datetime

    from clientdesk.models import User

    acme = make.client(name="Acme BV")
    admin = make.user(Role.ADMIN)
    store.update(User, admin.id, ui_language="fr")
    store.update(Client, acme.id, status="invited", invited_at=datetime(2026, 3, 7, 13, 5), hidden=True)  # UTC, winter
    http = as_user(admin)
    page = http.get(f"/admin/client/details/?id={acme.id}").text
    log = http.get(f"/admin/audit/?flt0_client_id_equals={acme.id}").text
    for html in (page, log):
        assert "<b>Statut</b>: Créé → Invité" in html
        assert "<b>Invité le</b>: — → 7 mars 2026, 14:05" in html
        assert "<b>Masqué aux collaborateurs</b>: Non → Oui" in html
        assert "2026-03-07T13:05" not in html and "invited_at" not in html


def test_the_apps_sessions_are_audited_and_a_plain_session_is_not(app, app_config):
    from sqlalchemy.orm import Session

    from clientdesk.app import create_app
    from clientdesk.models import Group

    create_app(dict(app_config))  # once more in this process: the listeners are not registered twice
    with app.app_context():
        db.session.add(Group(name="Made by the app"))
        db.session.commit()
    engine = sa.create_engine(app_config["SQLALCHEMY_DATABASE_URI"])
    with Session(engine) as session:
        session.add(Group(name="Made elsewhere"))
        session.commit()
        if engine.dialect.name == "sqlite":  # nor are the app's connection settings on another engine's
            assert session.execute(sa.text("PRAGMA foreign_keys")).scalar() == 0
    engine.dispose()
    with app.app_context():
        audited = [event.object_repr for event in _events(object_type="group")]
        assert "Made by the app" in audited and "Made elsewhere" not in audited
        assert audited.count("Made by the app") == 1
        if db.engine.dialect.name == "sqlite":
            assert db.session.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
