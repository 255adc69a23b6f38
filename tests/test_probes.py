"""Black-box probes: every route of the app, as every kind of visitor, with malformed input. No answer may be a
500, and every answer carries the security headers.

One test per visitor and kind of bad input; each walks every route (GET with the bad values in the query string,
POST with them in the query string and the form, with a valid CSRF token so that the form is read) and fails
naming every route that answered wrongly. The 10,000-character kind goes into the forms, for an existing row of the
screen; its URLs get the longest value a URL may carry (longer ones are refused whole, see test_malformed_input)."""
import json
import re

import pytest

from clientdesk.models import AllowedSender, ClientIntegration, Document, IntegrationProduct, Role, Task
from clientdesk.web_input import MAX_QUERY_VALUE_LENGTH
from tests.helpers import csrf_token, login, portal_login

ROLES = ("anonymous", Role.STAFF.value, Role.SUPERVISOR.value, Role.ADMIN.value)
CLIENT_USER = "client user"  # signed in to the portal (/portal/login)
VISITORS = (*ROLES, CLIENT_USER)

BAD_VALUES = {
    "nul": "probe\x00value",
    "int32": str(2**31),
    "huge": str(10**23),
    "negative": "-1",
    "long": "1" * 10_000,  # a 10,000-digit number is also a 10,000-character text
}

# The names the app's pages read from the query string or a form, besides each model form's own fields.
PARAMETERS = ("id", "rowid", "page", "page_size", "sort", "search", "url", "next", "query", "q", "name", "limit", "action",
              "language", "password", "password_confirm", "email", "text", "switch", "enterprise_number", "country", "iban",
              "first_name", "last_name", "pattern", "group", "contact", "client")

LOGOUT = "auth.logout"
STATIC = {"static", "admin.static"}
SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy")


ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def _path(rule, value: str) -> str:
    """The rule's path with every argument set to `value` (an <int:> argument takes it only if it is digits)."""
    def argument(match):
        return value.replace("\x00", "%00") if match.group(1) != "int" or value.isdigit() else "1"

    return ARGUMENT.sub(argument, rule.rule)


@pytest.fixture
def world(app, make, store):
    """A user per role and one row of each kind (ids by admin endpoint), among them a document whose stored path
    is outside the documents folder."""
    group = make.group("Team Probe")
    users = {role: make.user(role, groups=[group]) for role in ROLES[1:]}
    acme = make.client(group, ibans=["BE68539007547034"])
    portal_company = make.client(group, status="active", ibans=["BE71096123456769"])
    client_user = make.client_user(portal_company)

    def rows(s):
        product = s.query(IntegrationProduct).first()
        s.add(AllowedSender(client_id=acme.id, pattern="@example.com"))
        s.add(ClientIntegration(client_id=acme.id, product_id=product.id))
        task = Task(id="probe-task", kind="invite", status="finished")
        outside = Document(client_id=acme.id, filename="outside.pdf", storage_path="../../outside.pdf")
        s.add_all([task, outside])
        s.flush()
        return {"client": acme.id, "group": group.id, "user": users[Role.STAFF.value].id, "task": task.id,
                "document": outside.id, "contact": acme.contacts[0].id, "bankaccount": acme.bank_accounts[0].id,
                "allowedsender": s.query(AllowedSender.id).scalar(), "integration": product.id,
                "clientintegration": s.query(ClientIntegration.id).scalar(),
                "portal": portal_company.bank_accounts[0].id}

    return {"group": group, "users": users, "client": acme, "client_user": client_user, "ids": store.run(rows)}


def _signed_in(app, role, world):
    http = app.test_client()
    if role == CLIENT_USER:
        portal_login(http, world["client_user"].email)
    elif role != "anonymous":
        login(http, world["users"][role].email)
    return http


_filter_args: dict[str, list[str]] = {}  # by admin endpoint: the named filter arguments of its list (flt0_<name>)


def _collect_filters(app, world):
    """Read once from the list pages as an admin sees them (the filter groups' JSON)."""
    if _filter_args:
        return
    http = _signed_in(app, Role.ADMIN.value, world)
    for rule in app.url_map.iter_rules():
        if rule.endpoint.endswith(".index_view"):
            page = http.get(rule.rule).text
            found = re.search(r'<div id="filter-groups-data" class="d-none">(.*?)</div>', page, re.S)
            groups = json.loads(found.group(1)) if found else {}
            _filter_args[rule.endpoint.split(".")[0]] = sorted({f["arg"] for items in groups.values() for f in items})


def _routes(app):
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint not in STATIC]
    return sorted(rules, key=lambda rule: (rule.endpoint == LOGOUT, rule.rule))


@pytest.mark.long
@pytest.mark.parametrize("kind", BAD_VALUES)
@pytest.mark.parametrize("role", VISITORS)
def test_no_route_answers_500_to_malformed_input(app, world, role, kind):
    _collect_filters(app, world)
    value = BAD_VALUES[kind]
    http = _signed_in(app, role, world)
    wrong = []
    for rule in _routes(app):
        path = _path(rule, value)
        form = {name: value for name in PARAMETERS}
        query = dict(form)
        if kind == "long":  # the forms get the long values, for an existing row; the URL the longest values it takes
            row = world["ids"].get(rule.endpoint.split(".")[0], 1)
            form.update(id=row, rowid=row)
            query = {name: value[:MAX_QUERY_VALUE_LENGTH] for name in PARAMETERS} | {"id": row, "rowid": row}
        query.update({f"flt{i}_{arg}": query["search"] for i, arg in enumerate(_filter_args.get(rule.endpoint.split(".")[0], []))})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            try:
                if method == "GET":
                    response = http.get(path, query_string=query)
                else:
                    response = http.post(path, query_string=query, data=dict(form, csrf_token=csrf_token(http, path)))
            except Exception as error:  # TESTING: an error the app did not handle reaches the test instead of a 500
                wrong.append(f"{method} {rule.rule}: {type(error).__name__}: {str(error)[:200]}")
                continue
            response.close()  # a file the route sends (favicon.ico) stays open until its response is closed
            missing = [header for header in SECURITY_HEADERS if header not in response.headers]
            if response.status_code >= 500 or missing:
                wrong.append(f"{method} {rule.rule}: {response.status_code}" + (f", no {', '.join(missing)}" if missing else ""))
    assert not wrong, f"{role}, {kind}:\n" + "\n".join(wrong)
