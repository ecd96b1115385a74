"""Read-side queries: the admin API's, and what a router reads back at start (never on a call's path)."""

from __future__ import annotations

import errno
import json
import re
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import asyncpg
from asyncpg.transaction import Transaction

from callrouter.core.records import (
    ANSWERED,
    DROPPED_ROW,
    AgentStateRecord,
    CallbackAttempt,
    CallbackRecord,
    CallbackState,
    PersonRecord,
    PlaceRecord,
    PlaceState,
)
from callrouter.store.postgres import connect_kwargs
from callrouter.store.silence import Answered

# The callers to phone back: calls abandoned in the queue (but not one a later
# call of the same person followed up: they got back), and numbers whose last
# callback failed (requested in the window; "started_at" is when it was asked for).
# A number only where the caller showed it: a withheld caller is listed as withheld.
ABANDONED = """
SELECT call_id, NULL::uuid AS callback_id, started_at, line, topic,
       CASE WHEN caller_presentation = 'number' THEN caller_number END AS caller_number,
       caller_presentation, outcome, EXTRACT(EPOCH FROM (ended_at - queued_at)) AS waited_seconds
FROM calls
WHERE outcome IN ('abandoned', 'short_abandon') AND started_at >= $1 AND started_at < $2
  AND NOT EXISTS (SELECT 1 FROM calls later WHERE later.repeat_of = calls.call_id)
UNION ALL
SELECT call_id, callback_id, requested_at, line, topic, number, 'number', 'callback_failed',
       EXTRACT(EPOCH FROM (updated_at - joined_at))
FROM callbacks
WHERE state = 'failed' AND requested_at >= $1 AND requested_at < $2
  AND NOT EXISTS (SELECT 1 FROM callbacks later
                  WHERE later.number = callbacks.number AND later.requested_at > callbacks.requested_at)
ORDER BY started_at
"""
# This node's calls a router before this one followed that ended while no router ran (a
# kill, a crash): not in Asterisk now, no end written, begun before this router started.
# Each is closed at its last recorded moment, with the outcome how far it got says, and
# an "ended" step on its timeline; the spool's are left to the spool (its word is later).
CLOSE_LOST = """
WITH lost AS (
    SELECT c.call_id, GREATEST(c.started_at, c.answered_at, c.queued_at, c.agent_answered_at, e.last) AS at
    FROM calls c
    LEFT JOIN LATERAL (SELECT max(at) AS last FROM call_events WHERE call_id = c.call_id) e ON true
    WHERE c.node = $1 AND c.ended_at IS NULL AND c.started_at < $2
      AND NOT (c.channel_id = ANY($3::text[])) AND NOT (c.call_id = ANY($4::uuid[]))
),
closed AS (
    UPDATE calls c SET
        ended_at = lost.at,
        outcome = COALESCE(c.outcome, CASE
            WHEN c.direction = 'results' THEN 'results'
            WHEN c.agent_answered_at IS NOT NULL THEN 'answered'
            WHEN c.queued_at IS NOT NULL THEN 'abandoned'
            WHEN c.answered_at IS NOT NULL THEN 'menu_hangup'
            ELSE 'failed' END),
        end_reason = COALESCE(c.end_reason, $5)
    FROM lost WHERE c.call_id = lost.call_id
    RETURNING c.call_id, c.node, c.ended_at
),
logged AS (
    INSERT INTO call_events (call_id, node, at, kind, detail)
    SELECT call_id, node, ended_at, 'ended', $5 FROM closed
    ON CONFLICT DO NOTHING
)
SELECT count(*) AS closed FROM closed
"""
LOST_REASON = "lost: it ended while no router ran (its end is the last moment recorded)"

