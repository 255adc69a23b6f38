"""Peppol switches against a real DNS server (the SML), a real SMP and a real access point, run by a
real worker process."""
from datetime import timedelta
from types import SimpleNamespace

import pytest

from clientdesk.jobs.peppol import retry_due
from clientdesk.models import Client, Role, Task, utcnow
from clientdesk.retries import DELAYS_MINUTES
from clientdesk.services.peppol import BILLING_DOCUMENT_TYPES, Sml, sml_hostname
from tests.helpers import flashes, post
from tests.outside import SML_TEST_ZONE as ZONE, DnsServer, HttpServer, SmpApp
from tests.servers import run_worker_burst

FIRST_DELAY = timedelta(minutes=DELAYS_MINUTES[0])


@pytest.mark.parametrize("participant, expected", [
    # phax PeppolNaptrURLProviderTest (lower-case base32)
    ("9915:test", "eh5boavaktmbgzyh2a63dz4qov33fvp5nsdvqklucfraayoodw6a"),
    ("0088:1234567890123", "sjsyvccmqyjxk3weuapffq4x3umcrf4qryherj4vovhmonh7gccq"),
    ("0010:5798000000001", "xukhfqabqziki3ykvr2fhr4snfa3pf5vpq6k4tonv3lmvsy5arvq"),
    # the published Belgian examples: 0208 without BE, 9925 with it, case-insensitive
    ("0208:0403170701", "7HPKIXRGBLPXSLUMTIUCYA6Q74POZARDF2VSBY67RW75B7GOPIYQ"),
    ("9925:BE0403170701", "PUSZIR5WEQK4QJNIIQ56WAH5K2VZQZDPCQ5JZWF362REITS5YD6Q"),
    ("9925:be0403170701", "PUSZIR5WEQK4QJNIIQ56WAH5K2VZQZDPCQ5JZWF362REITS5YD6Q"),
])
def test_sml_name_matches_the_published_vectors(participant, expected):
    assert sml_hostname(participant, ZONE).lower() == f"{expected}.iso6523-actorid-upis.{ZONE}".lower()


def test_sml_lookup_reads_the_naptr_record_of_a_real_dns_server():
    dns = DnsServer().start()
    try:
        dns.register(sml_hostname("9915:test", ZONE), "https://test.erechnung.gv.at/smp")
        sml = Sml(ZONE, dns.address)
        assert sml.smp_url("9915:TEST") == "https://test.erechnung.gv.at/smp"
        assert sml.smp_url("0208:0403170701") is None  # NXDOMAIN: nobody holds it
        assert dns.resolver.queries[0] == (sml_hostname("9915:test", ZONE).lower(), "NAPTR")
    finally:
        dns.stop()


@pytest.fixture
def team(make):
    group = make.group("Team P")
    return SimpleNamespace(group=group, staff=make.user(Role.STAFF, groups=[group]), supervisor=make.user(Role.SUPERVISOR))


def toggle(http, client_id, switch, on):
    return post(http, "/admin/client/peppol/", {"id": client_id, "switch": switch, "on": "1" if on else "0"})


def participant(client) -> str:
    return f"iso6523-actorid-upis::0208:{client.enterprise_number}"


def test_receive_on_registers_a_free_participant_then_off_unregisters(team, make, as_user, app_config, peppol, store):
    acme = make.client(team.group, name="Brasserie Lambiek BV", e_invoicing_mandate=True)
    http = as_user(team.staff)
    assert toggle(http, acme.id, "receive", True).status_code == 302
    pending = store.get(Client, acme.id)
    assert (pending.peppol_receive, pending.peppol_state) == (True, "pending")
    assert "Pending: the registration is being checked" in http.get(f"/admin/client/details/?id={acme.id}").text
    assert peppol.ap.app.calls == []  # nothing leaves before the worker runs

    run_worker_burst(app_config, **peppol.env)

    client = store.get(Client, acme.id)
    assert (client.peppol_receive, client.peppol_state, client.peppol_message) == (True, "registered", None)
    asked = {name for name, qtype in peppol.dns.resolver.queries if qtype == "NAPTR"}
    assert asked == {sml_hostname(f"0208:{acme.enterprise_number}", ZONE).lower(),
                     sml_hostname(f"9925:BE{acme.enterprise_number}", ZONE).lower()}
    registration = peppol.ap.app.participants[participant(acme)]
    assert registration["receive"] is True and registration["send"] is False
    assert registration["document_types"] == list(BILLING_DOCUMENT_TYPES)
    assert registration["name"] == "Brasserie Lambiek BV" and registration["country"] == "BE"

    toggle(http, acme.id, "receive", False)
    run_worker_burst(app_config, **peppol.env)
    assert participant(acme) not in peppol.ap.app.participants
    assert ("DELETE", participant(acme)) in peppol.ap.app.calls
    client = store.get(Client, acme.id)
    assert (client.peppol_receive, client.peppol_state) == (False, "off")


