"""The switchboard: every call, the one queue, the agents and their phones, as
one pure state machine.

    step(board, event, now) -> (board, commands)

``event`` is something that happened outside (a call arrived, a key, a
playback ended, an agent's phone answered or went away, an admin command, a
restart's findings, or just time passing: ``Wake``); ``commands`` are only
I/O for the shell to carry out (say to a channel, ring a phone, hang one up,
make or destroy a bridge, write a record, wake me at). Nothing here reads a
clock, a socket or a file, so ``simulate`` can run a day through it in
simulated time, and a test can run it a million steps.

Where each rule lives (one call, followed through):
- the DID decides the line, the line the greeting, hours and menu: ``Rules``
  (compiled once from the config by ``compiled.py``) and ``call.arrive``;
- what the caller hears and presses: ``call.decide`` with ``menu``;
- overload admission (who is told to call back): ``admission``, fed each
  arrival's lag (``_admit``);
- the place in the queue (its own id, not the call's), order, position and
  the wait estimate: ``queue``, ``estimate`` and ``_announcement`` here;
- who is rung for whom, auto-pause, wrap-up, max wait: ``centre`` and ``agents``;
- an agent's phone (ringing, answered, given up after the ring timeout, failed
  to ring: treated as no answer): ``Leg`` and the ``_leg_*`` steps here;
- the call and the centre talk here, inside one step (``_settle``), never
  through the shell; a caller's timers, ring guards, wrap-ups, maximum waits and
  the maximum call duration are deadlines in ``deadlines``, and every new
  deadline is a ``WakeAt`` command: no polling tick.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from callrouter.core import admission, dialler, repeat
from callrouter.core import call as calls
from callrouter.core import call_events as ev
from callrouter.core import centre as cc
from callrouter.core import commands as cmd
from callrouter.core.admission import Admission, AdmissionRules
from callrouter.core.agents import Agent, AgentState, AgentStateError
from callrouter.core.call_plan import CallPlan, LineInfo
from callrouter.core.call_state import Call, Phase
from callrouter.core.callbacks import Callback, CallbackRules
from callrouter.core.estimate import estimate_minutes
from callrouter.core.lines import DidDirectory
from callrouter.core.numbers import is_restricted, normalise
from callrouter.core.place import Adopted, MenuLevel, Place, place_id_of, resume, resume_connected
from callrouter.core.queue import QueueEntry
from callrouter.core.records import (
    AgentStateRecord,
    CallbackRecord,
    CallRecord,
    PersonRecord,
    PlaceRecord,
    PlaceState,
    Record,
    RepeatKind,
)
from callrouter.core.repeat import RepeatRules

AGENT_COMMANDS = frozenset({"login", "logout", "pause", "resume"})
# A phone still ringing this long after its ring timeout is hung up by the router
# (Asterisk may never report the end of a ring).
RING_GRACE_SECONDS = 5.0
# The caller-ID number an agent's phone shows for a caller who withheld theirs.
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Rules:
    """The configuration, compiled once into what the switchboard consults."""

    node: str
    plan: CallPlan
    lines: DidDirectory[LineInfo]
    default_line: LineInfo | None = None
    ring_seconds: float = 15.0
    estimate_window: int = 20
    max_call: timedelta = timedelta(hours=4)
    # How often the maximum call duration is checked (one deadline for all calls).
    duration_check: timedelta = timedelta(seconds=30)
    admission: AdmissionRules = field(default_factory=lambda: AdmissionRules(0.0))  # 0: never shed
    repeat: RepeatRules = field(default_factory=RepeatRules)
    callback: CallbackRules | None = None  # None: callbacks are never offered nor dialled
    by_name: Mapping[str, LineInfo] = field(default_factory=dict)  # every line by its name

    def line_named(self, name: str) -> LineInfo | None:
        return self.by_name.get(name)

    def line_for(self, did: str) -> LineInfo | None:
        return self.lines.match(did) or self.default_line


# ---- events: what happened ----------------------------------------------------------
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


@dataclass(frozen=True)
class OnCall:
    """Something happened to a caller's channel (a key, a playback's end, a hang-up...)."""

    channel_id: str
    event: ev.CallEvent


@dataclass(frozen=True)
class LegAnswered:
    channel_id: str


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


@dataclass(frozen=True)
class Wake:
    """Time passed: whatever deadline is due now is handled."""


@dataclass(frozen=True)
class RestoreAgents:
    """At start: the agents' last recorded states (PostgreSQL, then the spool)."""

    last: Mapping[str, AgentStateRecord]


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


@dataclass(frozen=True)
class Adopt:
    """Every call a restarted router found, taken up in one step: the talking ones
    first, so no resumed waiting caller is offered an agent who is on a call."""

    found: tuple[Found, ...]
    stray_legs: tuple[str, ...] = ()  # agent channels no found call waits on
    # The places recorded waiting (PostgreSQL, then the spool): a found call whose
    # channel lost its place resumes the stored one; one whose call is not found is closed.
    stored_places: tuple[PlaceRecord, ...] = ()


