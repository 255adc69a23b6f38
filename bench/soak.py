"""Soak: ClientDesk under simulated users for M minutes while five faults hit it; then what was lost.

    python bench/soak.py [--minutes 10] [--users 50] [--clients 2000] [--faults worker,redis,postgres,mail,web]
                         [--think 3] [--keep]

Everything runs from one temporary folder (removed at the end unless --keep), each process in a process group of
its own, all killed on exit, Ctrl-C and errors included (bench/soak_services.py): a PostgreSQL cluster of its own
(initdb, own port; run as the `postgres` user when we are root), Redis with --appendonly yes, an aiosmtpd server
that keeps every message as a file (a Maildir), `gunicorn -w 4 wsgi:app` and 2 × `flask --app app worker`, which a
supervisor thread starts again whenever one exits (as systemd would: not a manual step). Data: `db upgrade`,
`demo load --clients N`, and an operator admin made with `users create`.

Simulated users (threads, one signed-in session each, through the real login form and its CSRF token), on the demo
logins in turn: list pages, searches, filters, the dashboard, client pages, the client edit form posted back with
one change (the internal reference), notes; admins and supervisors also invite or resend on a few selected rows.
A think time of --think seconds on average between clicks. A "client" thread reads the received e-mails and
accepts some invitations through /invitation/<token>.

Faults, spread over the run in the order given (the mail outage lasts 60 s at 10 minutes, scaled down for short
runs, at least 10 s); each has an end (the service is back) and a heal time (from the end until the app works):
- worker:   the operator resends ~400 invitations; once the first of that task's e-mails have arrived, kill -9
            the worker running it (its process group); the supervisor starts another. Healed: the task is
            finished (by itself).
- redis:    kill -9 Redis, start it again 2 s later on the same folder (AOF). Healed: /healthz ok.
- postgres: pg_ctl restart -m fast. Healed: /healthz ok.
- mail:     the SMTP server stopped; during the outage the operator invites ~30 clients; started again.
            Healed: /healthz ok and none of that task's invitations pending or failed.
- web:      kill -9 one gunicorn worker. Healed: gunicorn has all its workers again and /healthz is ok.
/healthz "ok" means HTTP 200 with "status": "ok".

After the load, a drain of up to 90 s for every task to be final and every fault to heal, then the checks:
every task finished or failed; every invited client (that has an invitation row: demo data has none) with
exactly one usable invitation and a received e-mail carrying its link; every link in every e-mail answers
200, or belongs to an invitation accepted since, or one voided by a later resend (another task): the rest
are dead links; every edit and note the app confirmed (302) is in the database with its audit row, and
each edited client holds its last confirmed value (or that of a later attempt that got no clear answer).

Targets (issue 15, at --minutes 10 --users 50): zero data lost, zero dead links, every task final, every
fault healed within 60 s, page p95 <= 500 ms outside the fault windows (a fault's window: from its start to
its heal, or to 60 s after its end when it never heals). Exit 1 when one is missed; figures either way.
"""
import argparse
import functools
import hashlib
import http.client
import json
import os
import random
import re
import resource
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

import psycopg
import redis
from rq import Worker

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from soak_services import Services, wait_until  # noqa: E402

from clientdesk.demo import DEMO_PASSWORD, DEMO_USERS  # noqa: E402

HEAL_TARGET_S = 60
P95_TARGET_MS = 500
DRAIN_S = 90
REQUEST_TIMEOUT_S = 30
WEB_WORKERS, RQ_WORKERS = 4, 2
OPERATOR = "soak.operator@example.com"
OPERATOR_PASSWORD = "night-shift-lantern-2026"
INVITEE_PASSWORD = "soak-invitee-2026"
ACCEPT_SHARE = 0.2  # of the links received, the share the simulated clients accept
SEARCH_TERMS = ("peeters", "janssens", "dubois", "brasserie", "garage", "bakkerij", "immo", "0.1", "example.com")
LIST_FILTERS = ("flt0_status_equals=created", "flt0_status_equals=invited", "flt0_status_equals=active",
                "flt0_peppol_send_equals=1", "sort=0", "sort=4&desc=1")
# What a user does on a click, with weights; bulk actions only for supervisors and admins.
USER_MOVES = {"list": 28, "search": 14, "filter": 14, "dashboard": 6, "client": 20, "edit": 8, "note": 6, "bulk": 4}


def now() -> float:
    return time.time()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


# ---------------------------------------------------------------------------------------------------------
# HTTP as a browser does it: one session cookie jar, each request timed and logged

@dataclass
class Response:
    status: int  # 0: no answer (refused, reset, timed out)
    text: str
    location: str
    error: str = ""


@dataclass
class Request:
    kind: str
    started: float
    ended: float
    status: int

    @property
    def ms(self) -> float:
        return (self.ended - self.started) * 1000

    @property
    def failed(self) -> bool:
        return self.status == 0 or self.status >= 500


CSRF_INPUT = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')
ROW_ID = re.compile(r'name="rowid" class="action-checkbox" value="(\d+)"')
TASK_LOCATION = re.compile(r"/admin/task/details/\?id=([\w-]+)")
INVITATION_LINK = re.compile(r"/invitation/([A-Za-z0-9_-]{20,})")


