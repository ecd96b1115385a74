"""The switchboard's state: the ``Rules`` it consults, the ``Board`` (every call,
the centre, agents' phones as ``Leg``s, bridges, deadlines, people, callbacks),
and ``_Step``, one step's working copy of it; with the records and names every
part of a step shares (a place's record, what is remembered of a person, a
caller's bridge)."""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from callrouter.core import call_events as ev
from callrouter.core import centre as cc
from callrouter.core import commands as cmd
from callrouter.core import repeat
from callrouter.core.admission import Admission, AdmissionRules
from callrouter.core.board_commands import Command, WakeAt, Write
from callrouter.core.call_plan import CallPlan, LineInfo
from callrouter.core.call_state import Call
from callrouter.core.callbacks import Callback, CallbackRules
from callrouter.core.evolve import quick_init
from callrouter.core.lines import DidDirectory
from callrouter.core.queue import QueueEntry
from callrouter.core.records import AgentStateRecord, PersonRecord, PlaceRecord, PlaceState, Record
from callrouter.core.repeat import RepeatRules
from callrouter.core.results import Notification, ResultsRules


# ---- what it consults --------------------------------------------------------------------
@dataclass(frozen=True)
class Rules:
    """The configuration, compiled once into what the switchboard consults."""

    node: str
    plan: CallPlan
    lines: DidDirectory[LineInfo]
    default_line: LineInfo | None = None
    ring_seconds: float = 15.0
    # An agent's phone gone this soon after answering dropped the call (``board_centre._dropped``).
    dropped_within: timedelta = timedelta(seconds=1)
    estimate_window: int = 20
    max_call: timedelta = timedelta(hours=4)
    # How often the maximum call duration is checked (one deadline for all calls).
    duration_check: timedelta = timedelta(seconds=30)
    admission: AdmissionRules = field(default_factory=lambda: AdmissionRules(0.0))  # 0: never shed
    repeat: RepeatRules = field(default_factory=RepeatRules)
    callback: CallbackRules | None = None  # None: callbacks are never offered nor dialled
    by_name: Mapping[str, LineInfo] = field(default_factory=dict)  # every line by its name
    results: ResultsRules | None = None  # None: no results call is made
    # This router process's mark on the channels it originates ("": none): a restarted
    # router's never share an id with its predecessor's rings still in Asterisk.
    run: str = ""
    # False: a call's own timeline (the events its decisions log), places' records and
    # people's memories are not written (a simulated day reads none of them: a tenth of its
    # writes, and their cost); the board's few other events still are. A router's journal
    # is always whole.
    journal: bool = True

    def originated(self, name: str) -> str:
        """The id of a channel this router originates: ``name``, and its run's mark."""
        return f"{name}-{self.run}" if self.run else name

    def line_named(self, name: str) -> LineInfo | None:
        return self.by_name.get(name)

    def line_for(self, did: str) -> LineInfo | None:
        return self.lines.match(did) or self.default_line


# ---- the board ----------------------------------------------------------------------------
@quick_init
@dataclass(frozen=True)
class Leg:
    """An agent's phone rung for one place."""

    channel_id: str
    agent_id: str
    entry_id: str
    answered: bool = False
    ending: bool = False  # its caller is gone and the router is hanging it up
    # Answered: when, and the place as it was then (given back if the phone goes at once),
    # and what was remembered of its caller before this answer (given back with it).
    answered_at: datetime | None = None
    taken: QueueEntry | None = None
    remembered: PersonRecord | None = None


Key = tuple[
    str, str
]  # ("call", channel) | ("leg", channel) | ("agent", id) | ("entry", id) | ("duration", "")


