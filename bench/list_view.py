"""Benchmark of the client list (and its CSV export) beside a bare Flask-Admin view over the same table.

    python bench/list_view.py [--sizes 1000,100000] [--db sqlite,postgresql] [--runs 20]
                              [--pg-url URL] [--reuse] [--no-sorts] [--no-export]

For each database and size it builds a fresh, migrated database (SQLite file in --workdir; for
PostgreSQL the database of --pg-url / $BENCH_PG_URL, whose schema `public` is DROPPED and recreated),
fills it with Core executemany inserts (clients with contacts, integrations, documents and audit rows,
5 groups, 20 staff users), then times, through the test client with a real signed-in session:

- the ClientDesk list as a supervisor and as a staff user (staff scoping adds a group condition),
- a bare `flask_admin.contrib.sqla.ModelView` over the same table in a minimal app (same database),

for: page 1; filtered by status and group; searched by name (a common surname, and prefix + surname);
sorted by trial end. Each figure is the median (and p95) of --runs requests after warm-up, requests of
the three variants interleaved so machine noise hits them alike; the process's CPU time per request is
reported too (on a shared machine it moves less than the wall clock), and SQL statements per request
are counted with before_cursor_execute. With the largest size it also times a sort on every listed column.
The CSV export (/admin/client/export/csv/) of every row is timed in a child process that also
reports its RSS growth (peak during the request minus RSS before it), beside Flask-Admin's own
export on the bare view.

Budgets at 100k rows, on every database, as ratios to the bare view in the same run (the machine's load
moves both alike): page 1 no slower than 1.5x bare, a name search no slower than bare, filtered and sorted
no slower than 2x bare; the same statements per request at every size; and on SQLite, the export's time
and memory (TARGETS_NOTE). The absolute figures noted beside them (SQLite) are information, not a verdict.
"""
import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("INSTANCE_PATH", str(Path(tempfile.gettempdir()) / "clientdesk-bench-instance"))

import sqlalchemy as sa  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

PASSWORD = "quiet-harbour-lantern-2026"
SUPERVISOR_EMAIL = "bench.supervisor@example.com"
STAFF_EMAIL = "bench.staff01@example.com"
STAFF_USERS = 20
# A surname that 6% of the generated clients carry (the stress case), and a prefix + surname (0.4%), the
# way people look a client up by name.
SEARCH_TERMS = ("peeters", "bakkerij peeters")
FILTER_STATUS = "active"
STAFF_GROUPS = ("Team Brussels", "Everyone")  # the signed-in staff user's groups
BATCH = 10_000

# A request's budget, as the most it may take over the bare view's median in the same run, by scenario
# prefix (the first that matches); and the milliseconds beyond which a SQLite figure is noted, for information.
RATIO_BUDGETS = (("page 1", 1.5), ("search", 1.0), ("", 2.0))
NOTED_MS = (("search", 25), ("", 20))
TARGETS_NOTE = (
    "budgets at 100k, every database: page 1 <= 1.5x bare; search <= 1.0x bare; filtered / sorted <= 2.0x bare; "
    "same statements at every size; SQLite export <= 1.5 s, RSS growth < 30 MB. "
    "Noted, not a verdict (SQLite): page 1 / filtered / sorted over 20 ms, search over 25 ms"
)


# ---------------------------------------------------------------------------------------------------
# Apps


def clientdesk_app(url: str):
    from clientdesk.app import create_app

    return create_app({
        "SQLALCHEMY_DATABASE_URI": url,
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "SECRET_KEY": "bench",
    })


def bare_app(url: str, details: bool = False):
    """A minimal Flask app with a plain Flask-Admin ModelView over the same client table (with its details page if
    `details`)."""
    from flask import Flask
    from flask_admin import Admin
    from flask_admin.contrib.sqla import ModelView
    from flask_babel import Babel

    from clientdesk.extensions import db
    from clientdesk.models import Client

    class BareClientView(ModelView):
        column_list = ["name", "enterprise_number", "group_id", "firm_contact_id", "status", "peppol_send",
                       "peppol_receive", "plan_id", "trial_end"]
        column_searchable_list = ["name"]
        column_filters = ["status", "group_id"]
        page_size = 25  # as the ClientDesk list, so both render the same number of rows
        can_export = True
        export_max_rows = 0
        can_view_details = details

    app = Flask("bare_flask_admin")
    app.config.update(SQLALCHEMY_DATABASE_URI=url, SECRET_KEY="bench", TESTING=True)
    db.init_app(app)
    Babel(app)  # Flask-Admin needs it whenever flask_babel is importable
    admin = Admin(app, name="bare")
    admin.add_view(BareClientView(Client, db, endpoint="client"))
    return app


