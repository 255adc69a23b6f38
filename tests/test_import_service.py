"""The import itself (as the CLI runs it, inline): tricky but valid files, every kind of error, all or
nothing, re-imports, templates, mandate, invitations, groups, audit."""
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from clientdesk.extensions import db
from clientdesk.models import (
    AuditEvent,
    BankAccount,
    Client,
    ClientIntegration,
    ClientStatus,
    ConfigTemplate,
    Contact,
    ImportStatus,
    IntegrationProduct,
    Role,
    Task,
)
from tests.import_files import BANQUP_FR, DUTCH, banqup_row, run_import, run_jobs, write_xlsx


@pytest.fixture
def admin(make):
    return make.user(Role.ADMIN, email="admin@example.com")


def clients_by_number(app) -> dict:
    with app.app_context():
        rows = db.session.scalars(sa.select(Client).order_by(Client.id)).all()
        result = {}
        for c in rows:
            result[c.enterprise_number or c.name] = {
                "id": c.id, "name": c.name, "country": c.country, "vat": c.vat_number, "ref": c.external_reference,
                "street": c.street, "house": c.house_number, "postal": c.postal_code, "city": c.city,
                "language": c.language, "mandate": c.e_invoicing_mandate, "group": c.group.name, "status": c.status,
                "batch": c.import_batch_id, "search": c.search_text,
                "contacts": [(k.first_name, k.last_name, k.email, k.language, k.is_primary) for k in c.contacts],
                "ibans": [b.iban for b in c.bank_accounts],
                "template": c.template.name if c.template else None,
                "integration": c.integration.product.name if c.integration else None,
                "subscription": c.subscription_mode, "peppol_send": c.peppol_send,
            }
        return result


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_french_banqup_file_with_tricky_values_is_imported_normalised(app, tmp_path, admin):
    path = write_xlsx(tmp_path / "clients.xlsx", BANQUP_FR, [
        banqup_row("  Électricité   Générale  Liégeoise ", "  Anne.Lefevre@EXAMPLE.com ", "BE 0403.170.701", "",
                   country="be", first=" Anne ", last="Lefèvre", language="fr-be", reference="  REF-1 ",
                   iban="be71 0961 2345 6769", street="Rue de l'Église", house=12, postal=4000, city="Liège",
                   mandate="oui", invitation="Non"),
        banqup_row("Proximus", "pierre@proximus.example.com", 202239951, "BE0202239951", language="nl-BE",
                   mandate="NON", postal="1030"),
        [None] * len(BANQUP_FR),  # an empty row in the middle is ignored
        banqup_row("AB InBev", "contact@abinbev.example.com", 417497106.0, "be 0417.497.106", language="EN-be"),
        banqup_row("Nouvelle SRL", "info@nouvelle.example.com", "1000.000.021", "BE1000000021"),
        banqup_row("Sans Numéro ASBL", "info@sansnumero.example.com"),
        banqup_row("Hollandse BV", "jan@hollandse.example.com", "KvK 1234 5678", country="nl", language="nl-BE"),
    ])

    batch = run_import(app, path, admin)

    assert batch.status == ImportStatus.IMPORTED, batch.errors
    assert (batch.rows_count, batch.new_count, batch.unchanged_count, batch.changed_count) == (6, 6, 0, 0)
    clients = clients_by_number(app)
    electra = clients["0403170701"]
    assert electra["name"] == "Électricité Générale Liégeoise"
    assert electra["country"] == "BE" and electra["vat"] == "BE0403170701"
    assert electra["contacts"] == [("Anne", "Lefèvre", "anne.lefevre@example.com", "fr-BE", True)]
    assert electra["ref"] == "REF-1" and electra["ibans"] == ["BE71096123456769"]
    assert (electra["street"], electra["house"], electra["postal"], electra["city"]) == ("Rue de l'Église", "12", "4000", "Liège")
    assert electra["mandate"] is True and electra["language"] == "fr-BE"
    assert electra["group"] == "Everyone" and electra["status"] == ClientStatus.CREATED
    assert electra["batch"] == batch.id
    assert "electricite generale liegeoise" in electra["search"] and "anne.lefevre@example.com" in electra["search"]
    assert clients["0202239951"]["vat"] == "BE0202239951" and clients["0202239951"]["mandate"] is False
    assert clients["0417497106"]["vat"] == "BE0417497106"  # 417497106.0 read as the integer, zero-padded
    assert clients["0417497106"]["contacts"][0][3] == "en-BE"
    assert clients["1000000021"]["vat"] == "BE1000000021"  # 1-series numbers are valid
    assert clients["Sans Numéro ASBL"]["vat"] is None
    assert clients["KVK12345678"]["country"] == "NL"