@dataclass(frozen=True)
class ResultsCall:
    """A notification this router is dialling (or talking to its patient about)."""

    notification: Notification
    channel_id: str
    started_at: datetime
    answered: bool = False


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
    # The deadlines as a heap of (at, key), so a wake finds those due without reading
    # every one: a changed or dropped deadline's pair stays until it comes up (or the
    # heap is rebuilt), and is skipped as stale. ``_Step`` keeps it (never by hand).
    due_order: list[tuple[datetime, Key]] = field(default_factory=list, compare=False, repr=False)
    handled: tuple[float, ...] = ()  # recent handle times (talk + wrap-up), seconds
    talk_started: Mapping[str, datetime] = field(default_factory=dict)  # agent id -> bridged at
    overdue: frozenset[str] = frozenset()  # channels told their maximum duration is reached
    lingering: frozenset[str] = frozenset()  # hung up by the router, yet still there at the last check
    legs_made: int = 0
    admission: Admission | None = None  # started with the first call
    people: Mapping[str, PersonRecord] = field(default_factory=dict)  # person -> what is remembered
    # When memories may be forgotten: a span of FORGET_SPAN seconds -> the people whose memory
    # ends in it (each change of a memory adds its person again; a stale mention is skipped).
    forgetting: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    callbacks: Mapping[str, Callback] = field(default_factory=dict)  # callback id (= its place's id) -> it
    callbacks_unknown: bool = False  # the stored open callbacks not read yet (``RestoreCallbacks``)
    dials: Mapping[str, str] = field(default_factory=dict)  # a person's channel -> its callback
    results: Mapping[str, ResultsCall] = field(default_factory=dict)  # notification id -> its call
    result_dials: Mapping[str, str] = field(default_factory=dict)  # a patient's channel -> notification id
    results_taking: bool = False  # a TakeResults is on its way
    results_pending: int = 0  # due or waiting notifications, as the last TakeResults counted them
    # A restart: agents restored idle from a call's state (rung, talking, wrapping up) -> their
    # idle row, held until the calls found in Asterisk are all taken up (``adopted``) or the
    # agent changes: found still talking, it is never written (they get their on_call row).
    unsettled: Mapping[str, AgentStateRecord] = field(default_factory=dict)
    adopted: bool = False

    @classmethod
    def create(cls, rules: Rules, centre: cc.Centre) -> Board:
        return cls(rules, centre)

    def call_of_entry(self, entry_id: str) -> Call | None:
        channel = self.entries.get(entry_id)
        return self.calls.get(channel) if channel is not None else None

    def next_wake(self) -> datetime | None:
        """When the switchboard next needs a ``Wake`` (None: nothing pending)."""
        if self.due_order:
            at, key = self.due_order[0]
            if self.deadlines.get(key) == at:  # not stale: the earliest of them all
                return at
        return min(self.deadlines.values(), default=None)

    def due_by(self, now: datetime) -> bool:
        """Whether a deadline falls due by ``now`` (else a ``Wake`` would find nothing to
        do): only the heap's pairs at or before ``now`` are read, and none is taken off."""
        heap, deadlines = self.due_order, self.deadlines
        size = len(heap)
        looking = [0] if heap else []
        while looking:  # the heap's children are never earlier than their parent
            i = looking.pop()
            at, key = heap[i]
            if at > now:
                continue
            if deadlines.get(key) == at:
                return True
            child = 2 * i + 1
            if child < size:
                looking.append(child)
                if child + 1 < size:
                    looking.append(child + 1)
        return False


Result = tuple[Board, list[Command]]


class _Step:
    """One step's working state: the board as it changes, the commands so far, and
    the call events still to be decided (the call and the centre talk through it).

    The step works on its own shallow copy of the board and copies a mapping the
    first time it changes it (``put``/``drop``), then changes that copy in place:
    the board it was given is never changed, and a step costs one copy of each
    mapping it touches rather than one per change.

    ``in_place``: the board and its mappings are the step's own from the start, changed
    where they are, so a step copies none (the board given must not be used again;
    ``simulate`` steps a day's board so, where a copy of every mapping touched
    grows with the calls and people of the day)."""

    def __init__(self, board: Board, now: datetime, in_place: bool = False) -> None:
        # The mappings the step may change where they are (a frozenset: shared, not built
        # for each step, and replaced, never changed, when one is taken or given up).
        self._owned: frozenset[str]
        if in_place:  # the board itself changes (it is not to be used again), and every
            # mapping is the step's own (one that is not a dict is copied once), and so are
            # the centre's agents (``Centre.owning``: copied once)
            self.board = board
            self._owned = MAPPINGS
            if not board.centre.owned:
                board.__dict__["centre"] = board.centre.owning()
        else:
            self.board = object.__new__(Board)
            self.board.__dict__.update(board.__dict__)
            self._owned = frozenset()
            if board.centre.owned:  # an in-place step's board, now stepped by copying: not changed
                self.board.__dict__["centre"] = board.centre.disowned()
        self._heap_owned = in_place
        self.now = now
        self.out: list[Command] = []
        # A RequestAnnouncement waits here too: the place is read when its turn comes.
        self.pending: deque[tuple[str, ev.CallEvent | cmd.RequestAnnouncement]] = deque()

    def set(self, **changes: object) -> None:
        self.board.__dict__.update(changes)
        if not self._owned.isdisjoint(changes):  # a mapping given: not the step's own
            self._owned = self._owned.difference(changes)

    def _own(self, name: str) -> dict[Any, Any]:
        """The mapping made the step's own: a copy, changed where it is from then on."""
        held = self.board.__dict__
        mapping: dict[Any, Any] = dict(held[name])
        held[name] = mapping
        self._owned = self._owned | {name}
        return mapping

    # ``put`` and ``drop`` tell whether the mapping is the step's own already (at all but
    # its first change in a step: tens of times a call) without a call to ``_own``.
    def put(self, name: str, key: Any, value: Any) -> None:
        mapping = self.board.__dict__[name]
        if name not in self._owned or type(mapping) is not dict:
            mapping = self._own(name)
        mapping[key] = value

    def drop(self, name: str, key: Any) -> None:
        mapping = self.board.__dict__[name]
        if key in mapping:
            if name not in self._owned or type(mapping) is not dict:
                mapping = self._own(name)
            del mapping[key]

    def deadline(self, key: Key, at: datetime | None) -> None:
        if at is None:
            self.drop("deadlines", key)
        elif self.board.deadlines.get(key) != at:
            self.put("deadlines", key, at)
            heap = self._heap()
            if len(heap) > 2 * len(self.board.deadlines) + STALE_KEPT:  # mostly stale: rebuilt
                heap[:] = [(when, name) for name, when in self.board.deadlines.items()]
                heapq.heapify(heap)
            else:
                heapq.heappush(heap, (at, key))
            self.out.append(WakeAt(at))

    def due(self) -> list[tuple[datetime, Key]]:
        """The deadlines due by now, earliest first (then by key): taken off the heap,
        still in ``deadlines`` (each is dropped as it is acted on)."""
        heap = self.board.due_order
        if not heap or heap[0][0] > self.now:
            return []
        heap = self._heap()
        deadlines = self.board.deadlines
        due: set[tuple[datetime, Key]] = set()
        while heap and heap[0][0] <= self.now:
            at, key = heapq.heappop(heap)
            if deadlines.get(key) == at:
                due.add((at, key))
        return sorted(due)

    def _heap(self) -> list[tuple[datetime, Key]]:
        if not self._heap_owned:
            self.board.__dict__["due_order"] = list(self.board.due_order)
            self._heap_owned = True
        return self.board.due_order

    def write(self, record: Record, urgent: bool = False) -> None:
        self.out.append(Write(record, urgent))