def model_view(app, endpoint: str = "client"):
    for admin in app.extensions["admin"]:
        for view in admin._views:
            if view.endpoint == endpoint:
                return view
    raise LookupError(endpoint)


def filter_arg(app, column_key: str) -> str:
    """The URL name of the view's "equals" filter on `column_key` (named or positional)."""
    from flask_admin.contrib.sqla.filters import FilterEqual

    view = model_view(app)
    with app.test_request_context():
        for index, flt in enumerate(view._filters):
            if isinstance(flt, FilterEqual) and getattr(flt.column, "key", None) == column_key:
                return str(view.get_filter_arg(index, flt))
    raise LookupError(column_key)


def sort_index(app, column: str) -> int:
    view = model_view(app)
    return [name for name, _label in view._list_columns].index(column)


def sign_in(app, email: str, password: str = PASSWORD):
    """A test client signed in through the real login form."""
    http = app.test_client()
    page = http.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    data = {"email": email, "password": password}
    if token:
        data["csrf_token"] = token.group(1)
    response = http.post("/login", data=data)
    if response.status_code != 302:
        raise RuntimeError(f"sign-in as {email} failed ({response.status_code})")
    return http


class StatementCounter:
    """SQL statements (and time inside the driver) on one engine."""

    def __init__(self, engine):
        self.count = 0
        self.seconds = 0.0
        sa.event.listen(engine, "before_cursor_execute", self._before)
        sa.event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self.count += 1
        conn.info["bench_t0"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        self.seconds += time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())


# ---------------------------------------------------------------------------------------------------
# Data


def reset_database(url: str, workdir: Path) -> None:
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def count_clients(url: str) -> int | None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text("SELECT count(*) FROM client")).scalar()
    except sa.exc.DBAPIError:
        return None
    finally:
        engine.dispose()


