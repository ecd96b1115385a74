"""asyncpg implementation of the record store."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

from callrouter.core.records import (
    AgentStateRecord,
    CallbackAttempt,
    CallbackRecord,
    CallEventRecord,
    CallRecord,
    NotificationAttempt,
    NotificationRecord,
    PersonRecord,
    PlaceRecord,
    Record,
)
from callrouter.store.silence import Answered

# A later snapshot adds facts: keep what is known, take what is new. A call is
# one channel on one node (a router that adopts a call after a restart gives it
# a new call_id; the row keeps the first). A snapshot with more drops (an agent's
# phone went at the answer: the caller waits again) says the agent, their answer
# and the outcome as they are, empty or not; one with fewer (a late replay from the
# spool) says nothing of them.
UPSERT_CALL = """
INSERT INTO calls (call_id, node, channel_id, did, line, caller_number, caller_presentation,
                   started_at, answered_at, ended_at, outcome, end_reason, language, menu_path,
                   topic, priority, queued_at, agent, agent_answered_at, repeat_of, repeat_kind, direction,
                   drops)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
        $22, $23)
ON CONFLICT (node, channel_id) DO UPDATE SET
    line              = COALESCE(EXCLUDED.line, calls.line),
    answered_at       = COALESCE(calls.answered_at, EXCLUDED.answered_at),
    ended_at          = COALESCE(calls.ended_at, EXCLUDED.ended_at),
    outcome           = CASE WHEN EXCLUDED.drops > calls.drops THEN EXCLUDED.outcome
                             WHEN EXCLUDED.drops < calls.drops THEN COALESCE(calls.outcome, EXCLUDED.outcome)
                             ELSE COALESCE(EXCLUDED.outcome, calls.outcome) END,
    end_reason        = COALESCE(EXCLUDED.end_reason, calls.end_reason),
    language          = COALESCE(EXCLUDED.language, calls.language),
    menu_path         = COALESCE(EXCLUDED.menu_path, calls.menu_path),
    topic             = COALESCE(EXCLUDED.topic, calls.topic),
    priority          = COALESCE(EXCLUDED.priority, calls.priority),
    queued_at         = COALESCE(calls.queued_at, EXCLUDED.queued_at),
    agent             = CASE WHEN EXCLUDED.drops > calls.drops THEN EXCLUDED.agent
                             WHEN EXCLUDED.drops < calls.drops THEN calls.agent
                             ELSE COALESCE(EXCLUDED.agent, calls.agent) END,
    agent_answered_at = CASE WHEN EXCLUDED.drops > calls.drops THEN EXCLUDED.agent_answered_at
                             WHEN EXCLUDED.drops < calls.drops THEN calls.agent_answered_at
                             ELSE COALESCE(calls.agent_answered_at, EXCLUDED.agent_answered_at) END,
    drops             = GREATEST(calls.drops, EXCLUDED.drops),
    repeat_of         = COALESCE(EXCLUDED.repeat_of, calls.repeat_of),
    repeat_kind       = COALESCE(EXCLUDED.repeat_kind, calls.repeat_kind)
"""

INSERT_EVENT = """
INSERT INTO call_events (call_id, node, at, kind, detail, callback_id) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT DO NOTHING
"""

INSERT_AGENT_STATE = """
INSERT INTO agent_states (agent, at, state, reason, call_id) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT DO NOTHING
"""


def _latest_change_upsert(table: str, key: str, columns: str) -> str:
    """An upsert for a table whose row is a thing's latest change, written whole:
    a record never overwrites a newer one (a replayed spool arrives late). Equal
    times: the later write wins (a place sent to another topic's queue is
    "overflowed" then "waiting" in one instant). ``columns`` in the row's order."""
    names = columns.split()
    values = ", ".join(f"${n}" for n in range(1, len(names) + 1))
    updates = ",\n    ".join(f"{name} = EXCLUDED.{name}" for name in names if name != key)
    return (
        f"INSERT INTO {table} ({', '.join(names)})\nVALUES ({values})\n"
        f"ON CONFLICT ({key}) DO UPDATE SET\n    {updates}\n"
        f"WHERE {table}.updated_at <= EXCLUDED.updated_at\n"
    )


UPSERT_PLACE = _latest_change_upsert(
    "places",
    "place_id",
    "place_id node person topic priority language line joined_at call_id state updated_at",
)
UPSERT_PERSON = _latest_change_upsert(
    "people",
    "person",
    "person updated_at left_at joined_at topic priority language line left_call_id contact_at contact_agent"
    " contact_call_id",
)
# A callback's lease is the routers' (store.leases): a record never touches it.
UPSERT_CALLBACK = _latest_change_upsert(
    "callbacks",
    "callback_id",
    "callback_id number person requested_at joined_at topic line language priority call_id state attempts"
    " reason updated_at",
)