@dataclass(frozen=True)
class CallbackLeased:
    """The shell's answer to ``LeaseCallback``: the lease is ours (or not)."""

    callback_id: str
    taken: bool


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
    """At start: the open callbacks (PostgreSQL, then the spool)."""

    records: tuple[CallbackRecord, ...]


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


Event = (
    Arrived | OnCall | LegAnswered | LegGone | AgentCommand | Reachable | Reprioritise | StillThere | Wake
    | RestoreAgents | Adopt | Remember | CallbackLeased | DialAnswered | DialGone | RestoreCallbacks
    | ScheduleCallback | CancelCallback
)  # fmt: skip


# ---- commands: I/O only -------------------------------------------------------------
@dataclass(frozen=True)
class JoinBridge:
    """Put the caller and the answered agent's channel into the caller's bridge."""

    bridge_id: str
    agent_channel_id: str


@dataclass(frozen=True)
class MakeBridge:
    """Create the caller's bridge while their agent's phone rings (one REST call
    fewer once they answer). Sent to the caller's channel, in its order."""

    bridge_id: str


ChannelCommand = (
    cmd.Answer | cmd.Play | cmd.SetLanguage | cmd.StopPlayback | cmd.StartMoh | cmd.StopMoh
    | cmd.SetVariable | cmd.Hangup | cmd.ContinueInDialplan | JoinBridge | MakeBridge
)  # fmt: skip


@dataclass(frozen=True)
class ToChannel:
    """Commands for one caller's channel, carried out in the order given. A failed
    one comes back as ``OnCall(channel, CommandFailed)`` (``ChannelGone`` on 404),
    a successful ``Answer`` as ``OnCall(channel, Answered)``."""

    channel_id: str
    command: ChannelCommand


@dataclass(frozen=True)
class Originate:
    """Ring an agent's phone; the channel enters the application with ``app_args``
    when answered. A failed originate comes back as ``LegGone``. The phone shows
    ``label`` as the caller-ID name and ``number`` as the number."""

    channel_id: str
    agent_id: str
    app_args: str
    ring_seconds: float
    label: str
    number: str = ANONYMOUS  # the caller's E.164 number, to phone them back; else anonymous


@dataclass(frozen=True)
class HangupLeg:
    """Hang up an agent's phone; once done (or Asterisk does not know it) it comes
    back as ``LegGone(channel, reason)``."""

    channel_id: str
    reason: str


@dataclass(frozen=True)
class DestroyBridge:
    """After whatever is still to be done on the caller's channel."""

    channel_id: str
    bridge_id: str


@dataclass(frozen=True)
class Write:
    record: Record
    urgent: bool = False  # written at once (a restart must find it)


@dataclass(frozen=True)
class WakeAt:
    at: datetime


@dataclass(frozen=True)
class CallOver:
    """The switchboard let go of this caller's channel (its record is final)."""

    channel_id: str
    record: CallRecord


@dataclass(frozen=True)
class LeaseCallback:
    """Take this callback's lease in PostgreSQL; fed back as ``CallbackLeased``."""

    callback_id: str


@dataclass(frozen=True)
class Dial:
    """Call a callback's person through the outbound route; the channel enters the
    application with ``app_args`` when answered (``DialAnswered``), a failed
    originate or an unanswered call comes back as ``DialGone``."""

    channel_id: str
    number: str
    app_args: str
    ring_seconds: float
    label: str


Command = (
    ToChannel | Originate | HangupLeg | DestroyBridge | Write | WakeAt | CallOver | LeaseCallback | Dial
)  # fmt: skip


# ---- state ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Leg:
    """An agent's phone rung for one place."""

    channel_id: str
    agent_id: str
    entry_id: str
    answered: bool = False
    ending: bool = False  # its caller is gone and the router is hanging it up


Key = tuple[
    str, str
]  # ("call", channel) | ("leg", channel) | ("agent", id) | ("entry", id) | ("duration", "")


@dataclass(frozen=True)
class Board:
    rules: Rules
    centre: cc.Centre
    calls: Mapping[str, Call] = field(default_factory=dict)  # caller channel -> call
    entries: Mapping[str, str] = field(default_factory=dict)  # place id -> caller channel
    legs: Mapping[str, Leg] = field(default_factory=dict)  # agent channel -> leg
    leg_of: Mapping[str, str] = field(default_factory=dict)  # place id -> its agent channel now
    bridges: Mapping[str, str] = field(default_factory=dict)  # caller channel -> their bridge
    deadlines: Mapping[Key, datetime] = field(default_factory=dict)
    handled: tuple[float, ...] = ()  # recent handle times (talk + wrap-up), seconds
    talk_started: Mapping[str, datetime] = field(default_factory=dict)  # agent id -> bridged at
    overdue: frozenset[str] = frozenset()  # channels told their maximum duration is reached
    lingering: frozenset[str] = frozenset()  # hung up by the router, yet still there at the last check
    legs_made: int = 0
    admission: Admission | None = None  # started with the first call
    people: Mapping[str, PersonRecord] = field(default_factory=dict)  # person -> what is remembered
    callbacks: Mapping[str, Callback] = field(default_factory=dict)  # callback id (= its place's id) -> it
    dials: Mapping[str, str] = field(default_factory=dict)  # a person's channel -> its callback

    @classmethod
    def create(cls, rules: Rules, centre: cc.Centre) -> Board:
        return cls(rules, centre)

    def call_of_entry(self, entry_id: str) -> Call | None:
        channel = self.entries.get(entry_id)
        return self.calls.get(channel) if channel is not None else None

    def next_wake(self) -> datetime | None:
        """When the switchboard next needs a ``Wake`` (None: nothing pending)."""
        return min(self.deadlines.values(), default=None)


