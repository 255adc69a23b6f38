"""Outside effects that did not go through, shown: the client-list filters, the dashboard's counts and links to
exactly those rows, and the bulk "retry now" on selected clients (scoped, supervisors only, real worker and
access point)."""
import re
from datetime import timedelta

import pytest

from clientdesk.models import Client, Document, Role, Task, utcnow
from tests.helpers import flashes, post
from tests.servers import run_worker_burst
from tests.test_dashboard import LIST_COUNT, dashboard_links

REPLY = "The Peppol access point could not be reached (Connection refused)"


def retrying_peppol(at=None) -> dict:
    now = utcnow()
    return {"peppol_send": True, "peppol_state": "pending", "peppol_message": REPLY, "peppol_first_failed_at": now,
            "peppol_failed_attempts": 1, "peppol_retry_at": at or now + timedelta(minutes=5)}


@pytest.fixture
def failures(make, store):
    north, south = make.group("North"), make.group("South")
    rows = {
        "peppol_failed": make.client(north, name="Peppol Failed BV", peppol_send=True, peppol_state="failed",
                                     peppol_message="HTTP 400: name too long"),
        "peppol_retrying": make.client(south, name="Peppol Retrying BV", **retrying_peppol()),
        "peppol_pending": make.client(north, name="Peppol Pending BV", peppol_send=True, peppol_state="pending"),
        "delivery_failed": make.client(north, name="Delivery Failed BV"),
        "delivery_retrying": make.client(south, name="Delivery Retrying BV"),
        "fine": make.client(south, name="All Fine BV"),
    }

    def document(client, name, **fields):
        store.run(lambda s: s.add(Document(client_id=client.id, filename=name, storage_path="x", **fields)))

    document(rows["delivery_failed"], "failed.pdf", status="failed", error="HTTP 422: unknown VAT number")
    document(rows["delivery_failed"], "waiting.pdf", status="inbox")
    document(rows["delivery_retrying"], "retrying.pdf", status="inbox", error="HTTP 503", failed_attempts=1,
             first_failed_at=utcnow(), retry_at=utcnow() + timedelta(minutes=5))
    document(rows["fine"], "sent.pdf", status="sent")
    return rows | {"north": north, "south": south}


def listed(http, url) -> set[str]:
    return set(re.findall(r'>([^<>]+ BV)</a>', http.get(url).text))


def test_filters_show_exactly_the_failed_or_retrying_rows(failures, make, as_user):
    http = as_user(make.user(Role.SUPERVISOR))
    assert listed(http, "/admin/client/?flt0_peppol_registration_not_done=any") == {"Peppol Failed BV", "Peppol Retrying BV"}
    assert listed(http, "/admin/client/?flt0_peppol_registration_not_done=failed") == {"Peppol Failed BV"}
    assert listed(http, "/admin/client/?flt0_peppol_registration_not_done=retrying") == {"Peppol Retrying BV"}
    assert listed(http, "/admin/client/?flt0_document_delivery_not_done=any") == {"Delivery Failed BV", "Delivery Retrying BV"}
    assert listed(http, "/admin/client/?flt0_document_delivery_not_done=retrying") == {"Delivery Retrying BV"}
    assert listed(http, "/admin/client/?flt0_document_delivery_not_done=nonsense") >= {"All Fine BV"}  # ignored, not a 500
    page = http.get("/admin/client/?flt0_peppol_registration_not_done=retrying").text
    assert "retrying" in page and "could not be reached" in page  # the badge carries the reply

    documents = http.get("/admin/document/?flt0_delivery_not_done=any").text
    assert "failed.pdf" in documents and "retrying.pdf" in documents and "waiting.pdf" not in documents
    assert "unknown VAT number" in documents and "Retrying at" in documents


def test_dashboard_counts_them_and_links_to_exactly_those_rows(failures, make, as_user):
    http = as_user(make.user(Role.SUPERVISOR))
    page = http.get("/admin/")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text))
    assert "2 not done: failed or retrying" in text
    assert "2 clients with a document delivery failed or retrying" in text
    links = dict(dashboard_links(page.text))
    for name in ("peppol_registration_not_done=any", "document_delivery_not_done=any"):
        href, = [href for href in links if name in href]
        assert int(LIST_COUNT.search(http.get(href).text).group(1)) == links[href] == 2

    staff = as_user(make.user(Role.STAFF, groups=[failures["north"]]))
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", staff.get("/admin/").text))
    assert "1 not done: failed or retrying" in text and "1 clients with a document delivery failed or retrying" in text


def test_bulk_retry_starts_the_selected_clients_registrations_and_deliveries_now(failures, make, as_user, app_config,
                                                                                 peppol, store):
    supervisor = as_user(make.user(Role.SUPERVISOR))
    selected = [failures[name].id for name in ("peppol_failed", "peppol_retrying", "delivery_failed", "delivery_retrying", "fine")]
    response = post(supervisor, "/admin/client/action/", {"action": "retry_deliveries", "rowid": [str(i) for i in selected]})
    assert response.headers["Location"].endswith("/admin/task/")  # two tasks: registrations, deliveries

    for name in ("peppol_failed", "peppol_retrying"):
        client = store.get(Client, failures[name].id)
        assert (client.peppol_state, client.peppol_retry_at, client.peppol_message) == ("pending", None, None)
    assert all(d.retry_at is None for d in store.all(Document))  # started now: the reconciler leaves them alone
    registrations, = store.all(Task, kind="peppol_sync")
    deliveries, = store.all(Task, kind="send_documents")
    assert (registrations.progress_total, deliveries.progress_total) == (2, 2)

    run_worker_burst(app_config, **peppol.env)
    for name in ("peppol_failed", "peppol_retrying"):
        assert store.get(Client, failures[name].id).peppol_state == "registered"
    # no accounting software connected: the deliveries are skipped with that reason, and stay where they were
    assert "no accounting software connected" in store.get(Task, deliveries.id).result["skipped"][0]["reason"]


def test_bulk_retry_is_for_supervisors_and_stays_in_scope(failures, make, as_user, peppol, store):
    staff = as_user(make.user(Role.STAFF, groups=[failures["north"]]))
    post(staff, "/admin/client/action/", {"action": "retry_deliveries", "rowid": [str(failures["peppol_failed"].id)]})
    assert store.count(Task) == 0 and store.get(Client, failures["peppol_failed"].id).peppol_state == "failed"

    outside = make.client(make.group("Elsewhere"), hidden=True, **retrying_peppol())
    supervisor = as_user(make.user(Role.SUPERVISOR))
    response = post(supervisor, "/admin/client/action/", {"action": "retry_deliveries", "rowid": [str(outside.id)]},
                    follow_redirects=True)
    assert any("None of the selected clients" in m for m in flashes(response.text))
    assert store.count(Task) == 0 and store.get(Client, outside.id).peppol_retry_at is not None

    response = post(supervisor, "/admin/client/action/", {"action": "retry_deliveries", "rowid": [str(failures["fine"].id)]},
                    follow_redirects=True)
    assert any("None of the selected clients has a failed or retrying" in m for m in flashes(response.text))
    no_token = supervisor.post("/admin/client/action/", data={"action": "retry_deliveries",
                                                              "rowid": [str(failures["peppol_failed"].id)]})
    assert no_token.status_code in (302, 400) and store.count(Task) == 0
