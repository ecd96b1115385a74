"""The one queue: every caller who needs a person, in priority then waiting order.

An entry is a person waiting, not a channel: it may be placed at an earlier
join time (a redialler resuming their place) and may exist without a live
channel (a callback holding a virtual place). Callers are keyed by their
normalised number, so one person holds one entry.

Matching (``assign``): entries are taken in order (priority high to low, then
longest waiting); each gets the eligible available agent who has been idle
longest, or the one who spoke to that caller last if they are free (a caller
earlier in the order is matched first, so a preference never costs them). An
entry no available agent can serve never blocks those behind it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import cast

from callrouter.core.agents import Agent
from callrouter.core.evolve import evolve, quick_init

# A place given back whose join time counts time its caller was not on hold, or lost no fault
# of theirs (a dropped answer; a redial's kept place; a callback's place taken up on the line; a place
# taken up by a restarted router, which cannot tell a grace running when the router before stopped),
# is not overflowed on max wait sooner than this after: time for an agent to come free and
# ring in full (15 s, and its grace), however long ago the place was joined.
GIVEN_BACK_GRACE = timedelta(seconds=60)


@quick_init
@dataclass(frozen=True)
class QueueEntry:
    entry_id: str
    topic: str
    language: str
    line: str
    priority: int  # higher is served first (urgent/ambulance highest)
    joined_at: datetime  # may lie before the call began: a resumed place
    caller_key: str | None = None  # normalised number; None when withheld
    channel_id: str | None = None  # None: a virtual entry (callback) with no live call
    call_id: str | None = None  # the call holding the place now, if any
    offered_to: str | None = None  # agent being rung for this entry
    preferred_agent: str | None = None  # the agent who spoke to this caller last (if idle, first)
    seq: int = 0  # tie-breaker: arrival order in this process
    # A place given back (after a dropped answer, a redial, a callback) overflows on max wait
    # no sooner than this (``centre.max_wait_due``); None: at its join time plus the maximum.
    overflow_not_before: datetime | None = None

    @property
    def order(self) -> tuple[int, datetime, int]:
        return (-self.priority, self.joined_at, self.seq)


class QueueError(ValueError):
    pass


@quick_init
@dataclass(frozen=True)
class Queue:
    entries: Mapping[str, QueueEntry]
    next_seq: int = 1
    # Which entry each caller holds (caller_key -> entry_id), kept by join, leave and
    # update (None: not built yet, as for a queue made from entries: built when asked).
    # One person holds one place, so every arrival asks; with hundreds waiting, a scan
    # of every entry for each was the step's biggest cost.
    callers: Mapping[str, str] | None = field(default=None, compare=False, repr=False)
    # ``owning()``: the entries and the index are this queue's own, changed where they are
    # by join, leave and update, which return the queue itself (a simulated day's centre's
    # queue, ``Centre.owning``); the queue it was made from must not be used again.
    owned: bool = field(default=False, compare=False, repr=False)

    @classmethod
    def empty(cls) -> Queue:
        return cls({})

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self.entries

    def ordered(self) -> list[QueueEntry]:
        return sorted(self.entries.values(), key=lambda e: e.order)

    def by_caller(self, caller_key: str) -> QueueEntry | None:
        entry_id = self._callers().get(caller_key)
        return self.entries[entry_id] if entry_id is not None else None

    def _callers(self) -> Mapping[str, str]:
        if self.callers is not None:
            return self.callers
        callers: dict[str, str] = {}  # the first holder of a key, as a scan in order finds it
        held = 0
        for entry in self.entries.values():
            if entry.caller_key is not None:
                held += 1
                callers.setdefault(entry.caller_key, entry.entry_id)
        if held == len(callers):  # kept only while one key is one place (join keeps it so)
            object.__setattr__(self, "callers", callers)
        return callers

    def owning(self) -> Queue:
        """This queue with entries and index of its own, changed in place from then on."""
        return self if self.owned else self._copied(owned=True)

    def disowned(self) -> Queue:
        """A copy of an owned queue that copies again at every change."""
        return self._copied(owned=False)

    def _copied(self, owned: bool) -> Queue:
        callers = dict(self.callers) if self.callers is not None else None
        return Queue(dict(self.entries), self.next_seq, callers, owned)

    def join(self, entry: QueueEntry) -> Queue:
        if entry.entry_id in self.entries:
            raise QueueError(f"entry {entry.entry_id} is already queued")
        callers, key = self._callers(), entry.caller_key
        if key is not None and key in callers:
            raise QueueError("this caller already holds a place in the queue")
        stamped = evolve(entry, seq=self.next_seq)
        if self.owned:
            cast(dict[str, QueueEntry], self.entries)[entry.entry_id] = stamped
            if key is not None and self.callers is not None:
                cast(dict[str, str], self.callers)[key] = entry.entry_id
            object.__setattr__(self, "next_seq", self.next_seq + 1)
            return self
        held = {**callers, key: entry.entry_id} if key is not None else callers
        kept = held if self.callers is not None else None  # not kept where a key is held twice
        return Queue({**self.entries, entry.entry_id: stamped}, self.next_seq + 1, kept)

    def leave(self, entry_id: str) -> tuple[Queue, QueueEntry]:
        if entry_id not in self.entries:
            raise QueueError(f"entry {entry_id} is not queued")
        if self.owned:
            gone = cast(dict[str, QueueEntry], self.entries).pop(entry_id)
            key = gone.caller_key
            if key is not None and self.callers is not None and self.callers.get(key) == entry_id:
                del cast(dict[str, str], self.callers)[key]
            return self, gone
        rest = dict(self.entries)
        gone = rest.pop(entry_id)
        return Queue(rest, self.next_seq, self._without(gone)), gone

    def update(self, entry: QueueEntry) -> Queue:
        was = self.entries.get(entry.entry_id)
        if was is None:
            raise QueueError(f"entry {entry.entry_id} is not queued")
        if self.owned:
            cast(dict[str, QueueEntry], self.entries)[entry.entry_id] = entry
            if was.caller_key != entry.caller_key:  # a place changed hands: its index built anew
                object.__setattr__(self, "callers", None)
            return self
        entries = {**self.entries, entry.entry_id: entry}
        if was.caller_key == entry.caller_key:
            return Queue(entries, self.next_seq, self.callers)
        return Queue(entries, self.next_seq)  # a place changed hands: its index built anew

    def _without(self, gone: QueueEntry) -> Mapping[str, str] | None:
        callers, key = self._callers(), gone.caller_key
        if self.callers is None:  # a key held twice (a queue made so): built anew when asked
            return None
        if key is None or callers.get(key) != gone.entry_id:
            return callers
        rest = dict(callers)
        del rest[key]
        return rest

    def reprioritise(self, entry_id: str, priority: int) -> Queue:
        """A priority change reorders at once: order is computed, never cached."""
        entry = self.entries.get(entry_id)
        if entry is None:
            raise QueueError(f"entry {entry_id} is not queued")
        return self.update(evolve(entry, priority=priority))

    def position(self, entry_id: str) -> int:
        """1-based place among waiting entries (those not being offered): its place in
        ``ordered()`` counted without sorting (a tie in order goes by the mapping's
        order, as the stable sort puts it)."""
        entry = self.entries.get(entry_id)
        if entry is None or entry.offered_to is not None:
            raise QueueError(f"entry {entry_id} is not waiting")
        # ``order`` compared field by field, without a tuple per entry: with hundreds
        # waiting, every announcement of a place reads them all.
        priority, joined, seq = entry.priority, entry.joined_at, entry.seq
        place, earlier = 1, True
        for other in self.entries.values():
            if other is entry:
                earlier = False
            elif other.offered_to is not None or other.priority < priority:
                continue
            elif (
                other.priority > priority
                or (at := other.joined_at) < joined
                or (at == joined and (other.seq < seq or (earlier and other.seq == seq)))
            ):
                place += 1  # ahead: a higher priority, or the same and waiting longer
        return place

    def assign(self, agents: Pool | Iterable[Agent]) -> list[tuple[QueueEntry, Agent]]:
        """Pairs to offer now: each waiting entry in order gets the eligible
        available agent idle longest. Entries with a live offer are skipped.

        ``agents``: a ``Pool`` (a centre keeps its available agents in idle order),
        or any agents (those available are sorted here).

        Runs on every change of the centre, so it does no work when nobody
        waits, and with one caller waiting (the usual case) reads the agents in
        idle order only up to the first who can serve them, however many are free."""
        waiting = [e for e in self.entries.values() if e.offered_to is None]
        if not waiting:
            return []
        pool = agents if isinstance(agents, Pool) else Listed(agents)
        if len(waiting) == 1:
            agent = _longest_idle(pool, waiting[0])
            return [(waiting[0], agent)] if agent is not None else []
        free = list(pool.in_idle_order())
        if len(free) == 1:  # one agent free while many wait (a busy hour): the first it serves, unsorted
            agent = free[0]
            topics, languages = agent.topics, agent.languages  # ``can_serve``, read once
            first, first_order = None, None
            for e in waiting:  # the earliest in order it can serve (the first of equals, as a sort)
                if e.topic in topics and e.language in languages:
                    order = e.order
                    if first_order is None or order < first_order:
                        first, first_order = e, order
            return [(first, agent)] if first is not None else []
        return pairs_in_order(sorted(waiting, key=lambda e: e.order), free)


class Pool:
    """The agents a place may be offered to now (``Agent.available``): a base class
    (not a protocol) so that ``assign`` tells it from a list at a plain isinstance's cost."""

    __slots__ = ()

    def in_idle_order(self) -> Iterator[Agent]:
        """Longest idle first (``idle_key``)."""
        raise NotImplementedError

    def free(self, agent_id: str) -> Agent | None:
        """The agent, if available."""
        raise NotImplementedError