# The config's agents' last states, each read by the (agent, at) index from its newest end:
# a DISTINCT ON over the whole table read every row ever written (5 s at 3 million rows,
# a few weeks of a busy centre: past the statement timeout, so no restart knew its agents).
LAST_AGENT_STATES = """
SELECT a.agent, s.state, s.reason, s.at
FROM unnest($1::text[]) AS a(agent)
CROSS JOIN LATERAL (
    SELECT state, reason, at FROM agent_states WHERE agent = a.agent ORDER BY at DESC, id DESC LIMIT 1
) s
"""
# Each of the config's agents' calls taken since their log-in (``Agent.calls_taken``): the
# answers' on_call rows less the answers dropped at once (the pause right after the on_call
# row: ``records.calls_taken``), after their last log-out (read by
# the index from the newest end); and their last row's time (the spool's later rows are
# counted on from it: ``restore.calls_taken``). Agents with no row are left out.
CALLS_TAKEN = """
SELECT a.agent, last.at AS last_at,
       (SELECT count(*) FILTER (WHERE s.state = 'on_call' AND s.reason = $2)
             - count(*) FILTER (WHERE s.state = 'paused' AND s.reason = $3 AND s.before = 'on_call')
        FROM (SELECT state, reason, lag(state) OVER (ORDER BY at, id) AS before FROM agent_states
              WHERE agent = a.agent AND at > coalesce(out.at, '-infinity'::timestamptz)) s) AS taken
FROM unnest($1::text[]) AS a(agent)
CROSS JOIN LATERAL (SELECT max(at) AS at FROM agent_states WHERE agent = a.agent) last
LEFT JOIN LATERAL (
    SELECT at FROM agent_states WHERE agent = a.agent AND state = 'logged_out' ORDER BY at DESC LIMIT 1
) out ON true
WHERE last.at IS NOT NULL
"""
# The waiting places of a node, and the latest state of the places the spool names
# (a place the spool has waiting may have ended since, in the database).
PLACES = """
SELECT place_id, node, person, topic, priority, language, line, joined_at, call_id, state, updated_at
FROM places
WHERE node = $1 AND (state = 'waiting' OR place_id = ANY($2::text[]))
"""
PEOPLE_COLUMNS = """person, updated_at, left_at, joined_at, topic, priority, language, line, left_call_id,
       contact_at, contact_agent, contact_call_id"""
# The people inside either window, and the people the spool names (their row may be newer).
PEOPLE = f"""
SELECT {PEOPLE_COLUMNS} FROM people
WHERE left_at >= $1 OR contact_at >= $2 OR person = ANY($3::text[])
"""
OPEN_STATES = ("pending", "dialling")  # a callback's states while it may be leased and dialled
OPEN_IN_SQL = "(" + ", ".join(f"'{state}'" for state in OPEN_STATES) + ")"
CALLBACK_COLUMNS = """callback_id, updated_at, state, number, requested_at, joined_at, topic, line, language,
       priority, person, call_id, attempts, reason"""
OPEN_CALLBACKS = f"""
SELECT {CALLBACK_COLUMNS} FROM callbacks
WHERE state IN {OPEN_IN_SQL} OR callback_id = ANY($1::uuid[])
"""
CALLBACKS = f"""
SELECT {CALLBACK_COLUMNS}, leased_by, lease_until FROM callbacks
WHERE $1::text IS NULL OR state = $1
ORDER BY updated_at DESC, callback_id
LIMIT $2
"""
Row = TypeVar("Row")
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


# The login refused, or no such database: the config's address or password is wrong,
# and nothing the store could ask would be answered (said as such, not "is it migrated?").
REFUSED = (asyncpg.InvalidAuthorizationSpecificationError, asyncpg.InvalidCatalogNameError)
CANNOT_ASK = (*UNAVAILABLE, *REFUSED)  # what ``unavailable`` puts in words


def unavailable(exc: BaseException, timeout: float) -> DatabaseUnavailable:
    """Why PostgreSQL could not be asked, in an operator's words (not Python's class names)."""
    where = "[database] dsn, or CALLROUTER_DATABASE_DSN"
    if isinstance(exc, TimeoutError):
        return DatabaseUnavailable(f"no answer within {timeout:g} s (is PostgreSQL at {where} up?)")
    if isinstance(exc, REFUSED):
        return DatabaseUnavailable(
            f"{exc} (the address and user: {where}; the password: CALLROUTER_DATABASE_PASSWORD)"
        )
    if isinstance(exc, socket.gaierror):
        return DatabaseUnavailable(f"no such host: {exc.strerror} ({where})")
    text = str(exc)
    if isinstance(exc, OSError) and (exc.errno == errno.ECONNREFUSED or "Connect call failed" in text):
        address = re.search(r"\('([^']+)', (\d+)", text)
        at = f" at {address[1]}:{address[2]}" if address else ""
        return DatabaseUnavailable(f"nothing listens{at} (is PostgreSQL running? the address: {where})")
    if isinstance(exc, OSError) and exc.strerror:
        return DatabaseUnavailable(f"{exc.strerror} ({where})")
    return DatabaseUnavailable(text or type(exc).__name__)


