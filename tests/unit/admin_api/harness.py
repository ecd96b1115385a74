"""The admin API's test harness (aiohttp's test server, a real switchboard on the
example config whose commands go nowhere, fake read queries), shared by the
auth, input and callbacks modules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from callrouter.calls.admin import CentreAdmin
from callrouter.core import centre as cc
from callrouter.core import switchboard as sb
from callrouter.core.queue import QueueEntry
from tests.unit.test_switchboard import T0, fresh, queued

TOKEN = "unit-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


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


class Callbacks:
    """``Queries.callbacks``' stand-in: the rows it answers, as the store makes them."""

    def __init__(self) -> None:
        self.asked: list[tuple[str | None, int]] = []
        self.rows: list[dict[str, Any]] = []

    async def __call__(self, state: str | None, limit: int) -> list[dict[str, Any]]:
        self.asked.append((state, limit))
        return [row for row in self.rows if state is None or row["state"] == state][:limit]


class Board:
    """The switchboard the admin API steps (the example config's), with no Asterisk
    behind it; its clock stands still until a test moves it."""

    def __init__(self) -> None:
        self.board = fresh()
        self.now = T0

    def step(self, event: sb.Event) -> None:
        self.board, _ = sb.step(self.board, event, self.now)

    @property
    def centre(self) -> cc.Centre:
        return self.board.centre

    def queue_someone(self, entry_id: str) -> None:
        """A place in the queue and nothing else (no call holds it)."""
        entry = QueueEntry(entry_id, "operator", "ru", "clinic-central", 0, T0, "person-key", entry_id)
        centre, _ = cc.join(self.board.centre, entry, T0)
        self.board = replace(self.board, centre=centre)

    def call_in(self, channel_id: str, number: str, presentation: str = "") -> str:
        """A caller from ``number`` waits for the operator; their place's id."""
        self.board, _ = queued(self.board, channel_id, number=number, presentation=presentation)
        entry_id = self.board.calls[channel_id].entry_id
        assert entry_id is not None
        return entry_id


def centre_runner(tmp_path: Path) -> Board:
    return Board()


def admin_of(
    board: Board, abandoned: Abandoned | None = None, callbacks: Callbacks | None = None
) -> CentreAdmin:
    return CentreAdmin(board, abandoned or Abandoned(), callbacks or Callbacks(), clock=lambda: board.now)


async def call(client: TestClient[Any, Any], method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    async with client.request(method, path, **kwargs) as response:
        assert response.content_type == "application/json", await response.text()
        return response.status, await response.json()


async def refused(client: TestClient[Any, Any], method: str, path: str, field: str, **kwargs: Any) -> Any:
    """The request is a 422 naming ``field`` (first) in its problems and its message; the body."""
    status, body = await call(client, method, path, headers=AUTH, **kwargs)
    assert status == 422, body
    assert body["problems"][0]["field"] == field and field in body["error"]
    return body
