"""The switchboard's events: what happened outside, as the shell tells ``step``
(a call arrived, something happened to a caller's channel, an agent's phone
answered or went, an admin command, a restart's findings, the callbacks' answers,
or just time passing: ``Wake``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from callrouter.core import call_events as ev
from callrouter.core.evolve import quick_init
from callrouter.core.place import Ended, MenuLevel, Place
from callrouter.core.records import AgentStateRecord, CallbackRecord, PersonRecord, PlaceRecord
from callrouter.core.results import Notification

AGENT_COMMANDS = frozenset({"login", "logout", "pause", "resume"})


@quick_init
@dataclass(frozen=True)
class Arrived:
    """A new caller's channel entered the application for ``did``."""

    channel_id: str
    did: str
    number: str | None  # as Asterisk has it (not yet normalised)
    at: datetime
    place_id: str  # a fresh id for the place this caller may take in the queue
    up: bool = False  # answered already (in the dialplan)
    # How far behind the router is (this event's age, or Asterisk's REST round
    # trip, whichever is worse): what overload admission goes by.
    lag: float = 0.0
    presentation: str = ""  # Asterisk's CALLERID(pres) from the dialplan ("": not given)
    # A call a restarted router takes up afresh (at the menu's top, or before it): when
    # its channel began. Its row keeps that start, and its timeline says "resumed".
    began: datetime | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class OnCall:
    """Something happened to a caller's channel (a key, a playback's end, a hang-up...)."""

    channel_id: str
    event: ev.CallEvent


@quick_init
@dataclass(frozen=True)
class LegAnswered:
    channel_id: str


@quick_init
@dataclass(frozen=True)
class LegGone:
    """An agent's phone stopped ringing without an answer, or hung up, or never rang."""

    channel_id: str
    cause: str


@dataclass(frozen=True)
class AgentCommand:
    """login / logout / pause / resume (admin API or feature code). A refused one
    raises AgentStateError (KeyError for an unknown agent) and changes nothing."""

    agent_id: str
    command: str
    reason: str = ""


@dataclass(frozen=True)
class Reachable:
    agent_id: str
    reachable: bool


@dataclass(frozen=True)
class Reprioritise:
    """Raises QueueError when the entry is not queued."""

    entry_id: str
    priority: int


@dataclass(frozen=True)
class StillThere:
    """At a periodic check: these calls of the board are still in Asterisk."""

    channel_ids: frozenset[str]


@quick_init
@dataclass(frozen=True, slots=True)
class Wake:
    """Time passed: whatever deadline is due now is handled."""


@dataclass(frozen=True)
class RestoreAgents:
    """At start: the agents' last recorded states (PostgreSQL, then the spool), and the
    calls each took since their log-in (``records.calls_taken``; none: 0)."""

    last: Mapping[str, AgentStateRecord]
    taken: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Found:
    """A call a restarted router found in Asterisk, with what its channel kept."""

    channel_id: str
    did: str
    number: str | None
    started_at: datetime
    place: Place | None = None  # the place it held, if it had joined the queue
    menu: MenuLevel | None = None  # else the menu level it had reached, if past the top
    agent_id: str | None = None  # talking to this agent (their leg is ``agent_channel``)
    agent_channel: str | None = None
    presentation: str = ""  # as in Arrived
    # A results call's patient who had joined the queue for a consultant: the line the
    # result was phoned for (``did`` is "results": the router dialled them).
    line: str | None = None
    ended: Ended | None = None  # told its last message by the router before: hung up
    # Talking: the bridge it shares with the agent's phone (None: not known), or none at all
    # (``unbridged``: the router before died between the answer and the join).
    bridge_id: str | None = None
    unbridged: bool = False


@dataclass(frozen=True)
class FoundCallback:
    """A callback's conversation a restarted router found in Asterisk: the person's
    channel (``channel_id``, dialled for ``callback_id``) and the agent's phone, both
    answered; ``record`` is the callback as stored (PostgreSQL, then the spool)."""

    channel_id: str
    callback_id: str  # as the channels name it
    record: CallbackRecord
    agent_id: str
    agent_channel: str


