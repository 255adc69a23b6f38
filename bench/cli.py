"""CLI start-up: `flask --app app --help` (the app built, every command listed), against a bare `flask --help` in
the same run (Flask with the installed plugins' commands, Flask-Migrate's among them, and no app of ours).

    python bench/cli.py [--runs 15]

Budget (issue 14): `flask --app app --help` <= 0.8 s. Figures are medians of whole processes, start-up included;
the bare `flask --help` shows what of it is Flask's and the plugins' own.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
BUDGET_SECONDS = 0.8


def seconds(command: list[str], env: dict, cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env, cwd=cwd)
    return time.perf_counter() - start


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
    bare = statistics.median(measured["flask --help (bare)"])
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; medians of {args.runs} runs")
    for label, runs in measured.items():
        median = statistics.median(runs)
        print(f"  {label:<24} {median:5.2f} s  {median / bare:4.2f}x bare  (min {min(runs):.2f}, max {max(runs):.2f})")
    app = statistics.median(measured["flask --app app --help"])
    print(f"  budget: flask --app app --help <= {BUDGET_SECONDS} s: {'met' if app <= BUDGET_SECONDS else 'NOT MET'}")


if __name__ == "__main__":
    main()