def _str(value: object) -> str | None:
    """A uuid column's value as the records hold it."""
    return str(value) if value is not None else None


def _place(r: asyncpg.Record) -> PlaceRecord:
    return PlaceRecord(
        r["place_id"], r["node"], r["updated_at"], PlaceState(r["state"]), r["person"], r["topic"],
        r["priority"], r["language"], r["line"], r["joined_at"], _str(r["call_id"]),
    )  # fmt: skip


def _person(r: asyncpg.Record) -> PersonRecord:
    return PersonRecord(
        r["person"], r["updated_at"], r["left_at"], r["joined_at"], r["topic"], r["priority"], r["language"],
        r["line"], _str(r["left_call_id"]), r["contact_at"], r["contact_agent"], _str(r["contact_call_id"]),
    )  # fmt: skip


def _callback(r: asyncpg.Record) -> CallbackRecord:
    attempts = tuple(
        CallbackAttempt(datetime.fromisoformat(a["at"]), a["agent"], a["outcome"])
        for a in json.loads(r["attempts"])
    )
    return CallbackRecord(
        str(r["callback_id"]), r["updated_at"], CallbackState(r["state"]), r["number"], r["requested_at"],
        r["joined_at"], r["topic"], r["line"], r["language"], r["priority"], r["person"], _str(r["call_id"]),
        attempts, r["reason"],
    )  # fmt: skip