class Listed(Pool):
    """A ``Pool`` of the available ones among any agents, sorted once."""

    def __init__(self, agents: Iterable[Agent]) -> None:
        self.order = sorted((a for a in agents if a.available), key=idle_key)
        self.by_id = {a.agent_id: a for a in self.order}

    def in_idle_order(self) -> Iterator[Agent]:
        return iter(self.order)

    def free(self, agent_id: str) -> Agent | None:
        return self.by_id.get(agent_id)


def pairs_in_order(waiting: list[QueueEntry], free: list[Agent]) -> list[tuple[QueueEntry, Agent]]:
    """Each entry in the order given gets the eligible agent of ``free`` (in idle
    order) preferred for it, else the one idle longest (``free`` is used up)."""
    pairs: list[tuple[QueueEntry, Agent]] = []
    for entry in waiting:
        if not free:
            break
        eligible = [a for a in free if a.can_serve(entry.topic, entry.language)]
        if eligible:
            preferred = [a for a in eligible if a.agent_id == entry.preferred_agent]
            agent = preferred[0] if preferred else eligible[0]
            pairs.append((entry, agent))
            free.remove(agent)
    return pairs


def _longest_idle(pool: Pool, entry: QueueEntry) -> Agent | None:
    """The agent who spoke to them last, if free and able; else the first able in idle order."""
    topic, language = entry.topic, entry.language
    if entry.preferred_agent is not None:
        agent = pool.free(entry.preferred_agent)
        if agent is not None and topic in agent.topics and language in agent.languages:
            return agent
    for agent in pool.in_idle_order():
        if topic in agent.topics and language in agent.languages:
            return agent
    return None


NEVER = datetime.max.replace(tzinfo=UTC)
IdleKey = tuple[bool, datetime, str]


def idle_key(agent: Agent) -> IdleKey:
    """Longest idle first (never idle: last); ties by id so the choice is deterministic."""
    since = agent.idle_since
    return (since is None, since or NEVER, agent.agent_id)