def test_imported_clients_are_found_by_search_and_audited(app, tmp_path, admin, as_user, make):
    path = write_xlsx(tmp_path / "clients.xlsx", BANQUP_FR, [
        banqup_row("Électricité Dupont", "jean@dupont.example.com", "0403170701", iban="BE71 0961 2345 6769"),
    ])
    batch = run_import(app, path, admin)
    html = as_user(admin).get("/admin/client/?search=electricite").get_data(as_text=True)
    assert "Électricité Dupont" in html
    with app.app_context():
        events = db.session.execute(
            sa.select(AuditEvent.action, AuditEvent.object_type, AuditEvent.actor, AuditEvent.changes_json)
            .where(AuditEvent.action.startswith("import")).order_by(AuditEvent.id)
        ).all()
    assert [(action, object_type, actor) for action, object_type, actor, _ in events] == [
        ("import", "client", "admin@example.com"),  # one event per inserted row: the client, its contact, its account
        ("import", "contact", "admin@example.com"),
        ("import", "bank_account", "admin@example.com"),
        ("import.imported", "import_batch", "admin@example.com"),
    ]
    created, contact, account = (json.loads(changes) for *_, changes in events[:3])
    assert created["enterprise_number"] == [None, "0403170701"] and created["import_batch_id"] == [None, batch.id]
    assert "search_text" not in created and "created_at" not in created and "id" not in created
    client_id = clients_by_number(app)["0403170701"]["id"]
    assert contact == {"client_id": [None, client_id], "email": [None, "jean@dupont.example.com"],
                       "first_name": [None, "Marie"], "last_name": [None, "Dupont"], "language": [None, "fr-BE"],
                       "is_primary": [None, True], "source": [None, "import"]}
    assert account == {"client_id": [None, client_id], "iban": [None, "BE71096123456769"]}

    make.client(name="Électricité Martin")  # created through the ORM after the import: still indexed
    assert "Électricité Martin" in as_user(admin).get("/admin/client/?search=electricite").get_data(as_text=True)


def test_dutch_headers_in_another_order(app, tmp_path, admin):
    header = [DUTCH[i] for i in (2, 0, 1, 3, 4, 5, 6, 7, 15, 17)]
    path = write_xlsx(tmp_path / "klanten.xlsx", header, [
        ["els@bakkerij.example.com", "Bakkerij Janssens", "BE", "Els", "Janssens", "nl-BE", "0403.227.515", "", "Ja", "Nee"],
        ["tom@garage.example.com", "Garage Peeters", "be", "Tom", "Peeters", "nl-be", "", "BE0400378485", "nee", ""],
    ])

    batch = run_import(app, path, admin)

    assert batch.status == ImportStatus.IMPORTED, batch.errors
    clients = clients_by_number(app)
    assert clients["0403227515"]["name"] == "Bakkerij Janssens" and clients["0403227515"]["mandate"] is True
    assert clients["0400378485"]["vat"] == "BE0400378485"  # the enterprise number from the VAT number alone
    assert clients["0400378485"]["contacts"][0][:3] == ("Tom", "Peeters", "tom@garage.example.com")