def csrf_of(html: str, form_id: str | None = None) -> str | None:
    if form_id is not None and f'id="{form_id}"' in html:
        html = html[html.index(f'id="{form_id}"'):]
    field_ = CSRF_INPUT.search(html)
    value = re.search(r'value="([^"]+)"', field_.group(0)) if field_ else None
    return value.group(1) if value else None


class Browser:
    def __init__(self, port: int, log: list[Request]):
        self.port, self.log = port, log
        self.cookies: dict[str, str] = {}
        self.csrf: str | None = None  # from the last page that had a form

    def get(self, path: str, kind: str) -> Response:
        return self.request("GET", path, kind)

    def post(self, path: str, fields, kind: str) -> Response:
        return self.request("POST", path, kind, urlencode(fields, doseq=True))

    def request(self, method: str, path: str, kind: str, body: str | None = None) -> Response:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_S)
        started = now()
        try:
            connection.request(method, path, body, headers)
            raw = connection.getresponse()
            text = raw.read().decode("utf-8", "replace")
            for cookie in raw.headers.get_all("Set-Cookie") or []:
                name, _, rest = cookie.partition("=")
                value = rest.split(";", 1)[0]
                if value:
                    self.cookies[name.strip()] = value
                else:
                    self.cookies.pop(name.strip(), None)
            response = Response(raw.status, text, raw.headers.get("Location", ""))
        except (OSError, http.client.HTTPException) as error:
            response = Response(0, "", "", f"{error.__class__.__name__}: {error}")
        finally:
            connection.close()
        self.log.append(Request(kind, started, now(), response.status))
        self.csrf = csrf_of(response.text) or self.csrf
        return response

    def sign_in(self, email: str, password: str) -> bool:
        page = self.get("/login", "login_form")
        if page.status != 200 or not self.csrf:
            return False
        answer = self.post("/login", {"email": email, "password": password, "csrf_token": self.csrf}, "login")
        return answer.status == 302 and "/login" not in answer.location


