"""The router's results calls check secrets under the configured pepper, and say at
start when there is none (a copy of the database would then be enough)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from callrouter import app, config
from callrouter.secrets_hash import hash_secret
from callrouter.secrets_pepper import Pepper

EXAMPLE = Path(__file__).resolve().parents[2] / "callrouter.example.toml"
PEPPER = "the pepper of this very centre"


class Dispatcher:
    def use_results(self, store: Any, verify: Any, lease_seconds: float) -> None:
        self.verify = verify


def wired(environ: dict[str, str]) -> Dispatcher:
    settings = config.load(
        EXAMPLE, environ={"CALLROUTER_DATABASE_DSN": "postgresql://u@127.0.0.1/x", **environ}
    )
    dispatcher = Dispatcher()
    app._use_results(settings, dispatcher)  # type: ignore[arg-type]
    return dispatcher


def test_a_router_with_a_pepper_verifies_under_it_and_does_not_warn(caplog: pytest.LogCaptureFixture) -> None:
    verify = wired({"CALLROUTER_RESULTS_PEPPER": PEPPER}).verify
    assert "without a pepper" not in caplog.text
    peppered = hash_secret("12031980", Pepper(PEPPER.encode()))
    assert verify(peppered, "12031980") and not verify(peppered, "12031981")
    assert verify(hash_secret("12031980"), "12031980"), "one put in before the pepper"


def test_a_router_without_one_warns_at_start_and_cannot_verify_a_peppered_hash(
    caplog: pytest.LogCaptureFixture,
) -> None:
    verify = wired({}).verify
    assert "results secrets are hashed without a pepper" in caplog.text
    assert "CALLROUTER_RESULTS_PEPPER" in caplog.text
    assert not verify(hash_secret("12031980", Pepper(PEPPER.encode())), "12031980")