def test_every_kind_of_error_is_reported_with_its_row_and_column_and_nothing_is_created(app, tmp_path, admin, make):
    group = make.group("Team Gent")
    make.client(group=group, name="Existing NV", enterprise_number="0202239951")  # contact1-0@... see factories
    invited = make.client(name="Invited SA", enterprise_number="0214596464", status=ClientStatus.INVITED.value)
    make.client(name="Peppol NV", enterprise_number="0403091220", e_invoicing_mandate=True, peppol_receive=True)
    with app.app_context():
        taken_email = db.session.scalar(sa.select(Contact.email).join(Client).where(Client.name == "Existing NV"))
    header = BANQUP_FR + ["", ""]  # two columns without a header (S, T)
    rows = [
        banqup_row("Valid SA", "valid@example.org", "0403170701"),  # 2
        banqup_row(""),  # 3 no name
        banqup_row("Bad Country", "c@example.org", country="Belgique"),  # 4
        banqup_row("Bad Mail", "jean@"),  # 5
        banqup_row("No First Name", "f@example.org", first=""),  # 6
        banqup_row("Bad Language", "l@example.org", language="français"),  # 7
        banqup_row("Bad Checksum", "k@example.org", "0403.170.702"),  # 8
        banqup_row("Mismatch", "m@example.org", "0417497106", "BE0403227515"),  # 9
        banqup_row("Bad Iban", "i@example.org", iban="BE71 0961 2345 6760"),  # 10
        banqup_row("Bad Mandate", "p@example.org", mandate="peut-être"),  # 11
        banqup_row("Bad Template", "t@example.org", template="Inconnu"),  # 12
        banqup_row("Same Number", "n@example.org", "0403 170 701"),  # 13
        banqup_row("Same Mail", "VALID@example.org"),  # 14
        banqup_row("Taken Mail", taken_email, "0400378485"),  # 15
        banqup_row("X" * 201, "long@example.org"),  # 16
        banqup_row("Exemple SRL", "jean.dupont@example.com"),  # 17: the template's example row
        banqup_row("Establishment", "e@example.org", "2000000339"),  # 18
        banqup_row("Bad Invitation", "inv@example.org", invitation="x"),  # 19
        banqup_row("Stray Cell", "s@example.org") + ["", "oops"],  # 20
        banqup_row("Invited SA", "new-contact@example.org", "0214.596.464"),  # 21: invited client, other contact
        banqup_row("Bad Group Of Errors", "not-an-email", "12345", country="ZZ", language=""),  # 22: three at once
        banqup_row("Peppol NV", "other@example.org", "0403091220", mandate="Non"),  # 23: mandate needed by Peppol
    ]
    path = write_xlsx(tmp_path / "errors.xlsx", header, rows)
    before = (count(app, Client), count(app, Contact), count(app, BankAccount), count(app, AuditEvent))

    batch = run_import(app, path, admin)

    assert batch.status == ImportStatus.INVALID
    found = {(e["row"], e["letter"]): e for e in batch.errors}
    expected = {
        (3, "A"): "Required",
        (4, "B"): "not a country code",
        (5, "C"): "not a valid e-mail address",
        (6, "D"): "Required",
        (7, "F"): "not a supported language",
        (8, "G"): "check digits do not match",
        (9, "H"): "does not match enterprise number 0417.497.106",
        (10, "J"): "not a valid IBAN",
        (11, "P"): "not Oui or Non",
        (12, "Q"): "no template called “Inconnu”",
        (13, "G"): "Same enterprise number as row 2",
        (14, "C"): "Same contact e-mail as row 2",
        (15, "C"): "already used by a contact of Existing NV (0202.239.951)",
        (16, "A"): "at most 200 characters",
        (17, "C"): "example row",
        (18, "G"): "must start with 0 or 1",
        (19, "R"): "not Oui or Non",
        (20, "T"): "no header",
        (21, "C"): "Invited SA was already invited at",
        (22, "B"): "not a country code",
        (22, "C"): "not a valid e-mail address",
        (22, "F"): "Required",
        (23, "P"): "Receiving e-invoices through Peppol needs the e-invoicing mandate",
    }
    assert set(found) == set(expected), sorted(set(found) ^ set(expected))
    for place, text in expected.items():
        assert text in found[place]["message"], (place, found[place]["message"])
    assert found[(3, "A")]["column"] == "Raison sociale*"
    assert batch.error_count == len(expected)
    assert (count(app, Client), count(app, Contact), count(app, BankAccount)) == before[:3]
    assert count(app, AuditEvent) == before[3] + 1  # only the record of the refused import
    with app.app_context():
        assert db.session.get(Client, invited.id).contacts[0].email != "new-contact@example.org"


def test_header_problems_are_reported_by_name(app, tmp_path, admin):
    header = ["Raison sociale", "PAYS", "Email de contact", "Prénom du contact", "Fax", "TVA", "tva ", "Langue du contact"]
    path = write_xlsx(tmp_path / "headers.xlsx", header, [["A", "BE", "a@example.org", "A", "123", "", "", "fr-BE"]])

    batch = run_import(app, path, admin)

    assert batch.status == ImportStatus.INVALID
    messages = {(e["row"], e["letter"], e["message"]) for e in batch.errors}
    assert messages == {
        (1, "E", "Unknown column “Fax”: use the template's column names, or delete the column."),
        (1, "G", "Column “tva” appears twice (also in column F): keep one."),
        (1, "", "Required column “Nom de famille du contact*” is missing."),
    }
    assert count(app, Client) == 0


def test_headers_ignore_case_accents_spaces_star_and_hints(app, tmp_path, admin):
    header = ["RAISON  SOCIALE *", "pays", "E-mail de contact", "prenom du contact", "NOM DE FAMILLE DU CONTACT*",
              "Langue du contact", "Numero d’entreprise (BCE)"]
    path = write_xlsx(tmp_path / "loose.xlsx", header, [["A SRL", "BE", "a@example.org", "A", "B", "fr-BE", "0403170701"]])
    batch = run_import(app, path, admin)
    assert batch.status == ImportStatus.IMPORTED, batch.errors


