"""The admin API's test harness (aiohttp's test server, a centre on a fake ARI,
a fake abandoned-calls query), shared by the auth and input modules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from callrouter.ari.fake import FakeAriClient
from callrouter.calls.centre import CentreRunner, RingSettings
from callrouter.core import centre as cc
from callrouter.core.agents import Agent
from callrouter.metrics import Metrics
from callrouter.store.writer import RecordWriter

TOKEN = "unit-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class NullStore:
    async def write(self, records: Any) -> list[Any]:
        return []


class Abandoned:
    """The query's stand-in: asyncpg sends a time as UTC, which failed (DataError) for
    0001-01-01T00:00:00+14:00; the router itself now passes only UTC times."""

    def __init__(self) -> None:
        self.asked: list[tuple[datetime, datetime]] = []

    async def __call__(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        for value in (since, until):
            assert value.utcoffset() == timedelta(0), value
            value.astimezone(UTC)  # OverflowError, as asyncpg's DataError, for year 0 in UTC
        self.asked.append((since, until))
        return [{"call_id": "c1", "caller_number": "+79161234567"}]


def centre_runner(tmp_path: Path) -> CentreRunner:
    agents = [Agent("agent1", frozenset({"operator"}), frozenset({"ru"}))]
    centre = cc.Centre.create(agents, {}, timedelta(0))
    writer = RecordWriter(NullStore(), tmp_path, Metrics())
    ring = RingSettings("callrouter", 30)
    return CentreRunner(centre, FakeAriClient(), writer, Metrics(), ring, lambda: T0)


class Caller:
    def feed(self, event: object) -> None:
        pass


async def call(client: TestClient[Any, Any], method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    async with client.request(method, path, **kwargs) as response:
        assert response.content_type == "application/json", await response.text()
        return response.status, await response.json()
