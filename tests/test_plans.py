"""The plan catalogue (admins only), the client's plan in the forms, list, export and import, the client's own choice
during its trial in the portal, "trial ended" without a plan, and the migration of the former free-text plans."""
import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest

from clientdesk.models import AuditEvent, Client, ImportStatus, Plan, Role, today, utcnow
from tests.helpers import flashes, portal_login, post
from tests.import_files import BANQUP_FR, banqup_row, run_import, write_xlsx

LIST_COUNT = re.compile(r"List \((\d+)\)")


@pytest.fixture
def catalogue(make):
    return {"basic": make.plan("Basic", "15.00", sort_order=10, includes="50 documents a month"),
            "premium": make.plan("Premium", "75.00", sort_order=20),
            "legacy": make.plan("Legacy 2024", "25.00", active=False, sort_order=5)}


@pytest.fixture
def trial_client(make, catalogue):
    return make.client(name="Boulangerie Dupont SRL", status="active", trial_end=today() + timedelta(days=12),
                       plan=catalogue["legacy"])


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def listed(http, url: str) -> int:
    found = LIST_COUNT.search(http.get(url).text)
    return int(found.group(1)) if found else 0


def test_only_admins_manage_the_catalogue(make, as_user, store, catalogue, trial_client):
    for role in (Role.STAFF, Role.SUPERVISOR):
        http = as_user(make.user(role))
        assert http.get("/admin/plan/").status_code == 403
        assert post(http, "/admin/plan/new/", {"name": "Sneaky", "monthly_price": "1"}).status_code == 403
    admin = as_user(make.user(Role.ADMIN))
    page = admin.get("/admin/plan/").text
    assert "Basic" in page and "Legacy 2024" in page and "€15.00" in page
    created = post(admin, "/admin/plan/new/", {"name": "Starter", "monthly_price": "9.50", "includes": "Delivery only",
                                               "active": "y", "sort_order": "1"})
    assert created.status_code == 302
    starter = store.one(Plan, name="Starter")
    assert (starter.monthly_price, starter.includes, starter.active) == (Decimal("9.50"), "Delivery only", True)
    refused = post(admin, "/admin/plan/new/", {"name": "Negative", "monthly_price": "-1", "sort_order": "0"})
    assert refused.status_code == 200 and store.count(Plan, name="Negative") == 0
    # A plan some client has cannot be deleted: it is made inactive instead.
    deleted = post(admin, "/admin/plan/delete/", {"id": str(catalogue["legacy"].id)}, follow_redirects=True)
    assert "Legacy 2024 is the plan of clients: make it inactive instead." in flashes(deleted.text)
    assert store.count(Plan, name="Legacy 2024") == 1
    assert post(admin, "/admin/plan/delete/", {"id": str(starter.id)}).status_code == 302
    assert store.count(Plan, name="Starter") == 0


def test_the_client_form_offers_active_plans_and_keeps_an_inactive_one(make, as_user, store, catalogue, trial_client):
    other = make.client(name="Other BV", status="created")
    http = as_user(make.user(Role.ADMIN))
    form = http.get(f"/admin/client/edit/?id={trial_client.id}").text
    assert "Legacy 2024" in form and "Basic" in form
    assert "Legacy 2024" not in http.get(f"/admin/client/edit/?id={other.id}").text
    data = {"name": "Other BV", "country": "BE", "enterprise_number": other.enterprise_number, "language": "fr-BE",
            "group": str(other.group_id), "subscription_mode": "full", "plan": str(catalogue["legacy"].id)}
    post(http, f"/admin/client/edit/?id={other.id}", data)  # not one of the choices: the field keeps the client's plan
    assert store.get(Client, other.id).plan_id is None
    assert post(http, f"/admin/client/edit/?id={other.id}", dict(data, plan=str(catalogue["basic"].id))).status_code == 302
    assert store.get(Client, other.id).plan_id == catalogue["basic"].id