Result = tuple[Board, list[Command]]


class _Step:
    """One step's working state: the board as it changes, the commands so far, and
    the call events still to be decided (the call and the centre talk through it).

    The step works on its own shallow copy of the board and copies a mapping the
    first time it changes it (``put``/``drop``), then changes that copy in place:
    the board it was given is never changed, and a step costs one copy of each
    mapping it touches rather than one per change."""

    def __init__(self, board: Board, now: datetime) -> None:
        self.board = object.__new__(Board)
        self.board.__dict__.update(board.__dict__)
        self._owned: set[str] = set()
        self.now = now
        self.out: list[Command] = []
        # A RequestAnnouncement waits here too: the place is read when its turn comes.
        self.pending: deque[tuple[str, ev.CallEvent | cmd.RequestAnnouncement]] = deque()

    def set(self, **changes: object) -> None:
        self.board.__dict__.update(changes)
        self._owned -= changes.keys()

    def _own(self, name: str) -> dict[Any, Any]:
        if name not in self._owned:
            self.board.__dict__[name] = dict(getattr(self.board, name))
            self._owned.add(name)
        mapping: dict[Any, Any] = self.board.__dict__[name]
        return mapping

    def put(self, name: str, key: Any, value: Any) -> None:
        self._own(name)[key] = value

    def drop(self, name: str, key: Any) -> None:
        if key in getattr(self.board, name):
            del self._own(name)[key]

    def deadline(self, key: Key, at: datetime | None) -> None:
        if at is None:
            self.drop("deadlines", key)
        elif self.board.deadlines.get(key) != at:
            self.put("deadlines", key, at)
            self.out.append(WakeAt(at))

    def write(self, record: Record, urgent: bool = False) -> None:
        self.out.append(Write(record, urgent))


def step(board: Board, event: Event, now: datetime) -> Result:
    s = _Step(board, now)
    match event:
        case Arrived():
            _arrived(s, event)
        case OnCall(channel_id, call_event):
            s.pending.append((channel_id, call_event))
        case LegAnswered(channel_id):
            _leg_answered(s, channel_id)
        case LegGone(channel_id, cause):
            _leg_gone(s, channel_id, cause)
        case AgentCommand():
            _agent_command(s, event)
        case Reachable(agent_id, reachable):
            _centre(s, cc.set_reachable(board.centre, agent_id, reachable, now))
        case Reprioritise(entry_id, priority):
            _centre(s, cc.reprioritise(board.centre, entry_id, priority, now))
            _place(s, s.board.centre.queue.entries[entry_id], PlaceState.WAITING)
        case StillThere(channel_ids):
            _hang_up_lingering(s, channel_ids)
        case Wake():
            _wake(s)
        case RestoreAgents(last):
            _centre(s, cc.restore_agents(board.centre, last, now))
        case Adopt(found, stray, stored):
            _adopt(s, found, stray, stored)
        case Remember(people):
            s.set(people={**board.people, **repeat.loaded(board.rules.repeat, list(people), now)})
        case _:  # the callbacks' events
            dialler.on_event(s, event)
    _settle(s)
    return s.board, s.out


def _agent_command(s: _Step, event: AgentCommand) -> None:
    if event.agent_id not in s.board.centre.agents:
        raise KeyError(event.agent_id)
    if event.command not in AGENT_COMMANDS:
        raise AgentStateError(f"unknown agent command {event.command!r}")
    _centre(s, cc.agent_command(s.board.centre, event.agent_id, event.command, s.now, event.reason))


# ---- calls ---------------------------------------------------------------------------
def _arrived(s: _Step, event: Arrived) -> None:
    rules = s.board.rules
    line = rules.line_for(event.did)
    taken = line is None or _admit(s, event.lag)
    caller = normalise(
        event.number, line.country if line else "US", restricted=is_restricted(event.presentation)
    )
    call, first = calls.arrive(
        call_id=calls.call_id_for(rules.node, event.channel_id),
        node=rules.node,
        channel_id=event.channel_id,
        did=event.did,
        line=line,
        caller=caller,
        now=event.at,
        overloaded=not taken,
        place_id=event.place_id,
    )
    call = _recognise(s, call, rules.repeat.person(caller))
    if event.up and cmd.Answer() in first:
        # Answered in the dialplan (ARI-NOTES 16): no REST call, the call goes on now.
        first = [c for c in first if not isinstance(c, cmd.Answer)]
        s.pending.append((event.channel_id, ev.Answered()))
    _start_call(s, call, first)