@pytest.mark.parametrize("scheme", ["0208", "9925"])
def test_taken_by_another_provider_changes_nothing_and_warns(scheme, team, make, as_user, app_config, peppol, store):
    acme = make.client(team.group, name="Frituur Sint-Jan", e_invoicing_mandate=True)
    held = f"{scheme}:{'BE' if scheme == '9925' else ''}{acme.enterprise_number}"
    peppol.dns.register(sml_hostname(held, ZONE), peppol.smp.url)
    peppol.smp.app.participants.add(f"iso6523-actorid-upis::{held}")
    http = as_user(team.staff)
    toggle(http, acme.id, "send", True)
    toggle(http, acme.id, "receive", True)

    run_worker_burst(app_config, **peppol.env)

    client = store.get(Client, acme.id)
    assert (client.peppol_state, client.peppol_receive, client.peppol_send) == ("taken", False, True)
    assert client.peppol_other_smp == peppol.smp.url
    assert client.peppol_other_provider == "Other Access Point NV, peppol@other-provider.example"
    # sending does not need the exclusive registration: registered as a sender only
    registration = peppol.ap.app.participants[participant(acme)]
    assert (registration["send"], registration["receive"], registration["document_types"]) == (True, False, [])
    page = http.get(f"/admin/client/details/?id={acme.id}").text
    assert "Registered with another provider." in page and "127.0.0.1" in page and "Other Access Point NV" in page
    assert "migration key" in page and "ask that provider to deregister" in page
    assert "other provider" in http.get("/admin/client/").text  # the list shows it too


def test_an_smp_inside_the_network_is_not_asked(team, make, as_user, app_config, peppol, store):
    """The SML is the outside world's: an SMP address it gives that is inside our network is not requested; the
    SML's answer alone says the participant is taken."""
    inside = HttpServer(SmpApp(), host="127.0.0.2").start()
    try:
        acme = make.client(team.group, e_invoicing_mandate=True)
        held = f"0208:{acme.enterprise_number}"
        peppol.dns.register(sml_hostname(held, ZONE), inside.url)
        inside.app.participants.add(f"iso6523-actorid-upis::{held}")
        http = as_user(team.staff)
        toggle(http, acme.id, "receive", True)
        run_worker_burst(app_config, **peppol.env)
        client = store.get(Client, acme.id)
        assert (client.peppol_state, client.peppol_other_smp, client.peppol_other_provider) == ("taken", inside.url, None)
        assert inside.app.requests == []
    finally:
        inside.stop()


def test_access_point_refusal_is_shown_as_taken(team, make, as_user, app_config, peppol, store):
    """The SML has no record yet (e.g. just registered elsewhere), but the access point's SML call refuses."""
    acme = make.client(team.group, e_invoicing_mandate=True)
    peppol.ap.app.sml_taken.add(participant(acme))
    toggle(as_user(team.staff), acme.id, "receive", True)
    run_worker_burst(app_config, **peppol.env)
    client = store.get(Client, acme.id)
    assert client.peppol_state == "taken" and "ERR-106" in client.peppol_message and client.peppol_receive is False
    assert participant(acme) not in peppol.ap.app.participants


def due_now(store, client_id):
    """Bring the client's scheduled retry to now, as if its delay had passed."""
    store.update(Client, client_id, peppol_retry_at=utcnow() - timedelta(seconds=1))