def generate(app, size: int, seed: int = 2026) -> dict:
    """Groups, users and `size` clients with contacts, integrations, inbox documents and audit rows."""
    from clientdesk import demo
    from clientdesk.extensions import db
    from clientdesk.models import (
        AuditEvent,
        Client,
        ClientIntegration,
        ClientStatus,
        Contact,
        Document,
        Group,
        IntegrationProduct,
        Plan,
        Role,
        User,
        group_members,
    )
    from clientdesk.search import fold

    rng = random.Random(seed)
    now = datetime(2026, 11, 23, 12, 0, 0)
    started = time.perf_counter()
    with app.app_context():
        engine = db.engine
        with engine.begin() as conn:
            existing = set(conn.execute(sa.select(Group.name)).scalars())
            conn.execute(sa.insert(Group.__table__), [
                {"name": name, "description": f"{name} (bench)", "created_at": now, "updated_at": now}
                for name in demo.GROUPS if name not in existing
            ])
            group_ids = dict(conn.execute(sa.select(Group.name, Group.id)).all())
            password_hash = generate_password_hash(PASSWORD)
            users = [{"email": SUPERVISOR_EMAIL, "full_name": "Bench Supervisor", "role": Role.SUPERVISOR.value}]
            users += [
                {"email": f"bench.staff{i:02d}@example.com", "full_name": f"{rng.choice(demo.FIRST_NAMES)} {rng.choice(demo.NAMES)}",
                 "role": Role.STAFF.value}
                for i in range(1, STAFF_USERS + 1)
            ]
            conn.execute(sa.insert(User.__table__), [
                dict(u, password_hash=password_hash, active=True, created_at=now, updated_at=now) for u in users
            ])
            user_ids = dict(conn.execute(sa.select(User.email, User.id)).all())
            staff_ids = [user_ids[u["email"]] for u in users if u["role"] == Role.STAFF.value]
            members = {(group_ids[name], user_ids[STAFF_EMAIL]) for name in STAFF_GROUPS}
            for i, user_id in enumerate(staff_ids[1:]):
                members.add((group_ids[demo.GROUPS[1 + i % (len(demo.GROUPS) - 1)]], user_id))
            conn.execute(sa.insert(group_members), [{"group_id": g, "user_id": u} for g, u in sorted(members)])
            product_ids = list(conn.execute(sa.select(IntegrationProduct.id)).scalars())
            conn.execute(sa.insert(Plan.__table__), [
                {"name": name, "monthly_price": Decimal(price), "includes": includes, "active": active, "sort_order": position,
                 "created_at": now, "updated_at": now}
                for position, (name, price, includes, active) in enumerate(demo.DEMO_PLANS)])
            plan_ids = list(conn.execute(sa.select(Plan.id).order_by(Plan.sort_order)).scalars())

        statuses = ([ClientStatus.CREATED] * 3 + [ClientStatus.INVITED] * 3 + [ClientStatus.ACTIVE] * 6
                    + [ClientStatus.DEACTIVATED])
        numbers, inbound = set(), set()
        totals = {"clients": 0, "contacts": 0, "integrations": 0, "documents": 0, "audit": 0}
        for first_id in range(1, size + 1, BATCH):
            clients, contacts, integrations, documents, audit = [], [], [], [], []
            for client_id in range(first_id, min(first_id + BATCH, size + 1)):
                number = demo.enterprise_number(rng)
                while number in numbers:
                    number = demo.enterprise_number(rng)
                numbers.add(number)
                address = f"{rng.getrandbits(40):010x}@in.clientdesk.example"
                while address in inbound:
                    address = f"{rng.getrandbits(40):010x}@in.clientdesk.example"
                inbound.add(address)
                postal_code, city, language = rng.choice(demo.CITIES)
                surname = rng.choice(demo.NAMES)
                name = f"{rng.choice(demo.PREFIXES)} {surname} {rng.choice(demo.SUFFIXES)}"
                status = rng.choice(statuses)
                invited_at = activated_at = trial_end = expires = deactivated_at = None
                peppol = False
                if status != ClientStatus.CREATED:
                    invited_at = now - timedelta(days=rng.randint(1, 400), minutes=rng.randint(0, 1440))
                    expires = invited_at + timedelta(days=21)
                if status in (ClientStatus.ACTIVE, ClientStatus.DEACTIVATED):
                    activated_at = invited_at + timedelta(days=rng.randint(0, 5))
                    trial_end = (activated_at + timedelta(days=30)).date()
                    expires = None
                    peppol = rng.random() < 0.4
                if status == ClientStatus.DEACTIVATED:
                    deactivated_at = now - timedelta(days=rng.randint(0, 100))
                external_reference = f"EXT-{client_id:06d}"
                first = rng.choice(demo.FIRST_NAMES)
                emails = [f"{fold(first)}.{client_id}@client{client_id}.example.com"]
                contacts.append({
                    "client_id": client_id, "civility": rng.choice(("mr", "ms")), "first_name": first, "last_name": surname,
                    "email": emails[0], "language": language, "is_primary": True,
                    "mobile": f"+3247{rng.randint(1000000, 9999999)}", "created_at": now, "updated_at": now,
                })
                if rng.random() < 0.3:
                    other_first, other_last = rng.choice(demo.FIRST_NAMES), rng.choice(demo.NAMES)
                    emails.append(f"{fold(other_first)}.{fold(other_last).replace(' ', '')}.{client_id}@client{client_id}.example.com")
                    contacts.append({
                        "client_id": client_id, "civility": None, "first_name": other_first, "last_name": other_last,
                        "email": emails[1], "language": language, "is_primary": False, "mobile": None,
                        "created_at": now, "updated_at": now,
                    })
                search_parts = [name, number, "BE" + number, external_reference] + emails
                clients.append({
                    "id": client_id, "name": name, "country": "BE", "enterprise_number": number, "vat_number": "BE" + number,
                    "skip_vat_check": False, "external_reference": external_reference, "internal_reference": None,
                    "vat_frequency": rng.choice(("monthly", "quarterly", "quarterly", "not_liable")),
                    "subscription_mode": rng.choice(("full", "full", "delivery_only", "managed")),
                    "plan_id": rng.choice(plan_ids[:1] + plan_ids[1:2] * 3 + plan_ids[2:]),
                    "trial_end": trial_end, "status": status.value, "street": rng.choice(demo.STREETS),
                    "house_number": str(rng.randint(1, 250)), "box": None, "postal_code": postal_code, "city": city,
                    "website": None, "language": language, "group_id": group_ids[demo.GROUP_OF_CITY[city]],
                    "firm_contact_id": rng.choice(staff_ids), "client_facing_contact_id": None, "template_id": None,
                    "hidden": rng.random() < 0.01, "sync_from": None, "track_transactions_without_documents": False,
                    "inbound_email": address, "e_invoicing_mandate": peppol, "peppol_send": peppol,
                    "peppol_receive": peppol and rng.random() < 0.8, "peppol_state": "registered" if peppol else "off",
                    "peppol_message": None, "refused_senders_count": 0, "invited_at": invited_at,
                    "invitation_expires_at": expires, "activated_at": activated_at, "deactivated_at": deactivated_at,
                    "search_text": fold(" ".join(search_parts)), "created_at": now, "updated_at": now,
                    "billing_street": None, "billing_house_number": None, "billing_box": None,
                    "billing_postal_code": None, "billing_city": None, "billing_country": None,
                })
                if rng.random() < 0.6:
                    integrations.append({
                        "client_id": client_id, "product_id": rng.choice(product_ids), "delivery_method": "email",
                        "delivery_email": f"inbox{client_id}@software.example.com", "attach_ubl": False,
                        "credit_card_statements": "purchase", "created_at": now, "updated_at": now,
                    })
                if status == ClientStatus.ACTIVE and rng.random() < 0.5:
                    for n in range(rng.randint(1, 6)):
                        received = now - timedelta(days=rng.randint(0, 60))
                        state = rng.choice(("inbox", "inbox", "sent", "failed"))
                        documents.append({
                            "client_id": client_id, "filename": f"invoice-{client_id}-{n}.pdf", "content_type": "application/pdf",
                            "size": rng.randint(20_000, 400_000), "storage_path": f"bench/{client_id}/{n}.pdf",
                            "sender": emails[0], "doc_type": rng.choice(("purchase", "sales", "misc")), "status": state,
                            "received_at": received, "sent_at": received if state == "sent" else None,
                            "error": "delivery failed" if state == "failed" else None,
                            "created_at": received, "updated_at": received,
                        })
                # Core inserts skip the ORM audit hook, so the creation is recorded here, as an import would.
                audit.append({
                    "at": now, "actor_id": None, "actor": "bench", "action": "create", "object_type": "client",
                    "object_id": str(client_id), "object_repr": name, "client_id": client_id,
                    "changes_json": json.dumps({"name": [None, name], "status": [None, status.value]}),
                })
            with engine.begin() as conn:
                conn.execute(sa.insert(Client.__table__), clients)
                conn.execute(sa.insert(Contact.__table__), contacts)
                if integrations:
                    conn.execute(sa.insert(ClientIntegration.__table__), integrations)
                if documents:
                    conn.execute(sa.insert(Document.__table__), documents)
                conn.execute(sa.insert(AuditEvent.__table__), audit)
            for key, rows in (("clients", clients), ("contacts", contacts), ("integrations", integrations),
                              ("documents", documents), ("audit", audit)):
                totals[key] += len(rows)
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('client', 'id'), (SELECT max(id) FROM client))"))
            # What autovacuum does shortly after a bulk load: statistics and the visibility map.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("VACUUM ANALYZE"))
        totals["group_ids"] = group_ids
        totals["seconds"] = round(time.perf_counter() - started, 1)
    return totals


