"""CLI start-up: `flask --app app --help` (the app built, every command listed), against a bare `flask --help` in
the same run (Flask with the installed plugins' commands, Flask-Migrate's among them, and no app of ours).

    python bench/cli.py [--runs 15]

Budget (issue 14): `flask --app app --help` <= 0.8 s. Figures are medians of whole processes, start-up included;
the bare `flask --help` shows what of it is Flask's and the plugins' own. The CPU seconds (user + system of the
process) are the steadier figure on a busy machine.
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
BUDGET_SECONDS = 0.8


def seconds(command: list[str], env: dict, cwd: str) -> tuple[float, float]:
    """Wall and CPU seconds of one run of `command`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env, cwd=cwd)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    flask = str(Path(sys.executable).with_name("flask"))
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as instance:
        env = dict(os.environ, INSTANCE_PATH=instance, SECRET_KEY="bench")
        # The bare one runs outside the checkout, where Flask finds no app (it would load wsgi.py there).
        commands = {"flask --help (bare)": ([flask, "--help"], instance),
                    "flask --app app --help": ([flask, "--app", "app", "--help"], str(CHECKOUT))}
        measured = {label: [] for label in commands}
        for _run in range(args.runs):
            for label, (command, cwd) in commands.items():
                measured[label].append(seconds(command, env, cwd))
    bare = statistics.median(wall for wall, _cpu in measured["flask --help (bare)"])
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; medians of {args.runs} runs")
    for label, runs in measured.items():
        walls = [wall for wall, _cpu in runs]
        median = statistics.median(walls)
        print(f"  {label:<24} {median:5.2f} s  {median / bare:4.2f}x bare  CPU {statistics.median(cpu for _wall, cpu in runs):5.2f} s"
              f"  (wall min {min(walls):.2f}, max {max(walls):.2f})")
    app = statistics.median(wall for wall, _cpu in measured["flask --app app --help"])
    print(f"  budget: flask --app app --help <= {BUDGET_SECONDS} s: {'met' if app <= BUDGET_SECONDS else 'NOT MET'}")


if __name__ == "__main__":
    main()
