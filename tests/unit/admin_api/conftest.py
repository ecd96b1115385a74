"""The admin API's fixtures: a centre, the abandoned-calls query's stand-in, and
a client of the app built on both that fails the test if anything reached the
catch-all or aiohttp's own error handler."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callrouter.api.server import build_app
from callrouter.calls.admin import CentreAdmin
from callrouter.metrics import Metrics
from tests.unit.admin_api.harness import TOKEN, Abandoned, Board, centre_runner


@pytest.fixture
def centre(tmp_path: Path) -> Board:
    return centre_runner(tmp_path)


@pytest.fixture
def abandoned() -> Abandoned:
    return Abandoned()


@pytest.fixture
async def client(
    centre: Board, abandoned: Abandoned, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[TestClient[Any, Any]]:
    app = build_app(Metrics(), lambda: {"ok": True}, TOKEN, CentreAdmin(centre, abandoned))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client
    # Bad input is the client's problem: nothing reached the catch-all or aiohttp's own handler.
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], errors
