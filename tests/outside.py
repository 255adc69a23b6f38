"""Real servers standing in for the outside parties: a DNS server (the Peppol SML, senders' SPF and DKIM records), HTTP servers (an SMP,
our Peppol access point, an accounting-software upload API) and an sFTP server. Each listens on
127.0.0.1, speaks the real protocol, records what it was asked, and can be stopped and started again
on the same port."""
import asyncio
import json
import socket
import threading
from email.parser import BytesParser
from email.policy import HTTP as HTTP_POLICY
from pathlib import Path
from urllib.parse import unquote

import asyncssh
from dnslib import NAPTR, QTYPE, RCODE, RR, TXT, A, DNSLabel
from dnslib.server import BaseResolver, DNSServer
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.servers import SERVE_POLL_SECONDS, free_port


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# DNS: the SML, SPF and DKIM ------------------------------------------------------------------------
SML_TEST_ZONE = "participant.sml.test.tech.peppol.org"

class SmlResolver(BaseResolver):
    def __init__(self):
        self.records = {}  # lower-case name → SMP base URL
        self.txt = {}  # lower-case name → its TXT record's strings
        self.queries = []  # (name, type) as asked

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        self.queries.append((name, QTYPE[request.q.qtype]))
        if name in self.txt:
            if request.q.qtype == QTYPE.TXT:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, ttl=60, rdata=TXT(self.txt[name])))
            return reply
        smp_url = self.records.get(name)
        if smp_url is None:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.NAPTR:
            reply.add_answer(RR(request.q.qname, QTYPE.NAPTR, ttl=60,
                                rdata=NAPTR(100, 10, b"U", b"Meta:SMP", f"!.*!{smp_url}!".encode(), DNSLabel("."))))
        return reply


class AddressResolver(BaseResolver):
    """A records that change between questions, as a DNS-rebinding attacker's server answers: each name's
    addresses are given in turn, the last one repeated; TTL 0."""

    def __init__(self):
        self.answers = {}  # lower-case name → [address of the first A question, of the second, ...]
        self.asked = {}  # lower-case name → how many A questions

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        if name not in self.answers:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.A:
            turn = self.asked.get(name, 0)
            self.asked[name] = turn + 1
            address = self.answers[name][min(turn, len(self.answers[name]) - 1)]
            reply.add_answer(RR(request.q.qname, QTYPE.A, ttl=0, rdata=A(address)))
        return reply


class DnsServer:
    def __init__(self, resolver=None):
        self.port = free_udp_port()
        self.resolver = resolver or SmlResolver()
        self.server = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def register(self, hostname: str, smp_url: str) -> None:
        self.resolver.records[hostname.lower()] = smp_url

    def add_txt(self, name: str, text: str) -> None:
        """A TXT record (an SPF policy, a DKIM key), cut into the 255-byte strings DNS carries."""
        self.resolver.txt[name.lower()] = [text[i:i + 255] for i in range(0, len(text), 255)]

    def start(self):
        self.server = DNSServer(self.resolver, address="127.0.0.1", port=self.port)
        # dnslib's start_thread() serves with socketserver's default poll of 0.5 s, which each stop() waits out.
        self.server.thread = threading.Thread(target=self.server.server.serve_forever, args=(SERVE_POLL_SECONDS,), daemon=True)
        self.server.thread.start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.stop()
            self.server.server.server_close()
            self.server = None


# HTTP -----------------------------------------------------------------------------------------------