# Stale pairs the deadline heap may hold beyond twice the deadlines before it is rebuilt.
STALE_KEPT = 64
# The board's mappings (the fields a step changes with ``put`` and ``drop``).
MAPPINGS = frozenset(f.name for f in fields(Board) if str(f.type).startswith("Mapping"))


# ---- shared by every part of a step ---------------------------------------------------
def _place(s: _Step, entry: QueueEntry, state: PlaceState) -> None:
    """One record per change of a place (taken, reprioritised, and how it ended)."""
    if not s.board.rules.journal:
        return
    record = PlaceRecord(
        entry.entry_id, s.board.rules.node, s.now, state, entry.caller_key, entry.topic, entry.priority,
        entry.language, entry.line, entry.joined_at, entry.call_id,
    )  # fmt: skip
    s.write(record)


def _max_wait_from(s: _Step, entry: QueueEntry) -> None:
    """The place overflows its topic's ``max_wait`` after its join time, or at the end of
    the grace a place given back has (``GIVEN_BACK_GRACE``, ``centre.max_wait_due``); its
    topic with no maximum: never."""
    s.deadline(("entry", entry.entry_id), cc.max_wait_due(s.board.centre, entry))


def _remember(s: _Step, memory: PersonRecord) -> None:
    s.put("people", memory.person, memory)
    _forget_later(s, [memory])
    if s.board.rules.journal:
        s.write(memory)


# Memories that end within the same 5 minutes are looked at together, once their span has begun.
FORGET_SPAN = 300


def forget_span(rules: RepeatRules, memory: PersonRecord) -> int:
    """The span of ``Board.forgetting`` a memory ends in (-1: it has ended already)."""
    end = repeat.forget_after(rules, memory)
    return -1 if end is None else int(end.timestamp()) // FORGET_SPAN


def _forget_later(s: _Step, memories: Iterable[PersonRecord]) -> None:
    spans: dict[int, list[str]] = {}
    for memory in memories:
        spans.setdefault(forget_span(s.board.rules.repeat, memory), []).append(memory.person)
    for span, people in spans.items():
        s.put("forgetting", span, (*s.board.forgetting.get(span, ()), *people))


def _forget_expired(s: _Step) -> None:
    """Forget the people whose memory has expired (nothing is written: a restarted
    router skips them too), looking only at the spans begun by now: the board stays
    as small as the windows keep it, without reading every memory at every check."""
    rules = s.board.rules.repeat
    now_span = int(s.now.timestamp()) // FORGET_SPAN
    for span in sorted(k for k in s.board.forgetting if k <= now_span):
        kept: dict[str, None] = {}
        for person in s.board.forgetting[span]:
            memory = s.board.people.get(person)
            if memory is None or forget_span(rules, memory) != span:
                continue  # forgotten already, or changed since: its later mention counts
            if repeat.expired(rules, memory, s.now):
                s.drop("people", person)
            else:
                kept[person] = None
        if kept:
            s.put("forgetting", span, tuple(kept))
        else:
            s.drop("forgetting", span)


def _bridge_id(call: Call) -> str:
    """The call's bridge with its agent; after a drop, a new name: the one destroyed may
    still be on its way out of Asterisk when the next agent's bridge is made."""
    again = f"-{call.record.drops}" if call.record.drops else ""
    return f"bridge-{call.entry_id or call.place_id or call.record.call_id}{again}"
