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


@pytest.mark.parametrize("args", [("simulate", "/no/such/scenario.toml"), ("check-config", "/no/such.toml")])
def test_a_full_standard_error_leaves_the_exit_status_to_tell(args: tuple[str, ...]) -> None:
    """Nothing can be said, so no traceback is tried either: the status is the output's (2)."""
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "callrouter", *args],
            stderr=full.fileno(),
            cwd=ROOT,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
