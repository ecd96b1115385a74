"""Read-side queries: the admin API's, and what a router reads back at start (never on a call's path)."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import datetime
from typing import Any

import asyncpg

from callrouter.core.records import AgentStateRecord, PlaceRecord, PlaceState
from callrouter.store.postgres import connect_kwargs

# A number only where the caller showed it: a withheld caller is listed as withheld.
ABANDONED = """
SELECT call_id, started_at, line, topic,
       CASE WHEN caller_presentation = 'number' THEN caller_number END AS caller_number,
       caller_presentation, outcome,
       EXTRACT(EPOCH FROM (ended_at - queued_at)) AS waited_seconds
FROM calls
WHERE outcome IN ('abandoned', 'short_abandon') AND started_at >= $1 AND started_at < $2
ORDER BY started_at
"""
LAST_AGENT_STATES = """
SELECT DISTINCT ON (agent) agent, state, reason, at
FROM agent_states
ORDER BY agent, at DESC, id DESC
"""
# The waiting places of a node, and the latest state of the places the spool names
# (a place the spool has waiting may have ended since, in the database).
PLACES = """
SELECT place_id, node, person, topic, priority, language, line, joined_at, call_id, state, updated_at
FROM places
WHERE node = $1 AND (state = 'waiting' OR place_id = ANY($2::text[]))
"""
TIMEOUT_SECONDS = 5.0  # a connection, a free pooled one and the rows, all told

# PostgreSQL down, starting, shutting down, full or unreachable, or the
# connection broken under the query: try again later, not a bug.
UNAVAILABLE = (
    asyncpg.PostgresConnectionError,  # class 08, ConnectionDoesNotExistError among them
    asyncpg.OperatorInterventionError,  # class 57: CannotConnectNowError, AdminShutdownError
    asyncpg.InsufficientResourcesError,  # class 53: TooManyConnectionsError
    asyncpg.InterfaceError,  # the client's side of a broken connection
    OSError,
    TimeoutError,
)


class DatabaseUnavailable(OSError):
    """PostgreSQL cannot answer now; the API says 503 and the caller tries again.
    An OSError, so the admin API can tell it without importing the store."""


def _place(r: asyncpg.Record) -> PlaceRecord:
    call_id = str(r["call_id"]) if r["call_id"] is not None else None
    return PlaceRecord(
        r["place_id"], r["node"], r["updated_at"], PlaceState(r["state"]), r["person"], r["topic"],
        r["priority"], r["language"], r["line"], r["joined_at"], call_id,
    )  # fmt: skip


class Queries:
    def __init__(self, dsn: str, password: str | None, timeout: float = TIMEOUT_SECONDS) -> None:
        self._kwargs = connect_kwargs(dsn, password)
        self._timeout = timeout
        self._pool: asyncpg.Pool | None = None

    async def _get_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(min_size=0, max_size=2, timeout=5, **self._kwargs)
        return self._pool

    async def _fetch(self, sql: str, *args: object) -> list[asyncpg.Record]:
        """The rows, within the timeout; DatabaseUnavailable when PostgreSQL cannot answer now."""
        try:
            async with asyncio.timeout(self._timeout):
                pool = await self._get_pool()
                return list(await pool.fetch(sql, *args))
        except UNAVAILABLE as exc:
            raise DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def last_agent_states(self) -> dict[str, AgentStateRecord]:
        """Each agent's last recorded state (read once, at start)."""
        return {
            r["agent"]: AgentStateRecord(r["agent"], r["at"], r["state"], r["reason"])
            for r in await self._fetch(LAST_AGENT_STATES)
        }

    async def places(self, node: str, also: Collection[str] = ()) -> list[PlaceRecord]:
        """This node's waiting places, and the places ``also`` names in any state (read once, at start)."""
        return [_place(r) for r in await self._fetch(PLACES, node, list(also))]

    async def abandoned(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """The callers to phone back: full numbers (the route is behind the admin token),
        none for a caller who withheld theirs (``caller_presentation`` says so)."""
        rows = await self._fetch(ABANDONED, since, until)
        return [
            {
                "call_id": str(r["call_id"]),
                "started_at": r["started_at"].isoformat(),
                "line": r["line"],
                "topic": r["topic"],
                "caller_number": r["caller_number"],
                "caller_presentation": r["caller_presentation"],
                "outcome": r["outcome"],
                "waited_seconds": float(r["waited_seconds"]) if r["waited_seconds"] is not None else None,
            }
            for r in rows
        ]

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