# A notification's row is the import's; a router changes its state, attempts,
# reason and due time only, never to an older change (a replayed spool), never
# the lease (store.notifications).
UPDATE_NOTIFICATION = """
UPDATE notifications SET state = $2, due_at = $3, attempts = $4::jsonb, reason = $5, updated_at = $6
WHERE notification_id = $1 AND updated_at <= $6
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
        r.repeat_of, r.repeat_kind.value if r.repeat_kind else None, r.direction, r.drops,
    )  # fmt: skip


def _place_row(r: PlaceRecord) -> tuple[Any, ...]:
    return (
        r.place_id, r.node, r.person, r.topic, r.priority, r.language, r.line, r.joined_at, r.call_id,
        r.state.value, r.at,
    )  # fmt: skip


def _person_row(r: PersonRecord) -> tuple[Any, ...]:
    return (
        r.person, r.at, r.left_at, r.joined_at, r.topic, r.priority, r.language, r.line, r.left_call_id,
        r.contact_at, r.contact_agent, r.contact_call_id,
    )  # fmt: skip


def _callback_row(r: CallbackRecord) -> tuple[Any, ...]:
    return (
        r.callback_id, r.number, r.person, r.requested_at, r.joined_at, r.topic, r.line, r.language,
        r.priority, r.call_id, r.state.value, _attempts_json(r.attempts), r.reason, r.at,
    )  # fmt: skip


def _notification_row(r: NotificationRecord) -> tuple[Any, ...]:
    attempts = json.dumps([_notification_attempt(a) for a in r.attempts])
    return r.notification_id, r.state.value, r.due_at, attempts, r.reason, r.at


def _notification_attempt(a: NotificationAttempt) -> dict[str, Any]:
    return {"at": a.at.isoformat(), "outcome": a.outcome, "call_id": a.call_id}


def _event_row(r: CallEventRecord) -> tuple[Any, ...]:
    return r.call_id, r.node, r.at, r.kind, r.detail, r.callback_id


def _agent_state_row(r: AgentStateRecord) -> tuple[Any, ...]:
    return r.agent, r.at, r.state, r.reason, r.call_id


def _attempts_json(attempts: Sequence[CallbackAttempt]) -> str:
    """A callback's attempts as the ``callbacks.attempts`` column holds them."""
    return json.dumps([{"at": a.at.isoformat(), "agent": a.agent, "outcome": a.outcome} for a in attempts])


# Each record type's statement and row, in the order a batch runs them. Rows of
# one type keep the batch's order: a callback ends before the next one for its
# number opens (one open callback per number).
STATEMENTS: dict[type[Record], tuple[str, Callable[[Any], tuple[Any, ...]]]] = {
    CallRecord: (UPSERT_CALL, _call_row),
    CallEventRecord: (INSERT_EVENT, _event_row),
    AgentStateRecord: (INSERT_AGENT_STATE, _agent_state_row),
    PlaceRecord: (UPSERT_PLACE, _place_row),
    PersonRecord: (UPSERT_PERSON, _person_row),
    CallbackRecord: (UPSERT_CALLBACK, _callback_row),
    NotificationRecord: (UPDATE_NOTIFICATION, _notification_row),
}


class PgRecordStore(Answered):
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
        Connection trouble raises, so the writer spools and retries; so does a server
        that does not answer at all within the timeout (``silence``)."""
        try:
            await self._write_answered(records)
        except BAD_DATA:
            rejected: list[tuple[Record, str]] = []
            for record in records:  # find the poison records one by one
                try:
                    await self._write_answered([record])
                except BAD_DATA as exc:
                    rejected.append((record, f"{type(exc).__name__}: {exc}"))
            return rejected
        return []

    async def _write_answered(self, records: Sequence[Record]) -> None:
        async def work() -> None:
            await self._write_rows(await self._get_pool(), records)

        await self._answered(work())

    async def _write_rows(self, pool: asyncpg.Pool, records: Sequence[Record]) -> None:
        rows: dict[str, list[tuple[Any, ...]]] = {statement: [] for statement, _row in STATEMENTS.values()}
        for record in records:
            statement, row = STATEMENTS[type(record)]
            rows[statement].append(row(record))
        timeout = self._timeout
        async with pool.acquire(timeout=timeout) as conn, conn.transaction():
            for statement, batch in rows.items():
                if batch:
                    await conn.executemany(statement, batch, timeout=timeout)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
