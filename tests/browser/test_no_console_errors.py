"""Every main page, for every role and in every language, loads without a JavaScript error, a console error or a
failed request (any answer of 400 or more, or a request that does not load: the favicon included)."""
import pytest

from clientdesk.lifecycle import ClientLifecycle
from clientdesk.models import Client, ClientStatus, Document, Role, Task, TaskStatus, utcnow
from tests.helpers import PASSWORD

LANGUAGES = ("en", "fr", "nl")
ROLES = (Role.STAFF, Role.SUPERVISOR, Role.ADMIN)
CLIENT_TABS = ("contacts", "documents", "integration", "senders", "bank", "activity", "overview")
ADMIN_PAGES = ("/admin/audit/", "/admin/import/", "/admin/template/", "/admin/user/", "/admin/group/", "/admin/firm/edit/?id=1")


class Problems:
    """What went wrong in the browser, by the page it happened on."""

    def __init__(self, page):
        self.page, self.where, self.found, self.icons = page, "", [], set()
        page.on("console", lambda message: message.type == "error" and self.add(
            f"console: {message.text} ({message.location.get('url')})"))
        page.on("pageerror", lambda error: self.add(f"script error: {error}"))
        page.on("requestfailed", self.request_failed)
        page.on("response", lambda response: response.status >= 400 and self.add(f"{response.status} {response.url}"))

    def add(self, problem: str):
        self.found.append(f"{self.where}: {problem}")

    def request_failed(self, request):
        if request.failure != "net::ERR_ABORTED":  # cut short by the browser (e.g. by the next page), not refused
            self.add(f"failed to load {request.url}: {request.failure}")

    def visit(self, label: str, load):
        """Load a page (`load`: its URL, or what to do in the current page that leads to it), then its icon:
        Chromium asks for an icon once and remembers a failure for the whole browser, so that is asked here."""
        self.where = label
        if isinstance(load, str):
            self.page.goto(load)
        else:
            with self.page.expect_navigation():
                load()
        icon = self.page.evaluate("(document.querySelector('link[rel~=icon]') || {}).href || '/favicon.ico'")
        if icon not in self.icons:
            self.icons.add(icon)
            answer = self.page.request.get(icon)
            if not answer.ok:
                self.add(f"{answer.status} {answer.url} (the page's icon)")


@pytest.fixture
def portfolio(make, store):
    """A team with a client that has something on every tab, an invited client, a task, and each role's user."""
    team = make.group("Team Gent")
    acme = make.client(team, name="Drukkerij Claes BV", contacts=2, ibans=["BE71096123456769"])
    invited = make.client(team, name="Bakkerij Peeters BV")
    users = {role: make.user(role, groups=[team]) for role in ROLES}

    def build(session):
        session.add(Document(client_id=acme.id, filename="invoice-1.pdf", storage_path="nowhere/invoice-1.pdf",
                             content_type="application/pdf", size=1024, sender="billing@supplier.example.com"))
        session.add(Task(id="console-task", kind="bulk_invite", description="Invite 1 client", status=TaskStatus.FINISHED.value,
                         progress_done=1, progress_total=1, client_id=acme.id, ended_at=utcnow()))
        invitation = ClientLifecycle.invite(session.get(Client, invited.id))
        return invitation.token

    token = store.run(build)
    assert store.get(Client, invited.id).status == ClientStatus.INVITED
    return {"client": acme, "users": users, "token": token}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.value)
def test_main_pages_load_without_console_errors_or_failed_requests(browser, live_server, portfolio, role, language):
    context = browser.new_context(base_url=live_server, locale=f"{language}-BE")
    page = context.new_page()
    page.set_default_timeout(15000)
    problems = Problems(page)
    try:
        problems.visit("sign-in", "/login")
        page.locator("input[name=email]").fill(portfolio["users"][role].email)
        page.locator("input[name=password]").fill(PASSWORD)
        problems.visit("dashboard", lambda: page.locator("input[name=password]").press("Enter"))
        assert page.url.endswith("/admin/") and page.locator("html").get_attribute("lang") == language

        problems.visit("client list", "/admin/client/")
        problems.visit("client list columns", "/admin/client/columns/?url=/admin/client/")
        page.get_by_role("button").and_(page.locator("[value='up:status']")).click()
        problems.visit("client page", f"/admin/client/details/?id={portfolio['client'].id}")
        for tab in CLIENT_TABS:
            problems.where = f"client page, tab {tab}"
            page.locator(f"#tab-{tab}").click()
            page.locator(f"#{tab}.active").wait_for()

        problems.visit("new-client wizard, company", "/admin/client/new-wizard/")
        page.locator("input[name=name]").fill("Nouvelle Société SRL")
        page.locator("input[name=skip_vat_check]").check()
        problems.visit("new-client wizard, details", lambda: page.locator("button[name=action][value=next]").click())
        assert page.url.endswith("/new-wizard/details/")
        page.locator("input[name=first_name]").fill("Élodie")
        page.locator("input[name=last_name]").fill("Lefèvre")
        page.locator("input[name=email]").fill("elodie@nouvelle.example.com")
        problems.visit("new-client wizard, summary", lambda: page.locator("button[name=action][value=next]").click())
        assert page.url.endswith("/new-wizard/summary/")

        problems.visit("tasks", "/admin/task/")
        problems.visit("task", "/admin/task/details/?id=console-task")
        problems.visit("documents", "/admin/document/")
        if role == Role.ADMIN:
            for path in ADMIN_PAGES:
                problems.visit(path, path)
        problems.visit("invitation page", f"/invitation/{portfolio['token']}")
    finally:
        context.close()
    assert not problems.found, "\n".join(problems.found)
