"""The KPI report's reads: a period's calls and agents' state changes (streamed in
batches, however many), its callbacks and its results by state. Never on a
call's path; the figures are the core's (``core.kpi``, ``core.cover``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime

import asyncpg

from callrouter.core.records import AgentStateRecord, CallRecord, Outcome, RepeatKind
from callrouter.store.queries import Pooled

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
# Agents' state changes in the period, each agent's last one before it first (the
# state it began the period in), by agent and time. The agents are found by a skip
# scan of the (agent, at) index: one probe per agent, not a read of all history.
AGENT_STATES = """
WITH RECURSIVE agents AS (
    (SELECT agent FROM agent_states ORDER BY agent LIMIT 1)
    UNION ALL
    SELECT (SELECT a.agent FROM agent_states a WHERE a.agent > agents.agent ORDER BY a.agent LIMIT 1)
    FROM agents WHERE agents.agent IS NOT NULL
)
SELECT agent, at, state, reason, call_id, id FROM (
    SELECT before.* FROM agents
    CROSS JOIN LATERAL (
        SELECT s.agent, s.at, s.state, s.reason, s.call_id, s.id FROM agent_states s
        WHERE s.agent = agents.agent AND s.at < $1
        ORDER BY s.at DESC, s.id DESC LIMIT 1
    ) before
    UNION ALL
    SELECT agent, at, state, reason, call_id, id FROM agent_states WHERE at >= $1 AND at < $2
) states
ORDER BY agent, at, id
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


def _agent_state(r: asyncpg.Record) -> AgentStateRecord:
    call_id = str(r["call_id"]) if r["call_id"] else None
    return AgentStateRecord(r["agent"], r["at"], r["state"], r["reason"], call_id)


class ReportReader(Pooled):
    """asyncpg.PostgresError: the schema is not there (not migrated); DatabaseUnavailable:
    PostgreSQL cannot answer (each batch within the timeout)."""

    def calls(
        self, start: datetime, end: datetime, lines: Sequence[str] = ()
    ) -> AsyncIterator[list[CallRecord]]:
        """The calls that started in [start, end), ``BATCH`` at a time, through a cursor."""
        return self._stream(_call, CALLS, start, end, list(lines), batch=BATCH)

    def agent_states(self, start: datetime, end: datetime) -> AsyncIterator[list[AgentStateRecord]]:
        """Every agent's state changes in [start, end), after the last one before
        ``start``; by agent, then time; ``BATCH`` at a time."""
        return self._stream(_agent_state, AGENT_STATES, start, end, batch=BATCH)

    async def callback_states(
        self, start: datetime, end: datetime, lines: Sequence[str] = ()
    ) -> dict[str, int]:
        return {r["state"]: r["n"] for r in await self._fetch(CALLBACK_STATES, start, end, list(lines))}

    async def notification_states(
        self, start: datetime, end: datetime, lines: Sequence[str] = ()
    ) -> dict[str, int]:
        return {r["state"]: r["n"] for r in await self._fetch(NOTIFICATION_STATES, start, end, list(lines))}
