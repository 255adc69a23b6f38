"""Benchmark of issue 21's targets: the pages of a PostgreSQL installation at 100,000 and at 1,000,000 clients.

    python bench/million.py [--sizes 100000,1000000] [--runs 15] [--pg-url URL] [--reuse] [--drop]
                            [--no-export] [--no-explain]

For each size it uses the database `<name of --pg-url>_<size>` on the server of --pg-url / $BENCH_PG_URL
(created when missing; its schema `public` is DROPPED and rebuilt unless --reuse finds that many clients),
migrated and filled by `flask demo load --clients <size>` (timed, with its peak RSS). Then, through the test
client with the demo supervisor signed in through the login form, it times (median and p95 of --runs
requests after warm-up, statements per request): the client list's page 1, filtered by status and group,
sorted by trial end, searched by a surname about 5% of clients carry and by a whole name, its page 2,000,
the dashboard, and the details page of one client beside a bare Flask-Admin details view of the same row
(CPU ratio); and the streamed CSV export of every row in a child process (rows/s, RSS growth). It prints
each figure, the ratio of the largest size to the first, each target of the issue met or missed at
1,000,000 (at other sizes the verdicts are for information), and, for the largest size, EXPLAIN (ANALYZE,
BUFFERS) of each page's slowest statement (captured with a before_cursor_execute listener).

The figures depend on the machine's load: the load average is printed beside them.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import list_view as lv  # noqa: E402  (apps, sign-in, timing, statement counter, export RSS)
import sqlalchemy as sa  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SEARCH_COMMON = "peeters"  # one of the demo's 20 surnames
DEEP_PAGE = 2000
TARGET_SIZE = 1_000_000
# (request, most ms at 1M, most times its figure at the first size); None: no such target
TARGETS = {
    "page 1": (25, 1.2), "filtered": (25, 1.2), "sorted by trial end": (25, 1.2),
    f"search '{SEARCH_COMMON}'": (30, None), "search a whole name": (30, None),
    "dashboard": (150, None), f"page {DEEP_PAGE:,}": (40, None),
}
DETAILS_STATEMENTS, DETAILS_CPU_RATIO = 8, 1.5
EXPORT_ROWS_PER_S, EXPORT_RSS_MIB = 100_000, 30
LOAD_SECONDS = 60


def size_url(url: str, size: int) -> str:
    parsed = sa.make_url(url)
    return parsed.set(database=f"{parsed.database}_{size}").render_as_string(hide_password=False)


def ensure_database(url: str) -> None:
    parsed = sa.make_url(url)
    engine = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if not connection.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}):
            connection.exec_driver_sql(f'CREATE DATABASE "{parsed.database}"')
    engine.dispose()


def drop_database(url: str) -> None:
    parsed = sa.make_url(url)
    engine = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')  # the apps' pools are open
    engine.dispose()


def flask_env(url: str) -> dict:
    return {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench", "INSTANCE_PATH": os.environ["INSTANCE_PATH"]}


def prepare(url: str, size: int, reuse: bool) -> dict:
    """A migrated database of `size` demo clients; the time and peak RSS of the `demo load` that filled it."""
    ensure_database(url)
    if reuse and lv.count_clients(url) == size:
        return {"reused": True}
    lv.reset_database(url, Path())
    env = flask_env(url)
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=REPO, env=env, check=True,
                   capture_output=True)
    t0 = time.perf_counter()
    load = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "demo", "load", "--clients", str(size)],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    peak_kib = 0
    while load.poll() is None:
        try:
            status = Path(f"/proc/{load.pid}/status").read_text()
            peak_kib = max(peak_kib, int(status.split("VmHWM:")[1].split()[0]))
        except (FileNotFoundError, IndexError):  # it has just ended
            pass
        time.sleep(0.5)
    if load.returncode:
        raise RuntimeError(f"demo load --clients {size} failed ({load.returncode})")
    seconds = time.perf_counter() - t0
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")  # what autovacuum does shortly after a load: statistics, visibility map
    engine.dispose()
    return {"load_seconds": seconds, "load_peak_rss_mib": peak_kib / 1024}


class StatementLog:
    """Each statement of a request with its parameters and its time, to EXPLAIN the slowest."""

    def __init__(self, engine):
        self.entries = []
        self.on = False
        sa.event.listen(engine, "before_cursor_execute", self._before)
        sa.event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["million_t0"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        if self.on:
            self.entries.append((time.perf_counter() - conn.info.pop("million_t0"), statement, parameters))

    def slowest(self, http, url: str):
        self.entries, self.on = [], True
        http.get(url)
        self.on = False
        return max(self.entries, key=lambda entry: entry[0])


def requests(ours, group_id: int, client_name: str) -> list[tuple[str, str]]:
    base = "/admin/client/"
    status, group = lv.filter_arg(ours, "status"), lv.filter_arg(ours, "group_id")
    return [
        ("page 1", base),
        ("filtered", f"{base}?flt0_{status}=active&flt1_{group}={group_id}"),
        ("sorted by trial end", f"{base}?sort={lv.sort_index(ours, 'trial_end')}"),
        (f"search '{SEARCH_COMMON}'", f"{base}?{urlencode({'search': SEARCH_COMMON})}"),
        ("search a whole name", f"{base}?{urlencode({'search': client_name})}"),
        (f"page {DEEP_PAGE:,}", f"{base}?page={DEEP_PAGE - 1}"),
        ("dashboard", "/admin/"),
    ]


def bench_size(url: str, runs: int, explain: bool) -> dict:
    ours, bare = lv.clientdesk_app(url), lv.bare_app(url, details=True)
    from clientdesk.demo import DEMO_PASSWORD
    from clientdesk.extensions import db

    with ours.app_context():
        counter, log = lv.StatementCounter(db.engine), StatementLog(db.engine)
        group_id = db.session.execute(sa.text('SELECT id FROM "group" WHERE name = :name'), {"name": "Team Brussels"}).scalar_one()
        # The test client: the middle one of the active clients of that group.
        client_id, client_name = db.session.execute(sa.text(
            "SELECT id, name FROM client WHERE group_id = :group AND status = 'active' ORDER BY id "
            "OFFSET (SELECT count(*) / 2 FROM client WHERE group_id = :group AND status = 'active') LIMIT 1"),
            {"group": group_id}).one()
    with bare.app_context():
        bare_counter = lv.StatementCounter(db.engine)
    supervisor = lv.sign_in(ours, "supervisor@example.com", DEMO_PASSWORD)
    figures = {}
    for label, path in requests(ours, group_id, client_name):
        figures[label] = lv.measure({"ours": (supervisor, path, counter)}, runs)["ours"]
        if explain:
            figures[label]["plan"] = explain_slowest(ours, log, supervisor, path)
    details = f"/admin/client/details/?id={client_id}"
    both = lv.measure({"ours": (supervisor, details, counter), "bare": (bare.test_client(), details, bare_counter)}, runs)
    figures["details page"] = {**both["ours"], "bare_cpu_median": both["bare"]["cpu_median"]}
    if explain:
        figures["details page"]["plan"] = explain_slowest(ours, log, supervisor, details)
    return figures


def explain_slowest(app, log: StatementLog, http, path: str) -> str:
    from clientdesk.extensions import db

    seconds, statement, parameters = log.slowest(http, path)
    with app.app_context(), db.engine.connect() as connection:
        rows = connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).scalars().all()
    return f"-- slowest statement of the request ({seconds * 1000:.1f} ms)\n{statement}\n-- parameters: {parameters}\n" + "\n".join(rows)


def export_child(url: str) -> None:
    import gc

    app = lv.clientdesk_app(url)
    from clientdesk.demo import DEMO_PASSWORD

    http = lv.sign_in(app, "supervisor@example.com", DEMO_PASSWORD)
    http.get("/admin/client/")  # warm up imports, templates and the connection pool
    gc.collect()
    before = lv.rss_kib()
    lv.reset_peak_rss()
    t0 = time.perf_counter()
    response = http.get("/admin/client/export/csv/", buffered=False)
    lines = sum(chunk.count(b"\n" if isinstance(chunk, bytes) else "\n") for chunk in response.response)
    response.close()
    print(json.dumps({"status": response.status_code, "seconds": time.perf_counter() - t0, "rows": lines - 1,
                      "rss_growth_mib": (lv.rss_kib("VmHWM") - before) / 1024}))


def bench_export(url: str) -> dict:
    output = subprocess.run([sys.executable, __file__, "--export-child", url], check=True, capture_output=True, text=True,
                            cwd=REPO)
    figures = json.loads(output.stdout.strip().splitlines()[-1])
    if figures["status"] != 200:
        raise RuntimeError(f"export answered {figures['status']}")
    return {**figures, "rows_per_s": figures["rows"] / figures["seconds"]}


def verdicts(size: int, first: dict | None, result: dict) -> list[tuple[str, str, bool]]:
    """(what, figure, met) for each target of the issue, judged on `result` (at `size` clients)."""
    lines = []
    for label, (most_ms, most_ratio) in TARGETS.items():
        ms = result["pages"][label]["median"]
        met = ms <= most_ms
        text = f"{ms:.1f} ms (<= {most_ms} ms"
        if most_ratio is not None and first is not None:
            ratio = ms / first["pages"][label]["median"]
            met = met and ratio <= most_ratio
            text += f", {ratio:.2f}x the first size (<= {most_ratio}x)"
        lines.append((label, text + ")", met))
    details = result["pages"]["details page"]
    statements, cpu_ratio = max(details["statements"]), details["cpu_median"] / details["bare_cpu_median"]
    lines.append(("details page statements", f"{statements} (<= {DETAILS_STATEMENTS})", statements <= DETAILS_STATEMENTS))
    lines.append(("details page CPU", f"{cpu_ratio:.2f}x bare Flask-Admin (<= {DETAILS_CPU_RATIO}x)", cpu_ratio <= DETAILS_CPU_RATIO))
    export = result.get("export")
    if export:
        lines.append(("export", f"{export['rows_per_s']:,.0f} rows/s (>= {EXPORT_ROWS_PER_S:,}), +{export['rss_growth_mib']:.1f} MiB "
                      f"(< {EXPORT_RSS_MIB})", export["rows_per_s"] >= EXPORT_ROWS_PER_S and export["rss_growth_mib"] < EXPORT_RSS_MIB))
    if "load_seconds" in result["data"]:
        seconds = result["data"]["load_seconds"] * TARGET_SIZE / size
        lines.append(("demo load", f"{result['data']['load_seconds']:.0f} s, {seconds:.0f} s per 1,000,000 (<= {LOAD_SECONDS} s), "
                      f"peak RSS {result['data']['load_peak_rss_mib']:.0f} MiB", seconds <= LOAD_SECONDS))
    return lines


def report(results: dict) -> None:
    sizes = sorted(results)
    first = results[sizes[0]]
    print("\n### Requests (supervisor; ms median / p95, statements per request"
          + (f"; ratio {sizes[-1]:,} / {sizes[0]:,}" if len(sizes) > 1 else "") + ")\n")
    print("| request | " + " | ".join(f"{size:,}" for size in sizes) + " | statements | ratio |")
    print("|---|" + "---:|" * len(sizes) + "---|---:|")
    for label in first["pages"]:
        cells = [f"{results[size]['pages'][label]['median']:.1f} / {results[size]['pages'][label]['p95']:.1f}" for size in sizes]
        statements = sorted({n for size in sizes for n in results[size]["pages"][label]["statements"]})
        ratio = results[sizes[-1]]["pages"][label]["median"] / first["pages"][label]["median"]
        print(f"| {label} | " + " | ".join(cells) + f" | {','.join(map(str, statements))} | {ratio:.2f} |")
    for size in sizes:
        details = results[size]["pages"]["details page"]
        print(f"\ndetails page at {size:,}: CPU {details['cpu_median']:.1f} ms, "
              f"bare Flask-Admin details {details['bare_cpu_median']:.1f} ms")
        if results[size].get("export"):
            export = results[size]["export"]
            print(f"export at {size:,}: {export['rows']:,} rows in {export['seconds']:.1f} s, {export['rows_per_s']:,.0f} rows/s, "
                  f"RSS +{export['rss_growth_mib']:.1f} MiB")
        print(f"data at {size:,}: {json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in results[size]['data'].items()})}; "
              f"load average while measured: {results[size]['load_average']}")
    largest = sizes[-1]
    previous = results[sizes[0]] if len(sizes) > 1 else None
    note = "" if largest == TARGET_SIZE else f" (the targets are for {TARGET_SIZE:,}: for information)"
    print(f"\n### Targets at {largest:,}{note}\n")
    lines = verdicts(largest, previous, results[largest])
    for what, text, met in lines:
        print(f"- {what}: {text}: {'met' if met else 'MISSED'}")
    plans = {label: figures["plan"] for label, figures in results[largest]["pages"].items() if "plan" in figures}
    if plans:
        print(f"\n### Plans at {largest:,}: EXPLAIN (ANALYZE, BUFFERS) of each request's slowest statement\n")
        for label, plan in plans.items():
            print(f"#### {label}\n```\n{plan}\n```")
    missed = [what for what, _text, met in lines if not met]
    print("\ntargets met" if not missed else "\ntargets MISSED: " + ", ".join(missed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL"),
                        help="PostgreSQL server and base name of the databases (<name>_<size>); default $BENCH_PG_URL")
    parser.add_argument("--reuse", action="store_true", help="keep a database that already holds that many clients")
    parser.add_argument("--drop", action="store_true", help="drop the databases at the end")
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument("--no-explain", action="store_true")
    parser.add_argument("--export-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_child:
        export_child(args.export_child)
        return
    if not args.pg_url:
        print("postgresql skipped: give --pg-url or BENCH_PG_URL (databases <name>_<size> on that server are rebuilt)")
        return
    sizes = sorted(int(s) for s in args.sizes.split(",") if s)
    print(f"ClientDesk at {', '.join(f'{size:,}' for size in sizes)} clients (PostgreSQL), {args.runs} requests per figure")
    results = {}
    for size in sizes:
        url = size_url(args.pg_url, size)
        data = prepare(url, size, args.reuse)
        print(f"[{size:,}] data: {json.dumps(data)}", flush=True)
        results[size] = {"data": data, "pages": bench_size(url, args.runs, explain=not args.no_explain and size == sizes[-1])}
        if not args.no_export:
            results[size]["export"] = bench_export(url)
        results[size]["load_average"] = " ".join(f"{value:.1f}" for value in os.getloadavg())
        print(f"[{size:,}] measured; load average {results[size]['load_average']}", flush=True)
    report(results)
    if args.drop:
        for size in sizes:
            drop_database(size_url(args.pg_url, size))


if __name__ == "__main__":
    main()
