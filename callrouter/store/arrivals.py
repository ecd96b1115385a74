"""A recorded day's traffic for the simulator (``callrouter simulate --from --to``):
first calls per line, topic and quarter hour, the talk times of answered calls
and what the callers' patience showed. Never on a call's path; the scenario is
built from it by ``simulate.recorded``.

A first call is an inbound call that reached a line and was not recognised as
an unserved person calling again (already waiting, resuming their place, or
with a callback pending): the simulator makes those redials itself. A person
calling again after talking to an agent (``recent_contact``) has a new need, as
the simulator sees it: a first call. Quarters count 15-minute steps of elapsed time from the day's
midnight, as the simulator's clock does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from callrouter.store.queries import Pooled

QUARTER_SECONDS = 900
# $3: the day's midnight. Calls that chose no topic (hung up in the menu, after
# hours) come with topic NULL: the caller counts them apart.
FIRST_CALLS = """
SELECT line, topic, language, floor(EXTRACT(EPOCH FROM (started_at - $3)) / 900)::integer AS quarter,
       count(*) AS n
FROM calls
WHERE started_at >= $1 AND started_at < $2 AND direction = 'inbound' AND line IS NOT NULL
  AND (repeat_kind IS NULL OR repeat_kind = 'recent_contact')
GROUP BY 1, 2, 3, 4
"""
TALKS = """
SELECT EXTRACT(EPOCH FROM (ended_at - agent_answered_at))::float8 AS talk, topic
FROM calls
WHERE started_at >= $1 AND started_at < $2 AND direction = 'inbound' AND outcome = 'answered'
  AND agent_answered_at IS NOT NULL AND ended_at IS NOT NULL
ORDER BY started_at, call_id
"""
# Patience by maximum likelihood (exponential): abandons, and the seconds every
# queued caller waited (core.waits.wait_of's waits: to the agent's answer, else to
# the end; a place another call took over is counted with that call).
PATIENCE = """
SELECT count(*) FILTER (WHERE outcome IN ('abandoned', 'short_abandon')) AS abandoned,
       coalesce(sum(greatest(EXTRACT(EPOCH FROM (wait_end - queued_at)), 0)), 0)::float8 AS waited
FROM (
    SELECT outcome, queued_at,
           CASE WHEN outcome = 'answered' THEN agent_answered_at ELSE ended_at END AS wait_end
    FROM calls
    WHERE started_at >= $1 AND started_at < $2 AND direction = 'inbound' AND line IS NOT NULL
      AND topic IS NOT NULL AND queued_at IS NOT NULL
      AND outcome IN ('answered', 'abandoned', 'short_abandon', 'overflow', 'callback')
) waits
WHERE wait_end IS NOT NULL
"""
BATCH = 5000


@dataclass
class RecordedTraffic:
    """What the records of [start, end) say about the traffic."""

    # (line, topic, language: the one the call ended in, None if not recorded) -> quarter -> first calls
    first_calls: dict[tuple[str, str, str | None], dict[int, int]] = field(default_factory=dict)
    without_topic: int = 0  # first calls that chose no topic (the menu, after hours): not in first_calls
    talk_seconds: list[float] = field(default_factory=list)  # of every answered call, in order of start
    talk_by_topic: dict[str, list[float]] = field(default_factory=dict)  # the same, by the call's topic
    abandoned: int = 0
    waited_seconds: float = 0.0  # by every queued caller


class ArrivalReader(Pooled):
    """asyncpg.PostgresError: the schema is not there (not migrated); DatabaseUnavailable:
    PostgreSQL cannot answer (each statement within the timeout)."""

    async def traffic(self, start: datetime, end: datetime, midnight: datetime) -> RecordedTraffic:
        """The calls that started in [start, end); quarters counted from ``midnight``."""
        found = RecordedTraffic()
        for row in await self._fetch(FIRST_CALLS, start, end, midnight):
            if row["topic"] is None:
                found.without_topic += row["n"]
            else:
                stream = (row["line"], row["topic"], row["language"])
                found.first_calls.setdefault(stream, {})[row["quarter"]] = row["n"]
        patience = await self._fetch(PATIENCE, start, end)
        found.abandoned, found.waited_seconds = patience[0]["abandoned"], patience[0]["waited"]
        await self._talks(found, start, end)
        return found

    async def _talks(self, found: RecordedTraffic, start: datetime, end: datetime) -> None:
        """Streamed through a cursor: a busy month holds many answered calls."""
        async for batch in self._stream(_talk, TALKS, start, end, batch=BATCH):
            for topic, talk in batch:
                found.talk_seconds.append(talk)
                if topic is not None:
                    found.talk_by_topic.setdefault(topic, []).append(talk)


def _talk(r: asyncpg.Record) -> tuple[str | None, float]:
    return r["topic"], max(float(r["talk"]), 0.0)
