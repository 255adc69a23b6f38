"""Destinations that staff (or the Peppol SML) point the workers at: loopback, private, link-local, multicast and
reserved addresses are refused, on the form and when the worker connects, to the very address it checked; no
redirect is followed and a remote server's own words are never kept."""
import ipaddress
import socket
import threading
from types import SimpleNamespace

import pytest

from clientdesk.config import ConfigError, allowed_networks, from_environment
from clientdesk.models import ClientIntegration, Document, IntegrationProduct, Role
from clientdesk.services.outbound import Outbound, is_public
from tests.helpers import post
from tests.outside import AddressResolver, DnsServer, HttpServer, RecordingApp, UploadApiApp
from tests.servers import free_port, run_worker_burst
from tests.test_documents import connect, documents as documents_fixture

INSIDE = ["127.0.0.2", "10.1.2.3", "172.16.0.1", "192.168.1.10", "169.254.169.254", "0.0.0.0", "224.0.0.1", "240.0.0.1",
          "100.64.0.1", "::1", "fe80::1", "fc00::1", "ff02::1", "::ffff:127.0.0.1", "::", "64:ff9b::a00:1", "2002:a00:1::1"]


documents = documents_fixture  # stored documents in a client's inbox (a fixture of test_documents.py)


@pytest.fixture
def team(make):
    group = make.group("Team O")
    return SimpleNamespace(group=group, staff=make.user(Role.STAFF, groups=[group]), admin=make.user(Role.ADMIN))


@pytest.mark.parametrize("address", INSIDE)
def test_addresses_inside_a_network_are_not_public(address):
    assert not is_public(ipaddress.ip_address(address))