def _recognise(s: _Step, call: Call, person: str | None) -> Call:
    """Who the caller is; one who gave up a place in time and had chosen a topic
    skips the menu (the place itself is decided when they join)."""
    call = replace(call, person=person)
    if person is None:
        return call
    rules = s.board.rules.repeat
    kept = repeat.resumable(rules, s.board.people.get(person), s.now)
    pending = dialler.of_person(s.board, person)
    if pending is not None and dialler.cancellable(pending):  # keep it, or wait in its place
        call = replace(
            call, known_topic=pending.record.topic, language=pending.record.language, callback_pending=True
        )
    elif kept is not None and rules.skip_menu:
        call = replace(call, known_topic=kept.topic, language=kept.language or call.language)
    return call


def _admit(s: _Step, lag: float) -> bool:
    """Overload admission (``core.admission``): past what the box sustains, a new
    caller is told to call back at once. An urgent line's caller refused here is
    never told that: they ring its fallback desk (``call.arrive``), which is why
    they are not simply let in to wait on an overloaded router."""
    at = s.now.timestamp()
    state = s.board.admission or admission.Admission.start(s.board.rules.admission, at)
    state, taken = admission.admit(admission.observe(state, at, lag), at, urgent=False)
    s.set(admission=state)
    return taken


def _start_call(s: _Step, call: Call, first: list[cmd.Command]) -> None:
    channel_id = call.record.channel_id
    s.put("calls", channel_id, call)
    if ("duration", "") not in s.board.deadlines:
        s.deadline(("duration", ""), s.now + s.board.rules.duration_check)
    _carry_out(s, channel_id, first)
    if call.ended:
        _call_over(s, channel_id)


def _settle(s: _Step) -> None:
    """Decide every call event this step produced, in order."""
    plan = s.board.rules.plan
    while s.pending:
        channel_id, event = s.pending.popleft()
        call = s.board.calls.get(channel_id)
        if call is None:
            continue
        if isinstance(event, cmd.RequestAnnouncement):
            # Read after what came before it in this step (every caller a restart
            # resumes has joined, every overflow has rejoined): the place is the
            # caller's place now, not the one they had halfway through the step.
            # The call's place now: a repeat caller may have taken over another.
            heard = _announcement(s.board, call.entry_id or event.entry_id)
            if heard is None:
                continue
            event = heard
        after, commands = calls.decide(call, event, s.now, plan)
        s.put("calls", channel_id, after)
        _carry_out(s, channel_id, commands)
        if after.ended and channel_id in s.board.calls:
            _call_over(s, channel_id)


def _carry_out(s: _Step, channel_id: str, commands: list[cmd.Command]) -> None:
    """A call's commands: the centre's part is done here, the rest is I/O."""
    for command in commands:
        match command:
            case cmd.SaveCall(record):
                s.write(record)
            case cmd.LogEvent(record):
                s.write(record)
            case cmd.StartTimer(_, seconds):
                s.deadline(("call", channel_id), s.now + timedelta(seconds=seconds))
            case cmd.JoinQueue(entry):
                _join(s, channel_id, entry)
            case cmd.LeaveQueue(entry_id):
                _leave(s, entry_id)
            case cmd.RequestAnnouncement():
                s.pending.append((channel_id, command))
            case cmd.RequestCallback(number):
                dialler.request(s, channel_id, number)
            case cmd.Bridge(agent_channel):
                bridge_id = s.board.bridges.get(channel_id) or _bridge_id(s.board.calls[channel_id])
                s.put("bridges", channel_id, bridge_id)
                s.out.append(ToChannel(channel_id, JoinBridge(bridge_id, agent_channel)))
            case _:
                s.out.append(ToChannel(channel_id, command))


def _bridge_id(call: Call) -> str:
    return f"bridge-{call.entry_id or call.place_id or call.record.call_id}"


def _join(s: _Step, channel_id: str, entry: QueueEntry) -> None:
    person = entry.caller_key
    pending = dialler.of_person(s.board, person) if person is not None else None
    if pending is not None and dialler.cancellable(pending):
        # Waits on the line in the callback's place instead: never both.
        dialler.cancel(s, pending.callback_id, "the person called in")
    else:
        pending = None
    held = s.board.centre.queue.by_caller(person) if person is not None else None
    if held is not None:
        _take_over(s, channel_id, entry, held)
        return
    entry, recognised = _recall(s, entry, pending)
    if recognised is not None:
        s.pending.append((channel_id, recognised))
    _take(s, channel_id, entry)


Recalled = tuple[QueueEntry, ev.Recognised | None]


def _recall(s: _Step, entry: QueueEntry, pending: Callback | None) -> Recalled:
    """A person's earlier call decides this one's place: their cancelled callback's,
    or the one they gave up in time (ahead of everyone who joined after it); or,
    answered recently, their last agent is preferred."""
    person = entry.caller_key
    memory = s.board.people.get(person) if person is not None else None
    rules = s.board.rules.repeat
    priority: int | None
    if pending is not None:
        booked = pending.record
        kind, repeat_of, joined_at, priority = (
            RepeatKind.CALLBACK_PENDING,
            booked.call_id,
            booked.joined_at,
            booked.priority,
        )
    elif (kept := repeat.resumable(rules, memory, s.now)) is not None:
        assert kept.joined_at is not None
        kind, repeat_of, joined_at, priority = (
            RepeatKind.RESUMED,
            kept.left_call_id,
            kept.joined_at,
            kept.priority,
        )
        _remember(s, repeat.resumed(kept, s.now))
    elif (contact := repeat.recent_contact(rules, memory, s.now)) is not None:
        entry = replace(entry, preferred_agent=contact.contact_agent)
        return entry, ev.Recognised(RepeatKind.RECENT_CONTACT, contact.contact_call_id)
    else:
        return entry, None
    priority = max(entry.priority, priority or 0)
    entry = replace(entry, joined_at=joined_at, priority=priority)
    place = Place(entry.topic, priority, joined_at, entry.language, None, entry.entry_id)
    return entry, ev.Recognised(kind, repeat_of, place)


