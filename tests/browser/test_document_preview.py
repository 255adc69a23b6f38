"""A document's preview from the client page's Documents tab, in the browser: an image shown in a tab of its own."""
import base64

from clientdesk.models import Document, Role, utcnow
from clientdesk.services.storage import DocumentStore
from tests.browser.conftest import sign_in
from tests.helpers import PASSWORD

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def test_a_receipt_previews_in_a_new_tab(page, app, make, store):
    group = make.group("Team Gent")
    acme = make.client(group, name="Drukkerij Claes BV")
    staff = make.user(Role.STAFF, groups=[group], email="griet@example.com")
    path = DocumentStore.from_config(app.config).save(acme.id, "ticket.png", PNG)
    store.run(lambda s: s.add(Document(client_id=acme.id, filename="ticket.png", content_type="image/png", size=len(PNG),
                                       storage_path=path, doc_type="purchase", status="inbox", received_at=utcnow())))
    sign_in(page, staff.email, PASSWORD)

    page.goto(f"/admin/client/details/?id={acme.id}")
    page.get_by_role("tab", name="Documents").click()
    assert page.get_by_role("cell", name="ticket.png").is_visible()
    with page.context.expect_page() as opened:
        page.get_by_role("link", name="Preview").click()
    preview = opened.value
    preview.wait_for_load_state()
    assert preview.evaluate("document.images[0].naturalWidth") == 1  # shown, not downloaded, under the sandbox
