"""Client import benchmark: dry run and real import of 10k- and 50k-row files on SQLite and PostgreSQL,
as ratios to a bare openpyxl read-only pass over the same file measured in the same run; and the import as a
user runs it, `flask --app app clients import` as a whole process, against a bare openpyxl read as a whole
process.

    python bench/import.py [--rows 10000 50000] [--runs 3] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/DB]

Every measurement runs in its own process (so peak RSS is that measurement's own); the database is
prepared (fresh schema, one admin) by another process beforehand. Timed in-process: `run_batch` (file
checks, read, every row validated, and for an import all writes and the commit); as a user runs it: the
whole command, start-up included. Figures are medians; the CPU columns (this process, plus the PostgreSQL
backend's own CPU for PostgreSQL runs) are the steadier figure on a shared, busy machine.

Budgets (issue 14): import of 10k rows <= 1.25x the bare read in-process (SQLite and PostgreSQL), <= 1.5x as
a user runs it; 50k rows: peak RSS growth <= 200 MiB.
WARNING: the PostgreSQL database given with --pg is emptied (its schema public is dropped).
"""
import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(CHECKOUT))

from clientdesk.imports.reader import DEFAULT_MAX_ROWS  # noqa: E402 (the checkout first on the path)

HEADER = [
    "Raison sociale*", "Pays (code lettre)*", "Email de contact*", "Prénom du contact*", "Nom de famille du contact*",
    "Langue du contact (locale)*", "Numéro d'entreprise", "TVA", "Référence externe", "IBAN", "Rue", "Numéro",
    "Boîte postale", "Code postal", "Commune/ville", "Mandat", "Modèle",
]  # the 17 columns of the Banqup template
PREFIXES = ("Bakkerij", "Brasserie", "Atelier", "Garage", "Immo", "Cabinet", "Boulangerie", "Transport", "Studio", "Pharmacie")
NAMES = ("Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Dubois", "Lambert", "Lefèvre", "Van Damme")
FIRST = ("Jan", "Marie", "Pieter", "Sofie", "Luc", "Émilie", "Tom", "Chloé", "Koen", "Nathalie")
CITIES = (("1000", "Bruxelles", "fr-BE"), ("2000", "Antwerpen", "nl-BE"), ("4000", "Liège", "fr-BE"), ("9000", "Gent", "nl-BE"),
          ("4700", "Eupen", "de-BE"))
STREETS = ("Rue de la Station", "Kerkstraat", "Avenue Louise", "Stationsstraat", "Rue Haute")


def enterprise_number(n: int) -> str:
    body = f"{'1' if n % 10 == 0 else '0'}{2_000_000 + n:07d}"
    return body + f"{97 - int(body) % 97:02d}"


def iban(rng: random.Random) -> str:
    from clientdesk.forms import validators as v

    while True:
        national = f"{rng.randint(0, 999):03d}{rng.randint(0, 9_999_999):07d}"
        bban = f"{national}{int(national) % 97 or 97:02d}"
        digits = "".join(str(int(c, 36)) for c in bban + "BE00")
        candidate = f"BE{98 - int(digits) % 97:02d}{bban}"
        try:
            v.iban(candidate)
        except v.InvalidValue:
            continue  # a bank code python-stdnum does not know
        return f"{candidate[:4]} {candidate[4:8]} {candidate[8:12]} {candidate[12:]}"


def make_file(path: Path, rows: int) -> None:
    from openpyxl import Workbook

    rng = random.Random(rows)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Clients")
    sheet.append(HEADER)
    for n in range(rows):
        postal, city, language = CITIES[n % len(CITIES)]
        number = enterprise_number(n)
        name = f"{rng.choice(PREFIXES)} {rng.choice(NAMES)} {n}"
        shown = [number, f"BE {number[:4]}.{number[4:7]}.{number[7:]}", int(number)][n % 3]  # typed, spaced, or an Excel number
        sheet.append([
            name, "BE" if n % 7 else "be", f"contact{n}@client{n % 997}.example.com", rng.choice(FIRST), rng.choice(NAMES),
            language, shown, f"BE{number}" if n % 2 else "", f"REF-{n:06d}", iban(rng), rng.choice(STREETS),
            str(rng.randint(1, 250)), "" if rng.random() < 0.7 else f"b{rng.randint(1, 9)}", postal, city,
            "Oui" if n % 4 == 0 else "Non", "",
        ])
    workbook.save(path)


# Children: one measurement each, printing JSON.