class HttpServer:
    """A threaded werkzeug server around a WSGI app (on 127.0.0.1 unless another loopback address is given)."""

    def __init__(self, app, host: str = "127.0.0.1", port: int | None = None):
        self.app = app
        self.host = host
        self.port = port or free_port()
        self.server = None
        self.thread = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self):
        self.server = make_server(self.host, self.port, self.app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(SERVE_POLL_SECONDS,), daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


SMP_NS = "http://busdox.org/serviceMetadata/publishing/1.0/"


class SmpApp:
    """A Peppol SMP (1.x REST): ServiceGroup and one SignedServiceMetadata per participant it serves."""

    def __init__(self, description="Other Access Point NV", contact="mailto:peppol@other-provider.example"):
        self.participants = set()  # e.g. "iso6523-actorid-upis::0208:0403170701"
        self.description, self.contact = description, contact
        self.requests = []

    def __call__(self, environ, start_response):
        request = Request(environ)
        path = unquote(request.path.lstrip("/"))
        self.requests.append(path)
        participant, _, rest = path.partition("/services/")
        if participant not in self.participants:
            return Response("not found", 404)(environ, start_response)
        base = request.host_url.rstrip("/")
        if not rest:
            body = (f'<ServiceGroup xmlns="{SMP_NS}" xmlns:id="http://busdox.org/transport/identifiers/1.0/">'
                    f'<id:ParticipantIdentifier scheme="iso6523-actorid-upis">{participant.split("::")[1]}</id:ParticipantIdentifier>'
                    f'<ServiceMetadataReferenceCollection><ServiceMetadataReference href="{base}/{participant}/services/invoice"/>'
                    f'</ServiceMetadataReferenceCollection></ServiceGroup>')
        else:
            body = (f'<SignedServiceMetadata xmlns="{SMP_NS}"><ServiceMetadata><ServiceInformation><ProcessList><Process>'
                    f'<ServiceEndpointList><Endpoint transportProfile="peppol-transport-as4-v2_0">'
                    f'<EndpointURI>https://ap.other-provider.example/as4</EndpointURI>'
                    f'<ServiceDescription>{self.description}</ServiceDescription>'
                    f'<TechnicalContactUrl>{self.contact}</TechnicalContactUrl>'
                    f'</Endpoint></ServiceEndpointList></Process></ProcessList></ServiceInformation></ServiceMetadata>'
                    f'</SignedServiceMetadata>')
        return Response(body, 200, content_type="application/xml")(environ, start_response)


class AccessPointApp:
    """Our Peppol access point's JSON API (see clientdesk/services/peppol.py)."""

    def __init__(self, token: str):
        self.token = token
        self.participants = {}  # "iso6523-actorid-upis::0208:…" → registration
        self.sml_taken = set()  # participants the SML would refuse for receiving
        self.fail_with = None  # (HTTP status, error message) to answer every participant call with, e.g. (503, "...")
        self.calls = []

    def __call__(self, environ, start_response):
        request = Request(environ)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return Response(json.dumps({"error": "bad token"}), 401, content_type="application/json")(environ, start_response)
        prefix = "/participants/"
        if not request.path.startswith(prefix):
            return Response("", 404)(environ, start_response)
        participant = unquote(request.path[len(prefix):])
        self.calls.append((request.method, participant))
        if self.fail_with:
            status, message = self.fail_with
            return Response(json.dumps({"error": message}), status, content_type="application/json")(environ, start_response)
        response = self.handle(request, participant)
        return response(environ, start_response)

    def handle(self, request, participant):
        if request.method == "GET":
            if participant not in self.participants:
                return Response(json.dumps({"error": "unknown participant"}), 404, content_type="application/json")
            return Response(json.dumps(self.participants[participant]), 200, content_type="application/json")
        if request.method == "PUT":
            data = request.get_json()
            if data["receive"] and participant in self.sml_taken:
                return Response(json.dumps({"error": f"[ERR-106] The participant identifier {participant} already exists"}),
                                409, content_type="application/json")
            created = participant not in self.participants
            self.participants[participant] = {"participant": participant, **data}
            return Response(json.dumps(self.participants[participant]), 201 if created else 200, content_type="application/json")
        if request.method == "DELETE":
            if self.participants.pop(participant, None) is None:
                return Response(json.dumps({"error": "unknown participant"}), 404, content_type="application/json")
            return Response("", 204)
        return Response("", 405)


class RecordingApp:
    """Answers every request with the same status, headers and body, and records (method, path, headers)."""

    def __init__(self, status: int = 200, body: str = "", headers: dict | None = None):
        self.status, self.body, self.headers = status, body, headers or {}
        self.requests = []

    def __call__(self, environ, start_response):
        request = Request(environ)
        self.requests.append((request.method, request.path, dict(request.headers)))
        return Response(self.body, self.status, headers=self.headers)(environ, start_response)


class UploadApiApp:
    """An accounting-software upload API in the Clearfacts style: a GraphQL multipart request
    (`operations`, `map`, one file part) with a bearer token; answers the uploaded file's uuid."""

    def __init__(self, token: str):
        self.token = token
        self.uploads = []  # (variables, filename, content type, bytes)
        self.fail_with = None  # an HTTP status to answer instead, e.g. 503

    def __call__(self, environ, start_response):
        request = Request(environ)
        if self.fail_with:
            return Response(json.dumps({"error": "temporarily unavailable"}), self.fail_with,
                            content_type="application/json")(environ, start_response)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return Response(json.dumps({"errors": [{"message": "Unauthorized"}]}), 401,
                            content_type="application/json")(environ, start_response)
        # Parse the multipart body with the standard library, independently of the client's encoder.
        head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP_POLICY).parsebytes(head + request.get_data())
        parts = {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}
        operations = json.loads(parts["operations"].get_content())
        mapping = json.loads(parts["map"].get_content())
        (key, targets), = mapping.items()
        assert targets == ["variables.file"] and "uploadFile" in operations["query"]
        file_part = parts[key]
        self.uploads.append((operations["variables"], file_part.get_filename(), file_part.get_content_type(),
                             file_part.get_content()))
        body = {"data": {"uploadFile": {"uuid": f"upload-{len(self.uploads)}", "amountOfPages": 1}}}
        return Response(json.dumps(body), 200, content_type="application/json")(environ, start_response)


# sFTP -----------------------------------------------------------------------------------------------

class _PasswordServer(asyncssh.SSHServer):
    def __init__(self, users):
        self.users = users

    def begin_auth(self, username):
        return True

    def password_auth_supported(self):
        return True

    def validate_password(self, username, password):
        return self.users.get(username) == password


class SftpServer:
    """An SSH server with only the sftp subsystem, chrooted to `root`, password authentication."""

    def __init__(self, root: Path, users: dict):
        self.root = Path(root)
        self.users = users
        self.port = free_port()
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.loop = None
        self.listener = None

    @property
    def public_key(self) -> str:
        return self.host_key.export_public_key().decode().strip()

    def start(self):
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def listen():
            self.listener = await asyncssh.listen(
                "127.0.0.1", self.port, server_host_keys=[self.host_key],
                server_factory=lambda: _PasswordServer(self.users),
                sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(self.root).encode()),
                allow_scp=False,
            )
            ready.set()

        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(listen(), self.loop).result(10)
        ready.wait(10)
        return self

    def stop(self):
        if self.listener is not None:
            async def close():
                self.listener.close()
                await self.listener.wait_closed()

            asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.listener = None