def prepare(url: str, size: int, workdir: Path, reuse: bool) -> dict:
    """A migrated database holding `size` clients (rebuilt unless --reuse finds one of that size)."""
    from flask_migrate import upgrade

    if not (reuse and count_clients(url) == size):
        reset_database(url, workdir)
        fresh = True
    else:
        fresh = False
    app = clientdesk_app(url)
    with app.app_context():
        upgrade(revision="heads")
    info = generate(app, size) if fresh else {"seconds": 0.0, "reused": True}
    return info


# ---------------------------------------------------------------------------------------------------
# Timing


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(variants: dict, runs: int, warmup: int = 3) -> dict:
    """variants: name -> (http client, url, counter). Interleaved requests; ms and statements per request."""
    samples = {name: [] for name in variants}
    cpu_ms = {name: [] for name in variants}
    statements = {name: set() for name in variants}
    sql_ms = {name: [] for name in variants}
    rows = {}
    for i in range(warmup + runs):
        for name, (http, url, counter) in variants.items():
            before, before_sql = counter.count, counter.seconds
            t0, cpu0 = time.perf_counter(), time.process_time()
            response = http.get(url)
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            if response.status_code != 200:
                raise RuntimeError(f"{name} {url}: HTTP {response.status_code}")
            if i == 0:
                rows[name] = response.get_data(as_text=True).count('<td class="col-name">')
            if i >= warmup:
                samples[name].append(elapsed * 1000)
                cpu_ms[name].append(cpu * 1000)
                statements[name].add(counter.count - before)
                sql_ms[name].append((counter.seconds - before_sql) * 1000)
    return {
        name: {
            "median": statistics.median(samples[name]),
            "p95": percentile(samples[name], 0.95),
            "cpu_median": statistics.median(cpu_ms[name]),
            "sql_median": statistics.median(sql_ms[name]),
            "statements": sorted(statements[name]),
            "rows": rows[name],
        }
        for name in variants
    }