class FormReader(HTMLParser):
    """The forms of a page as a browser submits them: for each form, [(name, value)] in page order (unchecked
    boxes left out, a select's selected options or else its first one, a textarea's text)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[list[tuple[str, str]]] = []
        self._select = None  # (name, [[value, selected, text]], multiple)
        self._option = None
        self._textarea = None  # (name, [text])

    @classmethod
    def form_with(cls, html: str, field_name: str) -> list[tuple[str, str]] | None:
        reader = cls()
        reader.feed(html)
        return next((form for form in reader.forms if any(name == field_name for name, _ in form)), None)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        name = attributes.get("name")
        if tag == "form":
            self.forms.append([])
        elif not self.forms or "disabled" in attributes:
            return
        elif tag == "input" and name:
            kind = (attributes.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "file", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attributes:
                return
            self.forms[-1].append((name, attributes.get("value") or ("on" if kind in ("checkbox", "radio") else "")))
        elif tag == "select" and name:
            self._select = (name, [], "multiple" in attributes)
        elif tag == "option" and self._select is not None:
            self._option = [attributes.get("value"), "selected" in attributes, ""]
            self._select[1].append(self._option)
        elif tag == "textarea" and name:
            self._textarea = (name, [])

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1].append(data)
        elif self._option is not None:
            self._option[2] += data

    def handle_endtag(self, tag):
        if tag == "select" and self._select is not None:
            name, options, multiple = self._select
            chosen = [option for option in options if option[1]] or ([] if multiple else options[:1])
            self.forms[-1].extend((name, value if value is not None else text.strip()) for value, _, text in chosen)
            self._select = self._option = None
        elif tag == "option":
            self._option = None
        elif tag == "textarea" and self._textarea is not None:
            name, parts = self._textarea
            text = "".join(parts)
            self.forms[-1].append((name, text[1:] if text.startswith("\n") else text))  # as browsers drop it
            self._textarea = None


# ---------------------------------------------------------------------------------------------------------
# What the users did, for the checks

@dataclass
class Write:
    """An edit (the client's internal reference set to `value`) or a note (`value` is its text)."""
    kind: str  # edit | note
    client_id: int
    value: str
    started: float
    outcome: str = "no answer"  # saved (the app said so: 302) | refused | error | no answer

    @staticmethod
    def outcome_of(response: Response) -> str:
        if response.status == 302:
            return "saved"
        return "no answer" if response.status == 0 else "error" if response.status >= 500 else "refused"


@dataclass
class Run:
    """What every thread of the run shares."""
    services: Services
    users: int
    clients: int
    think: float
    ends_at: float = 0.0
    ramp_up: float = 3.0  # seconds over which the users sign in
    requests: list[Request] = field(default_factory=list)  # the users' clicks
    side_requests: list[Request] = field(default_factory=list)  # the operator's, the probes', the checks'
    writes: list[Write] = field(default_factory=list)
    tasks_launched: list[str] = field(default_factory=list)
    accepted_tokens: set[str] = field(default_factory=set)
    harness_errors: list[str] = field(default_factory=list)
    load_averages: list[float] = field(default_factory=list)  # the machine's 1-minute load, every 10 s
    harness_cpu_s: float = 0.0  # CPU seconds this process used during the load
    stop: threading.Event = field(default_factory=threading.Event)

    def query(self, sql: str, params=()) -> list[tuple]:
        with psycopg.connect(self.services.postgres.libpq_url, autocommit=True, connect_timeout=5) as connection:
            return connection.execute(sql, params).fetchall()

    def healthz_ok(self) -> bool:
        answer = Browser(self.services.web_port, self.side_requests).get("/healthz", "healthz")
        try:
            return answer.status == 200 and json.loads(answer.text).get("status") == "ok"
        except ValueError:
            return False


class SimulatedUser(threading.Thread):
    def __init__(self, number: int, run: Run):
        super().__init__(name=f"user-{number}", daemon=True)
        self.number, self.run_ = number, run
        self.email, _name, role, _groups = DEMO_USERS[number % len(DEMO_USERS)]
        self.may_bulk = role.value in ("admin", "supervisor")
        self.browser = Browser(run.services.web_port, run.requests)
        self.rng = random.Random(number)
        self.known_ids: set[int] = set()  # clients this user has seen in a list
        self.signed_in = False
        self.writes = 0

    def run(self):
        moves = {move: weight for move, weight in USER_MOVES.items() if move != "bulk" or self.may_bulk}
        self.pause(self.rng.uniform(0, self.run_.ramp_up))  # people do not all sign in at the same second
        while not self.run_.stop.is_set() and now() < self.run_.ends_at:
            if not self.signed_in:
                self.signed_in = self.browser.sign_in(self.email, DEMO_PASSWORD)
            else:
                move = self.rng.choices(list(moves), weights=list(moves.values()))[0]
                try:
                    getattr(self, f"do_{move}")()
                except Exception as error:  # a page the harness cannot read: reported, and the user goes on
                    self.run_.harness_errors.append(f"{self.name} {move}: {error.__class__.__name__}: {error}")
            self.pause(self.rng.uniform(self.run_.think / 3, self.run_.think * 5 / 3))

    def pause(self, seconds: float) -> None:
        self.run_.stop.wait(seconds)

    def page(self, path: str, kind: str) -> Response:
        response = self.browser.get(path, kind)
        if response.status == 302 and "/login" in response.location:
            self.signed_in = False
        self.known_ids.update(int(i) for i in ROW_ID.findall(response.text))
        return response

    def do_list(self):
        pages = max(1, self.run_.clients // 25)
        self.page(f"/admin/client/?page={self.rng.randrange(min(pages, 20))}", "list")

    def do_search(self):
        self.page(f"/admin/client/?search={self.rng.choice(SEARCH_TERMS)}", "search")

    def do_filter(self):
        self.page(f"/admin/client/?{self.rng.choice(LIST_FILTERS)}", "filter")

    def do_dashboard(self):
        self.page("/admin/", "dashboard")

    def do_client(self):
        if self.known_ids:
            self.page(f"/admin/client/details/?id={self.rng.choice(sorted(self.known_ids))}", "client")
        else:
            self.do_list()

    def my_clients(self) -> list[int]:
        """The clients only this user edits (id modulo the number of users), so the final value of each edited
        client is known: its last confirmed edit."""
        return sorted(i for i in self.known_ids if i % self.run_.users == self.number)

    def do_edit(self):
        mine = self.my_clients()
        if not mine:
            return self.do_list()
        client_id = self.rng.choice(mine)
        path = f"/admin/client/edit/?id={client_id}"
        form = self.page(path, "edit_form")
        fields = FormReader.form_with(form.text, "internal_reference") if form.status == 200 else None
        if fields is None:
            return
        self.writes += 1
        value = f"soak-{self.number}-{self.writes}"
        fields = [(name, value if name == "internal_reference" else old) for name, old in fields]
        write = Write("edit", client_id, value, now())
        self.run_.writes.append(write)
        write.outcome = Write.outcome_of(self.browser.post(path, fields, "edit_save"))

    def do_note(self):
        if not self.known_ids:
            return self.do_list()
        client_id = self.rng.choice(sorted(self.known_ids))
        page = self.page(f"/admin/client/details/?id={client_id}", "client")
        if page.status != 200 or not self.browser.csrf:
            return
        self.writes += 1
        text = f"soak note {self.number}-{self.writes} {uuid.uuid4().hex[:8]}"
        write = Write("note", client_id, text, now())
        self.run_.writes.append(write)
        answer = self.browser.post("/admin/client/note/", {"csrf_token": self.browser.csrf, "id": client_id, "text": text,
                                                           "next": f"/admin/client/details/?id={client_id}"}, "note")
        write.outcome = Write.outcome_of(answer)

    def do_bulk(self):
        action, status = ("invite", "created") if self.rng.random() < 0.7 else ("resend", "invited")
        page = self.page(f"/admin/client/?flt0_status_equals={status}", "filter")
        ids = ROW_ID.findall(page.text)
        token = csrf_of(page.text, "action_form")
        if page.status != 200 or not ids or not token:
            return
        chosen = self.rng.sample(ids, min(len(ids), self.rng.randint(2, 8)))
        answer = self.browser.post("/admin/client/action/", {"csrf_token": token, "action": action, "rowid": chosen},
                                   "bulk_action")
        launched = TASK_LOCATION.search(answer.location)
        if launched:
            self.run_.tasks_launched.append(launched.group(1))


# ---------------------------------------------------------------------------------------------------------
# The received e-mails, and the clients who accept their invitations

@dataclass
class Mail:
    file: str
    to: str
    tokens: set[str]


class Mailbox:
    """The SMTP server's Maildir, read incrementally (each file once)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.mails: dict[str, Mail] = {}
        self._lock = threading.Lock()

    def read(self) -> list[Mail]:
        """Every mail received so far; the new ones parsed."""
        with self._lock:
            for path in sorted(self.folder.glob("*/*")):
                if path.parent.name in ("new", "cur") and path.name not in self.mails:
                    message = message_from_bytes(path.read_bytes(), policy=policy.default)
                    text = "\n".join(part.get_content() for part in message.walk() if part.get_content_maintype() == "text")
                    self.mails[path.name] = Mail(path.name, str(message["To"]), set(INVITATION_LINK.findall(text)))
            return list(self.mails.values())

    def tokens(self) -> set[str]:
        return {token for mail in self.read() for token in mail.tokens}

    def token_hashes(self) -> set[str]:
        """As the invitation table keeps tokens."""
        return {token_hash(token) for token in self.tokens()}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Invitee(threading.Thread):
    """The clients' side: some of the links that arrive are opened and accepted, as a contact would."""

    def __init__(self, run: Run, mailbox: Mailbox):
        super().__init__(name="invitee", daemon=True)
        self.run_, self.mailbox, self.rng, self.seen = run, mailbox, random.Random(15), set()

    def run(self):
        while not self.run_.stop.wait(3) and now() < self.run_.ends_at:
            for token in sorted(self.mailbox.tokens() - self.seen):
                self.seen.add(token)
                if self.rng.random() < ACCEPT_SHARE:
                    self.accept(token)

    def accept(self, token: str) -> None:
        browser = Browser(self.run_.services.web_port, self.run_.requests)
        page = browser.get(f"/invitation/{token}", "invitation")
        if page.status != 200 or not browser.csrf:
            return
        answer = browser.post(f"/invitation/{token}", {"csrf_token": browser.csrf, "password": INVITEE_PASSWORD,
                                                       "password_confirm": INVITEE_PASSWORD, "accept_terms": "y"},
                              "invitation_accept")
        if answer.status == 200 and "password_confirm" not in answer.text:
            self.run_.accepted_tokens.add(token)


# ---------------------------------------------------------------------------------------------------------
# Faults

@dataclass
class Fault:
    name: str
    started: float = 0.0
    ended: float | None = None  # the service is back (or the kill is done)
    healed: float | None = None
    note: str = ""

    @property
    def heal_seconds(self) -> float | None:
        return None if self.healed is None or self.ended is None else max(0.0, self.healed - self.ended)

    @property
    def window(self) -> tuple[float, float]:
        end = self.healed if self.healed is not None else (self.ended or self.started) + HEAL_TARGET_S
        return self.started, end


class FaultInjector(threading.Thread):
    def __init__(self, run: Run, mailbox: "Mailbox", names: list[str], started: float, minutes: float):
        super().__init__(name="faults", daemon=True)
        self.run_, self.mailbox, self.started = run, mailbox, started
        span = minutes * 60
        self.schedule = [(started + span * (n + 1) / (len(names) + 1), Fault(name)) for n, name in enumerate(names)]
        self.faults = [fault for _at, fault in self.schedule]
        self.mail_outage_s = max(10.0, 60 * min(1.0, minutes / 10))
        self.operator = Browser(run.services.web_port, run.side_requests)
        self.watchers: list[threading.Thread] = []
        self.rng = random.Random(5)

    def run(self):
        for at, fault in self.schedule:
            if self.run_.stop.wait(max(0.0, at - now())):
                return
            fault.started = now()
            try:
                heal = getattr(self, f"inject_{fault.name}")(fault)
            except Exception as error:  # the run goes on; the report says what went wrong
                fault.note = f"could not inject: {error.__class__.__name__}: {error}"
                fault.ended = fault.ended or now()
                continue
            watcher = threading.Thread(target=self.watch, args=(fault, heal), name=f"heal-{fault.name}", daemon=True)
            watcher.start()
            self.watchers.append(watcher)

    def watch(self, fault: Fault, healed) -> None:
        """Poll `healed()` from the fault's end until it holds or the drain is over."""
        deadline = self.run_.ends_at + DRAIN_S
        while now() < deadline:
            try:
                if healed():
                    fault.healed = now()
                    return
            except (psycopg.Error, redis.RedisError, OSError):
                pass  # what the probe reads is still down: not healed
            time.sleep(0.5)

    def launch(self, action: str, status: str, limit: int) -> str:
        """As the operator (an admin, signed in through the form): `action` on up to `limit` clients with `status`,
        posted as the client list's action form. Returns the task id."""
        ids = [row[0] for row in self.run_.query(
            "SELECT id FROM client WHERE status = %s ORDER BY random() LIMIT %s", (status, limit))]
        if not ids:
            raise RuntimeError(f"no {status} client left to {action}")
        signed_out = "/login" in self.operator.get("/admin/", "operator").location
        if signed_out and not self.operator.sign_in(OPERATOR, OPERATOR_PASSWORD):
            raise RuntimeError("the operator cannot sign in")
        page = self.operator.get("/admin/client/", "operator")
        answer = self.operator.post("/admin/client/action/", {"csrf_token": csrf_of(page.text, "action_form"),
                                                              "action": action, "rowid": ids}, "operator")
        launched = TASK_LOCATION.search(answer.location)
        if not launched:
            raise RuntimeError(f"the {action} action answered {answer.status} {answer.location or answer.error}")
        self.run_.tasks_launched.append(launched.group(1))
        return launched.group(1)

    def task_status(self, task_id: str) -> str | None:
        rows = self.run_.query("SELECT status FROM task WHERE id = %s", (task_id,))
        return rows[0][0] if rows else None

    def wait_begun(self, task_id: str) -> str:
        """The task's status once a worker has taken it (started, or already finished or failed)."""
        def begun():
            status = self.task_status(task_id)
            return status if status not in (None, "queued") else None
        return wait_until(begun, 60, f"task {task_id} did not start", interval=0.02)

    def inject_worker(self, fault: Fault):
        services = self.run_.services
        connection = redis.Redis.from_url(services.app_env()["REDIS_URL"])
        for _attempt in range(3):  # a task may end before it is caught sending: then another one
            task_id = self.launch("resend", "invited", 400)
            self.wait_begun(task_id)
            # Killed once some of its e-mails have left, so that a rerun meets links people already hold.
            wait_until(functools.partial(self.sending_or_over, task_id), 60, f"task {task_id} sent nothing", interval=0.02)
            status, worker_name = self.run_.query("SELECT status, worker FROM task WHERE id = %s", (task_id,))[0]
            running = [w for w in Worker.all(connection=connection) if w.name == worker_name]
            if status == "started" and running:
                fault.started = now()
                name = services.kill_worker(running[0].pid)
                fault.ended = now()
                fault.note = (f"killed {name} (pid {running[0].pid}) running task {task_id[:8]}, "
                              f"{self.mailed_count(task_id)} of its e-mails received by then")
                return lambda: self.task_status(task_id) == "finished"
        raise RuntimeError("three tasks in a row finished before a worker could be killed")

    def mailed_count(self, task_id: str) -> int:
        """How many of the task's invitation e-mails the mail server has received."""
        hashes = {row[0] for row in self.run_.query("SELECT token_hash FROM invitation WHERE task_id = %s", (task_id,))}
        return len(hashes & self.mailbox.token_hashes())

    def sending_or_over(self, task_id: str) -> bool:
        return self.task_status(task_id) != "started" or self.mailed_count(task_id) > 0

    def inject_redis(self, fault: Fault):
        services = self.run_.services
        services.redis.kill()
        time.sleep(2)
        services.start_redis()
        fault.ended = now()
        return self.run_.healthz_ok

    def inject_postgres(self, fault: Fault):
        self.run_.services.postgres.restart()
        fault.ended = now()
        return self.run_.healthz_ok

    def inject_mail(self, fault: Fault):
        services = self.run_.services
        services.smtp.kill(signal.SIGTERM)
        task_id = None
        try:
            task_id = self.launch("invite", "created", 30)
        except RuntimeError:
            task_id = self.launch("resend", "invited", 30)
        finally:
            self.run_.stop.wait(max(0.0, fault.started + self.mail_outage_s - now()))
            services.start_smtp()
            fault.ended = now()
        fault.note = f"down {fault.ended - fault.started:.0f} s; task {task_id[:8]} launched during the outage"

        def healed() -> bool:
            unsent = self.run_.query("SELECT count(*) FROM invitation WHERE task_id = %s AND status IN ('pending', 'failed')",
                                     (task_id,))[0][0]
            return unsent == 0 and self.run_.healthz_ok()
        return healed

    def inject_web(self, fault: Fault):
        services = self.run_.services
        victim = self.rng.choice(services.web_worker_pids())
        os.kill(victim, signal.SIGKILL)
        fault.ended = now()
        fault.note = f"killed gunicorn worker pid {victim}"

        def healed() -> bool:
            pids = services.web_worker_pids()
            return len(pids) == WEB_WORKERS and victim not in pids and self.run_.healthz_ok()
        return healed


def warm_up(run: Run) -> None:
    """Each page kind a few times per gunicorn worker, not counted: a fresh worker's first pages (imports,
    templates compiled) take seconds, which is start-up, not the steady state the p95 target is about."""
    browser = Browser(run.services.web_port, run.side_requests)
    wait_until(lambda: browser.sign_in(OPERATOR, OPERATOR_PASSWORD), 30, "the operator cannot sign in")
    client_id = run.query("SELECT min(id) FROM client")[0][0]
    pages = ("/admin/", "/admin/client/", "/admin/client/?search=peeters", "/admin/client/?flt0_status_equals=created",
             f"/admin/client/details/?id={client_id}", f"/admin/client/edit/?id={client_id}")
    for _round in range(WEB_WORKERS):
        for path in pages:
            browser.get(path, "warm-up")


# ---------------------------------------------------------------------------------------------------------
# Checks

def wait_for_final_tasks(run: Run, deadline: float) -> None:
    while now() < deadline:
        try:
            if not run.query("SELECT 1 FROM task WHERE status IN ('queued', 'started') LIMIT 1"):
                return
        except psycopg.Error:
            pass
        time.sleep(1)


def check_tasks(run: Run) -> dict:
    counts = dict(run.query("SELECT status, count(*) FROM task GROUP BY status"))
    return {"total": sum(counts.values()), "by status": counts,
            "not final": counts.get("queued", 0) + counts.get("started", 0)}


def check_writes(run: Run) -> dict:
    """Every confirmed edit and note in the database with its audit row; each edited client's final value."""
    saved = [w for w in run.writes if w.outcome == "saved"]
    edited = sorted({w.client_id for w in run.writes if w.kind == "edit"})
    current = dict(run.query("SELECT id, internal_reference FROM client WHERE id = ANY(%s)", (edited,)))
    audited_edits = set()
    for object_id, changes in run.query("SELECT object_id, changes_json FROM audit_event WHERE object_type = 'client' "
                                        "AND object_id = ANY(%s)", ([str(i) for i in edited],)):
        change = json.loads(changes).get("internal_reference")
        if isinstance(change, list):
            audited_edits.add((int(object_id), change[1]))
    notes = set(run.query("SELECT client_id, text FROM client_note WHERE text LIKE 'soak note %%'"))
    audited_notes = set()
    for client_id, changes in run.query("SELECT client_id, changes_json FROM audit_event WHERE object_type = 'client_note'"):
        text = json.loads(changes).get("text")
        if isinstance(text, list):
            audited_notes.add((client_id, text[1]))

    lost = []
    for write in saved:
        key = (write.client_id, write.value)
        if write.kind == "note" and key not in notes:
            lost.append(f"note {write.value!r} on client {write.client_id}: not in client_note")
        elif key not in (audited_notes if write.kind == "note" else audited_edits):
            lost.append(f"{write.kind} {write.value!r} on client {write.client_id}: no audit row")
    for client_id in edited:
        attempts = sorted((w for w in run.writes if w.kind == "edit" and w.client_id == client_id), key=lambda w: w.started)
        last_saved = max((n for n, w in enumerate(attempts) if w.outcome == "saved"), default=None)
        if last_saved is None:
            continue
        allowed = {attempts[last_saved].value} | {w.value for w in attempts[last_saved + 1:] if w.outcome != "refused"}
        if current.get(client_id) not in allowed:
            lost.append(f"client {client_id} holds {current.get(client_id)!r}, not its last saved edit "
                        f"{attempts[last_saved].value!r}")
    outcomes = {}
    for write in run.writes:
        outcomes.setdefault(write.kind, {}).setdefault(write.outcome, 0)
        outcomes[write.kind][write.outcome] += 1
    return {"outcomes": outcomes, "lost": lost}


def check_invitations(run: Run, mailbox: Mailbox) -> dict:
    """The links in the e-mails, and the invited clients' usable invitations."""
    mails = mailbox.read()
    mailed = {token_hash(token): token for mail in mails for token in mail.tokens}
    invitations = run.query("SELECT i.id, i.client_id, i.token_hash, i.status, i.expires_at > now() AT TIME ZONE 'UTC', "
                            "i.task_id, c.status FROM invitation i JOIN client c ON c.id = i.client_id ORDER BY i.id")
    by_hash = {row[2]: row for row in invitations}
    by_client: dict[int, list[tuple]] = {}
    for row in invitations:
        by_client.setdefault(row[1], []).append(row)

    base = run.services.web_port
    with ThreadPoolExecutor(4) as pool:
        answers = dict(zip(mailed, pool.map(
            lambda token: Browser(base, run.side_requests).get(f"/invitation/{token}", "link_check").status, mailed.values())))
    links = {"working": 0, "accepted": 0, "replaced by a later resend": 0, "dead": 0}
    dead = []
    for hashed, status in answers.items():
        row = by_hash.get(hashed)
        if status == 200:
            links["working"] += 1
        elif row is not None and row[3] == "accepted":
            links["accepted"] += 1
        elif row is not None and row[3] == "voided" and any(
                later[0] > row[0] and later[5] != row[5] for later in by_client[row[1]]):
            links["replaced by a later resend"] += 1
        else:
            links["dead"] += 1
            dead.append(f"HTTP {status}: " + (f"invitation {row[0]} of client {row[1]} is {row[3]}" if row
                                              else "no invitation has this token"))

    invited = {client_id: rows for client_id, rows in by_client.items() if rows[0][6] == "invited"}
    not_one_usable, no_mail = [], []
    for client_id, rows in invited.items():
        usable = [row for row in rows if row[3] in ("pending", "sent") and row[4]]
        if len(usable) != 1:
            not_one_usable.append(f"client {client_id}: {len(usable)} usable invitations "
                                  f"({', '.join(row[3] for row in rows)})")
        elif usable[0][2] not in mailed:
            no_mail.append(f"client {client_id}: no e-mail carries its link (invitation {usable[0][0]} is {usable[0][3]})")
    return {"mails": len(mails), "links": len(mailed), "by kind": links, "dead": dead,
            "invited clients": len(invited), "not one usable": not_one_usable, "no mail": no_mail}


# ---------------------------------------------------------------------------------------------------------
# Report

def latency_table(requests: list[Request], faults: list[Fault]) -> tuple[list[str], dict]:
    windows = [fault.window for fault in faults if fault.started]

    def in_window(request: Request) -> bool:
        return any(request.started < end and request.ended > start for start, end in windows)

    outside = [r for r in requests if not in_window(r)]
    inside = [r for r in requests if in_window(r)]
    lines = ["| request | count | errors | p50 ms | p95 ms | max ms |", "|---|---:|---:|---:|---:|---:|"]
    for kind in sorted({r.kind for r in outside}):
        rows = [r for r in outside if r.kind == kind]
        ms = [r.ms for r in rows]
        lines.append(f"| {kind} | {len(rows)} | {sum(r.failed for r in rows)} | {percentile(ms, .5):.0f} | "
                     f"{percentile(ms, .95):.0f} | {max(ms):.0f} |")
    ms = [r.ms for r in outside]
    lines.append(f"| **all** | {len(outside)} | {sum(r.failed for r in outside)} | {percentile(ms, .5):.0f} | "
                 f"{percentile(ms, .95):.0f} | {max(ms, default=0):.0f} |")
    summary = {"outside": len(outside), "outside errors": sum(r.failed for r in outside), "p50": percentile(ms, .5),
               "p95": percentile(ms, .95), "inside": len(inside), "inside errors": sum(r.failed for r in inside)}
    return lines, summary


def report(args, run: Run, faults: list[Fault], started: float, tasks: dict, writes: dict, links: dict,
           setup_s: float) -> bool:
    print(f"\n## Soak: {args.minutes:g} min, {args.users} users ({args.think:g} s between clicks on average), "
          f"{args.clients} demo clients, faults {','.join(args.faults) or 'none'} (setup {setup_s:.0f} s)\n")
    lines, latency = latency_table(run.requests, faults)
    print(f"Requests: {len(run.requests)} ({len(run.requests) / (args.minutes * 60):.1f}/s); "
          f"in fault windows {latency['inside']} ({latency['inside errors']} errors: 5xx or no answer); "
          f"outside {latency['outside']} ({latency['outside errors']} errors). Outside the fault windows:\n")
    print("\n".join(lines))
    loads = run.load_averages or [float("nan")]
    print(f"\nMachine: {os.cpu_count()} cores, 1-minute load average during the run {statistics.mean(loads):.1f} "
          f"(max {max(loads):.1f}), other sessions' work included; this harness itself used "
          f"{run.harness_cpu_s / (args.minutes * 60):.2f} cores.")
    print("\n| fault | at s | ended s | healed after s | note |\n|---|---:|---:|---:|---|")
    for fault in faults:
        ended = f"{fault.ended - started:.0f}" if fault.ended else "—"
        heal = f"{fault.heal_seconds:.1f}" if fault.heal_seconds is not None else "not healed"
        at = f"{fault.started - started:.0f}" if fault.started else "—"
        print(f"| {fault.name} | {at} | {ended} | {heal} | {fault.note} |")
    print(f"\nTasks: {tasks['total']} ({', '.join(f'{k} {v}' for k, v in sorted(tasks['by status'].items()))}); "
          f"launched by users and operator: {len(run.tasks_launched)}")
    print("Writes by outcome: " + "; ".join(f"{kind}: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
                                            for kind, outcomes in sorted(writes["outcomes"].items())))
    print(f"E-mails received: {links['mails']}, distinct links {links['links']}: "
          + ", ".join(f"{k} {v}" for k, v in links["by kind"].items())
          + f"; invitations accepted by the simulated clients: {len(run.accepted_tokens)}")
    print(f"Invited clients checked: {links['invited clients']}; without exactly one usable link: "
          f"{len(links['not one usable'])}; whose usable link no e-mail carries: {len(links['no mail'])}")
    restarts = run.services.restarts
    print(f"Processes the supervisor started again: {', '.join(f'{k} {v}' for k, v in sorted(restarts.items())) or 'none'}")
    for title, items in (("Harness errors (pages the simulated users could not read)", run.harness_errors),
                         ("Data lost", writes["lost"]), ("Dead links", links["dead"]),
                         ("Invited clients without exactly one usable link", links["not one usable"]),
                         ("Invited clients whose link no e-mail carries", links["no mail"])):
        if items:
            print(f"\n{title} (first 10 of {len(items)}):\n  " + "\n  ".join(items[:10]))

    heals = [fault.heal_seconds for fault in faults]
    targets = [
        ("data lost (confirmed edits and notes)", len(writes["lost"]), len(writes["lost"]) == 0),
        ("dead links", links["by kind"]["dead"], links["by kind"]["dead"] == 0),
        ("invited clients without exactly one usable link e-mailed to them",
         len(links["not one usable"]) + len(links["no mail"]), not links["not one usable"] and not links["no mail"]),
        ("tasks not final", tasks["not final"], tasks["not final"] == 0),
        (f"faults healed within {HEAL_TARGET_S} s", f"{sum(h is not None and h <= HEAL_TARGET_S for h in heals)}/{len(faults)}",
         all(h is not None and h <= HEAL_TARGET_S for h in heals)),
        (f"page p95 outside fault windows ≤ {P95_TARGET_MS} ms", f"{latency['p95']:.0f} ms", latency["p95"] <= P95_TARGET_MS),
    ]
    print("\n| target | figure | |\n|---|---:|---|")
    for name, figure, met in targets:
        print(f"| {name} | {figure} | {'met' if met else 'MISSED'} |")
    print("\nManual steps: none (the harness only starts again processes that exit, as a supervisor does; it never "
          "reruns a task or writes to the database).")
    return all(met for _name, _figure, met in targets)


# ---------------------------------------------------------------------------------------------------------

def write_requests(path: Path, requests: list[Request], started: float) -> None:
    """Every user request, for a look at when the slow ones happened (--keep)."""
    lines = ["kind,started_s,ms,status"] + [f"{r.kind},{r.started - started:.3f},{r.ms:.1f},{r.status}" for r in requests]
    path.write_text("\n".join(lines) + "\n")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--clients", type=int, default=2000, help="demo clients loaded before the run")
    parser.add_argument("--faults", default="worker,redis,postgres,mail,web",
                        type=lambda s: [name.strip() for name in s.split(",") if name.strip()])
    parser.add_argument("--think", type=float, default=3, help="mean seconds between a user's clicks")
    parser.add_argument("--keep", action="store_true",
                        help="leave the run's folder (every request in requests.csv, logs, maildir, databases)")
    args = parser.parse_args()
    unknown = set(args.faults) - {"worker", "redis", "postgres", "mail", "web"}
    if unknown:
        parser.error(f"unknown faults: {', '.join(sorted(unknown))}")

    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    folder = Path(tempfile.mkdtemp(prefix="clientdesk-soak-"))
    folder.chmod(0o711)  # PostgreSQL runs as another user when we are root: it must reach its folder
    services = Services(folder, RQ_WORKERS, WEB_WORKERS)
    try:
        print(f"Setting up in {folder} ...", flush=True)
        run = Run(services, args.users, args.clients, args.think, ramp_up=min(30.0, args.minutes * 6))
        setup = {}
        for step, action in (
                ("PostgreSQL", services.postgres.init), ("Redis", services.start_redis), ("SMTP", services.start_smtp),
                ("migrations", lambda: services.flask("db", "upgrade")),
                ("demo data", lambda: services.flask("demo", "load", "--clients", str(args.clients))),
                ("operator", lambda: services.flask("users", "create", "--email", OPERATOR, "--password",
                                                    OPERATOR_PASSWORD, "--role", "admin")),
                ("web and workers", services.start_app),
                ("warm-up", lambda: (wait_until(run.healthz_ok, 60, "the app did not answer /healthz ok"), warm_up(run)))):
            step_started = now()
            action()
            setup[step] = now() - step_started
        print("Set up in " + ", ".join(f"{step} {seconds:.0f} s" for step, seconds in setup.items()), flush=True)
        started = now()
        run.ends_at = started + args.minutes * 60

        mailbox = Mailbox(services.maildir)
        users = [SimulatedUser(n, run) for n in range(args.users)]
        injector = FaultInjector(run, mailbox, args.faults, started, args.minutes)
        for thread in [*users, Invitee(run, mailbox), injector]:
            thread.start()
        cpu_before = cpu_seconds()
        while not run.stop.wait(min(10.0, max(0.0, run.ends_at - now()))) and now() < run.ends_at:
            run.load_averages.append(os.getloadavg()[0])
        run.stop.set()
        run.harness_cpu_s = cpu_seconds() - cpu_before
        for user in users:
            user.join(REQUEST_TIMEOUT_S)
        injector.join(REQUEST_TIMEOUT_S)

        print(f"Load over; draining (up to {DRAIN_S} s) ...", flush=True)
        drain_ends = now() + DRAIN_S
        wait_for_final_tasks(run, drain_ends)
        for watcher in injector.watchers:
            watcher.join(max(0.0, drain_ends - now()))
        ok = report(args, run, injector.faults, started, check_tasks(run), check_writes(run),
                    check_invitations(run, mailbox), sum(setup.values()))
        if args.keep:
            write_requests(folder / "requests.csv", run.requests, started)
        return 0 if ok else 1
    finally:
        services.stop_all()
        if args.keep:
            print(f"Kept {folder} (requests.csv, logs/, maildir/, postgres/, redis/, instance/)")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