def test_access_point_down_is_retried_with_its_reply_then_registered(team, make, as_user, app, app_config, peppol, store):
    acme = make.client(team.group, e_invoicing_mandate=True)
    http = as_user(team.staff)
    peppol.ap.stop()
    toggle(http, acme.id, "receive", True)
    before = utcnow()
    run_worker_burst(app_config, **peppol.env)

    client = store.get(Client, acme.id)
    assert client.peppol_state == "pending" and "could not be reached" in client.peppol_message
    assert before + FIRST_DELAY - timedelta(seconds=1) < client.peppol_retry_at <= utcnow() + FIRST_DELAY  # the first delay
    assert (client.peppol_failed_attempts, client.peppol_receive) == (1, True)
    task = store.one(Task)
    assert task.status == "finished" and "1 client will be tried again automatically" in task.error
    assert "could not be reached" in task.result["retrying"][0]["reason"]
    page = http.get(f"/admin/client/details/?id={acme.id}").text
    assert "Retrying at" in page and "could not be reached" in page and "Try again now" in page
    assert "retrying" in http.get("/admin/client/").text

    store.update(Client, acme.id, peppol_retry_at=utcnow() + timedelta(minutes=1))  # a loaded machine may be past the first
    with app.app_context():
        assert retry_due() == 0  # not due yet
    peppol.ap.start()
    due_now(store, acme.id)
    with app.app_context():
        assert retry_due() == 1
        assert retry_due() == 0  # claimed: a second call does not start it twice
    retried = store.get(Client, acme.id)
    assert retried.peppol_state == "pending" and retried.peppol_retry_at > utcnow()  # leased to its task
    retry_task, = [t for t in store.all(Task) if t.id != task.id]
    assert (retry_task.kind, retry_task.user_id, retry_task.status) == ("peppol_sync", None, "queued")

    run_worker_burst(app_config, **peppol.env)
    client = store.get(Client, acme.id)
    assert (client.peppol_state, client.peppol_message, client.peppol_retry_at, client.peppol_first_failed_at,
            client.peppol_failed_attempts) == ("registered", None, None, None, 0)
    assert store.get(Task, retry_task.id).status == "finished"
    assert peppol.ap.app.participants[participant(acme)]["receive"] is True


def test_a_5xx_answer_is_retried_and_a_refusal_fails_at_once(team, make, as_user, app_config, peppol, store):
    busy = make.client(team.group, name="Busy BV", e_invoicing_mandate=True)
    refused = make.client(team.group, name="Refused BV", peppol_send=True, peppol_state="failed", peppol_message="earlier")
    http = as_user(team.staff)
    peppol.ap.app.fail_with = (503, "maintenance until 14:00")
    toggle(http, busy.id, "receive", True)
    run_worker_burst(app_config, **peppol.env)
    client = store.get(Client, busy.id)
    assert client.peppol_state == "pending" and client.peppol_retry_at is not None
    assert "HTTP 503" in client.peppol_message and "maintenance until 14:00" in client.peppol_message

    peppol.ap.app.fail_with = (400, "name: too long for the SMP")
    post(http, "/admin/client/peppol/", {"id": refused.id, "switch": "retry"})
    run_worker_burst(app_config, **peppol.env)
    client = store.get(Client, refused.id)
    assert (client.peppol_state, client.peppol_retry_at, client.peppol_first_failed_at) == ("failed", None, None)
    assert "HTTP 400" in client.peppol_message and "too long for the SMP" in client.peppol_message
    task = store.one(Task, client_id=refused.id)
    assert task.status == "finished" and "1 client not registered" in task.error and "too long" in task.error


def test_retries_end_in_failed_when_the_window_is_over(team, make, app, app_config, peppol, store):
    first = utcnow() - timedelta(hours=24)
    acme = make.client(team.group, e_invoicing_mandate=True, peppol_receive=True, peppol_state="pending",
                       peppol_message="The Peppol access point could not be reached", peppol_first_failed_at=first,
                       peppol_failed_attempts=14, peppol_retry_at=utcnow() - timedelta(seconds=1))
    peppol.ap.stop()
    with app.app_context():
        assert retry_due() == 1
    run_worker_burst(app_config, **peppol.env)
    client = store.get(Client, acme.id)
    assert (client.peppol_state, client.peppol_retry_at) == ("failed", None)
    assert "could not be reached" in client.peppol_message
    assert "1 client not registered" in store.one(Task).error


