"""The KPI report's reads: a period's calls (streamed in batches, however many),
its callbacks and its results by state. Never on a call's path; the figures are
the core's (``core.kpi``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

import asyncpg

from callrouter.core.records import CallRecord, Outcome, RepeatKind
from callrouter.store.queries import UNAVAILABLE, DatabaseUnavailable, Pooled

# Every call that started in the period, results calls too (the core counts them apart).
# An empty array of lines: every line.
CALLS = """
SELECT call_id, node, channel_id, did, line, caller_number, caller_presentation, started_at, answered_at,
       ended_at, outcome, end_reason, language, menu_path, topic, priority, queued_at, agent,
       agent_answered_at, repeat_of, repeat_kind, direction
FROM calls
WHERE started_at >= $1 AND started_at < $2 AND (cardinality($3::text[]) = 0 OR line = ANY($3::text[]))
"""
# Callbacks requested in the period, by their state now.
CALLBACK_STATES = """
SELECT state, count(*) AS n FROM callbacks
WHERE requested_at >= $1 AND requested_at < $2 AND (cardinality($3::text[]) = 0 OR line = ANY($3::text[]))
GROUP BY state
"""
# Results received in the period, by their state now.
NOTIFICATION_STATES = """
SELECT state, count(*) AS n FROM notifications
WHERE received_at >= $1 AND received_at < $2 AND (cardinality($3::text[]) = 0 OR line = ANY($3::text[]))
GROUP BY state
"""
BATCH = 2000


def _call(r: asyncpg.Record) -> CallRecord:
    return CallRecord(
        str(r["call_id"]), r["node"], r["channel_id"], r["did"], r["line"], r["caller_number"],
        r["caller_presentation"], r["started_at"], r["answered_at"], r["ended_at"],
        Outcome(r["outcome"]) if r["outcome"] else None, r["end_reason"], r["language"], r["menu_path"],
        r["topic"], r["priority"], r["queued_at"], r["agent"], r["agent_answered_at"],
        str(r["repeat_of"]) if r["repeat_of"] else None,
        RepeatKind(r["repeat_kind"]) if r["repeat_kind"] else None, r["direction"],
    )  # fmt: skip


class ReportReader(Pooled):
    """asyncpg.PostgresError: the schema is not there (not migrated); DatabaseUnavailable:
    PostgreSQL cannot answer (each batch within the timeout)."""

    async def calls(
        self, start: datetime, end: datetime, lines: Sequence[str] = ()
    ) -> AsyncIterator[list[CallRecord]]:
        """The calls that started in [start, end), ``BATCH`` at a time, through a cursor."""
        try:
            async with asyncio.timeout(self._timeout):
                pool = await self._get_pool()
                conn = await pool.acquire()
            try:
                async with conn.transaction():
                    cursor = await conn.cursor(CALLS, start, end, list(lines), timeout=self._timeout)
                    while rows := await cursor.fetch(BATCH, timeout=self._timeout):
                        yield [_call(r) for r in rows]
            finally:
                await pool.release(conn)
        except UNAVAILABLE as exc:
            raise DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def callback_states(
        self, start: datetime, end: datetime, lines: Sequence[str] = ()
    ) -> dict[str, int]:
        return {r["state"]: r["n"] for r in await self._fetch(CALLBACK_STATES, start, end, list(lines))}

    async def notification_states(
        self, start: datetime, end: datetime, lines: Sequence[str] = ()
    ) -> dict[str, int]:
        return {r["state"]: r["n"] for r in await self._fetch(NOTIFICATION_STATES, start, end, list(lines))}
