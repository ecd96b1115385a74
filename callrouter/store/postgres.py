"""asyncpg implementation of the record store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from callrouter.core.records import AgentStateRecord, CallEventRecord, CallRecord, PlaceRecord, Record

# A later snapshot adds facts: keep what is known, take what is new. A call is
# one channel on one node (a router that adopts a call after a restart gives it
# a new call_id; the row keeps the first).
UPSERT_CALL = """
INSERT INTO calls (call_id, node, channel_id, did, line, caller_number, caller_presentation,
                   started_at, answered_at, ended_at, outcome, end_reason, language, menu_path,
                   topic, priority, queued_at, agent, agent_answered_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
ON CONFLICT (node, channel_id) DO UPDATE SET
    line              = COALESCE(EXCLUDED.line, calls.line),
    answered_at       = COALESCE(calls.answered_at, EXCLUDED.answered_at),
    ended_at          = COALESCE(calls.ended_at, EXCLUDED.ended_at),
    outcome           = COALESCE(EXCLUDED.outcome, calls.outcome),
    end_reason        = COALESCE(EXCLUDED.end_reason, calls.end_reason),
    language          = COALESCE(EXCLUDED.language, calls.language),
    menu_path         = COALESCE(EXCLUDED.menu_path, calls.menu_path),
    topic             = COALESCE(EXCLUDED.topic, calls.topic),
    priority          = COALESCE(EXCLUDED.priority, calls.priority),
    queued_at         = COALESCE(calls.queued_at, EXCLUDED.queued_at),
    agent             = COALESCE(EXCLUDED.agent, calls.agent),
    agent_answered_at = COALESCE(calls.agent_answered_at, EXCLUDED.agent_answered_at)
"""

INSERT_EVENT = """
INSERT INTO call_events (call_id, node, at, kind, detail) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT DO NOTHING
"""

INSERT_AGENT_STATE = """
INSERT INTO agent_states (agent, at, state, reason, call_id) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT DO NOTHING
"""

# A place's row is its latest change: a record never overwrites a newer one (a
# replayed spool arrives late). Equal times: the later write wins (a place sent
# to another topic's queue is "overflowed" then "waiting" in one instant).
UPSERT_PLACE = """
INSERT INTO places (place_id, node, person, topic, priority, language, line, joined_at, call_id,
                    state, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (place_id) DO UPDATE SET
    node       = EXCLUDED.node,
    person     = EXCLUDED.person,
    topic      = EXCLUDED.topic,
    priority   = EXCLUDED.priority,
    language   = EXCLUDED.language,
    line       = EXCLUDED.line,
    joined_at  = EXCLUDED.joined_at,
    call_id    = EXCLUDED.call_id,
    state      = EXCLUDED.state,
    updated_at = EXCLUDED.updated_at
WHERE places.updated_at <= EXCLUDED.updated_at
"""

BAD_DATA = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError)


def connect_kwargs(dsn: str, password: str | None) -> dict[str, object]:
    kwargs: dict[str, object] = {"dsn": dsn}
    if password:
        kwargs["password"] = password
    return kwargs


def _call_row(r: CallRecord) -> tuple[Any, ...]:
    return (
        r.call_id, r.node, r.channel_id, r.did, r.line, r.caller_number, r.caller_presentation,
        r.started_at, r.answered_at, r.ended_at, r.outcome.value if r.outcome else None, r.end_reason,
        r.language, r.menu_path, r.topic, r.priority, r.queued_at, r.agent, r.agent_answered_at,
    )  # fmt: skip


def _place_row(r: PlaceRecord) -> tuple[Any, ...]:
    return (
        r.place_id, r.node, r.person, r.topic, r.priority, r.language, r.line, r.joined_at, r.call_id,
        r.state.value, r.at,
    )  # fmt: skip


class PgRecordStore:
    """Writes batches in one transaction each. A write that takes longer than
    ``timeout`` (waiting for a connection, or running) raises TimeoutError:
    the writer takes that for a slow database and retries from memory."""

    def __init__(self, dsn: str, password: str | None, timeout: float = 10.0) -> None:
        self._kwargs = connect_kwargs(dsn, password)
        self._timeout = timeout
        self._pool: asyncpg.Pool | None = None

    async def _get_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(min_size=1, max_size=4, timeout=5, **self._kwargs)
        return self._pool

    async def write(self, records: Sequence[Record]) -> list[tuple[Record, str]]:
        """Write a batch; return the records PostgreSQL refused as data (with why).
        Connection trouble raises, so the writer spools and retries."""
        pool = await self._get_pool()
        try:
            await self._write_rows(pool, records)
        except BAD_DATA:
            rejected: list[tuple[Record, str]] = []
            for record in records:  # find the poison records one by one
                try:
                    await self._write_rows(pool, [record])
                except BAD_DATA as exc:
                    rejected.append((record, f"{type(exc).__name__}: {exc}"))
            return rejected
        return []

    async def _write_rows(self, pool: asyncpg.Pool, records: Sequence[Record]) -> None:
        calls = [_call_row(r) for r in records if isinstance(r, CallRecord)]
        events = [
            (r.call_id, r.node, r.at, r.kind, r.detail) for r in records if isinstance(r, CallEventRecord)
        ]
        states = [
            (r.agent, r.at, r.state, r.reason, r.call_id) for r in records if isinstance(r, AgentStateRecord)
        ]
        places = [_place_row(r) for r in records if isinstance(r, PlaceRecord)]
        timeout = self._timeout
        async with pool.acquire(timeout=timeout) as conn, conn.transaction():
            if calls:
                await conn.executemany(UPSERT_CALL, calls, timeout=timeout)
            if events:
                await conn.executemany(INSERT_EVENT, events, timeout=timeout)
            if states:
                await conn.executemany(INSERT_AGENT_STATE, states, timeout=timeout)
            if places:
                await conn.executemany(UPSERT_PLACE, places, timeout=timeout)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
