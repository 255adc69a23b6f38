"""The client rules (clientdesk/rules.py): what they say of a client as it would be saved, and their SQL form,
which the suite checks over the whole database after every test (conftest.clean_state). These tests write rows
around the app, as a path that bypassed the rules would, to show that the check finds each kind."""
import pytest
import sqlalchemy as sa

from clientdesk import rules
from clientdesk.extensions import db
from clientdesk.models import BankAccount, Client, ConfigTemplate, Contact, Invitation, utcnow


def test_a_client_as_it_would_be_saved():
    assert rules.problems({"name": "Acme", "enterprise_number": "0403170701", "vat_number": "BE0403170701"}) == {}
    found = rules.problems({"subscription_mode": "managed", "peppol_receive": True, "peppol_state": "pending",
                            "enterprise_number": "0403170701"})
    assert set(found) == {"bank_accounts", "e_invoicing_mandate"}
    assert "needs at least one bank account" in found["bank_accounts"]
    assert rules.problems({"peppol_send": True, "peppol_state": "pending", "country": "NL"}).keys() == {"enterprise_number"}
    assert rules.problems({"peppol_send": True, "enterprise_number": "0403170701"}).keys() == {"peppol_state"}
    assert rules.problems({"enterprise_number": "0403170702"}).keys() == {"enterprise_number"}
    assert rules.problems({"enterprise_number": "0403170701", "vat_number": "BE0202239951"}).keys() == {"vat_number"}
    assert rules.problems({"status": "invited"}).keys() == {"status"}
    assert rules.problems({"status": "invited", "invited_at": utcnow()}) == {}


def test_changes_are_checked_over_the_client_and_deleted_rows_do_not_count(app, make):
    acme = make.client(subscription_mode="managed", ibans=["BE71096123456769"])
    with app.app_context():
        client = db.session.get(Client, acme.id)
        assert rules.problems(client) == {}
        assert rules.problems(client, peppol_receive=True, peppol_state="pending").keys() == {"e_invoicing_mandate"}
        db.session.delete(client.bank_accounts[0])
        assert rules.problems(client).keys() == {"bank_accounts"}
        with pytest.raises(rules.RuleViolation, match="needs at least one bank account"):
            rules.check(client)
        db.session.rollback()


def test_a_template_keeps_the_rules_that_read_only_what_it_sets():
    assert rules.template_problems(ConfigTemplate(name="Receive", peppol_receive=True, e_invoicing_mandate=False)).keys() == {
        "e_invoicing_mandate"}
    assert rules.template_problems(ConfigTemplate(name="Managed", subscription_mode="managed")) == {}  # IBANs come per client


def test_contact_email_addresses_are_unique_across_clients(app, make):
    acme = make.client()
    taken = acme.contacts[0].email
    with app.app_context():
        assert rules.contact_email_problems({"email": taken}, acme.id) == {}
        assert "already used by a contact of another client" in rules.contact_email_problems({"email": taken}, None)["email"]
        assert "appears twice" in rules.contact_email_problems({1: "a@example.org", 2: "a@example.org"}, None)[2]


def _violations_after(app, statement) -> list[str]:
    """What the database check finds once `statement` has written around the app (the row is removed after)."""
    with app.app_context():
        db.session.execute(statement)
        db.session.commit()
        return rules.violations()


@pytest.mark.parametrize("values, expected", [
    ({"subscription_mode": "managed"}, "needs at least one bank account"),
    ({"peppol_receive": True, "peppol_state": "registered"}, "needs the e-invoicing mandate"),
    ({"e_invoicing_mandate": True, "peppol_send": True}, "registration was never started"),
    ({"country": "NL", "peppol_send": True, "peppol_state": "registered"}, "Belgian enterprise number"),
    ({"enterprise_number": "0403170702", "vat_number": "BE0403170702"}, "ends with its check digits"),
    ({"enterprise_number": "403170701", "vat_number": "BE403170701"}, "ends with its check digits"),
    ({"vat_number": "BE0202239951"}, "BE followed by the enterprise number"),
    ({"status": "active"}, "comes with its date"),
])
def test_the_database_check_finds_a_client_written_around_the_rules(app, make, values, expected):
    acme = make.client()
    found = _violations_after(app, sa.update(Client).where(Client.id == acme.id).values(**values))
    assert any(line.startswith(f"client {acme.id}:") and expected in line for line in found), found
    _remove(app, Client, acme.id)


