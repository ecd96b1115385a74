"""The admin API's read queries when PostgreSQL cannot answer: every way of
being away becomes ``DatabaseUnavailable``, which the API answers with a JSON
503 (not the catch-all 500), and a query that hangs gives up after its timeout."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from callrouter.api.server import build_app
from callrouter.calls.admin import CentreAdmin
from callrouter.metrics import Metrics
from callrouter.store.queries import DatabaseUnavailable, Queries
from tests.unit.admin_api.harness import AUTH, TOKEN, call, centre_runner

DSN = "postgresql://callrouter@127.0.0.1:1/callrouter"
DAY = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))
AWAY = {
    "starting up": asyncpg.CannotConnectNowError("the database system is starting up"),
    "shutting down": asyncpg.AdminShutdownError("terminating connection due to administrator command"),
    "full": asyncpg.TooManyConnectionsError("sorry, too many clients already"),
    "connection gone": asyncpg.ConnectionDoesNotExistError(
        "connection was closed in the middle of operation"
    ),
    "connection failure": asyncpg.PostgresConnectionError("connection failure"),
    "client side": asyncpg.InterfaceError("cannot perform operation: connection is closed"),
    "refused": ConnectionRefusedError(111, "Connect call failed"),
    "timed out": TimeoutError(),
}


class Pool:
    """asyncpg's pool as far as the query uses it."""

    def __init__(self, error: BaseException | None = None, hang: bool = False) -> None:
        self.error = error
        self.hang = hang

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        if self.hang:
            await asyncio.Event().wait()
        assert self.error is not None
        raise self.error


def queries(pool: Pool, monkeypatch: pytest.MonkeyPatch, timeout: float = 5.0) -> Queries:
    query = Queries(DSN, "secret", timeout=timeout)

    async def get_pool() -> Pool:
        return pool

    monkeypatch.setattr(query, "_get_pool", get_pool)
    return query


@pytest.mark.parametrize("error", AWAY.values(), ids=AWAY.keys())
async def test_a_database_that_cannot_answer_is_unavailable(
    error: BaseException, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(DatabaseUnavailable) as raised:
        await queries(Pool(error), monkeypatch).abandoned(*DAY)
    assert raised.value.__cause__ is error


@pytest.mark.parametrize("error", AWAY.values(), ids=AWAY.keys())
async def test_the_api_answers_a_json_503_while_the_database_cannot_answer(
    error: BaseException, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    query = queries(Pool(error), monkeypatch)
    app = build_app(
        Metrics(),
        lambda: {"ok": True},
        TOKEN,
        CentreAdmin(centre_runner(tmp_path), query.abandoned, query.callbacks),
    )
    async with TestClient(TestServer(app)) as client:
        status, body = await call(client, "GET", "/calls/abandoned", headers=AUTH)
    assert (status, body) == (503, {"error": "the database is unreachable; try again"})
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [], "not a bug"


async def test_the_callbacks_list_is_a_json_503_too_while_the_database_cannot_answer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    query = queries(Pool(AWAY["refused"]), monkeypatch)
    admin = CentreAdmin(centre_runner(tmp_path), query.abandoned, query.callbacks)
    async with TestClient(TestServer(build_app(Metrics(), lambda: {"ok": True}, TOKEN, admin))) as client:
        status, body = await call(client, "GET", "/callbacks?state=pending", headers=AUTH)
    assert (status, body) == (503, {"error": "the database is unreachable; try again"})
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [], "not a bug"


@pytest.mark.timeout(5)
async def test_a_query_that_hangs_gives_up_after_its_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(DatabaseUnavailable):
        await queries(Pool(hang=True), monkeypatch, timeout=0.05).abandoned(*DAY)
    assert loop.time() - started < 1


async def test_a_bug_is_not_taken_for_an_outage(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(asyncpg.UndefinedColumnError):
        await queries(Pool(asyncpg.UndefinedColumnError("column x does not exist")), monkeypatch).abandoned(
            *DAY
        )


async def test_an_unreachable_server_is_unavailable_within_the_timeout() -> None:
    """No fake: nothing listens on port 1."""
    query = Queries(DSN, "secret", timeout=2)
    with pytest.raises(DatabaseUnavailable):
        await query.abandoned(*DAY)
    await query.close()