def test_the_client_chooses_a_plan_during_the_trial_audited_as_the_client_user(app, make, store, as_user, catalogue,
                                                                            trial_client):
    owner = make.client_user(trial_client, email="marie@dupont.example.com")
    http = app.test_client()
    portal_login(http, owner.email)
    page = http.get("/portal/").text
    section = text_of(page[page.index('id="subscription"'):])
    assert "Legacy 2024" in section and "12 days left" in section and "Choose your plan" in section
    offered = re.findall(r'name="plan" id="plan-(\d+)"', page)
    assert offered == [str(catalogue["basic"].id), str(catalogue["premium"].id)]  # active ones, in order
    assert "€15.00 a month" in section and "50 documents a month" in section

    chosen = post(http, "/portal/plan", {"plan": str(catalogue["premium"].id)})
    assert chosen.status_code == 303
    client = store.get(Client, trial_client.id)
    assert client.plan_id == catalogue["premium"].id and client.plan_chosen_by == f"{owner.full_name} <{owner.email}>"
    event = store.all(AuditEvent, client_id=trial_client.id, object_type="client")[-1]
    assert event.actor == owner.email and event.changes["plan_id"] == [catalogue["legacy"].id, catalogue["premium"].id]
    assert "Thank you: your choice of plan is recorded." in flashes(http.get("/portal/").text)

    staff_page = as_user(make.user(Role.ADMIN)).get(f"/admin/client/details/?id={trial_client.id}").text
    assert "Premium" in staff_page and "Plan chosen by" in staff_page and owner.email in staff_page


@pytest.mark.parametrize("value", ["legacy", "another", "", "1 OR 1=1", "99999999999999999999", "²"])
def test_the_portal_refuses_a_plan_not_offered(app, make, store, catalogue, trial_client, value):
    owner = make.client_user(trial_client)
    ids = {"legacy": str(catalogue["legacy"].id), "another": "999999"}
    http = app.test_client()
    portal_login(http, owner.email)
    refused = post(http, "/portal/plan", {"plan": ids.get(value, value)})
    assert refused.status_code == 400 and "Choose one of the plans offered." in refused.text
    client = store.get(Client, trial_client.id)
    assert client.plan_id == catalogue["legacy"].id and client.plan_chosen_at is None
    assert http.post("/portal/plan", data={"plan": str(catalogue["basic"].id)}).status_code == 400  # no CSRF token
    assert store.get(Client, trial_client.id).plan_chosen_at is None


def test_after_the_trial_a_client_who_chose_may_no_longer_change_here(app, make, store, catalogue, trial_client):
    owner = make.client_user(trial_client)
    store.update(Client, trial_client.id, trial_end=today() - timedelta(days=1), plan_chosen_at=utcnow(),
                 plan_id=catalogue["basic"].id)
    http = app.test_client()
    portal_login(http, owner.email)
    assert "Choose your plan" not in http.get("/portal/").text
    refused = post(http, "/portal/plan", {"plan": str(catalogue["premium"].id)})
    assert refused.status_code == 400 and "Your plan can no longer be changed here" in refused.text
    assert store.get(Client, trial_client.id).plan_id == catalogue["basic"].id


def test_trial_ended_without_a_plan_is_a_filter_and_a_dashboard_number(app, make, as_user, store, catalogue):
    ended = make.client(name="Ended BV", status="active", trial_end=today() - timedelta(days=2))
    make.client(name="Chose BV", status="active", trial_end=today() - timedelta(days=2), plan=catalogue["basic"],
                plan_chosen_at=utcnow())
    make.client(name="In Trial BV", status="active", trial_end=today() + timedelta(days=2))
    make.client(name="Gone BV", status="deactivated", trial_end=today() - timedelta(days=2))
    http = as_user(make.user(Role.SUPERVISOR))
    url = "/admin/client/?flt0_trial_is=ended_without_plan"
    page = http.get(url).text
    assert listed(http, url) == 1 and "Ended BV" in page
    assert store.get(Client, ended.id).status == "active"  # marked, not deactivated
    dashboard = http.get("/admin/").text
    assert f'href="{url}">1</a>' in dashboard.replace("&amp;", "&")
    assert "1 ended without a plan" in text_of(dashboard)
    # The client can still choose, and is then no longer "trial ended".
    owner = make.client_user(ended)
    portal = app.test_client()
    portal_login(portal, owner.email)
    assert post(portal, "/portal/plan", {"plan": str(catalogue["premium"].id)}).status_code == 303
    assert listed(http, url) == 0


def test_export_writes_the_plan_by_name(make, as_user, catalogue, trial_client):
    make.client(name="No Plan BV")
    response = as_user(make.user(Role.SUPERVISOR)).get("/admin/client/export/csv/")
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")))}
    assert rows["Boulangerie Dupont SRL"]["plan"] == "Legacy 2024" and rows["No Plan BV"]["plan"] == ""


