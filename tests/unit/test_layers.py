"""The layers of ARCHITECTURE.md's "Shape", as the import-linter contracts in
pyproject.toml state them (`make lint` runs `lint-imports`): the package keeps
every contract, and every contract bites, shown on a copy of the package with
one import added that breaks it, directly or through another module."""

from __future__ import annotations

import contextlib
import io
import shutil
import sys
import tomllib
from pathlib import Path

import pytest
from importlinter import api  # noqa: F401  (configures import-linter, as its command line does)
from importlinter.application.use_cases import lint_imports

ROOT = Path(__file__).parents[2]
PYPROJECT = ROOT / "pyproject.toml"
CONTRACTS = [c["id"] for c in tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]]

# (module changed, the import added, the contracts it must break)
VIOLATIONS = {
    # (the shell uses the core: a core that reads the config makes the shell read it too, and
    # the api, which takes the callbacks' requests and errors from the core, reach it)
    "the core reads the config": (
        "core/hours.py",
        "import callrouter.config",
        {"core-pure", "shell-compiled", "api-facade"},
    ),
    # (and the simulation, which runs the core, would wait on it too)
    "the core waits on asyncio": ("core/queue.py", "import asyncio", {"core-pure", "simulate-offline"}),
    "the core decides through metrics": (
        "core/menu.py",
        "from callrouter.metrics import Metrics",
        {"core-pure", "layers", "simulate-offline"},
    ),
    "the record types lead to the core's rules": (
        "core/records.py",
        "from callrouter.core import queue",
        {"records-alone"},
    ),
    "the store applies a core rule": ("store/spool.py", "from callrouter.core import queue", {"store-edge"}),
    "the store reads the config": (
        "store/writer.py",
        "from callrouter import config",
        {"store-edge", "shell-compiled"},
    ),
    "ari writes records": ("ari/client.py", "from callrouter.store import writer", {"ari-edge", "layers"}),
    # metrics → core makes ari and the store reach the core through metrics
    "metrics imports what it measures": (
        "metrics.py",
        "from callrouter.core.records import Outcome",
        {"metrics-apart", "layers", "ari-edge", "store-edge"},
    ),
    "api reaches into the shell": (
        "api/server.py",
        "from callrouter.calls import dispatcher",
        {"api-facade", "layers"},
    ),
    "api queries the database itself": (
        "api/server.py",
        "from callrouter.store import queries",
        {"api-facade"},
    ),
    "a layer imports the one above": (
        "calls/admin.py",
        "from callrouter import app",
        {"layers", "shell-compiled"},
    ),
    "the shell reads the config": ("calls/executor.py", "from callrouter import config", {"shell-compiled"}),
    "the simulation talks to Asterisk": (
        "simulate/engine.py",
        "from callrouter.ari import client",
        {"simulate-offline"},
    ),
    "the simulation waits on an event loop": ("simulate/people.py", "import asyncio", {"simulate-offline"}),
}


def kept(contract_id: str) -> bool:
    """One contract checked on whichever `callrouter` the import system finds."""
    report = io.StringIO()
    with contextlib.redirect_stdout(report):
        return lint_imports(str(PYPROJECT), limit_to_contracts=(contract_id,), cache_dir=None, no_logo=True)


def test_every_contract_is_shown_to_bite() -> None:
    assert CONTRACTS, "pyproject.toml states no contract"
    shown = set().union(*(broken for _, _, broken in VIOLATIONS.values()))
    assert shown == set(CONTRACTS)


@pytest.mark.parametrize("contract_id", CONTRACTS)
def test_the_package_keeps_its_layers(contract_id: str) -> None:
    assert kept(contract_id)


@pytest.fixture
def package_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the package that import-linter finds instead of the real one."""
    shutil.copytree(
        ROOT / "callrouter", tmp_path / "callrouter", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in list(sys.modules):  # a loaded module would be found first; restored after the test
        if name == "callrouter" or name.startswith("callrouter."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path / "callrouter"


@pytest.mark.parametrize("case", VIOLATIONS)
def test_a_broken_layer_is_reported(case: str, package_copy: Path) -> None:
    module, line, expected = VIOLATIONS[case]
    assert kept(next(iter(expected))), "the copy keeps the contracts before the change"
    with (package_copy / module).open("a", encoding="utf-8") as source:
        source.write(f"\n{line}\n")
    broken = {contract_id for contract_id in CONTRACTS if not kept(contract_id)}
    assert broken == expected
