"""Browser tests: Debian's Chromium driven by Playwright, against the app served by a real HTTP server
in this process, with a real worker process and a real SMTP server."""
import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.servers import SERVE_POLL_SECONDS, free_port, start_worker, stop_process

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-dev-shm-usage"]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "browser" in str(item.fspath):
            item.add_marker(pytest.mark.xdist_group("browser"))  # one Chromium, in one process (--dist loadgroup), once
            # pytest-xdist honours groups again under pytest 9.2 (pytest-xdist issue #1386)
    if shutil.which(CHROMIUM) or os.path.exists(CHROMIUM):
        return
    if os.environ.get("REQUIRE_BROWSER"):
        raise pytest.UsageError(f"REQUIRE_BROWSER is set but Chromium is not at {CHROMIUM} (apt-get install chromium)")
    skip = pytest.mark.skip(reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    for item in items:
        if "browser" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def live_server(app):
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(SERVE_POLL_SECONDS,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server, viewport={"width": 1400, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15000)
    refused = []  # what the Content Security Policy blocked: a script or handler of ours that it stops from running
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None)
    yield page
    context.close()
    assert not refused, "blocked by the Content Security Policy:\n" + "\n".join(refused)


@pytest.fixture
def worker(app_config, smtp):
    process = start_worker(app_config, MAIL_URL=smtp.url)
    yield process
    stop_process(process)


@pytest.fixture
def screenshot(page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str):
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)

    return take


def sign_in(page, email, password):
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin/")
