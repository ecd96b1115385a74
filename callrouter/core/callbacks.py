"""Outbound dialling for callbacks: a pure life cycle, kept out of the inbound call flow.

A callback is a virtual place in the one queue (the caller's original join
time, no channel). When it reaches the head for an eligible agent, that agent
is reserved and the dialling goes:

    WAITING -> LEASING (the shell takes the callback's lease in PostgreSQL)
            -> RINGING_AGENT (the agent's phone first, "callback" as its name)
            -> DIALLING (the agent answered: the person is called through the
               configured route)
            -> TALKING (the person answered: bridged to the agent) -> completed

No lease, no dialling: the agent is released and the callback waits
(``lease_retry``) while callers on the line are served. A person who does not
answer (busy, failed) releases the agent at once; the callback is tried again
after ``retry`` (inside the line's opening hours) up to ``max_attempts``,
then it has failed and is recorded so. Every callback ends in exactly one of
completed, failed or cancelled. The results dialler reuses this part.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from callrouter.core.causes import worded
from callrouter.core.evolve import evolve
from callrouter.core.hours import Hours
from callrouter.core.queue import QueueEntry
from callrouter.core.records import CallbackAttempt, CallbackRecord, CallbackState

OPEN = (CallbackState.PENDING, CallbackState.DIALLING)
# A line closed when a callback falls due: looked at again this much later.
CLOSED_RECHECK = timedelta(minutes=5)
# Attempts the agent's side ended: not counted against the person's ``max_attempts``.
AGENT_SIDE = frozenset({"agent_left"})
# ...but no more attempts in all than this many times ``max_attempts``.
AGENT_SIDE_BOUND = 3
# A callback made by hand joins the queue within this (a later time is a typo, not a plan).
MAX_AHEAD = timedelta(days=366)


@dataclass(frozen=True)
class CallbackRules:
    retry: timedelta = timedelta(minutes=5)
    max_attempts: int = 3
    ring_seconds: float = 30.0  # the person's phone
    lease_retry: timedelta = timedelta(seconds=15)  # no lease (database away, another router)
    lease_guard: timedelta = timedelta(seconds=10)  # the shell's answer about the lease, at most


class Stage(StrEnum):
    WAITING = "waiting"  # a virtual place in the queue
    SCHEDULED = "scheduled"  # out of the queue until ``due_at`` (a retry, a closed line, made by hand)
    LEASING = "leasing"
    RINGING_AGENT = "ringing_agent"
    DIALLING = "dialling"
    TALKING = "talking"


@dataclass(frozen=True)
class Callback:
    record: CallbackRecord
    stage: Stage
    due_at: datetime | None = None  # SCHEDULED: joins the queue then
    agent: str | None = None  # reserved for it (LEASING on)
    person_leg: str | None = None  # the person's channel (DIALLING on)
    dials: int = 0  # person legs made so far (their channel ids)

    @property
    def callback_id(self) -> str:
        return self.record.callback_id


@dataclass(frozen=True)
class FollowUp:
    """A callback an agent or operator schedules by hand (the admin API's request)."""

    number: str  # as given, in any format: read in the line's country
    line: str
    topic: str
    by: str  # who made it (recorded as the reason: "made by ...")
    language: str | None = None  # None: the line's
    at: datetime | None = None  # joins the queue then; None (or a time gone by): now
    priority: int | None = None  # None: the topic's, or the line's if higher (as for a call)


class InvalidFollowUp(ValueError):
    """A follow-up the config cannot take; ``problems`` names each field and why."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))
        self.problems = tuple(problems)


def booked(
    callback_id: str, number: str, entry: QueueEntry, call_id: str | None, now: datetime, reason: str = ""
) -> Callback:
    """A callback holding ``entry``'s place (its join time, topic, priority)."""
    record = CallbackRecord(
        callback_id, now, CallbackState.PENDING, number, now, entry.joined_at, entry.topic, entry.line,
        entry.language, entry.priority, entry.caller_key, call_id, reason=reason,
    )  # fmt: skip
    return Callback(record, Stage.WAITING)


def scheduled(record: CallbackRecord, now: datetime) -> Callback:
    """Made by hand (or restored): joins the queue at its join time, not before."""
    if record.joined_at > now:
        return Callback(record, Stage.SCHEDULED, due_at=record.joined_at)
    return Callback(record, Stage.WAITING)


def entry_of(callback: Callback) -> QueueEntry:
    r = callback.record
    return QueueEntry(
        r.callback_id, r.topic, r.language, r.line, r.priority, r.joined_at, caller_key=r.person
    )


def open_for(hours: Hours | None, now: datetime) -> bool:
    return hours is None or hours.is_open(now)


def attempt_failed(
    callback: Callback, rules: CallbackRules, outcome: str, now: datetime, hours: Hours | None
) -> Callback:
    """The person did not answer (or the call failed): try again after ``rules.retry``,
    or give up. A retry that would fall due while the line (``hours``) is closed is
    due when it opens again (a line that never opens again: when the retry is due,
    and the switchboard looks again every ``CLOSED_RECHECK``)."""
    attempts = (*callback.record.attempts, CallbackAttempt(now, callback.agent or "", outcome))
    # An attempt the agent's side ended (their phone went while the person's rang) is
    # kept, but not counted against the person's ``max_attempts`` (it failed callbacks
    # the person never missed); a bound of its own keeps such attempts from going on.
    theirs = [a for a in attempts if a.outcome not in AGENT_SIDE]
    if len(theirs) >= rules.max_attempts or len(attempts) >= AGENT_SIDE_BOUND * rules.max_attempts:
        counted = theirs if len(theirs) >= rules.max_attempts else attempts
        record = evolve(
            callback.record,
            at=now,
            state=CallbackState.FAILED,
            attempts=attempts,
            reason=_tally(a.outcome for a in counted),
        )
        return evolve(
            callback, record=record, stage=Stage.SCHEDULED, agent=None, person_leg=None, due_at=None
        )
    record = evolve(callback.record, at=now, state=CallbackState.PENDING, attempts=attempts)
    due = now + rules.retry
    if hours is not None:
        due = hours.next_open(due) or due
    return evolve(callback, record=record, stage=Stage.SCHEDULED, agent=None, person_leg=None, due_at=due)


def outcome_of(cause: str) -> str:
    """An unanswered dial's attempt outcome, from the cause Asterisk gave (text or number)."""
    text = worded(cause).lower()
    if "busy" in text:
        return "busy"
    if "no answer" in text or "timeout" in text or "no user" in text:
        return "no_answer"
    return "failed"


def _tally(outcomes: Iterable[str]) -> str:
    """Why a callback failed: each attempt's outcome counted, first seen first
    (``no_answer x3``; ``busy x1, no_answer x1``)."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    return ", ".join(f"{outcome} x{n}" for outcome, n in counts.items())


def later(callback: Callback, now: datetime, wait: timedelta) -> Callback:
    """Not now (no lease, or the line is closed): out of the queue until then."""
    record = evolve(callback.record, at=now, state=CallbackState.PENDING)
    return evolve(
        callback, record=record, stage=Stage.SCHEDULED, agent=None, person_leg=None, due_at=now + wait
    )


def completed(callback: Callback, now: datetime) -> Callback:
    attempts = (*callback.record.attempts, CallbackAttempt(now, callback.agent or "", "answered"))
    record = evolve(callback.record, at=now, state=CallbackState.COMPLETED, attempts=attempts)
    return evolve(callback, record=record, stage=Stage.TALKING)


def cancelled(callback: Callback, now: datetime, reason: str) -> Callback:
    record = evolve(callback.record, at=now, state=CallbackState.CANCELLED, reason=reason)
    return evolve(callback, record=record)


def dialling(callback: Callback, now: datetime, person_leg: str) -> Callback:
    record = evolve(callback.record, at=now, state=CallbackState.DIALLING)
    return evolve(
        callback, record=record, stage=Stage.DIALLING, person_leg=person_leg, dials=callback.dials + 1
    )


def final(callback: Callback) -> bool:
    return callback.record.state not in OPEN
