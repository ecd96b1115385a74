"""Read-side queries for the admin API (never on a call's path)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import asyncpg

from callrouter.store.postgres import connect_kwargs

ABANDONED = """
SELECT call_id, started_at, line, topic, caller_number, caller_presentation, outcome,
       EXTRACT(EPOCH FROM (ended_at - queued_at)) AS waited_seconds
FROM calls
WHERE outcome IN ('abandoned', 'short_abandon') AND started_at >= $1 AND started_at < $2
ORDER BY started_at
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


class Queries:
    def __init__(self, dsn: str, password: str | None, timeout: float = TIMEOUT_SECONDS) -> None:
        self._kwargs = connect_kwargs(dsn, password)
        self._timeout = timeout
        self._pool: asyncpg.Pool | None = None

    async def _get_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(min_size=0, max_size=2, timeout=5, **self._kwargs)
        return self._pool

    async def abandoned(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """The callers to phone back: full numbers (the route is behind the admin token)."""
        try:
            async with asyncio.timeout(self._timeout):
                pool = await self._get_pool()
                rows = await pool.fetch(ABANDONED, since, until)
        except UNAVAILABLE as exc:
            raise DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc
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
