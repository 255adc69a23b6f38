"""The demo data (`flask --app app demo load`) passes every rule, so that any demo client can be edited and saved."""
import html
import re

import pytest
import sqlalchemy as sa

from clientdesk import rules
from clientdesk.demo import DEMO_CLIENT_USER, DEMO_PASSWORD, demo_enterprise_number, demo_inbound_email, load_demo
from clientdesk.extensions import db
from clientdesk.imports.writer import secondary_indexes_set_aside
from clientdesk.models import AuditEvent, BankAccount, Client, ClientIntegration, Contact
from tests.helpers import flashes, form_fields, login, portal_login


def field_errors(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>|\s+", " ", error).strip()
            for error in re.findall(r'<div class="invalid-feedback">(.*?)</div>', html, re.S)]


@pytest.mark.long
def test_every_demo_client_is_saved_unchanged_by_the_edit_form(app):
    with app.app_context():
        load_demo(clients=200)
        clients = db.session.scalars(sa.select(Client).order_by(Client.id)).all()
        assert len(clients) == 200
        assert {client.id: rules.problems(client) for client in clients if rules.problems(client)} == {}
        ids = [client.id for client in clients]
        db.session.remove()
    result = app.test_cli_runner().invoke(args=["clients", "check-rules"])
    assert result.exit_code == 0, result.output

    http = app.test_client()
    login(http, "admin@example.com", DEMO_PASSWORD)
    refused = {}
    for client_id in ids:
        url = f"/admin/client/edit/?id={client_id}"
        response = http.post(url, data=form_fields(http.get(url).text))
        if response.status_code != 302:
            refused[client_id] = flashes(response.text) + field_errors(response.text)
    assert refused == {}


def test_the_demo_has_a_client_user_who_signs_in_to_the_portal(app):
    from clientdesk.models import ClientUser

    with app.app_context():
        load_demo(clients=20)
        load_demo(clients=0)  # loading again adds no second one
        [client_user] = db.session.scalars(sa.select(ClientUser)).all()
        company = client_user.client.name
        db.session.remove()
    http = app.test_client()
    portal_login(http, DEMO_CLIENT_USER, DEMO_PASSWORD)
    page = http.get("/portal/")
    assert page.status_code == 200 and html.escape(company, quote=False) in page.text


def test_the_demo_is_written_in_chunks_around_the_numbers_other_clients_hold(app, make):
    """The demo's bulk writer: every chunk committed with an audit event for each row it writes and its clients in
    the search index; the enterprise number or inbound address of a client already there is not given twice."""
    make.client(name="Numbered Before", enterprise_number=demo_enterprise_number(2))
    make.client(name="Addressed Before", inbound_email=demo_inbound_email(4))
    with app.app_context():
        result = load_demo(clients=25, chunk=10)
        ids = db.session.scalars(sa.select(Client.id).where(Client.name.not_like("%Before"))).all()
        assert result["clients"] == len(ids) == 25
        assert {client.id: rules.problems(client) for client in db.session.scalars(sa.select(Client))
                if rules.problems(client)} == {}
        numbers = db.session.scalars(sa.select(Client.enterprise_number)).all()
        addresses = db.session.scalars(sa.select(Client.inbound_email)).all()
        assert len(set(numbers)) == len(numbers) == 27 and len(set(addresses)) == len(addresses) == 27
        created = set(db.session.execute(sa.select(AuditEvent.object_type, AuditEvent.object_id)
                                         .where(AuditEvent.action == "create", AuditEvent.client_id.in_(ids))))
        for model in (Contact, BankAccount, ClientIntegration):
            rows = db.session.scalars(sa.select(model.id).where(model.client_id.in_(ids))).all()
            assert rows and {(model.__tablename__, str(row)) for row in rows} <= created
        assert {("client", str(client_id)) for client_id in ids} <= created
        name = db.session.get(Client, max(ids)).name
        db.session.remove()
    http = app.test_client()
    login(http, "admin@example.com", DEMO_PASSWORD)
    page = http.get("/admin/client/", query_string={"search": name}).get_data(as_text=True)
    assert html.escape(name, quote=False) in page


def test_a_large_load_sets_the_indexes_aside_and_builds_them_again(app):
    """PostgreSQL: the non-unique indexes are gone during the block and back after it; the unique ones stay."""
    with app.app_context():
        connection = db.session.connection()
        if connection.dialect.name != "postgresql":
            pytest.skip("SQLite keeps its indexes")
        indexes = sa.text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'client' ORDER BY indexname")
        before = connection.execute(indexes).all()
        with secondary_indexes_set_aside(connection, [Client.__table__]):
            during = connection.execute(indexes).all()
        assert connection.execute(indexes).all() == before
        assert {"pk_client", "uq_client_enterprise_number"} <= {name for name, _ in during} < {name for name, _ in before}
        assert all("UNIQUE" in definition for name, definition in during if name != "pk_client")
        db.session.rollback()