def is_uuid(value: str) -> bool:
    """Whether ``value`` can be a uuid column's (a record may hold another: no row has it)."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class Pooled(Answered):
    """A small pool of its own, opened at the first statement; each statement within
    ``timeout``, else DatabaseUnavailable (as when PostgreSQL cannot answer)."""

    def __init__(self, dsn: str, password: str | None, timeout: float = TIMEOUT_SECONDS) -> None:
        self._kwargs = connect_kwargs(dsn, password)
        self._timeout = timeout
        self._pool: asyncpg.Pool | None = None

    async def _get_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(min_size=0, max_size=2, timeout=5, **self._kwargs)
        return self._pool

    async def _fetch(self, sql: str, *args: object) -> list[asyncpg.Record]:
        """The rows, within the timeout; DatabaseUnavailable when PostgreSQL cannot answer now
        (a server that says nothing too: ``silence``)."""

        async def work() -> list[asyncpg.Record]:
            pool = await self._get_pool()
            return list(await pool.fetch(sql, *args))

        try:
            return await self._answered(work())
        except CANNOT_ASK as exc:
            raise unavailable(exc, self._timeout) from exc

    async def _stream(
        self, row: Callable[[asyncpg.Record], Row], query: str, *args: object, batch: int = 2000
    ) -> AsyncIterator[list[Row]]:
        """The rows, ``batch`` at a time through a cursor (however many), each batch
        within the timeout; DatabaseUnavailable when PostgreSQL cannot answer now."""

        async def acquired() -> tuple[asyncpg.Pool, asyncpg.Connection]:
            pool = await self._get_pool()
            return pool, await pool.acquire()

        try:
            pool, conn = await self._answered(acquired())
            reading = conn.transaction()  # a cursor reads inside one; nothing to commit
            try:
                await self._answered(reading.start())
                cursor = await self._answered(conn.cursor(query, *args))
                while rows := await self._answered(cursor.fetch(batch)):
                    yield [row(r) for r in rows]
            finally:
                if not pool.is_closing():  # else cut: its connections are gone already
                    await self._answered(_rolled_back_and_released(pool, conn, reading))
        except CANNOT_ASK as exc:
            raise unavailable(exc, self._timeout) from exc

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()


async def _rolled_back_and_released(
    pool: asyncpg.Pool, conn: asyncpg.Connection, reading: Transaction
) -> None:
    try:
        if conn.is_in_transaction():
            await reading.rollback()
    finally:
        await pool.release(conn)


class Queries(Pooled):
    async def last_agent_states(self, agents: Sequence[str]) -> dict[str, AgentStateRecord]:
        """Each of these agents' last recorded state (at start; none recorded: left out)."""
        return {
            r["agent"]: AgentStateRecord(r["agent"], r["at"], r["state"], r["reason"])
            for r in await self._fetch(LAST_AGENT_STATES, list(agents))
        }

    async def calls_taken(self, agents: Sequence[str]) -> dict[str, tuple[int, datetime]]:
        """Each of these agents' calls taken since their log-in, and their last row's time (at start)."""
        rows = await self._fetch(CALLS_TAKEN, list(agents), ANSWERED, DROPPED_ROW)
        return {r["agent"]: (max(int(r["taken"]), 0), r["last_at"]) for r in rows}

    async def close_lost_calls(
        self, node: str, before: datetime, keep_channels: Collection[str], keep_calls: Collection[str]
    ) -> int:
        """Close this node's calls begun ``before`` that ended while no router ran (none of
        ``keep_channels``, the channels in Asterisk, nor ``keep_calls``); how many."""
        calls = [uuid.UUID(c) for c in keep_calls if is_uuid(c)]
        rows = await self._fetch(CLOSE_LOST, node, before, list(keep_channels), calls, LOST_REASON)
        return int(rows[0]["closed"])

    async def places(self, node: str, also: Collection[str] = ()) -> list[PlaceRecord]:
        """This node's waiting places, and the places ``also`` names in any state (read once, at start)."""
        return [_place(r) for r in await self._fetch(PLACES, node, list(also))]

    async def people(
        self, now: datetime, resume_seconds: float, contact_seconds: float, also: Collection[str] = ()
    ) -> list[PersonRecord]:
        """The people who hung up while waiting within ``resume_seconds`` of ``now`` or
        talked to an agent within ``contact_seconds``, and the people ``also`` names
        however old their row (read once, at start)."""
        left_since, contact_since = (
            now - timedelta(seconds=resume_seconds),
            now - timedelta(seconds=contact_seconds),
        )
        return [_person(r) for r in await self._fetch(PEOPLE, left_since, contact_since, list(also))]

    async def open_callbacks(self, also: Collection[str] = ()) -> list[CallbackRecord]:
        """The pending and dialling callbacks, and the callbacks ``also`` names in any
        state (read once, at start)."""
        return [_callback(r) for r in await self._fetch(OPEN_CALLBACKS, [i for i in also if is_uuid(i)])]

    async def callbacks(self, state: str | None, limit: int) -> list[dict[str, Any]]:
        """The callbacks in ``state`` (any: None), latest change first, with full numbers
        and their leases (the route is behind the admin token). ValueError: no such state."""
        if state is not None:
            state = CallbackState(state).value
        if limit < 1:
            raise ValueError(f"limit {limit} is not a positive number")
        return [_callback_answer(r) for r in await self._fetch(CALLBACKS, state, limit)]

    async def abandoned(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """The callers to phone back: full numbers (the route is behind the admin token),
        none for a caller who withheld theirs (``caller_presentation`` says so)."""
        rows = await self._fetch(ABANDONED, since, until)
        return [
            {
                "call_id": _str(r["call_id"]),
                "callback_id": _str(r["callback_id"]),  # a failed callback (outcome callback_failed)
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


def _callback_answer(r: asyncpg.Record) -> dict[str, Any]:
    callback = _callback(r)
    leased = r["leased_by"] is not None and callback.state.value in OPEN_STATES
    return {
        "callback_id": callback.callback_id,
        "state": callback.state.value,
        "number": callback.number,
        "person": callback.person,
        "requested_at": callback.requested_at.isoformat(),
        "joined_at": callback.joined_at.isoformat(),
        "topic": callback.topic,
        "line": callback.line,
        "language": callback.language,
        "priority": callback.priority,
        "call_id": callback.call_id,
        "attempts": json.loads(r["attempts"]),  # [{"at", "agent", "outcome"}, ...]
        "reason": callback.reason,
        "updated_at": callback.at.isoformat(),
        # A lease means something only while the callback is open: an ended one's last
        # holder is not shown as holding it (the row keeps it until it would be taken).
        "leased_by": r["leased_by"] if leased else None,
        "lease_until": r["lease_until"].isoformat() if leased else None,
    }