def list_scenarios(ours, bare, group_id: int) -> list[tuple[str, str, str]]:
    """(label, ClientDesk URL, bare URL) for the four measured requests."""
    base = "/admin/client/"
    ours_status, ours_group = filter_arg(ours, "status"), filter_arg(ours, "group_id")
    bare_status, bare_group = filter_arg(bare, "status"), filter_arg(bare, "group_id")
    return [
        ("page 1", base, base),
        ("filter status+group",
         f"{base}?flt0_{ours_status}={FILTER_STATUS}&flt1_{ours_group}={group_id}",
         f"{base}?flt0_{bare_status}={FILTER_STATUS}&flt1_{bare_group}={group_id}"),
        *[(f"search '{term}'", f"{base}?{urlencode({'search': term})}", f"{base}?{urlencode({'search': term})}")
          for term in SEARCH_TERMS],
        ("sort trial end", f"{base}?sort={sort_index(ours, 'trial_end')}", f"{base}?sort={sort_index(bare, 'trial_end')}"),
    ]


def bench_lists(url: str, size: int, runs: int, sorts: bool, group_id: int) -> dict:
    from clientdesk.extensions import db

    ours, bare = clientdesk_app(url), bare_app(url)
    with ours.app_context():
        ours_counter = StatementCounter(db.engine)
    with bare.app_context():
        bare_counter = StatementCounter(db.engine)
    supervisor, staff, anonymous = sign_in(ours, SUPERVISOR_EMAIL), sign_in(ours, STAFF_EMAIL), bare.test_client()
    results = []
    for label, ours_url, bare_url in list_scenarios(ours, bare, group_id):
        figures = measure({
            "bare": (anonymous, bare_url, bare_counter),
            "supervisor": (supervisor, ours_url, ours_counter),
            "staff": (staff, ours_url, ours_counter),
        }, runs)
        results.append({"scenario": label, **figures})
    extra = []
    if sorts:
        view = model_view(ours)
        for index, (column, _label) in enumerate(view._list_columns):
            for desc in (False, True):
                query = f"?sort={index}" + ("&desc=1" if desc else "")
                figures = measure({"supervisor": (supervisor, f"/admin/client/{query}", ours_counter)}, max(5, runs // 4), warmup=1)
                extra.append({"scenario": f"sort {column}{' desc' if desc else ''}", **figures})
    return {"lists": results, "sorts": extra}


# ---------------------------------------------------------------------------------------------------
# Export (child process, so that its RSS is its own)


def rss_kib(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (peak RSS) to the current RSS


def export_child(url: str, which: str, runs: int) -> None:
    import gc

    if which == "ours":
        app = clientdesk_app(url)
        http = sign_in(app, SUPERVISOR_EMAIL)
    else:
        app = bare_app(url)
        http = app.test_client()
    http.get("/admin/client/")  # warm up imports, templates and the connection pool
    figures = []
    for _ in range(runs):
        gc.collect()
        before = rss_kib()
        reset_peak_rss()
        t0, cpu0 = time.perf_counter(), time.process_time()
        response = http.get("/admin/client/export/csv/", buffered=False)
        first_chunk = None
        size = lines = 0
        for chunk in response.response:
            if first_chunk is None:
                first_chunk = time.perf_counter() - t0
            data = chunk if isinstance(chunk, bytes) else chunk.encode()
            size += len(data)
            lines += data.count(b"\n")
        response.close()
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        figures.append({
            "status": response.status_code, "seconds": elapsed, "cpu_seconds": cpu, "first_chunk_ms": (first_chunk or elapsed) * 1000,
            "mib": size / 2**20, "lines": lines, "rss_growth_mib": (rss_kib("VmHWM") - before) / 1024,
        })
    print(json.dumps(figures))


def bench_export(url: str, which: str, runs: int) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--export-child", which, "--pg-url", url, "--runs", str(runs)],
        check=True, capture_output=True, text=True, cwd=REPO,
    )
    figures = json.loads(output.stdout.strip().splitlines()[-1])
    if any(f["status"] != 200 for f in figures):
        raise RuntimeError(f"export ({which}) answered {[f['status'] for f in figures]}")
    return {
        "seconds": statistics.median(f["seconds"] for f in figures),
        "cpu_seconds": statistics.median(f["cpu_seconds"] for f in figures),
        "runs": [round(f["seconds"], 2) for f in figures],
        "first_chunk_ms": statistics.median(f["first_chunk_ms"] for f in figures),
        "rss_growth_mib": max(f["rss_growth_mib"] for f in figures),
        "lines": figures[0]["lines"],
        "mib": figures[0]["mib"],
    }


# ---------------------------------------------------------------------------------------------------
# Report


def print_lists(db_name: str, by_size: dict) -> None:
    sizes = sorted(by_size)
    print(f"\n### Client list, {db_name} (ms per request: median / p95; x bare = median / bare median; "
          "CPU and SQL: medians of this process's CPU time and of the time inside the database driver)\n")
    print("| rows | request | bare ms | supervisor ms | x bare | staff ms | x bare "
          "| CPU ms bare/sup/staff | SQL ms bare/sup/staff | statements bare/sup/staff | rows shown bare/sup/staff |")
    print("|---:|---|---:|---:|---:|---:|---:|---|---|---|---|")
    for size in sizes:
        for item in by_size[size]["lists"]:
            bare, sup, staff = item["bare"], item["supervisor"], item["staff"]
            print(
                f"| {size:,} | {item['scenario']} | {bare['median']:.1f} / {bare['p95']:.1f} "
                f"| {sup['median']:.1f} / {sup['p95']:.1f} | {sup['median'] / bare['median']:.2f} "
                f"| {staff['median']:.1f} / {staff['p95']:.1f} | {staff['median'] / bare['median']:.2f} "
                f"| {bare['cpu_median']:.1f} / {sup['cpu_median']:.1f} / {staff['cpu_median']:.1f} "
                f"| {bare['sql_median']:.1f} / {sup['sql_median']:.1f} / {staff['sql_median']:.1f} "
                f"| {fmt_statements(bare)} / {fmt_statements(sup)} / {fmt_statements(staff)} "
                f"| {bare['rows']} / {sup['rows']} / {staff['rows']} |"
            )
    if len(sizes) > 1:
        print("\nStatements per request, the same at every size:", "yes" if same_statements(by_size) else "NO")
    for size in sizes:
        if by_size[size]["sorts"]:
            print(f"\nSort on every listed column ({db_name}, {size:,} rows, supervisor; median / p95 ms, statements):\n")
            print("| sort | ms | stmts |\n|---|---:|---:|")
            for item in by_size[size]["sorts"]:
                sup = item["supervisor"]
                print(f"| {item['scenario']} | {sup['median']:.1f} / {sup['p95']:.1f} | {fmt_statements(sup)} |")


def same_statements(by_size: dict) -> bool:
    """Each request (scenario x user) runs one statement count, and the same one at every size."""
    counts = {}
    for _size, result in by_size.items():
        for item in result["lists"]:
            for user in ("supervisor", "staff"):
                counts.setdefault((item["scenario"], user), set()).add(tuple(item[user]["statements"]))
    return all(len(seen) == 1 and len(next(iter(seen))) == 1 for seen in counts.values())


def fmt_statements(figures) -> str:
    return ",".join(str(n) for n in figures["statements"])


def print_exports(db_name: str, exports: dict) -> None:
    print(f"\n### CSV export of every row, {db_name} (child process; median of runs)\n")
    print("| rows | view | seconds | runs | CPU s | first chunk ms | MiB | lines | RSS growth MiB |")
    print("|---:|---|---:|---|---:|---:|---:|---:|---:|")
    for size in sorted(exports):
        for which, item in exports[size].items():
            print(f"| {size:,} | {which} | {item['seconds']:.2f} | {'/'.join(map(str, item['runs']))} | {item['cpu_seconds']:.2f} "
                  f"| {item['first_chunk_ms']:.0f} | {item['mib']:.1f} | {item['lines']:,} | {item['rss_growth_mib']:.1f} |")


def by_scenario(scenario: str, limits) -> float:
    return next(limit for prefix, limit in limits if scenario.startswith(prefix))


def check_targets(db_name: str, size: int, result: dict, export: dict | None) -> tuple[list[str], list[str]]:
    """The budgets missed, and the SQLite figures over their noted milliseconds."""
    misses, noted = [], []
    for item in result["lists"]:
        bare = item["bare"]["median"]
        for role in ("supervisor", "staff"):
            ms = item[role]["median"]
            line = f"{db_name} {size:,} {role} {item['scenario']}: {ms:.1f} ms, {ms / bare:.2f}x bare ({bare:.1f} ms)"
            if ms > by_scenario(item["scenario"], RATIO_BUDGETS) * bare:
                misses.append(line)
            if db_name == "sqlite" and ms > by_scenario(item["scenario"], NOTED_MS):
                noted.append(line)
    if export and (export["seconds"] > 1.5 or export["rss_growth_mib"] >= 30):
        misses.append(f"{db_name} {size:,} export: {export['seconds']:.2f} s, +{export['rss_growth_mib']:.1f} MiB")
    return misses, noted


def add_data_arguments(parser) -> None:
    """The sizes, databases and runs options, shared with bench/dashboard.py (same data)."""
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL"),
                        help="PostgreSQL database to use (its schema public is dropped!); default $BENCH_PG_URL")
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "clientdesk-bench"))
    parser.add_argument("--reuse", action="store_true", help="keep a database that already holds that many clients")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_arguments(parser)
    parser.add_argument("--no-sorts", action="store_true", help="skip the sort-on-every-column table")
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument("--export-runs", type=int, default=3)
    parser.add_argument("--export-child", choices=("ours", "bare"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.export_child:
        export_child(args.pg_url, args.export_child, args.runs)
        return

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    databases = [d.strip() for d in args.db.split(",") if d.strip()]
    print(f"ClientDesk list benchmark: sizes {sizes}, databases {databases}, {args.runs} requests per figure")
    misses, noted = [], []
    for db_name in databases:
        if db_name == "postgresql" and not args.pg_url:
            print("\n(postgresql skipped: give --pg-url or BENCH_PG_URL; that database's schema public is dropped)")
            continue
        by_size, exports = {}, {}
        for size in sizes:
            url = f"sqlite:///{workdir / f'list-{size}.db'}" if db_name == "sqlite" else args.pg_url
            info = prepare(url, size, workdir, args.reuse)
            print(f"\n[{db_name} {size:,}] data: {json.dumps({k: v for k, v in info.items() if k != 'group_ids'})}", flush=True)
            group_id = info.get("group_ids", {}).get(STAFF_GROUPS[0]) or group_id_of(url, STAFF_GROUPS[0])
            t0 = time.perf_counter()
            by_size[size] = bench_lists(url, size, args.runs, not args.no_sorts and size == max(sizes), group_id)
            print(f"[{db_name} {size:,}] lists measured in {time.perf_counter() - t0:.0f} s", flush=True)
            if not args.no_export and size == max(sizes):
                exports[size] = {"clientdesk (streamed)": bench_export(url, "ours", args.export_runs),
                                 "bare Flask-Admin": bench_export(url, "bare", 1)}
            if size >= 100_000:
                export = exports.get(size, {}).get("clientdesk (streamed)") if db_name == "sqlite" else None
                missed, over = check_targets(db_name, size, by_size[size], export)
                misses += missed
                noted += over
        if not same_statements(by_size):
            misses.append(f"{db_name}: statements per request differ between sizes")
        print_lists(db_name, by_size)
        if exports:
            print_exports(db_name, exports)
    print(f"\n{TARGETS_NOTE}")
    if noted:
        print("noted (not a verdict):\n  " + "\n  ".join(noted))
    print("budgets met" if not misses else "budgets MISSED:\n  " + "\n  ".join(misses))


def group_id_of(url: str, name: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        value = connection.execute(sa.text('SELECT id FROM "group" WHERE name = :name'), {"name": name}).scalar_one()
    engine.dispose()
    return value


if __name__ == "__main__":
    main()
