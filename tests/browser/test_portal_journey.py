"""A client's first day in the portal, as the client goes through it: the invitation e-mail, the access, the
onboarding checklist, a document uploaded, a correction proposed, a colleague invited, and the colleague's own
acceptance. The screenshots of the portal in the README are taken here."""
import re

from clientdesk.models import ClientUser, Contact, Document, Role
from tests.browser.conftest import SCREENSHOTS
from tests.helpers import post
from tests.servers import wait_for

LINK = re.compile(r"http://clientdesk\.test(/invitation/[\w-]+)")
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def invitation_path(smtp, address: str) -> str:
    message = wait_for(lambda: next((m for m in smtp.messages if m["To"] == address), None))
    return LINK.search(message.get_body(preferencelist=("plain",)).get_content()).group(1)


def accept(page, path: str, password: str) -> None:
    page.context.clear_cookies()
    page.goto(path)
    page.get_by_label("Choose a password").fill(password)
    page.get_by_label("Repeat the password").fill(password)
    page.get_by_label("I accept the terms of use").check()
    page.get_by_role("button", name="Activate my access").click()
    page.wait_for_url(re.compile(r"/portal/$"))


def test_a_client_goes_from_the_invitation_to_a_finished_onboarding_and_a_colleague(page, make, store, as_user, worker,
                                                                                  smtp, screenshot, tmp_path):
    team = make.group("Team Brussels")
    staff = make.user(Role.STAFF, groups=[team])
    acme = make.client(team, name="Atelier Maes NV", status="created")
    store.run(lambda s: s.get(Contact, acme.contacts[0].id).__setattr__("language", "en-BE"))
    owner_email = acme.contacts[0].email

    assert post(as_user(staff), "/admin/client/lifecycle/", {"id": acme.id, "action": "invite"}).status_code == 302
    accept(page, invitation_path(smtp, owner_email), "quiet-river-stones")
    page.get_by_role("heading", name="Atelier Maes NV").wait_for()
    assert page.get_by_role("progressbar").get_attribute("aria-valuenow") == "0"

    # The checklist, one step after the other.
    page.get_by_placeholder("IBAN").fill("BE71 0961 2345 6769")
    page.locator("form[action$='/portal/bank-accounts'] button").click()
    page.get_by_text("The bank account is added.").wait_for()
    for placeholder, value in (("Street", "Rue de la Loi"), ("Number", "16"), ("Postal code", "1000"), ("City", "Bruxelles")):
        page.get_by_placeholder(placeholder, exact=True).first.fill(value)
    page.locator("form[action$='/portal/billing-address'] button").click()
    page.get_by_text("The billing address is saved.").wait_for()
    page.get_by_label(re.compile("I give the e-invoicing mandate")).check()
    page.get_by_role("button", name="Give the mandate").click()
    page.get_by_text("the e-invoicing mandate is recorded").wait_for()
    page.get_by_placeholder("Address or @domain").fill("@supplier.example.com")
    page.locator("form[action$='/portal/allowed-senders'] button").click()
    page.get_by_text("The sender is allowed.").wait_for()
    assert page.get_by_role("progressbar").get_attribute("aria-valuenow") == "100"
    screenshot("portal-checklist")

    # A document uploaded into the Inbox.
    page.get_by_role("link", name="Documents").first.click()
    invoice = tmp_path / "invoice-2026-001.pdf"
    invoice.write_bytes(PDF)
    page.locator("input[type=file]").set_input_files(str(invoice))
    page.get_by_role("button", name="Upload").click()
    page.get_by_role("cell", name="invoice-2026-001.pdf").wait_for()
    screenshot("portal-documents")
    assert store.one(Document, client_id=acme.id).filename == "invoice-2026-001.pdf"

    # A correction of what only the firm edits, proposed.
    page.get_by_role("link", name="Corrections").click()
    page.locator("#street").fill("Wetstraat")
    page.get_by_role("button", name="Propose this correction").click()
    page.get_by_text("your correction is sent to the firm").wait_for()
    screenshot("portal-corrections")

    # A colleague invited, who accepts in turn and lands in the portal as a member.
    page.get_by_role("link", name="Users").click()
    page.get_by_label("First name").fill("Luc")
    page.get_by_label("Last name").fill("Maes")
    page.get_by_label("E-mail").fill("luc@ateliermaes.example.com")
    page.locator("select#role").select_option("member")
    page.locator("select#language").select_option("en-BE")
    page.get_by_role("button", name="Send the invitation").click()
    page.get_by_text("luc@ateliermaes.example.com").first.wait_for()
    screenshot("portal-users")

    accept(page, invitation_path(smtp, "luc@ateliermaes.example.com"), "blue-harbour-lantern")
    page.get_by_role("heading", name="Atelier Maes NV").wait_for()
    assert page.get_by_role("progressbar").get_attribute("aria-valuenow") == "100"  # the company's, shared
    page.get_by_role("link", name="Users").click()
    assert page.get_by_role("button", name="Send the invitation").count() == 0  # members do not invite
    luc = store.one(ClientUser, email="luc@ateliermaes.example.com")
    assert (luc.client_id, luc.role) == (acme.id, "member")
    assert all((SCREENSHOTS / f"{name}.png").exists() for name in ("portal-checklist", "portal-documents", "portal-users"))