def _cpu_seconds(pid: int | None = None) -> float:
    """CPU time of this process, or of another process on this machine (the PostgreSQL backend)."""
    if pid is None:
        return time.process_time()
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_kib() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _app(database_url: str, instance: str):
    from clientdesk.app import create_app

    return create_app({"TESTING": True, "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": database_url,
                       "INSTANCE_PATH": instance, "IMPORT_MAX_ROWS": 100_000})


def child_prepare(database_url: str, instance: str) -> dict:
    import sqlalchemy as sa
    from flask_migrate import upgrade

    if database_url.startswith("postgresql"):
        engine = sa.create_engine(database_url)
        with engine.begin() as connection:
            connection.execute(sa.text("DROP SCHEMA public CASCADE"))
            connection.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
    app = _app(database_url, instance)
    with app.app_context():
        from clientdesk.extensions import db
        from clientdesk.models import User

        upgrade()
        user = User(email="bench@example.com", role="admin")
        user.set_password("quiet-harbour-lantern-2026")
        db.session.add(user)
        db.session.commit()
    return {}


def child_read(kind: str, path: str) -> dict:
    if kind == "openpyxl":
        from openpyxl import load_workbook
    else:
        import python_calamine
    before = _rss_kib()
    cpu = _cpu_seconds()
    start = time.perf_counter()
    count = 0
    if kind == "openpyxl":
        workbook = load_workbook(path, read_only=True, data_only=True)
        for _row in workbook.worksheets[0].iter_rows(values_only=True):
            count += 1
        workbook.close()
    else:
        sheet = python_calamine.CalamineWorkbook.from_path(path).get_sheet_by_index(0)
        for _row in sheet.iter_rows():
            count += 1
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "cpu": _cpu_seconds() - cpu, "rows": count,
            "rss_growth_mib": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024}


def child_import(database_url: str, instance: str, path: str, dry_run: bool) -> dict:
    app = _app(database_url, instance)
    with app.app_context():
        from clientdesk.extensions import db
        from clientdesk.imports import create_batch, run_batch
        from clientdesk.models import Client, User

        batch = create_batch(path, Path(path).name, User.by_email("bench@example.com"), dry_run=dry_run)
        db.session.commit()
        batch_id = batch.id
        db.session.expunge_all()
        backend = db.session.execute(db.text("SELECT pg_backend_pid()")).scalar() if db.engine.dialect.name == "postgresql" else None
        before = _rss_kib()
        cpu = _cpu_seconds(), _cpu_seconds(backend) if backend else 0.0
        start = time.perf_counter()
        batch = run_batch(batch_id)
        seconds = time.perf_counter() - start
        cpu = _cpu_seconds() - cpu[0] + (_cpu_seconds(backend) - cpu[1] if backend else 0.0)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert batch.status == ("checked" if dry_run else "imported"), batch.errors[:5]
        clients = db.session.scalar(db.select(db.func.count(Client.id)))
        assert clients == (0 if dry_run else batch.rows_count)
        return {"seconds": seconds, "cpu": cpu, "rss_growth_mib": (peak - before) / 1024, "rows": batch.rows_count}


BARE_READ = ("import sys; from openpyxl import load_workbook; "
             "rows = load_workbook(sys.argv[1], read_only=True, data_only=True).worksheets[0].iter_rows(values_only=True); "
             "print(sum(1 for _row in rows))")


def whole_process(command: list[str], env: dict | None = None) -> float:
    """Wall seconds of a command run as a user runs it, start-up included."""
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env, cwd=CHECKOUT)
    return time.perf_counter() - start


def as_a_user_runs_it(path: Path, database_url: str, instance: Path) -> dict[str, float]:
    env = dict(os.environ, DATABASE_URL=database_url, INSTANCE_PATH=str(instance), SECRET_KEY="bench")
    flask = str(Path(sys.executable).with_name("flask"))
    return {
        "bare read (process)": whole_process([sys.executable, "-c", BARE_READ, str(path)]),
        "clients import (process)": whole_process(
            [flask, "--app", "app", "clients", "import", str(path), "--as", "bench@example.com"], env),
    }


def run_child(*args) -> dict:
    output = subprocess.run([sys.executable, __file__, "_child", *map(str, args)], check=True, capture_output=True, text=True,
                            cwd=CHECKOUT)
    return json.loads(output.stdout.strip().splitlines()[-1])


def fresh_database(pg_url: str | None, sqlite_template: Path, sqlite_file: Path, instance: Path) -> str:
    """A database with the schema and one admin: PostgreSQL prepared again, or a copy of the prepared SQLite file."""
    if pg_url:
        run_child("prepare", pg_url, instance)
        return pg_url
    shutil.copyfile(sqlite_template, sqlite_file)
    return f"sqlite:///{sqlite_file}"