def test_public_addresses_and_the_allow_list():
    for address in ("8.8.8.8", "2a00:1450:4001:80b::200e", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"):
        assert is_public(ipaddress.ip_address(address)), address
    outbound = Outbound(allowed_networks("10.20.0.0/16, ::1"))
    assert outbound.permitted(ipaddress.ip_address("10.20.3.4")) and outbound.permitted(ipaddress.ip_address("::1"))
    assert not outbound.permitted(ipaddress.ip_address("10.21.0.1"))
    with pytest.raises(ValueError, match="'10.0.0.300' is not an IP address"):
        allowed_networks("10.0.0.300")


def test_a_wrong_allow_list_stops_the_start_with_its_name(monkeypatch):
    monkeypatch.setenv("OUTBOUND_ALLOWED_NETWORKS", "10.0.0.0/8, intranet")
    with pytest.raises(ConfigError, match="OUTBOUND_ALLOWED_NETWORKS: 'intranet' is not an IP address"):
        from_environment(debug=False, testing=True)


@pytest.mark.parametrize("field, url", [
    ("api_url", "http://127.0.0.2:8080/graphql"), ("api_url", "http://169.254.169.254/latest/meta-data"),
    ("api_url", "https://[::1]:8443/upload"), ("api_url", "http://[::ffff:10.0.0.1]/"), ("api_url", "http://0.0.0.0:6379/"),
    ("sftp_url", "sftp://firm@192.168.1.10/in"), ("sftp_url", "sftp://firm@[fe80::1]:2222/in"),
])
def test_the_form_refuses_an_address_inside_the_network_on_its_field(field, url, team, make, as_user, store):
    acme = make.client(team.group)
    products = {p.name: p.id for p in store.all(IntegrationProduct)}
    method, product = ("api", "Clearfacts") if field == "api_url" else ("sftp", "Winbooks")
    response = post(as_user(team.staff), "/admin/clientintegration/new/", {
        "client": acme.id, "product": products[product], "delivery_method": method, field: url,
        "api_token": "tok", "sftp_password": "pw", "credit_card_statements": "purchase"})
    assert response.status_code == 200
    assert "is an address inside the network" in response.text and "OUTBOUND_ALLOWED_NETWORKS" in response.text
    assert store.count(ClientIntegration) == 0


def test_the_form_takes_a_name_that_resolves_inside_only_when_allowed(team, make, as_user, store, app, monkeypatch):
    acme = make.client(team.group)
    form = {"client": acme.id, "product": store.one(IntegrationProduct, name="Clearfacts").id, "delivery_method": "api",
            "api_url": "http://localhost:9/graphql", "api_token": "tok", "credit_card_statements": "purchase"}
    http = as_user(team.staff)
    monkeypatch.setitem(app.config, "OUTBOUND_ALLOWED_NETWORKS", "")
    refused = post(http, "/admin/clientintegration/new/", form)
    assert "localhost is an address inside the network (127.0.0.1" in refused.text
    monkeypatch.setitem(app.config, "OUTBOUND_ALLOWED_NETWORKS", "127.0.0.0/8, ::1")
    assert post(http, "/admin/clientintegration/new/", form).status_code == 302
    assert store.count(ClientIntegration) == 1


def test_api_delivery_to_an_inside_address_is_refused_without_a_request(team, make, as_user, app_config, documents, store):
    inside = HttpServer(RecordingApp(200, '{"data": {"uploadFile": {"uuid": "x"}}}'), host="127.0.0.2").start()
    try:
        acme = make.client(team.group)
        connect(store, acme, "Clearfacts", delivery_method="api", api_url=f"{inside.url}/graphql", api_token="cf-token")
        invoice, = documents(acme, ("F-1.pdf", "purchase"))
        post(as_user(team.staff), "/admin/client/send-documents/", {"id": acme.id})
        run_worker_burst(app_config)
        failed = store.get(Document, invoice.id)
        assert failed.status == "failed" and failed.retry_at is None
        assert "127.0.0.2 is an address inside the network" in failed.error
        assert inside.app.requests == []
    finally:
        inside.stop()


def test_sftp_delivery_to_an_inside_address_is_refused(team, make, as_user, app_config, documents, store):
    acme = make.client(team.group)
    connect(store, acme, "Winbooks", delivery_method="sftp", sftp_url=f"sftp://firm@127.0.0.2:{free_port()}/in",
            sftp_password="s3cret-pass")
    invoice, = documents(acme, ("F-1.pdf", "purchase"))
    post(as_user(team.staff), "/admin/client/send-documents/", {"id": acme.id})
    run_worker_burst(app_config)
    failed = store.get(Document, invoice.id)
    assert failed.status == "failed" and "127.0.0.2 is an address inside the network" in failed.error


def test_the_worker_connects_to_the_address_it_checked(team, make, as_user, app_config, documents, store):
    """DNS rebinding: the name answers an allowed address, then one inside; the upload goes to the first."""
    port = free_port()
    allowed = HttpServer(UploadApiApp(token="cf-token"), port=port).start()
    inside = HttpServer(RecordingApp(), host="127.0.0.2", port=port).start()
    resolver = AddressResolver()
    resolver.answers["api.rebinding.test"] = ["127.0.0.1", "127.0.0.2"]
    dns = DnsServer(resolver).start()
    try:
        acme = make.client(team.group)
        connect(store, acme, "Clearfacts", delivery_method="api", api_url=f"http://api.rebinding.test:{port}/graphql",
                api_token="cf-token")
        invoice, = documents(acme, ("F-1.pdf", "purchase"))
        post(as_user(team.staff), "/admin/client/send-documents/", {"id": acme.id})
        run_worker_burst(app_config, DNS_SERVER=dns.address)
        sent = store.get(Document, invoice.id)
        assert sent.status == "sent", sent.error
        assert len(allowed.app.uploads) == 1 and inside.app.requests == []
        assert resolver.asked["api.rebinding.test"] == 1
    finally:
        for server in (allowed, inside, dns):
            server.stop()


@pytest.mark.parametrize("status, body, headers, shown", [
    (307, "", {"Location": "/graphql-elsewhere"}, "HTTP 307 Temporary Redirect"),
    (500, "Traceback: secret-internal-path /srv/db password=hunter2", {}, "HTTP 500 Internal Server Error"),
    (200, '{"errors": [{"message": "secret-internal-path /srv/db"}]}', {}, "no upload in its answer"),
])
def test_no_redirect_is_followed_and_no_remote_body_is_kept(status, body, headers, shown, team, make, as_user, app_config,
                                                          documents, store):
    remote = HttpServer(RecordingApp(status, body, {"Content-Type": "application/json", **headers})).start()
    try:
        acme = make.client(team.group)
        connect(store, acme, "Clearfacts", delivery_method="api", api_url=f"{remote.url}/graphql", api_token="cf-token")
        invoice, = documents(acme, ("F-1.pdf", "purchase"))
        http = as_user(team.staff)
        post(http, "/admin/client/send-documents/", {"id": acme.id})
        run_worker_burst(app_config)
        document = store.get(Document, invoice.id)
        assert document.status in ("failed", "inbox") and shown in document.error
        assert "secret" not in document.error and "hunter2" not in document.error
        assert [path for _method, path, _headers in remote.app.requests] == ["/graphql"]  # the redirect not followed
        page = http.get(f"/admin/document/?flt0_client_id_equals={acme.id}").text
        assert shown in page and "secret-internal-path" not in page
    finally:
        remote.stop()


def test_what_an_sftp_server_says_is_not_kept(team, make, as_user, app_config, documents, store):
    """Not an SSH server: paramiko's error quotes the line it answered; the document's error does not."""
    listener = socket.create_server(("127.0.0.1", 0))

    def answer():
        connection, _ = listener.accept()
        with connection:
            connection.sendall(b"SSH-secret-internal-banner\r\n")
            connection.recv(1024)

    threading.Thread(target=answer, daemon=True).start()
    try:
        acme = make.client(team.group)
        connect(store, acme, "Winbooks", delivery_method="sftp", sftp_password="s3cret-pass",
                sftp_url=f"sftp://firm@127.0.0.1:{listener.getsockname()[1]}/in")
        invoice, = documents(acme, ("F-1.pdf", "purchase"))
        post(as_user(team.staff), "/admin/client/send-documents/", {"id": acme.id})
        run_worker_burst(app_config)
        document = store.get(Document, invoice.id)
        assert "the SSH handshake failed" in document.error and "secret" not in document.error
    finally:
        listener.close()