def _take(s: _Step, channel_id: str, entry: QueueEntry) -> None:
    s.put("entries", entry.entry_id, channel_id)
    _centre(s, cc.join(s.board.centre, entry, s.now), joining=entry)
    taken = s.board.centre.queue.entries.get(entry.entry_id)
    if taken is not None:
        _place(s, taken, PlaceState.WAITING)
    rules = s.board.centre.topics.get(entry.topic, cc.TopicRules())
    if taken is not None and rules.max_wait is not None:
        s.deadline(("entry", entry.entry_id), entry.joined_at + rules.max_wait)


def _take_over(s: _Step, channel_id: str, entry: QueueEntry, held: QueueEntry) -> None:
    """The person already holds a place (another call of theirs waits, through any
    line): this call takes it over, with its join time and the higher priority of
    the two, and the older call is told and released. One person, one place."""
    old_channel = s.board.entries.get(held.entry_id)
    old_call = s.board.calls.get(old_channel) if old_channel is not None else None
    priority = max(entry.priority, held.priority)
    changes: dict[str, object] = {
        "channel_id": entry.channel_id,
        "call_id": entry.call_id,
        "priority": priority,
    }
    if held.offered_to is None:  # what they asked for this time (an agent ringing keeps the old)
        changes |= {"topic": entry.topic, "language": entry.language, "line": entry.line}
    taken = replace(held, **changes)  # type: ignore[arg-type]
    if s.board.entries.get(entry.entry_id) == channel_id:  # its own earlier place (overflowed): gone
        s.drop("entries", entry.entry_id)
        s.set(centre=cc.forget_ended(s.board.centre, [entry.entry_id]))
    s.put("entries", held.entry_id, channel_id)
    # Both calls change hands at once (what they hear follows below): any event of
    # theirs already waiting in this step sees the place where it is now.
    s.put("calls", channel_id, replace(s.board.calls[channel_id], entry_id=held.entry_id))
    if old_call is not None and old_channel is not None:
        s.put("calls", old_channel, replace(old_call, entry_id=None))
    if old_channel is not None:
        bridge_id = s.board.bridges.get(old_channel)
        if bridge_id is not None:  # made while an agent rings for the place: the new call's now
            s.drop("bridges", old_channel)
            s.put("bridges", channel_id, bridge_id)
        s.pending.append((old_channel, ev.Replaced()))
    _centre(s, cc.retake(s.board.centre, taken, s.now))
    _place(s, taken, PlaceState.WAITING)
    place = Place(taken.topic, priority, taken.joined_at, taken.language, None, taken.entry_id)
    repeat_of = old_call.record.call_id if old_call is not None else held.call_id
    s.pending.append((channel_id, ev.Recognised(RepeatKind.ALREADY_WAITING, repeat_of, place)))


def _remember(s: _Step, memory: PersonRecord) -> None:
    s.put("people", memory.person, memory)
    s.write(memory)


def _leave(s: _Step, entry_id: str) -> None:
    """The caller hung up, or their call ended, while their place waited: the place
    leaves the queue now, and is remembered for a redial."""
    entry = s.board.centre.queue.entries.get(entry_id)
    _centre(s, cc.leave(s.board.centre, entry_id, s.now))
    if entry is not None:
        _place(s, entry, PlaceState.LEFT)
        if entry.caller_key is not None and s.board.rules.repeat.resume > timedelta(0):
            person = s.board.people.get(entry.caller_key)
            _remember(s, repeat.left(person, entry, entry.call_id, s.now))


def _place(s: _Step, entry: QueueEntry, state: PlaceState) -> None:
    """One record per change of a place (taken, reprioritised, and how it ended)."""
    record = PlaceRecord(
        entry.entry_id, s.board.rules.node, s.now, state, entry.caller_key, entry.topic, entry.priority,
        entry.language, entry.line, entry.joined_at, entry.call_id,
    )  # fmt: skip
    s.write(record)


def _announcement(board: Board, entry_id: str) -> ev.Announce | ev.BeingOffered | None:
    """The caller's place and estimate; BeingOffered while their agent rings."""
    centre = board.centre
    entry = centre.queue.entries.get(entry_id)
    if entry is None:
        return None
    if entry.offered_to is not None:
        return ev.BeingOffered()
    position = centre.queue.position(entry_id)
    serving = sum(
        1
        for a in centre.agents.values()
        if a.state is not AgentState.LOGGED_OUT and a.can_serve(entry.topic, entry.language)
    )
    return ev.Announce(position, estimate_minutes(position, serving, board.handled))


