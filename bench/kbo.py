"""Benchmark of `kbo load` and the company-register search at the size of the real KBO open data.

    python bench/kbo.py [--enterprises 2000000] [--memory-sizes 200000,1000000] [--db sqlite,postgresql] [--load-runs 3]
                        [--search-runs 30] [--pg-url URL] [--workdir DIR]
    python bench/kbo.py sample clientdesk/demo/kbo      # regenerate the shipped sample extract

It writes a synthetic Full extract of --enterprises enterprises in the open-data layout (bench/kbo_data.py;
about 1.6 names, 1.6 address rows and 0.37 contacts per enterprise, like the 2025 extracts; cached in
--workdir), then, round-robin so machine noise hits every variant alike, --load-runs times:

- the baseline: a bare `csv.reader` pass over the same four files (no checks, no database);
- `load_register` (what `flask kbo load` runs) into a fresh, migrated database, one child process per load
  (SQLite file in --workdir; PostgreSQL: the database of --pg-url / $BENCH_PG_URL, whose schema `public`
  is DROPPED and recreated), reporting wall time and the child's peak RSS.

One load of each of the --memory-sizes extracts per database shows whether memory stays flat with size. After the last
load it times LocalRegister.search (what the wizard's JSON endpoint calls) for numbers in three formats,
a number prefix, and names (rare, common, several words, accents, abbreviation, 2-letter prefix, miss):
median and p95 of --search-runs calls each after warm-up, beside a LIKE scan of the same names.

Targets: >= 50,000 enterprises/s loaded; every search < 50 ms at 2,000,000 enterprises.
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("INSTANCE_PATH", str(Path(tempfile.gettempdir()) / "clientdesk-bench-instance"))
os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")

import kbo_data  # noqa: E402

FILES = ("enterprise.csv", "denomination.csv", "address.csv", "contact.csv")
QUERIES = (
    ("number BE0403170701", "BE0403170701"),
    ("number 0403.170.701", "0403.170.701"),
    ("number 403170701", "403170701"),
    ("number prefix 0403.17", "0403.17"),
    ("rare name: electrabel", "electrabel"),
    ("common name: lefevre", "lefevre"),
    ("two words typed: brasserie lef", "brasserie lef"),
    ("person: peeters jan", "peeters jan"),
    ("words in another order: jan peeters", "jan peeters"),
    ("beginnings of words: bras lef", "bras lef"),
    ("two words, no match: dupont fils", "dupont fils"),
    ("accents: müller bäckerei", "müller bäckerei"),
    ("abbreviation: isbw", "isbw"),
    ("short prefix: bras", "bras"),
    ("2 letters: br", "br"),
    ("common words: nova horizon", "nova horizon"),
    ("no match: zzzyx", "zzzyx"),
)


def extract(workdir: Path, enterprises: int) -> Path:
    folder = workdir / f"kbo-{enterprises}"
    if not (folder / ".complete").exists():
        print(f"generating {enterprises:,} enterprises in {folder} …", flush=True)
        counts = kbo_data.generate(folder, enterprises, seed=2026, extra=kbo_data.SAMPLE_COMPANIES + kbo_data.SAMPLE_FIXTURES)
        (folder / ".complete").write_text(json.dumps(counts))
    return folder


def baseline_read(folder: Path) -> float:
    started = time.perf_counter()
    for name in FILES:
        with open(folder / name, encoding="utf-8", newline="") as stream:
            for _row in csv.reader(stream):
                pass
    return time.perf_counter() - started


def child(*args) -> dict:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def make_app(url: str):
    from clientdesk.app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": "redis://127.0.0.1:1/0"})


def fresh_database(url: str) -> None:
    import sqlalchemy as sa

    if url.startswith("sqlite"):
        for suffix in ("", "-wal", "-shm", ".kbo-lock"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    else:
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
        engine.dispose()


def run_load(url: str, source: str) -> dict:
    """In a child process: migrate a fresh database, then time load_register."""
    import logging
    import resource

    from flask_migrate import upgrade

    logging.disable(logging.INFO)
    app = make_app(url)
    with app.app_context():
        upgrade()
        from clientdesk.services.kbo_loader import load_register

        usage = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        report = load_register(source)
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        server_cpu = postgres_cpu_seconds() if url.startswith("postgresql") else 0.0
    return {
        "seconds": seconds, "enterprises": report.enterprises,
        "cpu_s": after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime, "server_cpu_s": server_cpu,
        "rows": sum(f.rows for f in report.files.values()),
        "files": {n: round(f.seconds, 2) for n, f in report.files.items()},
        "peak_rss_mb": after.ru_maxrss / 1024, "rss_before_mb": usage.ru_maxrss / 1024,
    }


def postgres_cpu_seconds() -> float:
    """CPU used by this process's PostgreSQL backends (same machine; they were all opened by this process).
    Parallel index-build workers have exited by now, so their share is not counted."""
    from clientdesk.extensions import db

    with db.engine.connect() as connection:
        pids = connection.exec_driver_sql(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'"
        ).scalars().all()
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def run_search(url: str, runs: int) -> dict:
    """In a child process, over the loaded register: LocalRegister.search, and a LIKE scan of the same names."""
    import sqlalchemy as sa

    from clientdesk.extensions import db
    from clientdesk.services.register import LocalRegister, fold

    app = make_app(url)
    results = {}
    with app.app_context():
        register = LocalRegister()
        for label, query in QUERIES:
            for _ in range(3):
                register.search(query)
                db.session.rollback()
            times, found = [], 0
            for _ in range(runs):
                started = time.perf_counter()
                found = len(register.search(query))
                times.append((time.perf_counter() - started) * 1000)
                db.session.rollback()  # one search per transaction, as in a request
            row = {"median_ms": statistics.median(times), "p95_ms": percentile(times, 95), "results": found}
            if not label.startswith("number"):
                words = fold(query).split()
                condition = " AND ".join(f"search LIKE :w{i}" for i in range(len(words)))
                scan = sa.text(f"SELECT number, name FROM kbo_denomination WHERE {condition} LIMIT 10").bindparams(
                    **{f"w{i}": f"%{w}%" for i, w in enumerate(words)})
                scans = []
                for _ in range(3):
                    started = time.perf_counter()
                    db.session.execute(scan).all()
                    scans.append((time.perf_counter() - started) * 1000)
                    db.session.rollback()
                row["like_scan_ms"] = statistics.median(scans)
            results[label] = row
    return results


def percentile(values, pct):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--enterprises", type=int, default=2_000_000)
    parser.add_argument("--memory-sizes", default="200000,1000000")
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--load-runs", type=int, default=3)
    parser.add_argument("--search-runs", type=int, default=30)
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL"),
                        help="PostgreSQL database to use (its schema public is dropped!); default $BENCH_PG_URL")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "clientdesk-bench-kbo")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    urls = {"sqlite": f"sqlite:///{args.workdir / 'kbo-bench.db'}", "postgresql": args.pg_url}
    databases = [d for d in args.db.split(",") if d]
    if "postgresql" in databases and not args.pg_url:
        print("(postgresql skipped: give --pg-url or BENCH_PG_URL; that database's schema public is dropped)")
        databases.remove("postgresql")
    big = extract(args.workdir, args.enterprises)
    smaller = [extract(args.workdir, int(n)) for n in args.memory_sizes.split(",") if n]
    counts = json.loads((big / ".complete").read_text())
    print(f"extract: {counts}")

    baseline, baseline_cpu, loads = [], [], {db_name: [] for db_name in databases}
    for run in range(args.load_runs):
        cpu = time.process_time()
        baseline.append(baseline_read(big))
        baseline_cpu.append(time.process_time() - cpu)
        print(f"round {run + 1}: bare csv.reader {baseline[-1]:.1f} s", flush=True)
        for db_name in databases:
            fresh_database(urls[db_name])
            loads[db_name].append(child("_load", urls[db_name], str(big)))
            print(f"round {run + 1}: {db_name} load {loads[db_name][-1]['seconds']:.1f} s {loads[db_name][-1]['files']}", flush=True)
    searches = {db_name: child("_search", urls[db_name], str(args.search_runs)) for db_name in databases}
    small_loads = {db_name: [] for db_name in databases}
    for folder in smaller:
        for db_name in databases:
            fresh_database(urls[db_name])
            small_loads[db_name].append(child("_load", urls[db_name], str(folder)))

    base = statistics.median(baseline)
    report = {"enterprises": args.enterprises, "extract_rows": counts, "baseline_csv_reader_s": baseline,
              "baseline_cpu_s": baseline_cpu, "loads": loads,
              "small_loads": small_loads, "searches": searches}
    out = REPO / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "kbo.json").write_text(json.dumps(report, indent=1))

    print(f"\nLoad of {counts['enterprise']:,} enterprises ({sum(counts.values()):,} CSV rows); median of {args.load_runs} runs")
    print(f"  bare csv.reader pass       {base:6.1f} s   runs={[round(b, 1) for b in baseline]}")
    base_cpu = statistics.median(baseline_cpu)
    print(f"  {'':<12} (CPU of the reading process: {base_cpu:.1f} s)")
    for db_name in databases:
        runs = loads[db_name]
        enterprises = runs[0]["enterprises"]
        seconds = statistics.median(r["seconds"] for r in runs)
        cpu = statistics.median(r["cpu_s"] for r in runs)
        server = statistics.median(r["server_cpu_s"] for r in runs)
        rss = max(r["peak_rss_mb"] for r in runs)
        print(f"  {db_name:<12} load        {seconds:6.1f} s   {enterprises / seconds:9,.0f} enterprises/s   "
              f"{seconds / base:4.1f}x the bare read   runs={[round(r['seconds'], 1) for r in runs]}")
        print(f"  {'':<12} CPU: loader {cpu:.1f} s ({enterprises / cpu:,.0f} enterprises per CPU-second, "
              f"{cpu / base_cpu:.1f}x the bare read)"
              + (f", PostgreSQL backends {server:.1f} s" if server else ""))
        others = ", ".join(f"{r['enterprises']:,}: {r['peak_rss_mb']:.0f} MiB" for r in small_loads[db_name])
        print(f"  {'':<12} peak RSS {rss:.0f} MiB (loading {others}); per file s: {runs[len(runs) // 2]['files']}")
    for db_name in databases:
        print(f"\nSearch on {db_name}, {args.enterprises:,} enterprises: ms over {args.search_runs} calls (LIKE scan: median of 3)")
        print(f"  {'query':<34} {'median':>8} {'p95':>8} {'found':>6} {'LIKE scan':>10} {'ratio':>7}")
        for label, row in searches[db_name].items():
            scan = row.get("like_scan_ms")
            print(f"  {label:<34} {row['median_ms']:8.2f} {row['p95_ms']:8.2f} {row['results']:6d}"
                  + (f" {scan:10.1f} {row['median_ms'] / scan:7.3f}" if scan else ""))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_load":
        print(json.dumps(run_load(sys.argv[2], sys.argv[3])))
    elif len(sys.argv) > 1 and sys.argv[1] == "_search":
        print(json.dumps(run_search(sys.argv[2], int(sys.argv[3]))))
    elif len(sys.argv) > 2 and sys.argv[1] == "sample":
        print(kbo_data.write_sample(Path(sys.argv[2])))
    else:
        main()
