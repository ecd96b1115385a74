"""The admin API's test harness (aiohttp's test server, a real switchboard whose
commands go nowhere, a fake abandoned-calls query), shared by the auth and input modules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from callrouter.core import centre as cc
from callrouter.core import switchboard as sb
from callrouter.core.agents import Agent
from callrouter.core.call_plan import CallPlan
from callrouter.core.lines import DidDirectory
from callrouter.core.menu import MenuNode, MenuSpec
from callrouter.core.queue import QueueEntry

TOKEN = "unit-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


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


class Board:
    """The switchboard the admin API steps, with no Asterisk behind it."""

    def __init__(self) -> None:
        agents = [Agent("agent1", frozenset({"operator"}), frozenset({"ru"}))]
        menu = MenuSpec(MenuNode("root", {}), "operator", ("ru",))
        rules = sb.Rules("asterisk-1", CallPlan("/prompts", menu, {}), DidDirectory([]))
        self.board = sb.Board.create(rules, cc.Centre.create(agents, {}, timedelta(0)))

    def step(self, event: sb.Event) -> None:
        self.board, _ = sb.step(self.board, event, T0)

    @property
    def centre(self) -> cc.Centre:
        return self.board.centre

    def queue_someone(self, entry_id: str) -> None:
        entry = QueueEntry(entry_id, "operator", "ru", "clinic", 0, T0, "+79161234567", entry_id)
        centre, _ = cc.join(self.board.centre, entry, T0)
        self.board = replace(self.board, centre=centre)


def centre_runner(tmp_path: Path) -> Board:
    return Board()


async def call(client: TestClient[Any, Any], method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    async with client.request(method, path, **kwargs) as response:
        assert response.content_type == "application/json", await response.text()
        return response.status, await response.json()