def test_reimporting_the_same_file_creates_nothing_and_a_changed_row_is_updated(app, tmp_path, admin, monkeypatch):
    rows = [
        banqup_row("Alpha SRL", "alpha@example.org", "0403170701", iban="BE71 0961 2345 6769"),
        banqup_row("Beta SRL", "beta@example.org", "0202239951"),
        banqup_row("Gamma ASBL", "gamma@example.org"),  # no enterprise number: found by its e-mail
    ]
    path = write_xlsx(tmp_path / "clients.xlsx", BANQUP_FR, rows)
    first = run_import(app, path, admin)
    assert (first.status, first.new_count) == (ImportStatus.IMPORTED, 3)
    snapshot = clients_by_number(app)

    again = run_import(app, path, admin)
    assert (again.status, again.new_count, again.unchanged_count, again.changed_count) == (ImportStatus.IMPORTED, 0, 3, 0)
    assert count(app, Client) == 3 and count(app, Contact) == 3 and count(app, BankAccount) == 1
    assert clients_by_number(app) == snapshot  # not even the batch id moved

    rows[1] = banqup_row("Beta SRL", "beta@example.org", "0202239951", city="Namur", iban="BE50 0001 7100 3118")
    rows[2] = banqup_row("Gamma ASBL", "gamma@example.org", first="Greta")
    path = write_xlsx(tmp_path / "clients-v2.xlsx", BANQUP_FR, rows)
    dry = run_import(app, path, admin, dry_run=True)
    assert (dry.status, dry.new_count, dry.unchanged_count, dry.changed_count) == (ImportStatus.CHECKED, 0, 1, 2)
    assert dry.changes[0]["changes"] == {"Commune/ville": ["Bruxelles", "Namur"], "IBAN": [None, "BE50000171003118"]}
    assert dry.changes[1]["changes"] == {"Prénom du contact*": ["Marie", "Greta"]}
    assert clients_by_number(app) == snapshot  # a dry run writes nothing

    real = run_import(app, path, admin)
    assert (real.new_count, real.changed_count) == (0, 2)
    beta = clients_by_number(app)["0202239951"]
    assert beta["city"] == "Namur" and beta["ibans"] == ["BE50000171003118"] and beta["batch"] == real.id
    assert clients_by_number(app)["Gamma ASBL"]["contacts"][0][0] == "Greta"
    with app.app_context():
        update = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "import", AuditEvent.object_type == "client",
                                        AuditEvent.changes_json.contains("Namur"))
        ).one()
    assert update.changes["city"] == ["Bruxelles", "Namur"] and update.actor == "admin@example.com"


def test_empty_cells_leave_existing_values_alone(app, tmp_path, admin):
    path = write_xlsx(tmp_path / "a.xlsx", BANQUP_FR, [banqup_row("Alpha", "alpha@example.org", "0403170701", reference="R1")])
    run_import(app, path, admin)
    path = write_xlsx(tmp_path / "b.xlsx", BANQUP_FR, [banqup_row("Alpha", "alpha@example.org", "0403170701", street="", city="")])
    batch = run_import(app, path, admin)
    assert batch.unchanged_count == 1
    assert clients_by_number(app)["0403170701"]["ref"] == "R1"


def test_contact_email_of_a_client_not_yet_invited_can_change(app, tmp_path, admin):
    run_import(app, write_xlsx(tmp_path / "a.xlsx", BANQUP_FR, [banqup_row("Alpha", "old@example.org", "0403170701")]), admin)
    batch = run_import(app, write_xlsx(tmp_path / "b.xlsx", BANQUP_FR, [banqup_row("Alpha", "new@example.org", "0403170701")]), admin)
    assert batch.changed_count == 1
    assert clients_by_number(app)["0403170701"]["contacts"][0][2] == "new@example.org"


@pytest.fixture
def yuki_template(app, make, peppol):
    """A template that turns Peppol sending on (so an access point is configured: `peppol`)."""
    team = make.group("Team Gent")
    with app.app_context():
        template = ConfigTemplate(
            name="Standard Yuki", subscription_mode="delivery_only", e_invoicing_mandate=True, peppol_send=True,
            assigned_group_id=team.id, delivery_method="email", delivery_email="scan@yuki.example.com",
            integration_product=db.session.scalars(sa.select(IntegrationProduct).filter_by(name="Yuki")).one(),
        )
        db.session.add(template)
        db.session.commit()
    return template


def test_templates_apply_per_row_and_the_row_overrides_them(app, tmp_path, admin, yuki_template):
    path = write_xlsx(tmp_path / "t.xlsx", BANQUP_FR, [
        banqup_row("With Template", "w@example.org", "0403170701", template="  standard YUKI ", mandate="Non"),
        banqup_row("Template Mandate", "m@example.org", "0202239951", template="Standard Yuki"),
        banqup_row("Without", "n@example.org", "0417497106"),
    ])

    batch = run_import(app, path, admin)

    assert batch.status == ImportStatus.IMPORTED, batch.errors
    clients = clients_by_number(app)
    with_template = clients["0403170701"]
    assert (with_template["template"], with_template["integration"], with_template["subscription"]) == (
        "Standard Yuki", "Yuki", "delivery_only")
    assert with_template["peppol_send"] is True and with_template["group"] == "Team Gent"
    assert with_template["mandate"] is False  # the row's Mandat overrides the template's
    assert clients["0202239951"]["mandate"] is True
    assert clients["0417497106"]["template"] is None and clients["0417497106"]["integration"] is None
    assert clients["0417497106"]["group"] == "Everyone"
    with app.app_context():
        integrations = db.session.scalars(sa.select(ClientIntegration)).all()
        assert [(i.delivery_method, i.delivery_email) for i in integrations] == [("email", "scan@yuki.example.com")] * 2