@dataclass(frozen=True)
class Adopt:
    """Every call a restarted router found, taken up in one step: the talking ones
    first, so no resumed waiting caller is offered an agent who is on a call."""

    found: tuple[Found, ...]
    stray_legs: tuple[str, ...] = ()  # agent channels no found call waits on
    # The places recorded waiting (PostgreSQL, then the spool): a found call whose
    # channel lost its place resumes the stored one; one whose call is not found is closed.
    stored_places: tuple[PlaceRecord, ...] = ()
    callbacks: tuple[FoundCallback, ...] = ()  # callbacks' conversations: followed to their end
    # Every channel in the application was read (none is left to a later look): agents a
    # restart found on no call now are known to be so.
    complete: bool = True


class Lease(StrEnum):
    """The shell's answer about a callback's lease, as far as it matters to the switchboard."""

    TAKEN = "taken"  # ours: the callback is dialled
    WAIT = "wait"  # another router holds it, or the database cannot answer: try again later
    ABSENT = "absent"  # the database has no such callback (its record refused): never
    CLOSED = "closed"  # the database says it ended (completed, failed, cancelled elsewhere): never


@dataclass(frozen=True)
class CallbackLeased:
    """The shell's answer to ``LeaseCallback``: the lease is ours, or not (and why)."""

    callback_id: str
    lease: Lease

    @property
    def taken(self) -> bool:
        return self.lease is Lease.TAKEN


@dataclass(frozen=True)
class DialAnswered:
    """The person a callback dialled answered (their channel entered the application)."""

    channel_id: str


@dataclass(frozen=True)
class DialGone:
    """The person's channel of a callback ended (or never rang: the originate failed)."""

    channel_id: str
    cause: str


@dataclass(frozen=True)
class RestoreCallbacks:
    """The open callbacks stored before the start (PostgreSQL, then the spool), at the
    start or later. ``complete``: False when PostgreSQL could not tell them (the spool's
    only): until a complete restore, no callback is booked, as one only PostgreSQL
    knows may be open for the number (one open callback per number)."""

    records: tuple[CallbackRecord, ...]
    complete: bool = True


@dataclass(frozen=True)
class ScheduleCallback:
    """An agent schedules a follow-up by hand: it joins the queue at ``record.joined_at``.
    Raises CallbackError when the number already has an open callback."""

    record: CallbackRecord


@dataclass(frozen=True)
class CancelCallback:
    """Raises KeyError for an unknown callback, CallbackError for one being dialled."""

    callback_id: str
    reason: str


class CallbackError(ValueError):
    pass


@dataclass(frozen=True)
class Remember:
    """At start: what was remembered of people who called (PostgreSQL, then the spool)."""

    people: tuple[PersonRecord, ...]


@dataclass(frozen=True)
class ResultsTaken:
    """The shell's answer to ``TakeResults``: the notifications now leased to this
    router, and how many are still pending in all (due or not)."""

    notifications: tuple[Notification, ...]
    pending: int


@dataclass(frozen=True)
class PollResults:
    """Look for due notifications now (the shell says so once it is ready; later
    looks are the switchboard's own deadline)."""


@dataclass(frozen=True)
class CancelNotification:
    """An operator cancels a notification this router holds. Raises KeyError if it
    holds none of that id, CallbackError while its patient is on the line."""

    notification_id: str
    reason: str


Event = (
    Arrived | OnCall | LegAnswered | LegGone | AgentCommand | Reachable | Reprioritise | StillThere | Wake
    | RestoreAgents | Adopt | Remember | CallbackLeased | DialAnswered | DialGone | RestoreCallbacks
    | ScheduleCallback | CancelCallback | ResultsTaken | PollResults | CancelNotification
)  # fmt: skip
