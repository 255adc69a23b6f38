"""The test helpers that start processes (tests/servers.py) leave nothing running: what a process started in turn
goes with it, however it ended."""
import os
import sys
import time

from tests.servers import run_command, start_process, stop_process, wait_for

# A process that starts a grandchild of the test (60 s asleep), prints its pid and exits, or waits for its SIGTERM.
PARENT = "import subprocess, sys, time; print(subprocess.Popen(['sleep', '60']).pid, flush=True); time.sleep(float(sys.argv[1]))"


def running(pid: int) -> bool:
    """Not yet ended (a SIGKILL takes a moment to land)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie (ended, not yet reaped by init) is not running
        return stat.read().split(")")[-1].split()[0] != "Z"


def test_a_command_run_to_its_end_leaves_nothing_running():
    """Nor does it wait for what the command started, which holds its output open."""
    started = time.monotonic()
    result = run_command([sys.executable, "-c", PARENT, "0"], dict(os.environ))
    assert time.monotonic() - started < 30
    assert result.returncode == 0 and wait_for(lambda: not running(int(result.stdout)), timeout=5)


def test_a_stopped_process_leaves_nothing_running(tmp_path):
    log = tmp_path / "parent.log"
    process = start_process([sys.executable, "-c", PARENT, "60"], dict(os.environ), log)
    try:
        while not log.read_text().strip():
            pass
        grandchild = int(log.read_text())
    finally:
        stop_process(process)
    assert wait_for(lambda: not running(grandchild), timeout=5)
