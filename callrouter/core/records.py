"""What gets recorded: one row per call (written as it progresses), the call's
timeline of events, and agents' state changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Outcome(StrEnum):
    ANSWERED = "answered"  # talked with an agent
    ABANDONED = "abandoned"  # hung up while waiting in the queue
    SHORT_ABANDON = "short_abandon"  # ... within the first few seconds of waiting
    MENU_HANGUP = "menu_hangup"  # hung up in the greeting or menu, before queueing
    OVERFLOW = "overflow"  # the topic's overflow message, then the router hung up
    AFTER_HOURS = "after_hours"  # the line was closed: told what to do instead
    NO_LINE = "no_line"  # the DID belongs to no line and there is no default line
    FAILED = "failed"  # Asterisk refused what the router asked, or the call vanished
    BUSY = "busy"  # the router was overloaded: "please call back" (urgent lines: the fallback route)


@dataclass(frozen=True)
class CallRecord:
    """A snapshot of a call; later snapshots of one call complete earlier ones."""

    call_id: str
    node: str
    channel_id: str
    did: str
    line: str | None
    caller_number: str | None  # E.164, or None when withheld/unparseable
    caller_presentation: str
    started_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: Outcome | None = None
    end_reason: str | None = None
    language: str | None = None
    menu_path: str | None = None  # the keys pressed, in order
    topic: str | None = None
    priority: int | None = None
    queued_at: datetime | None = None
    agent: str | None = None
    agent_answered_at: datetime | None = None


@dataclass(frozen=True)
class CallEventRecord:
    """One step of a call's timeline (entered menu, choice, queued, offered...)."""

    call_id: str
    node: str
    at: datetime
    kind: str
    detail: str = ""


@dataclass(frozen=True)
class AgentStateRecord:
    agent: str
    at: datetime
    state: str
    reason: str = ""
    call_id: str | None = None


class PlaceState(StrEnum):
    WAITING = "waiting"
    CONNECTED = "connected"  # an agent answered for it
    LEFT = "left"  # the caller hung up, or the call ended, while it waited
    OVERFLOWED = "overflowed"  # sent to its topic's overflow (max wait, no agents)


@dataclass(frozen=True)
class PlaceRecord:
    """A place in the queue as it changed (taken, reprioritised, then how it ended);
    a restarted router puts the waiting ones of its node back in the queue."""

    place_id: str
    node: str
    at: datetime
    state: PlaceState
    person: str | None  # the caller's normalised number; None when withheld
    topic: str
    priority: int
    language: str
    line: str
    joined_at: datetime
    call_id: str | None = None  # the call holding it, if any


Record = CallRecord | CallEventRecord | AgentStateRecord | PlaceRecord