def _call_over(s: _Step, channel_id: str) -> None:
    """The call ended: its place (if any) is given up, its agent's phone hung up,
    its bridge destroyed; nothing of it stays."""
    board = s.board
    call = board.calls[channel_id]
    entry_id = call.entry_id
    if entry_id is not None and entry_id in board.centre.queue:
        _leave(s, entry_id)  # an abnormal end never keeps a place
    s.drop("calls", channel_id)
    if entry_id is not None and s.board.entries.get(entry_id) == channel_id:
        s.drop("entries", entry_id)
    bridge_id = s.board.bridges.get(channel_id)
    if bridge_id is not None:
        s.out.append(DestroyBridge(channel_id, bridge_id))
        s.drop("bridges", channel_id)
    if channel_id in s.board.overdue:
        s.set(overdue=s.board.overdue - {channel_id})
    if entry_id is not None:
        s.set(centre=cc.forget_ended(s.board.centre, [entry_id]))
    s.deadline(("call", channel_id), None)
    if entry_id is not None:
        s.deadline(("entry", entry_id), None)
        leg_channel = s.board.leg_of.get(entry_id)
        leg = s.board.legs.get(leg_channel) if leg_channel is not None else None
        if leg is not None and leg.answered and not leg.ending:
            s.put("legs", leg.channel_id, replace(leg, ending=True))
            s.out.append(HangupLeg(leg.channel_id, "caller gone"))
    s.out.append(CallOver(channel_id, call.record))


# ---- the centre ------------------------------------------------------------------------
def _centre(s: _Step, result: cc.Result, joining: QueueEntry | None = None) -> None:
    """Apply a centre transition; its commands become call events and I/O.
    ``joining``: the entry this transition took (it may overflow at once)."""
    centre, commands = result
    queued = s.board.centre.queue.entries

    def before(entry_id: str) -> QueueEntry | None:  # the entry as it was (for its record)
        entry = queued.get(entry_id)
        return joining if entry is None and joining is not None and joining.entry_id == entry_id else entry

    s.set(centre=centre)
    for command in commands:
        match command:
            case cc.RingAgent(agent_id, entry_id):
                _ring(s, agent_id, entry_id)
            case cc.CancelRing(_, entry_id):
                leg_channel = s.board.leg_of.get(entry_id)
                if leg_channel is not None:
                    s.out.append(HangupLeg(leg_channel, "caller left"))
            case cc.Connect(agent_id, entry_id):
                _connected(s, before(entry_id), entry_id, agent_id)
            case cc.OverflowEntry(entry_id, reason):
                if (entry := before(entry_id)) is not None and entry_id not in s.board.callbacks:
                    _place(s, entry, PlaceState.OVERFLOWED)
                s.deadline(("entry", entry_id), None)
                channel_id = s.board.entries.get(entry_id)
                if channel_id is not None:
                    s.pending.append((channel_id, ev.Overflowed(reason)))
            case cc.AgentChanged(agent, reason):
                _agent_changed(s, agent, reason)


def _connected(s: _Step, entry: QueueEntry | None, entry_id: str, agent_id: str) -> None:
    """An agent answered for this place: the caller is bridged to them, and it is
    recorded and remembered of the person (a later call of theirs is a repeat
    contact, this agent preferred). A callback's agent answered: the person is called."""
    if entry_id in s.board.callbacks:  # recorded once the person answers
        dialler.agent_answered(s, entry_id)
        return
    if entry is not None:
        _place(s, entry, PlaceState.CONNECTED)
        if (person := entry.caller_key) is not None and s.board.rules.repeat.contact > timedelta(0):
            memory = s.board.people.get(person)
            _remember(s, repeat.answered(memory, person, agent_id, entry.call_id, s.now))
    leg_channel = s.board.leg_of.get(entry_id)
    channel_id = s.board.entries.get(entry_id)
    if leg_channel is not None and channel_id is not None:
        s.put("talk_started", agent_id, s.now)
        s.pending.append((channel_id, ev.AgentAnswered(agent_id, leg_channel)))


def _agent_changed(s: _Step, agent: Agent, reason: str) -> None:
    # A pause is recorded with its own reason ("lunch", "auto-pause: no answer"),
    # which a restarted router gives back to the agent.
    paused = agent.state is AgentState.PAUSED
    said = (agent.pause_reason or reason) if paused else reason
    call = s.board.call_of_entry(agent.entry_id) if agent.entry_id else None
    call_id = call.record.call_id if call is not None else agent.entry_id
    # Changes a restart must keep (log in/out, pause, resume) are written at once.
    s.write(
        AgentStateRecord(agent.agent_id, s.now, agent.state.value, said, call_id),
        urgent=paused or reason in AGENT_COMMANDS,
    )
    wrap_up = agent.wrap_up_until if agent.state is AgentState.WRAP_UP else None
    s.deadline(("agent", agent.agent_id), wrap_up)


def _ring(s: _Step, agent_id: str, entry_id: str) -> None:
    if entry_id in s.board.callbacks:  # a callback's place: the lease first, then its agent's phone
        dialler.reserved(s, agent_id, entry_id)
        return
    ring_leg(s, agent_id, entry_id, None)


