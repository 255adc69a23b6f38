"""Configuration templates: admin-only CRUD with the delivery and Peppol rules."""
import re
from html import unescape

import sqlalchemy as sa

from clientdesk.models import ConfigTemplate, IntegrationProduct, Role
from tests.helpers import post


def product_id(db_session, name):
    return db_session.scalar(sa.select(IntegrationProduct.id).where(IntegrationProduct.name == name))


def template_form(**fields):
    data = {"name": "Yuki by e-mail", "description": "Documents to Yuki", "subscription_mode": "full",
            "delivery_method": "email", "delivery_email": "docs@yukiworks.example.com", "credit_card_statements": "purchase"}
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def field_errors(html):
    return [unescape(e.strip()) for e in re.findall(r'<ul class="form-text text-danger[^"]*">\s*<li>(.*?)</li>', html, re.S)]


def test_admin_creates_edits_and_deletes_a_template(make, as_user, db_session):
    group = make.group("Team Liège")
    staff = make.user(Role.STAFF, groups=[group])
    http = as_user(make.user(Role.ADMIN))
    yuki = product_id(db_session, "Yuki")

    created = post(http, "/admin/template/new/", template_form(
        integration_product=str(yuki), assigned_group=str(group.id), assigned_user=str(staff.id),
        e_invoicing_mandate="y", peppol_send="y", peppol_receive="y", attach_ubl="y"))
    assert created.status_code == 302
    template = db_session.scalars(sa.select(ConfigTemplate)).one()
    assert (template.integration_product_id, template.assigned_group_id, template.assigned_user_id) == (yuki, group.id, staff.id)
    assert (template.delivery_email, template.peppol_receive, template.attach_ubl) == ("docs@yukiworks.example.com", True, True)
    listing = http.get("/admin/template/").text
    assert "Yuki by e-mail" in listing and "Team Liège" in listing

    edited = post(http, f"/admin/template/edit/?id={template.id}", template_form(
        name="Yuki (per type)", integration_product=str(yuki), delivery_email="", delivery_email_purchase="purchase@yukiworks.example.com",
        delivery_email_sales="sales@yukiworks.example.com", delivery_email_misc="misc@yukiworks.example.com"))
    assert edited.status_code == 302
    db_session.expire_all()
    assert db_session.get(ConfigTemplate, template.id).delivery_email_purchase == "purchase@yukiworks.example.com"

    assert post(http, "/admin/template/delete/", {"id": str(template.id)}).status_code == 302
    assert db_session.scalar(sa.select(sa.func.count(ConfigTemplate.id))) == 0


def test_template_rules_are_checked(make, as_user, db_session):
    http = as_user(make.user(Role.ADMIN))
    winbooks, yuki = product_id(db_session, "Winbooks"), product_id(db_session, "Yuki")
    cases = [
        (template_form(), "Choose the accounting software that receives the documents."),
        (template_form(integration_product=str(yuki), delivery_email=""), "E-mail delivery needs an address"),
        (template_form(integration_product=str(winbooks), delivery_method="api", api_url="https://api.example.com"),
         "Winbooks does not take documents by API (it takes: Manual, E-mail, sFTP folder)."),
        (template_form(integration_product=str(winbooks), delivery_method="sftp"), "sFTP delivery needs the password of the sFTP user."),
        (template_form(integration_product=str(yuki), peppol_receive="y"),
         "Receiving e-invoices through Peppol needs the e-invoicing mandate"),
        (template_form(integration_product=str(yuki), delivery_email="not an address"), "is not a valid e-mail address"),
    ]
    for form, message in cases:
        response = post(http, "/admin/template/new/", form)
        assert response.status_code == 200, message
        assert message in unescape(response.text), message
    assert db_session.scalar(sa.select(sa.func.count(ConfigTemplate.id))) == 0


def test_templates_are_for_admins_only(make, as_user):
    for role in (Role.STAFF, Role.SUPERVISOR):
        http = as_user(make.user(role))
        assert http.get("/admin/template/").status_code == 403
        assert post(http, "/admin/template/new/", template_form()).status_code == 403