def test_progress_is_recorded_at_once_and_the_import_committed_only_at_the_end(app, tmp_path, admin, monkeypatch):
    """The job reports progress while the import runs: each report is visible at once to the page that polls it,
    no client before the end."""
    from clientdesk import tasks
    from clientdesk.imports import create_batch, run_batch
    from clientdesk.models import Task, User

    monkeypatch.setattr("clientdesk.imports.validate.PROGRESS_EVERY", 1)
    monkeypatch.setattr("clientdesk.imports.validate.CHUNK", 2)
    path = write_xlsx(tmp_path / "p.xlsx", BANQUP_FR, [banqup_row(f"Client {i}", f"c{i}@example.org") for i in range(5)])
    seen = []
    with app.app_context():
        db.session.add(Task(id="import-progress", kind="import", description="Import p.xlsx", status="started", user_id=admin.id))
        batch = create_batch(str(path), path.name, db.session.get(User, admin.id))
        db.session.commit()

        def progress(done, total):
            tasks.progress_apart("import-progress", done, total)
            with db.engine.connect() as page:
                seen.append((page.scalar(sa.select(Task.progress_done).filter_by(id="import-progress")),
                             page.scalar(sa.select(sa.func.count(Client.id)))))

        assert run_batch(batch.id, progress).status == ImportStatus.IMPORTED
    assert seen == [(done, 0) for done in range(1, 6)]
    assert count(app, Client) == 5


def test_a_template_turns_peppol_on_through_the_peppol_switches(app, app_config, tmp_path, admin, make, yuki_template, peppol):
    """New clients and an existing one whose row names the template: the switches as a person pressing them sets
    them (pending), then one registration task after the commit, which a worker completes."""
    from tests.servers import run_worker_burst

    existing = make.client(name="Already Here", enterprise_number="0202239951")
    path = write_xlsx(tmp_path / "p.xlsx", BANQUP_FR, [
        banqup_row("Peppol Sender", "p@example.org", "0403170701", template="Standard Yuki"),
        banqup_row("Already Here", existing.contacts[0].email, "0202239951", template="Standard Yuki"),
    ])
    batch = run_import(app, path, admin)

    assert (batch.status, batch.new_count, batch.changed_count) == (ImportStatus.IMPORTED, 1, 1)
    with app.app_context():
        clients = db.session.scalars(sa.select(Client).order_by(Client.name)).all()
        assert [(c.name, c.peppol_send, c.peppol_receive, c.peppol_state) for c in clients] == [
            ("Already Here", True, False, "pending"), ("Peppol Sender", True, False, "pending")]
        task = db.session.scalars(sa.select(Task).filter_by(kind="peppol_sync")).one()
        assert json.loads(task.job_args_json) == ["sync", sorted(c.id for c in clients)]
    run_worker_burst(app_config, **peppol.env)
    with app.app_context():
        assert {c.peppol_state for c in db.session.scalars(sa.select(Client))} == {"registered"}
    assert {number[-10:] for number in peppol.ap.app.participants} == {"0403170701", "0202239951"}


def test_a_template_cannot_carry_a_row_past_the_client_rules(app, tmp_path, admin, peppol):
    """Managed by the firm, mandate and Peppol receiving from the template; the row says Mandat = Non and gives no
    IBAN: refused on the row, on the IBAN and Mandat columns, and nothing is created."""
    with app.app_context():
        db.session.add(ConfigTemplate(name="Managed Peppol", subscription_mode="managed", e_invoicing_mandate=True,
                                      peppol_receive=True))
        db.session.commit()
    path = write_xlsx(tmp_path / "r.xlsx", BANQUP_FR, [
        banqup_row("Fiduciaire Interne", "f@example.org", "0403170701", template="Managed Peppol", mandate="Non")])

    batch = run_import(app, path, admin)

    assert batch.status == ImportStatus.INVALID
    assert [(e["row"], e["column"], e["letter"]) for e in batch.errors] == [(2, "IBAN", "J"), (2, "Mandat", "P")]
    assert "managed by the firm needs at least one bank account" in batch.errors[0]["message"]
    assert "needs the e-invoicing mandate" in batch.errors[1]["message"]
    assert count(app, Client) == 0