def ring_leg(s: _Step, agent_id: str, entry_id: str, label: str | None) -> None:
    board = s.board
    made = board.legs_made + 1
    leg_channel = f"agent-{entry_id}-{made}"
    leg = Leg(leg_channel, agent_id, entry_id)
    s.put("legs", leg_channel, leg)
    s.put("leg_of", entry_id, leg_channel)
    s.set(legs_made=made)
    entry = board.centre.queue.entries.get(entry_id)
    label = label or (f"{entry.line} {entry.topic} {entry.language}" if entry else "callrouter")
    channel_id = board.entries.get(entry_id)
    call = board.calls.get(channel_id) if channel_id is not None else None
    # The number the caller showed (never one they withheld, nor the asserted one).
    callback = board.callbacks.get(entry_id)  # a callback: the number the agent will talk to
    number = (
        call.record.caller_number if call else callback.record.number if callback else None
    ) or ANONYMOUS
    rules = board.rules
    args = f"agent,{entry_id},{agent_id}"
    s.out.append(Originate(leg_channel, agent_id, args, rules.ring_seconds, label, number))
    s.deadline(("leg", leg_channel), s.now + timedelta(seconds=rules.ring_seconds + RING_GRACE_SECONDS))
    if channel_id is None or call is None:
        return
    s.pending.append((channel_id, ev.AgentRinging(agent_id)))
    if channel_id not in s.board.bridges:
        bridge_id = _bridge_id(call)
        s.put("bridges", channel_id, bridge_id)
        s.out.append(ToChannel(channel_id, MakeBridge(bridge_id)))


def _leg_answered(s: _Step, leg_channel: str) -> None:
    leg = s.board.legs.get(leg_channel)
    if leg is None or leg.answered:
        return
    s.put("legs", leg_channel, replace(leg, answered=True))
    s.deadline(("leg", leg_channel), None)
    _centre(s, cc.agent_answered(s.board.centre, leg.agent_id, leg.entry_id, s.now))


def _leg_gone(s: _Step, leg_channel: str, cause: str) -> None:
    board = s.board
    leg = board.legs.get(leg_channel)
    if leg is None:
        return
    if leg.ending and leg.entry_id in board.callbacks and board.leg_of.get(leg.entry_id) != leg_channel:
        # A released agent's phone of an earlier attempt at a callback: nothing to decide.
        s.drop("legs", leg_channel)
        s.deadline(("leg", leg_channel), None)
        return
    if board.leg_of.get(leg.entry_id) == leg_channel:
        s.drop("leg_of", leg.entry_id)
    s.drop("legs", leg_channel)
    s.deadline(("leg", leg_channel), None)
    channel_id = board.entries.get(leg.entry_id)
    if leg.entry_id in board.callbacks:
        dialler.agent_leg_gone(s, leg)
    if leg.answered:
        if channel_id is not None:
            s.pending.append((channel_id, ev.AgentLeft()))
        started = board.talk_started.get(leg.agent_id)
        if started is not None:
            handled = (s.now - started).total_seconds() + board.centre.wrap_up.total_seconds()
            window = board.rules.estimate_window
            s.set(handled=(*board.handled, handled)[-window:])
            s.drop("talk_started", leg.agent_id)
        _centre(s, cc.call_ended(s.board.centre, leg.agent_id, leg.entry_id, s.now))
        return
    if channel_id is not None:
        s.pending.append((channel_id, ev.AgentMissed(leg.agent_id, cause)))
    _centre(s, cc.agent_not_answered(s.board.centre, leg.agent_id, leg.entry_id, s.now, cause))


# ---- time --------------------------------------------------------------------------------
def _wake(s: _Step) -> None:
    due = sorted((at, key) for key, at in s.board.deadlines.items() if at <= s.now)
    for _, key in due:
        s.deadline(key, None)
        kind, name = key
        if kind == "call":
            call = s.board.calls.get(name)
            if call is not None and call.timer is not None:
                s.pending.append((name, ev.TimerFired(call.timer)))
        elif kind == "leg":
            leg = s.board.legs.get(name)
            if leg is not None and not leg.answered:
                # Asterisk never said the ring ended: hang up, and treat it as no answer.
                s.out.append(HangupLeg(name, "ring timeout"))
                _leg_gone(s, name, "ring timeout")
        elif kind == "agent":
            _centre(s, cc.wrap_up_over(s.board.centre, name, s.now))
        elif kind == "entry":
            _max_wait(s, name)
        elif kind == "duration":
            _check_durations(s)
        elif kind in ("callback", "lease", "closed", "dial"):
            dialler.due(s, kind, name)


def _max_wait(s: _Step, entry_id: str) -> None:
    entry = s.board.centre.queue.entries.get(entry_id)
    if entry is None:
        return
    if entry.offered_to is not None:  # an agent is ringing: decided once the ring ends
        s.deadline(("entry", entry_id), s.now + timedelta(seconds=1))
        return
    _centre(s, cc.overflow(s.board.centre, entry_id, "max_wait"))


