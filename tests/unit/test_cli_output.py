"""The command line as a shell runs it: an output that cannot be written (a full disk,
a closed standard output) is said in one line on stderr, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "examples" / "scenario-small.toml"


def callrouter(
    *args: str, stdout: int | None = None, close_stdout: bool = False
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callrouter", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        timeout=120,
        preexec_fn=(lambda: os.close(1)) if close_stdout else None,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [("--help",), ("--version",), ("simulate", "--help"), ("check-config", "callrouter.example.toml")],
)
def test_a_full_output_is_said_in_one_line(args: tuple[str, ...]) -> None:
    with open("/dev/full", "w") as full:
        done = callrouter(*args, stdout=full.fileno())
    assert done.returncode == 2
    assert done.stderr == "callrouter: cannot write the output: No space left on device\n"


@pytest.mark.parametrize("args", [("simulate", str(SMALL)), ("check-config", "callrouter.example.toml")])
def test_a_closed_standard_output_is_said_in_one_line(args: tuple[str, ...]) -> None:
    done = callrouter(*args, close_stdout=True)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == "callrouter: cannot write the output: standard output is closed"
    assert "Traceback" not in done.stderr


NOTED = (
    f'config = "{ROOT / "callrouter.example.toml"}"\n'
    + """date = 2026-11-24
handle = { distribution = "exponential", mean_seconds = 120 }
patience = { distribution = "exponential", mean_seconds = 90 }
shifts = [{ agents = ["agent1"], start = "00:00", end = "24:00" }]
[[arrivals]]
line = "hotline-international"
topic = "operator"
start = "08:00"
per_hour = [5]
"""
)  # agent1 takes no English caller: simulate notes it on stderr, and plays the day


def run_with_stderr(args: tuple[str, ...], *, full: bool) -> subprocess.CompletedProcess[str]:
    with open("/dev/full", "w") as sink:
        return subprocess.run(
            [sys.executable, "-m", "callrouter", *args],
            stdout=subprocess.PIPE,
            stderr=sink.fileno() if full else None,
            preexec_fn=None if full else (lambda: os.close(2)),
            text=True,
            cwd=ROOT,
            timeout=120,
            check=False,
        )


@pytest.mark.parametrize("full", [True, False], ids=["full", "closed"])
def test_a_note_that_cannot_be_said_leaves_the_command_to_finish(tmp_path: Path, full: bool) -> None:
    """A note on a full or closed stderr failed the day with exit 2 and no output."""
    scenario = tmp_path / "day.toml"
    scenario.write_text(NOTED)
    done = run_with_stderr(("simulate", str(scenario)), full=full)
    assert done.returncode == 0 and done.stdout.startswith("callrouter simulate: "), done.stdout[:200]


@pytest.mark.parametrize("full", [True, False], ids=["full", "closed"])
def test_an_error_that_cannot_be_said_leaves_its_exit_status(full: bool) -> None:
    for args in (("simulate", "/no/such/scenario.toml"), ("check-config", "/no/such.toml")):
        done = run_with_stderr(args, full=full)
        assert done.returncode == 2 and done.stdout == "", args