def test_a_change_made_while_the_file_was_checked_fails_the_import_whole(app, tmp_path, admin, make, store, monkeypatch):
    """The row drops the mandate of a client that did not receive through Peppol when the file was checked; by the
    time it is written, someone has turned receiving on: nothing is imported, and the batch says to run it again."""
    from clientdesk.imports import writer

    acme = make.client(name="Acme", enterprise_number="0403170701", e_invoicing_mandate=True)
    real_write = writer.write

    def write_after_someone_turns_receiving_on(plan, lookups, batch_id):
        store.update(Client, acme.id, peppol_receive=True, peppol_state="registered")  # in a session of its own
        return real_write(plan, lookups, batch_id)

    monkeypatch.setattr(writer, "write", write_after_someone_turns_receiving_on)
    rows = [banqup_row("New One", "new@example.org", "0202239951"),
            banqup_row("Acme", acme.contacts[0].email, "0403170701", mandate="Non")]
    batch = run_import(app, write_xlsx(tmp_path / "late.xlsx", BANQUP_FR, rows), admin)

    assert batch.status == ImportStatus.FAILED and "Run the import again" in batch.failure
    assert "needs the e-invoicing mandate" in batch.failure
    assert count(app, Client) == 1 and store.get(Client, acme.id).e_invoicing_mandate is True


def test_a_template_that_turns_peppol_on_needs_an_access_point(app, tmp_path, admin):
    with app.app_context():
        db.session.add(ConfigTemplate(name="Peppol", e_invoicing_mandate=True, peppol_send=True))
        db.session.commit()
    path = write_xlsx(tmp_path / "n.xlsx", BANQUP_FR, [banqup_row("A", "a@example.org", "0403170701", template="Peppol")])

    batch = run_import(app, path, admin)

    assert [(e["row"], e["column"]) for e in batch.errors] == [(2, "Modèle")]
    assert "The template “Peppol” turns Peppol on" in batch.errors[0]["message"]
    assert "no access point is configured" in batch.errors[0]["message"]
    assert count(app, Client) == 0


def test_group_option_and_group_column(app, tmp_path, admin, make, yuki_template):
    brussels = make.group("Team Brussels")
    make.group("Team Antwerp")
    header = BANQUP_FR + ["Groupe"]
    path = write_xlsx(tmp_path / "g.xlsx", header, [
        banqup_row("Option", "o@example.org", "0403170701") + [""],
        banqup_row("Column", "c@example.org", "0202239951") + ["team antwerp"],
        banqup_row("Template", "t@example.org", "0417497106", template="Standard Yuki") + [""],
        banqup_row("Unknown", "u@example.org") + ["Team Mars"],
    ])
    refused = run_import(app, path, admin, group=brussels)
    assert [(e["row"], e["letter"]) for e in refused.errors] == [(5, "S")]
    assert "no group called “Team Mars”" in refused.errors[0]["message"]

    path = write_xlsx(tmp_path / "g2.xlsx", header, [
        banqup_row("Option", "o@example.org", "0403170701") + [""],
        banqup_row("Column", "c@example.org", "0202239951") + ["team antwerp"],
        banqup_row("Template", "t@example.org", "0417497106", template="Standard Yuki") + [""],
    ])
    batch = run_import(app, path, admin, group=brussels)
    assert batch.status == ImportStatus.IMPORTED
    groups = {number: c["group"] for number, c in clients_by_number(app).items()}
    assert groups == {"0403170701": "Team Brussels", "0202239951": "Team Antwerp", "0417497106": "Team Brussels"}


def test_invitation_yes_invites_through_the_lifecycle_after_the_commit(app, tmp_path, admin, make):
    make.client(name="Already Invited", enterprise_number="0400378485", status=ClientStatus.INVITED.value)
    path = write_xlsx(tmp_path / "i.xlsx", BANQUP_FR, [
        banqup_row("Invite Me", "a@example.org", "0403170701", invitation="Oui"),
        banqup_row("Not Me", "b@example.org", "0202239951", invitation="Non"),
        banqup_row("Me Too", "c@example.org", "0417497106", invitation="yes"),
    ])

    dry = run_import(app, path, admin, dry_run=True)
    assert (dry.invite_count, dry.invite_task_id) == (2, None)
    batch = run_import(app, path, admin)

    with app.app_context():
        wanted = sorted(db.session.scalars(sa.select(Client.id).where(Client.name.in_(["Invite Me", "Me Too"]))))
        task = db.session.get(Task, batch.invite_task_id)
        assert (task.kind, task.status, task.user_id, json.loads(task.job_args_json)) == (
            "bulk_invite", "queued", admin.id, ["invite", wanted])
    assert batch.invite_client_ids == wanted and batch.invite_count == 2
    assert {c["status"] for c in clients_by_number(app).values()} == {ClientStatus.CREATED, ClientStatus.INVITED}

    outbox = Path(app.config["OUTBOX_DIR"])
    before = set(outbox.glob("*.eml"))
    run_jobs(app)

    statuses = {c["name"]: c["status"] for c in clients_by_number(app).values()}
    assert statuses == {"Invite Me": "invited", "Not Me": "created", "Me Too": "invited", "Already Invited": "invited"}
    sent = [message.read_text() for message in set(outbox.glob("*.eml")) - before]
    assert len(sent) == 2 and [any(f"{to}@example.org" in m for m in sent) for to in "acb"] == [True, True, False]

    again = run_import(app, path, admin)  # invited now: nobody is invited twice
    assert (again.unchanged_count, again.invite_count, again.invite_task_id) == (3, 0, None)