def _check_durations(s: _Step) -> None:
    """The maximum call duration, for every call, by one periodic deadline."""
    limit = s.board.rules.max_call
    told = set(s.board.overdue)
    for channel_id, call in s.board.calls.items():
        if channel_id not in told and s.now - call.record.started_at >= limit:
            told.add(channel_id)
            s.pending.append((channel_id, ev.MaxDurationReached()))
    s.set(overdue=frozenset(told))
    rules = s.board.rules.repeat
    gone = [p for p, memory in s.board.people.items() if repeat.expired(rules, memory, s.now)]
    for person in gone:  # nothing is written: a restarted router skips them too
        s.drop("people", person)
    if s.board.calls:
        s.deadline(("duration", ""), s.now + s.board.rules.duration_check)


def _hang_up_lingering(s: _Step, listed: frozenset[str]) -> None:
    """A call the router hung up that is still there at two checks in a row (its
    hangup failed) is hung up again; one check is not enough, as a hangup or a
    hand-back to the dialplan may still be on its way."""
    ending = frozenset(
        channel_id
        for channel_id in listed
        if (call := s.board.calls.get(channel_id)) is not None and call.phase is Phase.ENDING
    )
    for channel_id in sorted(ending & s.board.lingering):
        s.out.append(ToChannel(channel_id, cmd.Hangup()))
    s.set(lingering=ending)


# ---- a restart -----------------------------------------------------------------------------
def _adopt(
    s: _Step, found: tuple[Found, ...], stray: tuple[str, ...], stored: tuple[PlaceRecord, ...]
) -> None:
    rules = s.board.rules
    waiting = {
        p.call_id: p
        for p in stored
        if p.node == rules.node and p.state is PlaceState.WAITING and p.call_id is not None
        and p.place_id not in s.board.entries
    }  # fmt: skip
    talking = [f for f in found if f.agent_id is not None]
    for f in talking + [f for f in found if f.agent_id is None]:
        call_id = calls.call_id_for(rules.node, f.channel_id)
        kept = waiting.pop(call_id, None)
        if f.channel_id in s.board.calls:
            continue  # its own event came first
        line = rules.line_for(f.did)
        if line is None:  # left alone: its place is not kept
            if kept is not None:
                _stored_place_ended(s, kept, PlaceState.LEFT)
            continue
        caller = normalise(f.number, line.country, restricted=is_restricted(f.presentation))
        person = rules.repeat.person(caller)
        adopted = Adopted(call_id, rules.node, f.channel_id, f.did, line, caller, f.started_at, person)
        place = f.place if kept is None else _stored_place(s, f, kept)
        if f.agent_id is not None and f.agent_channel is not None:
            _resume_talking(s, adopted, place_id_of(place, adopted.call_id), f.agent_id, f.agent_channel)
        elif place is not None:
            call, first = resume(adopted, place, s.now)
            _start_call(s, call, first)
        elif f.menu is not None and (resumed := calls.resume_menu(adopted, f.menu, s.now, rules.plan)):
            _start_call(s, *resumed)
        else:  # at the menu's top level (or before it): starts afresh
            again = Arrived(
                f.channel_id, f.did, f.number, s.now, adopted.call_id, up=True, presentation=f.presentation
            )
            _arrived(s, again)
    for leg_channel in stray:
        s.out.append(HangupLeg(leg_channel, "no call waits on it"))
    known = {call.record.call_id for call in s.board.calls.values()}
    for kept in waiting.values():
        if kept.call_id not in known:  # its call is not in Asterisk any more
            _stored_place_ended(s, kept, PlaceState.LEFT)


def _stored_place(s: _Step, f: Found, kept: PlaceRecord) -> Place | None:
    """The place a found call resumes, given the one stored for it: the channel's
    word wins; a stored place no longer held is closed."""
    stored = Place(kept.topic, kept.priority, kept.joined_at, kept.language, None, kept.place_id)
    if f.agent_id is not None:  # connected (the record of it was lost): the agent's leg names this place
        _stored_place_ended(s, kept, PlaceState.CONNECTED)
        return f.place or stored
    if f.place is None:  # the channel lost its place (or never got it written)
        return stored
    if f.place.place_id != kept.place_id:  # the channel holds another place
        _stored_place_ended(s, kept, PlaceState.LEFT)
    return f.place


def _stored_place_ended(s: _Step, kept: PlaceRecord, state: PlaceState) -> None:
    s.write(replace(kept, at=s.now, state=state))


def _resume_talking(s: _Step, adopted: Adopted, entry_id: str, agent_id: str, leg_channel: str) -> None:
    """A caller still talking to an agent: left as it is, followed to its end."""
    call, first = resume_connected(adopted, entry_id, agent_id, s.now)
    _start_call(s, call, first)
    channel_id = adopted.channel_id
    if agent_id not in s.board.centre.agents:  # an agent this config does not know: end it cleanly
        s.pending.append((channel_id, ev.AgentLeft()))
        s.out.append(HangupLeg(leg_channel, "unknown agent"))
        return
    s.put("legs", leg_channel, Leg(leg_channel, agent_id, entry_id, answered=True))
    s.put("leg_of", entry_id, leg_channel)
    s.put("entries", entry_id, channel_id)
    s.put("bridges", channel_id, _bridge_id(call))
    s.put("talk_started", agent_id, s.now)
    _centre(s, cc.resume_call(s.board.centre, agent_id, entry_id, s.now))
