"""The worker processes of ``--replications``, ``--compare`` and ``staffing`` end with
the command: one stopped by SIGTERM alone (a supervisor's stop) or SIGKILL left its
workers running their day at full CPU, then waiting on a pipe for ever."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# A command's pool with two workers busy on long work; it prints their PIDs.
COMMAND = """
import os, sys, time
from callrouter.simulate import workers
with workers.pool(2) as pool:
    busy = [pool.submit(time.sleep, 600) for _ in range(2)]
    time.sleep(0.5)
    print(" ".join(str(pid) for pid in pool._processes), flush=True)
    time.sleep(600)
"""


def running(pid: int) -> bool:
    """Alive and not a zombie (one left to a PID 1 that never reaps is over too)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_the_workers_end_with_the_command(sig: int) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", COMMAND], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ) as command:  # fmt: skip
        pids: list[int] = []
        try:
            assert command.stdout is not None
            pids = [int(pid) for pid in command.stdout.readline().split()]
            assert len(pids) == 2 and all(running(pid) for pid in pids)
            command.send_signal(sig)
            command.wait(10)
            deadline = time.monotonic() + 10
            while any(running(pid) for pid in pids) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not any(running(pid) for pid in pids), "a worker outlived its command"
        finally:
            command.kill()
            for pid in filter(running, pids):  # this test's own workers, should they outlive it
                os.kill(pid, signal.SIGKILL)
