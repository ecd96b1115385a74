"""The admin API's fixtures: a centre, the read queries' stand-ins, and
a client of the app built on them that fails the test if anything reached the
catch-all or aiohttp's own error handler."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callrouter.api.server import build_app
from callrouter.metrics import Metrics
from tests.unit.admin_api.harness import TOKEN, Abandoned, Board, Callbacks, admin_of, centre_runner


@pytest.fixture
def centre(tmp_path: Path) -> Board:
    return centre_runner(tmp_path)


@pytest.fixture
def abandoned() -> Abandoned:
    return Abandoned()


@pytest.fixture
def callbacks() -> Callbacks:
    return Callbacks()


@pytest.fixture
async def client(
    centre: Board, abandoned: Abandoned, callbacks: Callbacks, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[TestClient[Any, Any]]:
    app = build_app(Metrics(), lambda: {"ok": True}, TOKEN, admin_of(centre, abandoned, callbacks))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client
    # Bad input is the client's problem: nothing reached the catch-all or aiohttp's own handler.
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], errors