def test_try_again_from_the_client_page(team, make, as_user, app_config, peppol, store):
    acme = make.client(team.group, e_invoicing_mandate=True, peppol_send=True, peppol_state="failed",
                       peppol_message="The Peppol access point could not be reached")
    http = as_user(team.staff)
    post(http, "/admin/client/peppol/", {"id": acme.id, "switch": "retry"})
    assert store.get(Client, acme.id).peppol_state == "pending"
    run_worker_burst(app_config, **peppol.env)
    assert store.get(Client, acme.id).peppol_state == "registered"
    assert peppol.ap.app.participants[participant(acme)]["send"] is True


def test_receive_needs_the_mandate_and_the_switches_say_when_no_access_point(team, make, as_user, app, peppol, store, monkeypatch):
    acme = make.client(team.group, e_invoicing_mandate=False)
    http = as_user(team.staff)
    refused = toggle(http, acme.id, "receive", True)
    assert any("needs the e-invoicing mandate" in m for m in flashes(http.get(refused.headers["Location"]).text))
    assert store.get(Client, acme.id).peppol_state == "off" and store.count(Task) == 0

    monkeypatch.setitem(app.config, "PEPPOL_AP_URL", None)
    page = http.get(f"/admin/client/details/?id={acme.id}").text
    assert "Peppol is not connected: no access point is configured" in page and "Turn on" not in page
    response = post(http, "/admin/client/peppol/", {"id": acme.id, "switch": "send", "on": "1"}, follow_redirects=True)
    assert any("no access point is configured" in m for m in flashes(response.text))
    bulk = post(as_user(team.supervisor), "/admin/client/action/", {"action": "peppol_on", "rowid": [str(acme.id)]},
                follow_redirects=True)
    assert any("no access point is configured" in m for m in flashes(bulk.text))
    assert store.count(Task) == 0 and store.get(Client, acme.id).peppol_send is False


def test_bulk_peppol_on_and_off_for_selected_rows(team, make, as_user, app_config, peppol, store):
    ready = make.client(team.group, name="Mandated BV", e_invoicing_mandate=True)
    no_mandate = make.client(team.group, name="No Mandate BV")
    http = as_user(team.supervisor)
    response = post(http, "/admin/client/action/", {"action": "peppol_on", "rowid": [str(ready.id), str(no_mandate.id)]})
    assert "/admin/task/details/" in response.headers["Location"]
    run_worker_burst(app_config, **peppol.env)

    assert store.get(Client, ready.id).peppol_state == "registered"
    assert peppol.ap.app.participants[participant(ready)]["receive"] is True
    skipped = store.get(Client, no_mandate.id)
    assert (skipped.peppol_send, skipped.peppol_receive, skipped.peppol_state) == (False, False, "off")
    task = store.one(Task)
    assert task.result["done"] == 1 and "needs the e-invoicing mandate" in task.result["skipped"][0]["reason"]

    post(http, "/admin/client/action/", {"action": "peppol_off", "rowid": [str(ready.id)]})
    run_worker_burst(app_config, **peppol.env)
    assert peppol.ap.app.participants == {}
    assert store.get(Client, ready.id).peppol_state == "off"


def test_staff_toggle_only_their_clients_and_not_in_bulk(team, make, as_user, app_config, peppol, store):
    other = make.client(make.group("Team Q"), e_invoicing_mandate=True)
    mine = make.client(team.group, e_invoicing_mandate=True)
    http = as_user(team.staff)
    assert toggle(http, other.id, "receive", True).status_code == 404
    post(http, "/admin/client/action/", {"action": "peppol_on", "rowid": [str(mine.id)]})  # bulk: supervisors only
    assert store.count(Task) == 0
    assert store.get(Client, other.id).peppol_state == "off" and store.get(Client, mine.id).peppol_state == "off"
