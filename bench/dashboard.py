"""Dashboard benchmark: /admin/ and a filtered client list at 1k and 100k clients.

    python bench/dashboard.py [--sizes 1000,100000] [--db sqlite,postgresql] [--runs 20] [--pg-url URL] [--reuse]

Builds the same data as bench/list_view.py (its generator: clients in every status, contacts, documents,
5 groups, 20 staff) and times, through the test client with a real signed-in session, the dashboard and
the list behind one of its numbers (invited clients of one group), as a supervisor and as a staff user,
beside a bare Flask-Admin list of the same table in the same run. Figures: median / p95 of --runs
requests after warm-up, and SQL statements per request, which must not grow with the table.
Target at 100k on SQLite: dashboard <= 150 ms.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import list_view as lv  # noqa: E402  (same data, apps, sign-in and timing)

TARGET_MS = 150


def bench(url: str, size: int, runs: int, group_id: int) -> dict:
    from clientdesk.extensions import db

    ours, bare = lv.clientdesk_app(url), lv.bare_app(url)
    with ours.app_context():
        counter = lv.StatementCounter(db.engine)
    with bare.app_context():
        bare_counter = lv.StatementCounter(db.engine)
    supervisor, staff, anonymous = lv.sign_in(ours, lv.SUPERVISOR_EMAIL), lv.sign_in(ours, lv.STAFF_EMAIL), bare.test_client()
    behind_a_number = f"/admin/client/?flt0_status_equals=invited&flt1_group_equals={group_id}"
    return {
        "dashboard": lv.measure({"supervisor": (supervisor, "/admin/", counter),
                                 "staff": (staff, "/admin/", counter)}, runs),
        "list behind a number": lv.measure({"bare": (anonymous, f"/admin/client/?flt0_{lv.filter_arg(bare, 'status')}=invited"
                                                               f"&flt1_{lv.filter_arg(bare, 'group_id')}={group_id}", bare_counter),
                                            "supervisor": (supervisor, behind_a_number, counter),
                                            "staff": (staff, behind_a_number, counter)}, runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    lv.add_data_arguments(parser)
    args = parser.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    misses = []
    for db_name in [d.strip() for d in args.db.split(",") if d.strip()]:
        if db_name == "postgresql" and not args.pg_url:
            print("(postgresql skipped: give --pg-url or BENCH_PG_URL; that database's schema public is dropped)")
            continue
        statements = {}
        print(f"\n### Dashboard, {db_name} (ms: median / p95; statements per request)\n")
        print("| clients | request | who | ms | statements |\n|---:|---|---|---:|---|")
        for size in sizes:
            url = f"sqlite:///{workdir / f'list-{size}.db'}" if db_name == "sqlite" else args.pg_url
            lv.prepare(url, size, workdir, args.reuse)
            result = bench(url, size, args.runs, lv.group_id_of(url, lv.STAFF_GROUPS[0]))
            for request, by_who in result.items():
                for who, figures in by_who.items():
                    print(f"| {size:,} | {request} | {who} | {figures['median']:.1f} / {figures['p95']:.1f} | {figures['statements']} |")
                    statements.setdefault((request, who), set()).update(figures["statements"])
            dashboard = result["dashboard"]["supervisor"]["median"]
            if db_name == "sqlite" and size >= 100_000 and dashboard > TARGET_MS:
                misses.append(f"sqlite {size:,} dashboard {dashboard:.0f} ms > {TARGET_MS} ms")
        grown = [f"{request} ({who})" for (request, who), counts in statements.items() if len(counts) > 1]
        if grown:
            misses.append(f"{db_name}: statements per request differ between sizes for " + ", ".join(grown))
    print(f"\ntarget at 100k on SQLite: dashboard <= {TARGET_MS} ms; statements per request the same at every size")
    print("targets met" if not misses else "targets MISSED:\n  " + "\n  ".join(misses))


if __name__ == "__main__":
    main()