def test_the_import_stands_when_the_invitations_cannot_be_queued(app, tmp_path, admin, monkeypatch):
    from clientdesk import tasks

    def queue_down():
        raise tasks.QueueUnavailable()

    monkeypatch.setattr(tasks, "require_queue", queue_down)
    path = write_xlsx(tmp_path / "i.xlsx", BANQUP_FR, [banqup_row("Invite Me", "a@example.org", invitation="Oui")])
    batch = run_import(app, path, admin)
    assert (batch.status, batch.new_count, batch.invite_task_id) == (ImportStatus.IMPORTED, 1, None)
    assert "queue is not reachable" in batch.invite_error
    assert count(app, Client) == 1


def test_running_the_import_again_launches_invitations_it_could_not_launch(app, tmp_path, admin, monkeypatch):
    from clientdesk import tasks
    from clientdesk.imports import run_batch

    def queue_down():
        raise tasks.QueueUnavailable()

    real_require_queue = tasks.require_queue
    monkeypatch.setattr(tasks, "require_queue", queue_down)
    path = write_xlsx(tmp_path / "i.xlsx", BANQUP_FR, [banqup_row("Invite Me", "a@example.org", invitation="Oui")])
    batch = run_import(app, path, admin)
    assert (batch.status, batch.invite_task_id) == (ImportStatus.IMPORTED, None) and batch.invite_error

    # The job runs again (a worker that died after the import's commit, its task run again), the queue back:
    monkeypatch.setattr(tasks, "require_queue", real_require_queue)
    with app.app_context():
        again = run_batch(batch.id)
        assert again.invite_task_id is not None and again.invite_error is None
        task = db.session.get(Task, again.invite_task_id)
        assert (task.kind, json.loads(task.job_args_json)[0]) == ("bulk_invite", "invite")
        assert run_batch(batch.id).invite_task_id == task.id  # launched once
    assert count(app, Client) == 1


def test_a_failure_while_writing_leaves_nothing_behind(app, tmp_path, admin, monkeypatch):
    from clientdesk.imports import writer

    def broken_update(plan, lookups, batch_id):  # after the new clients are inserted
        raise RuntimeError("disk full")

    monkeypatch.setattr(writer, "_update_changed", broken_update)
    path = write_xlsx(tmp_path / "f.xlsx", BANQUP_FR, [banqup_row("A", "a@example.org", "0403170701")])
    with pytest.raises(RuntimeError):
        run_import(app, path, admin)
    assert count(app, Client) == 0 and count(app, Contact) == 0
    with app.app_context():
        from clientdesk.models import ImportBatch

        batch = db.session.scalars(sa.select(ImportBatch)).one()
        assert batch.status == ImportStatus.FAILED and "disk full" in batch.failure
        assert db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.action == "import")) == 0
        if db.engine.dialect.name == "sqlite":  # the search trigger suspended during the inserts is back
            assert db.session.execute(sa.text("SELECT 1 FROM sqlite_master WHERE name = 'client_search_insert'")).scalar()


def test_rows_are_written_in_chunks_each_contact_with_its_client(app, tmp_path, admin, monkeypatch):
    monkeypatch.setattr("clientdesk.imports.validate.CHUNK", 2)
    monkeypatch.setattr("clientdesk.imports.writer.CHUNK", 2)
    rows = [banqup_row(f"Client {i}", f"c{i}@example.org", iban="BE71 0961 2345 6769" if i % 2 else "") for i in range(5)]
    batch = run_import(app, write_xlsx(tmp_path / "c.xlsx", BANQUP_FR, rows), admin)
    assert batch.new_count == 5
    clients = clients_by_number(app)
    assert {name: c["contacts"][0][2] for name, c in clients.items()} == {f"Client {i}": f"c{i}@example.org" for i in range(5)}
    assert {name: c["ibans"] for name, c in clients.items()} == {
        f"Client {i}": ["BE71096123456769"] if i % 2 else [] for i in range(5)
    }
    with app.app_context():  # each inserted row audited once, under its own id, with its client
        for model, _name in ((Client, Client.name), (Contact, Contact.email), (BankAccount, BankAccount.iban)):
            client_id = model.id if model is Client else model.client_id
            audited = db.session.execute(
                sa.select(AuditEvent.object_id, AuditEvent.client_id)
                .where(AuditEvent.action == "import", AuditEvent.object_type == model.__tablename__)).all()
            assert sorted(audited) == sorted((str(id_), client) for id_, client in
                                             db.session.execute(sa.select(model.id, client_id)))