def test_import_takes_plans_by_name_and_refuses_unknown_or_inactive_ones(app, tmp_path, make, store, catalogue):
    admin = make.user(Role.ADMIN)
    kept = make.client(name="Keeps Legacy", enterprise_number="0417497106", plan=catalogue["legacy"])
    header = BANQUP_FR + ["Formule"]
    refused = run_import(app, write_xlsx(tmp_path / "p.xlsx", header, [
        banqup_row("Known", "k@example.org", "0403170701") + ["premium"],
        banqup_row("Unknown", "u@example.org", "0202239951") + ["Gold"],
        banqup_row("Inactive", "i@example.org") + ["Legacy 2024"],
        banqup_row("Keeps Legacy", kept.contacts[0].email, "0417497106") + ["Legacy 2024"],
    ]), admin)
    assert refused.status == ImportStatus.INVALID
    assert [(e["row"], e["column"], e["message"]) for e in refused.errors] == [
        (3, "Formule", "There is no plan called “Gold” (existing: “Basic”, “Legacy 2024”, “Premium”)."),
        (4, "Formule", "The plan “Legacy 2024” is no longer offered: choose another one."),
    ]
    imported = run_import(app, write_xlsx(tmp_path / "p2.xlsx", header, [
        banqup_row("Known", "k@example.org", "0403170701") + ["premium"],
        banqup_row("Keeps Legacy", kept.contacts[0].email, "0417497106") + ["Legacy 2024"],
        banqup_row("Empty", "e@example.org", "0202239951") + [""],
    ]), admin)
    assert imported.status == ImportStatus.IMPORTED, imported.errors
    plans = {c.name: c.plan_id for c in store.all(Client)}
    assert plans == {"Known": catalogue["premium"].id, "Keeps Legacy": catalogue["legacy"].id, "Empty": None}
    changed = run_import(app, write_xlsx(tmp_path / "p3.xlsx", header, [
        banqup_row("Keeps Legacy", kept.contacts[0].email, "0417497106") + ["Basic"]]), admin)
    assert changed.status == ImportStatus.IMPORTED and store.get(Client, kept.id).plan_id == catalogue["basic"].id
    moved_back = run_import(app, write_xlsx(tmp_path / "p4.xlsx", header, [
        banqup_row("Keeps Legacy", kept.contacts[0].email, "0417497106") + ["Legacy 2024"]]), admin)
    assert [e["message"] for e in moved_back.errors] == ["The plan “Legacy 2024” is no longer offered: choose another one."]


def test_accepting_starts_the_trial_on_the_first_plan_offered(app, make, store, catalogue):
    from tests.test_portal import invitation_token

    client = make.client(name="Nouveau SA", status="created")
    token = invitation_token(store, client.id)
    accepted = post(app.test_client(), f"/invitation/{token}", {"password": "a-strong-password",
                                                                 "password_confirm": "a-strong-password", "accept_terms": "y"})
    assert accepted.status_code == 302
    accepted = store.get(Client, client.id)
    assert accepted.status == "active" and accepted.plan_id == catalogue["basic"].id and accepted.plan_chosen_at is None


