"""What gets recorded: one row per call (written as it progresses), the call's
timeline of events, and agents' state changes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from callrouter.core.evolve import quick_init


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
    REPLACED = "replaced"  # the same person called again while waiting: the newer call took the place
    CALLBACK = "callback"  # the caller asked to be called back: the place is kept as a callback
    RESULTS = "results"  # a results call (outbound) that ended without joining the queue


class RepeatKind(StrEnum):
    """How a call was recognised as the same person calling again."""

    ALREADY_WAITING = "already_waiting"  # took over the place their other call held
    RESUMED = "resumed"  # hung up while waiting, redialled in time: the old place back
    RECENT_CONTACT = "recent_contact"  # talked to an agent recently (first-contact resolution)
    CALLBACK_PENDING = "callback_pending"  # a callback of theirs was waiting


@quick_init
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
    repeat_of: str | None = None  # the earlier call of the same person this one follows up
    repeat_kind: RepeatKind | None = None
    direction: str = "inbound"  # or "results": a results call the router made
    # Times an agent's phone dropped the call at the answer and the caller waited again: each
    # clears the agent, their answer and the outcome, which a later snapshot may then leave empty.
    drops: int = 0


@quick_init
@dataclass(frozen=True, slots=True)
class CallEventRecord:
    """One step of a call's timeline (entered menu, choice, queued, offered...), or
    of a callback's: ``callback_id`` names it, and ``call_id`` the call that asked
    for it (None: a follow-up made by hand, which no call asked for)."""

    call_id: str | None
    node: str
    at: datetime
    kind: str
    detail: str = ""
    callback_id: str | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class AgentStateRecord:
    agent: str
    at: datetime
    state: str
    reason: str = ""
    call_id: str | None = None


# The rows ``Agent.calls_taken`` is counted from again at a restart (``calls_taken``): the
# on_call row of an answer, and the pause of an answer the agent's phone dropped at once.
ANSWERED = "answered"
DROPPED_AT_ANSWER = "dropped the call at answer"
DROPPED_ROW = f"auto-pause: {DROPPED_AT_ANSWER}"


def calls_taken(count: int, rows: Iterable[AgentStateRecord]) -> int:
    """``Agent.calls_taken`` carried through an agent's rows, oldest first: a log-out starts
    it again (a log-in follows one), an answer counts one, an answer dropped at once is taken
    back (its pause, right after the on_call row: a paused agent's later rows, their phone
    going and coming back, say the same pause again)."""
    before = ""
    for row in rows:
        if row.state == "logged_out":
            count = 0
        elif row.state == "on_call" and row.reason == ANSWERED:
            count += 1
        elif row.state == "paused" and row.reason == DROPPED_ROW and before == "on_call":
            count = max(count - 1, 0)
        before = row.state
    return count


class PlaceState(StrEnum):
    WAITING = "waiting"
    CONNECTED = "connected"  # an agent answered for it
    LEFT = "left"  # the caller hung up, or the call ended, while it waited
    OVERFLOWED = "overflowed"  # sent to its topic's overflow (max wait, no agents)


@quick_init
@dataclass(frozen=True)
class PlaceRecord:
    """A place in the queue as it changed (taken, reprioritised, then how it ended);
    a restarted router puts the waiting ones of its node back in the queue."""

    place_id: str
    node: str
    at: datetime
    state: PlaceState
    person: str | None  # who the caller is (a keyed hash of their number); None: never matched
    topic: str
    priority: int
    language: str
    line: str
    joined_at: datetime
    call_id: str | None = None  # the call holding it, if any


@quick_init
@dataclass(frozen=True)
class PersonRecord:
    """What the switchboard remembers of one person (a keyed hash of their number), as a
    whole: the place they last gave up by hanging up while waiting, and their last
    answered call. A later snapshot replaces an earlier one; a restarted router
    loads the ones still inside their windows."""

    person: str
    at: datetime  # when this memory last changed
    left_at: datetime | None = None  # hung up while waiting, at
    joined_at: datetime | None = None  # ... holding a place taken at
    topic: str | None = None
    priority: int | None = None
    language: str | None = None
    line: str | None = None
    left_call_id: str | None = None
    contact_at: datetime | None = None  # last talked to an agent, at
    contact_agent: str | None = None
    contact_call_id: str | None = None


class CallbackState(StrEnum):
    PENDING = "pending"  # waits for its turn (a virtual place in the queue)
    DIALLING = "dialling"  # an agent is reserved and the person is being called
    COMPLETED = "completed"  # the person answered and was bridged to the agent
    FAILED = "failed"  # every attempt failed: given up (on the abandoned-callers list)
    CANCELLED = "cancelled"  # by the person (called in instead), an operator, or a rule


@dataclass(frozen=True)
class CallbackAttempt:
    at: datetime
    agent: str
    outcome: str  # answered | no_answer | busy | failed | agent_missed


@dataclass(frozen=True)
class CallbackRecord:
    """A callback as it changed. One pending (or dialling) callback per number, which
    PostgreSQL enforces too. The place it keeps is ``joined_at``: the caller's
    original join time (or, made by hand, the time it joins the queue)."""

    callback_id: str
    at: datetime  # this change
    state: CallbackState
    number: str  # E.164: the number to dial
    requested_at: datetime
    joined_at: datetime
    topic: str
    line: str
    language: str
    priority: int
    person: str | None = None  # the requesting caller (the keyed hash of their number), if known
    call_id: str | None = None  # the call that asked for it; None: made by hand
    attempts: tuple[CallbackAttempt, ...] = ()
    reason: str = ""  # why it ended (cancelled, failed), or who made it


def callback_key(callback_id: str) -> str:
    """One callback however its id is spelt: the router names it after its place (32
    hex digits), PostgreSQL's uuid column gives it back with dashes."""
    return callback_id.replace("-", "").lower()


class NotificationState(StrEnum):
    """A results notification's state; every one ends in exactly one of the final six."""

    PENDING = "pending"  # waits for its due time (and its line's calling window)
    DIALLING = "dialling"  # a router holds it: being dialled, or talking
    DELIVERED = "delivered"  # the callee proved who they are and heard the result
    TRANSFERRED = "transferred"  # ... and, a positive result, asked for a medical consultant
    VERIFICATION_FAILED = "verification_failed"  # the callee never proved who they are
    UNREACHABLE = "unreachable"  # never answered (no answer, busy, failed, hung up) within the attempts
    CANCELLED = "cancelled"  # by an operator
    EXPIRED = "expired"  # not told before it expired


NOTIFICATION_FINAL = frozenset(NotificationState) - {NotificationState.PENDING, NotificationState.DIALLING}


@dataclass(frozen=True)
class NotificationAttempt:
    at: datetime
    # no_answer | busy | failed | verification_failed | no_input | hung_up | interrupted
    # | delivered | transferred
    outcome: str
    call_id: str | None = None  # the results call, if the callee answered


@dataclass(frozen=True)
class NotificationRecord:
    """A notification's state as the router changed it (the row itself is put in by the
    import; a router writes its state, attempts, reason and next due time only)."""

    notification_id: str
    at: datetime  # this change
    state: NotificationState
    due_at: datetime  # tried again from then on (pending)
    attempts: tuple[NotificationAttempt, ...] = ()
    reason: str = ""


Record = (
    CallRecord | CallEventRecord | AgentStateRecord | PlaceRecord | PersonRecord | CallbackRecord
    | NotificationRecord
)  # fmt: skip