def test_a_client_created_meanwhile_makes_the_import_fail_whole(app, tmp_path, admin, make, monkeypatch):
    """Someone creates one of the file's clients after the file was checked: its insert fails, and the rows
    written before it in the import's transaction are rolled back."""
    from clientdesk.imports import writer

    monkeypatch.setattr("clientdesk.imports.writer.CHUNK", 2)
    real_write = writer.write

    def write_after_someone_creates_a_client(plan, lookups, batch_id):
        make.client(name="Created meanwhile", enterprise_number="0403170701", contacts=0)  # in a session of its own
        return real_write(plan, lookups, batch_id)

    monkeypatch.setattr(writer, "write", write_after_someone_creates_a_client)
    rows = [banqup_row(f"Client {i}", f"c{i}@example.org") for i in range(4)]
    rows.append(banqup_row("Electrabel", "info@electrabel.example.com", "0403170701"))
    batch = run_import(app, write_xlsx(tmp_path / "m.xlsx", BANQUP_FR, rows), admin)

    assert batch.status == ImportStatus.FAILED and "Run the import again" in batch.failure
    with app.app_context():
        assert db.session.scalars(sa.select(Client.name)).all() == ["Created meanwhile"]
        assert db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.action == "import")) == 0
    assert count(app, Contact) == 0


def test_an_error_after_the_first_chunks_leaves_nothing_behind(app, tmp_path, admin, monkeypatch):
    """The first chunks are valid, a later one is not: nothing is written, and the errors are reported."""
    monkeypatch.setattr("clientdesk.imports.validate.CHUNK", 2)
    rows = [banqup_row(f"Client {i}", f"c{i}@example.org") for i in range(4)]
    rows.append(banqup_row("Bad number", "bad@example.org", "0403170702"))
    rows.append(banqup_row("Client 0 again", "c0@example.org"))
    batch = run_import(app, write_xlsx(tmp_path / "late.xlsx", BANQUP_FR, rows), admin)

    assert batch.status == ImportStatus.INVALID and [e["row"] for e in batch.errors] == [6, 7]
    assert count(app, Client) == 0 and count(app, Contact) == 0
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.action == "import")) == 0
        assert db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.action == "import.invalid")) == 1


def test_a_file_gone_before_its_run_is_refused_with_a_message(app, tmp_path, admin):
    """A dry run's file can be deleted (older than IMPORT_FILES_KEEP_DAYS) while its import is queued."""
    from clientdesk.imports import create_batch, run_batch
    from clientdesk.models import User

    path = write_xlsx(tmp_path / "gone.xlsx", BANQUP_FR, [banqup_row("A", "a@example.org", "0403170701")])
    with app.app_context():
        batch = create_batch(str(path), path.name, db.session.get(User, admin.id))
        db.session.commit()
        Path(batch.stored_path).unlink()
        batch = run_batch(batch.id)
        assert batch.status == ImportStatus.INVALID
        assert [e["message"] for e in batch.errors] == ["The uploaded file is no longer kept: upload it again."]
    assert count(app, Client) == 0


@pytest.mark.parametrize("value", ["0", "-3", "two weeks"])
def test_the_days_import_files_are_kept_must_be_a_whole_number_of_at_least_one(monkeypatch, tmp_path, value):
    from clientdesk.config import ConfigError, from_environment

    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("IMPORT_FILES_KEEP_DAYS", value)
    with pytest.raises(ConfigError, match="IMPORT_FILES_KEEP_DAYS must be a whole number of days, at least 1"):
        from_environment(debug=False, testing=True)
    monkeypatch.setenv("IMPORT_FILES_KEEP_DAYS", "90")
    assert from_environment(debug=False, testing=True)["IMPORT_FILES_KEEP_DAYS"] == 90


def test_an_old_file_that_cannot_be_deleted_leaves_the_import_alone(app, tmp_path, admin, monkeypatch, caplog):
    from datetime import timedelta

    from clientdesk.models import ImportBatch, utcnow

    first = run_import(app, write_xlsx(tmp_path / "a.xlsx", BANQUP_FR, [banqup_row("A", "a@example.org")]), admin)
    with app.app_context():
        db.session.execute(sa.update(ImportBatch).values(created_at=utcnow() - timedelta(days=40)))
        db.session.commit()

    def unlink(self, missing_ok=False):
        raise PermissionError(f"read-only: {self}")

    monkeypatch.setattr(Path, "unlink", unlink)
    second = run_import(app, write_xlsx(tmp_path / "b.xlsx", BANQUP_FR, [banqup_row("B", "b@example.org")]), admin)

    assert second.status == ImportStatus.IMPORTED and count(app, Client) == 2
    assert Path(first.stored_path).exists() and "could not be deleted" in caplog.text
    with app.app_context():  # the page no longer offers it; the warning names the file left on disk
        assert db.session.get(ImportBatch, first.id).file_removed_at is not None