@pytest.fixture
def empty_database(app_config, tmp_path):
    """The URL of an empty database of the suite's kind: a SQLite file, or a PostgreSQL database made for the test."""
    import sqlalchemy as sa

    url = sa.engine.make_url(app_config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "postgresql":
        yield f"sqlite:///{tmp_path / 'before.db'}"
        return
    name = f"{url.database}_plans_migration"
    server = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def test_free_text_plans_become_catalogue_entries_in_the_migration(app_config, empty_database):
    """On a database of its own, migrated to just before the catalogue, with free-text plans; then back."""
    import flask_migrate
    import sqlalchemy as sa

    from clientdesk.app import create_app
    from clientdesk.extensions import db

    own = create_app(dict(app_config, SQLALCHEMY_DATABASE_URI=empty_database))
    with own.app_context():
        flask_migrate.upgrade(revision="842b5f6d378f")
        client = sa.table("client", *(sa.column(name) for name in (
            "name", "country", "subscription_mode", "plan", "status", "language", "group_id", "inbound_email",
            "peppol_state", "peppol_failed_attempts", "refused_senders_count", "search_text", "created_at", "updated_at")),
            *(sa.column(name, sa.Boolean) for name in (
                "hidden", "track_transactions_without_documents", "e_invoicing_mandate", "peppol_send", "peppol_receive",
                "skip_vat_check")))
        with db.engine.begin() as connection:
            group_id = connection.execute(sa.text('SELECT id FROM "group"')).scalar()
            connection.execute(client.insert(), [
                {"name": name, "country": "BE", "subscription_mode": "full", "plan": plan, "status": "created",
                 "language": "nl-BE", "group_id": group_id, "inbound_email": f"c{n}@in.example.com", "peppol_state": "off",
                 "peppol_failed_attempts": 0, "refused_senders_count": 0, "search_text": name.lower(),
                 "created_at": utcnow(), "updated_at": utcnow(), "hidden": False, "track_transactions_without_documents": False,
                 "e_invoicing_mandate": False, "peppol_send": False, "peppol_receive": False, "skip_vat_check": False}
                for n, (name, plan) in enumerate((("Maes NV", "standard"), ("Peeters BV", "premium"), ("Dubois SRL", "standard")))])
        flask_migrate.upgrade(revision="heads")
        plans = db.session.scalars(sa.select(Plan).order_by(Plan.sort_order)).all()
        assert [(p.name, p.monthly_price, p.active) for p in plans] == [("premium", 0, True), ("standard", 0, True)]
        clients = {c.name: c.plan.name for c in db.session.scalars(sa.select(Client))}
        assert clients == {"Maes NV": "standard", "Peeters BV": "premium", "Dubois SRL": "standard"}
        if db.engine.dialect.name == "sqlite":  # the search index still follows the client table the migration copied
            db.session.execute(sa.update(Client).where(Client.name == "Maes NV").values(search_text="atelier maes"))
            db.session.commit()
            found = db.session.execute(sa.text("SELECT rowid FROM client_search WHERE client_search MATCH 'atelier'")).scalars()
            assert found.all() == [db.session.scalar(sa.select(Client.id).where(Client.name == "Maes NV"))]
        db.session.remove()
        flask_migrate.downgrade(revision="842b5f6d378f")
        with db.engine.connect() as connection:
            restored = dict(connection.execute(sa.text("SELECT name, plan FROM client")).all())
        assert restored == {"Maes NV": "standard", "Peeters BV": "premium", "Dubois SRL": "standard"}
        db.session.remove()
        db.engine.dispose()


def test_onboarding_column_and_filter_follow_the_portals_checklist(app, make, as_user, store):
    from clientdesk.models import AllowedSender

    done = make.client(name="Done BV", status="active", ibans=["BE68539007547034"], e_invoicing_mandate=True,
                       billing_street="Rue Haute", billing_postal_code="1000", billing_city="Bruxelles")
    store.run(lambda s: s.add(AllowedSender(client_id=done.id, pattern="@supplier.example.com")))
    half = make.client(name="Half BV", status="active", ibans=["BE71096123456769"], billing_street="",
                       billing_postal_code="1000", billing_city="Bruxelles")
    make.client(name="Nothing BV", status="created")
    http = as_user(make.user(Role.SUPERVISOR))
    page = http.get("/admin/client/").text
    cells = dict(re.findall(r'>([A-Z][a-z]+ BV)</a>.*?<td class="col-onboarding_missing">(.*?)</td>', page, re.S))
    assert {name: text_of(cell).strip() for name, cell in cells.items()} == {
        "Done BV": "done", "Half BV": "3 steps missing", "Nothing BV": "4 steps missing"}
    assert listed(http, "/admin/client/?flt0_onboarding_is=done") == 1
    assert listed(http, "/admin/client/?flt0_onboarding_is=not_done") == 2
    # The portal shows the same steps.
    owner = make.client_user(half)
    portal = app.test_client()
    portal_login(portal, owner.email)
    steps = dict(re.findall(r'data-step="(\w+)" data-done="(\w+)"', portal.get("/portal/").text))
    assert steps == {"bank_account": "yes", "billing_address": "no", "mandate": "no", "allowed_senders": "no"}


def test_clients_stuck_in_onboarding_are_a_dashboard_number_and_a_filter(make, as_user, store):
    from clientdesk.models import AllowedSender, Invitation

    def accepted(name, days_ago, **fields):
        client = make.client(name=name, status="active", **fields)
        store.run(lambda s: s.add(Invitation(client_id=client.id, contact_id=client.contacts[0].id, token_hash=name,
                                             status="accepted", expires_at=utcnow(),
                                             accepted_at=utcnow() - timedelta(days=days_ago))))
        return client

    accepted("Stuck BV", 15)
    accepted("Fresh BV", 13)
    finished = accepted("Finished BV", 30, ibans=["BE68539007547034"], e_invoicing_mandate=True, billing_street="Rue Haute",
                        billing_postal_code="1000", billing_city="Bruxelles")
    store.run(lambda s: s.add(AllowedSender(client_id=finished.id, pattern="@supplier.example.com")))
    make.client(name="Not Accepted BV", status="active", activated_at=utcnow() - timedelta(days=40))
    http = as_user(make.user(Role.SUPERVISOR))
    url = "/admin/client/?flt0_onboarding_is=stuck"
    assert listed(http, url) == 1 and "Stuck BV" in http.get(url).text
    dashboard = http.get("/admin/").text
    assert f'href="{url}">1</a>' in dashboard.replace("&amp;", "&")
    assert "1 not finished 14 days after accepting the invitation" in text_of(dashboard)