def test_the_database_check_finds_contacts_without_a_primary_and_two_open_invitations(app, make):
    acme = make.client(contacts=2)
    found = _violations_after(app, sa.update(Contact).where(Contact.client_id == acme.id).values(is_primary=False))
    assert any(line.startswith(f"client {acme.id}:") and "exactly one primary contact" in line for line in found)

    invited = make.client(status="invited")
    later = utcnow()
    rows = [{"client_id": invited.id, "contact_id": invited.contacts[0].id, "token_hash": str(n) * 64, "status": "sent",
             "expires_at": later, "created_at": later, "updated_at": later} for n in (1, 2)]
    found = _violations_after(app, sa.insert(Invitation).values(rows))
    assert any(line.startswith(f"client {invited.id}:") and "at most one" in line for line in found)
    _remove(app, Client, acme.id)
    _remove(app, Client, invited.id)


def test_the_database_check_finds_a_template_written_around_the_rules(app):
    with app.app_context():
        template = ConfigTemplate(name="Bypass")
        db.session.add(template)
        db.session.commit()
        template_id = template.id
    found = _violations_after(app, sa.update(ConfigTemplate).where(ConfigTemplate.id == template_id).values(peppol_receive=True))
    assert len(found) == 1 and found[0].startswith(f"template {template_id}:") and "e-invoicing mandate" in found[0]
    _remove(app, ConfigTemplate, template_id)


def test_a_managed_client_with_a_bank_account_holds(app, make):
    acme = make.client(subscription_mode="managed", ibans=["BE71096123456769"])
    with app.app_context():
        assert rules.violations() == []
        db.session.execute(sa.delete(BankAccount).where(BankAccount.client_id == acme.id))
        assert any(line.startswith(f"client {acme.id}:") for line in rules.violations())
        db.session.rollback()


def _remove(app, model, row_id) -> None:
    with app.app_context():
        db.session.execute(sa.delete(model).where(model.id == row_id))
        db.session.commit()


def test_a_change_is_refused_only_for_what_it_breaks(app, make):
    """A client that breaks a rule already (data from before it) can still be switched off, and its form saved; a
    change that breaks a rule of its own is refused."""
    from clientdesk.einvoicing import PeppolSwitches

    legacy = make.client(e_invoicing_mandate=False, peppol_send=True)
    with app.app_context():
        db.session.execute(sa.update(Client).where(Client.id == legacy.id).values(subscription_mode="managed"))
        db.session.commit()
        client = db.session.get(Client, legacy.id)
        config = {"PEPPOL_AP_URL": "http://access-point.invalid"}
        with pytest.raises(rules.RuleViolation, match="needs the e-invoicing mandate"):
            PeppolSwitches.set(client, config, receive=True)
        PeppolSwitches.set(client, config, send=False)
        assert (client.peppol_send, client.peppol_state) == (False, "pending")
        rules.check(client, known=rules.problems(client), name="Renamed BV")
        with pytest.raises(rules.RuleViolation, match="Belgian enterprise number"):
            rules.check(client, known=rules.problems(client), peppol_send=True, country="NL")
        db.session.rollback()
        assert any("needs at least one bank account" in line for line in rules.violations())  # still to be fixed
    _remove(app, Client, legacy.id)


def test_check_rules_command_lists_what_breaks_them(app, make):
    acme = make.client()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["clients", "check-rules"])
    assert result.exit_code == 0 and "Every client and template keeps the client rules." in result.output
    _violations_after(app, sa.update(Client).where(Client.id == acme.id).values(status="active"))
    result = runner.invoke(args=["clients", "check-rules"])
    assert result.exit_code == 1 and f"client {acme.id}: A client's status comes with its date" in result.output
    _remove(app, Client, acme.id)