def budgets(results: dict[str, list], rows: int) -> None:
    baseline = results["openpyxl read-only (baseline)"]
    for label, measured in results.items():
        if not label.endswith("import"):
            continue
        ratio = statistics.median(r["seconds"] / b["seconds"] for r, b in zip(measured, baseline))
        line = f"  {label}: {ratio:.2f}x the bare read [{'met' if ratio <= 1.25 else 'NOT MET'}: <= 1.25x]"
        if rows >= 50_000:
            growth = statistics.median(r["rss_growth_mib"] for r in measured)
            line += f"; RSS +{growth:.0f} MiB [{'met' if growth <= 200 else 'NOT MET'}: <= 200 MiB]"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG_URL"), help="PostgreSQL URL (emptied!); omitted: SQLite only")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-import-"))
    instance = work / "instance"
    instance.mkdir()
    sqlite_template = work / "template.db"
    run_child("prepare", f"sqlite:///{sqlite_template}", instance)
    databases = {"sqlite": None} | ({"postgresql": args.pg} if args.pg else {})
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; medians of {args.runs} runs; each in its own process")
    try:
        for rows in args.rows:
            path = work / f"clients-{rows}.xlsx"
            make_file(path, rows)
            print(f"\n{rows:,} rows × {len(HEADER)} columns, {path.stat().st_size / 2**20:.1f} MiB")
            results: dict[str, list] = {}
            processes: dict[tuple, list] = {}
            for run in range(args.runs):
                results.setdefault("openpyxl read-only (baseline)", []).append(run_child("read", "openpyxl", path))
                results.setdefault("python-calamine read", []).append(run_child("read", "calamine", path))
                for name, url in databases.items():
                    for dry_run in (True, False):
                        url_run = fresh_database(url, sqlite_template, work / f"run-{rows}-{run}-{dry_run}.db", instance)
                        label = f"{name:<10} {'dry run' if dry_run else 'import'}"
                        results.setdefault(label, []).append(run_child("import", url_run, instance, path, int(dry_run)))
                for name, url in databases.items() if rows <= DEFAULT_MAX_ROWS else ():  # the CLI's own limit
                    url_run = fresh_database(url, sqlite_template, work / f"cli-{rows}-{run}.db", instance)
                    for label, seconds in as_a_user_runs_it(path, url_run, instance).items():
                        processes.setdefault((name, label), []).append(seconds)
            baseline = results["openpyxl read-only (baseline)"]
            print(f"{'':30} {'wall s':>7} {'ratio':>6} {'CPU s':>6} {'ratio':>6} {'rows/s':>8} {'RSS +MiB':>9}  "
                  "wall s (ratio) per run")
            for label, measured in results.items():
                seconds = [r["seconds"] for r in measured]
                ratios = [r["seconds"] / b["seconds"] for r, b in zip(measured, baseline)]
                cpu_ratios = [r["cpu"] / b["cpu"] for r, b in zip(measured, baseline)]
                median = statistics.median(seconds)
                print(f"{label:<30} {median:7.2f} {statistics.median(ratios):6.2f} "
                      f"{statistics.median(r['cpu'] for r in measured):6.2f} {statistics.median(cpu_ratios):6.2f} "
                      f"{rows / median:8,.0f} {statistics.median(r['rss_growth_mib'] for r in measured):9.0f}  "
                      + " ".join(f"{s:.2f}({r:.2f})" for s, r in zip(seconds, ratios)))
            budgets(results, rows)
            if not processes:
                print(f"\n(As a user runs it: not measured, above the import's limit of {DEFAULT_MAX_ROWS:,} rows.)")
                continue
            print("\nAs a user runs it (whole processes, start-up included):")
            for name in databases:
                bare, cli = processes[(name, "bare read (process)")], processes[(name, "clients import (process)")]
                ratio = statistics.median(c / b for c, b in zip(cli, bare))
                print(f"  {name:<10} clients import {statistics.median(cli):6.2f} s, bare read {statistics.median(bare):6.2f} s:"
                      f" {ratio:.2f}x  [{'met' if ratio <= 1.5 else 'NOT MET'}: <= 1.5x]")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "_child":
        kind, rest = sys.argv[2], sys.argv[3:]
        if kind == "prepare":
            result = child_prepare(*rest)
        elif kind == "read":
            result = child_read(*rest)
        else:
            result = child_import(rest[0], rest[1], rest[2], bool(int(rest[3])))
        print(json.dumps(result))
    else:
        main()
