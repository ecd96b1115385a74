"""What operations watch: how each caller's wait ended and how long it was, the talk
that followed, and the queue and the agents as they stand now.

Figures, not decisions: the shell counts them (``callrouter_queue_wait_seconds``,
``callrouter_talk_seconds``, ``callrouter_queue_callers`` ...). The service-level
threshold is one of ``WAIT_BUCKETS`` (the config refuses another), so "answered
within T" is one histogram bucket and both of Asterisk's service levels can be read
from the histogram.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from callrouter.core.agents import Agent, AgentState
from callrouter.core.queue import QueueEntry
from callrouter.core.records import CallRecord, Outcome

# A caller's wait, 5 s to 30 min.
WAIT_BUCKETS = (5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 240.0, 300.0, 600.0, 900.0,
                1200.0, 1800.0)  # fmt: skip
# An agent's talk with a caller, 30 s to 1 h.
TALK_BUCKETS = (30.0, 60.0, 120.0, 180.0, 300.0, 450.0, 600.0, 900.0, 1200.0, 1800.0, 3600.0)

# How a wait in the queue ended (the call's outcome, as far as the wait goes).
WAIT_OUTCOMES: Mapping[Outcome, str] = {
    Outcome.ANSWERED: "answered",
    Outcome.ABANDONED: "abandoned",
    Outcome.SHORT_ABANDON: "abandoned",
    Outcome.OVERFLOW: "overflow",
    Outcome.CALLBACK: "callback",
}
WAIT_OUTCOME_NAMES = tuple(dict.fromkeys(WAIT_OUTCOMES.values()))  # each once, in that order


@dataclass(frozen=True)
class Wait:
    outcome: str  # one of WAIT_OUTCOME_NAMES
    seconds: float
    topic: str
    line: str


def wait_of(record: CallRecord) -> Wait | None:
    """The wait a call's final record shows: from joining the queue to an agent's
    answer (answered) or to the call's end; None for a call that never waited (the
    menu, after hours, busy) or whose place another call of the same person took
    over (the place's wait is counted once, by the call that ends it)."""
    if record.outcome is None or record.queued_at is None or record.topic is None or record.line is None:
        return None
    outcome = WAIT_OUTCOMES.get(record.outcome)
    if outcome is None:
        return None
    end = record.agent_answered_at if outcome == "answered" else record.ended_at
    if end is None:
        return None
    return Wait(outcome, max((end - record.queued_at).total_seconds(), 0.0), record.topic, record.line)


def talk_of(record: CallRecord) -> float | None:
    """Seconds an answered call talked with its agent (None: it never did)."""
    if record.agent_answered_at is None or record.ended_at is None:
        return None
    return max((record.ended_at - record.agent_answered_at).total_seconds(), 0.0)


@dataclass(frozen=True)
class TopicNow:
    callers: int = 0  # callers on the line waiting (callbacks are counted apart)
    oldest_seconds: float = 0.0  # the longest any of them has waited (0: nobody waits)


def queue_now(entries: Iterable[QueueEntry], topics: Iterable[str], now: datetime) -> dict[str, TopicNow]:
    """Per topic: callers waiting on the line now, and the oldest wait. A resumed place
    counts from its original join time, as its caller does."""
    callers = dict.fromkeys(topics, 0)
    oldest = dict.fromkeys(callers, 0.0)
    for entry in entries:
        if entry.channel_id is None:  # a callback: nobody is on the line
            continue
        callers[entry.topic] = callers.get(entry.topic, 0) + 1
        waited = max((now - entry.joined_at).total_seconds(), 0.0)
        oldest[entry.topic] = max(oldest.get(entry.topic, 0.0), waited)
    return {topic: TopicNow(count, oldest[topic]) for topic, count in callers.items()}


# A logged-in agent between calls whose softphone Asterisk reports offline: counted apart
# from their state, since they take no call whatever it says (``idle`` means ready to ring).
# One ringing or on a call stays there (a lapsed qualify mid-call does not end the call).
UNREACHABLE = "unreachable"
BETWEEN_CALLS = frozenset({AgentState.IDLE, AgentState.PAUSED, AgentState.WRAP_UP})


def agents_now(agents: Iterable[Agent]) -> dict[str, int]:
    """Agents by state, every state present (0 when none is in it); a logged-in agent
    between calls whose phone is unreachable is counted as ``unreachable``."""
    counts = dict.fromkeys((state.value for state in AgentState), 0)
    counts[UNREACHABLE] = 0
    for agent in agents:
        away = agent.state in BETWEEN_CALLS and not agent.reachable
        counts[UNREACHABLE if away else agent.state.value] += 1
    return counts
