"""The demo data (`flask --app app demo load`) passes every rule, so that any demo client can be edited and saved."""
import html
import re

import pytest
import sqlalchemy as sa

from clientdesk import rules
from clientdesk.demo import DEMO_CLIENT_USER, DEMO_PASSWORD, load_demo
from clientdesk.extensions import db
from clientdesk.models import Client
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
