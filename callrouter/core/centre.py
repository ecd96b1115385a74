"""The contact centre's shared state: the one queue and the agents, as pure transitions.

Calls hand their caller to the centre (``Join``) and the centre decides who is
rung for whom. Every transition returns the new ``Centre`` and the commands for
the shell (ring an agent, cancel a ring, connect, overflow). Entries end in
exactly one way: connected to an agent, left (the caller hung up), or overflowed.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import cast

from callrouter.core import agents as ag
from callrouter.core.agents import Agent, AgentState, AgentStateError
from callrouter.core.centre_commands import (
    AgentChanged,
    CancelRing,
    CentreCommand,
    Connect,
    OverflowEntry,
    RingAgent,
)
from callrouter.core.evolve import evolve
from callrouter.core.queue import IdleKey, Pool, Queue, QueueEntry, idle_key
from callrouter.core.records import ANSWERED

# The commands a transition returns, read as ``centre``'s too (``cc.RingAgent``...).
__all__ = ["AgentChanged", "CancelRing", "CentreCommand", "Connect", "OverflowEntry", "RingAgent"]


class EntryEnd(StrEnum):
    CONNECTED = "connected"
    LEFT = "left"  # the caller hung up while waiting (abandoned)
    OVERFLOWED = "overflowed"


@dataclass(frozen=True)
class TopicRules:
    max_wait: timedelta | None = None
    # With no logged-in agent for the topic: wait anyway, or overflow at once.
    overflow_when_no_agents: bool = False


NO_TOPIC_RULES = TopicRules()  # a topic the config gives no rules: the defaults


@dataclass(frozen=True)
class Centre(Pool):
    queue: Queue
    agents: Mapping[str, Agent]
    topics: Mapping[str, TopicRules] = field(default_factory=dict)
    wrap_up: timedelta = timedelta(seconds=10)
    ended: Mapping[str, EntryEnd] = field(default_factory=dict)  # recent entry outcomes
    # Indexes of ``agents``, kept by ``_with_agent`` (the one way an agent changes; built
    # whole when a centre is made), so the hot paths read a few ids or one count rather
    # than every agent: the agents a caller may be offered to now (``Agent.available``),
    # the same in idle order (their ``queue.idle_key``s, sorted: the first able to serve
    # a caller is found without reading every free agent), and how many logged-in agents
    # can take each (topic, language).
    available: AbstractSet[str] = field(init=False, compare=False, repr=False)
    idle_order: list[IdleKey] = field(init=False, compare=False, repr=False)
    serving: Mapping[tuple[str, str], int] = field(init=False, compare=False, repr=False)
    # ``owning()``: the agents and their indexes, the queue and the outcomes are this centre's
    # own, changed where they are (no copy of them per change, which grows with them); the
    # centre it was made from, and every one before, must not be used again. A simulated
    # day's switchboard steps so (``board._Step``'s ``in_place``); a router never does.
    owned: bool = field(default=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        agents = self.agents.values()
        free = sorted(idle_key(a) for a in agents if a.available)
        object.__setattr__(self, "available", frozenset(key[-1] for key in free))
        object.__setattr__(self, "idle_order", free)
        object.__setattr__(self, "serving", _serving(agents))

    @classmethod
    def create(cls, agents: list[Agent], topics: Mapping[str, TopicRules], wrap_up: timedelta) -> Centre:
        return cls(Queue.empty(), {a.agent_id: a for a in agents}, topics, wrap_up)

    def owning(self) -> Centre:
        """This centre with agents and indexes of its own, changed in place from then on."""
        return self if self.owned else self._copied(owned=True)

    def disowned(self) -> Centre:
        """A copy of an owned centre that copies again at every change (a copying step's)."""
        return self._copied(owned=False)

    def _copied(self, owned: bool) -> Centre:
        queue = self.queue.owning() if owned else self.queue.disowned()
        copied = evolve(self, agents=dict(self.agents), queue=queue, ended=dict(self.ended), owned=owned)
        object.__setattr__(copied, "available", set(self.available) if owned else frozenset(self.available))
        object.__setattr__(copied, "idle_order", list(self.idle_order))
        object.__setattr__(copied, "serving", dict(self.serving))
        return copied

    # ``queue.Pool``: the agents free now, for ``Queue.assign``.
    def in_idle_order(self) -> Iterator[Agent]:
        agents = self.agents
        return (agents[key[-1]] for key in self.idle_order)

    def free(self, agent_id: str) -> Agent | None:
        return self.agents[agent_id] if agent_id in self.available else None

    def _with_agent(self, agent: Agent) -> Centre:
        agent_id, owned = agent.agent_id, self.owned
        was = self.agents.get(agent_id)
        agents = self.agents if owned else {**self.agents}
        cast(dict[str, Agent], agents)[agent_id] = agent
        available, order, serving = self.available, self.idle_order, self.serving
        was_available = agent_id in available
        now_available = agent.state is IDLE and agent.reachable  # ``Agent.available``
        if was_available or now_available:
            order = order if owned else list(order)
            if was_available:
                assert was is not None  # an available agent is one of the centre's
                del order[bisect.bisect_left(order, idle_key(was))]
            if now_available:
                bisect.insort(order, idle_key(agent))
        if now_available != was_available:
            if owned:
                changing = cast(set[str], available)
                if now_available:
                    changing.add(agent_id)
                else:
                    changing.discard(agent_id)
            else:
                available = available | {agent_id} if now_available else available - {agent_id}
        if was is None:
            serving = _serving(agents.values())
        elif (was.state is LOGGED_OUT) != (agent.state is LOGGED_OUT):  # logged in or out: +1 or -1
            counts, change = serving if owned else dict(serving), 1 if was.state is LOGGED_OUT else -1
            for pair in itertools.product(was.topics, was.languages):
                cast(dict[tuple[str, str], int], counts)[pair] = counts.get(pair, 0) + change
            serving = counts
        if owned:
            object.__setattr__(self, "serving", serving)  # the same, unless an agent was added
            return self
        return evolve(self, agents=agents, available=available, idle_order=order, serving=serving)

    def _end(self, entry_id: str, how: EntryEnd) -> Centre:
        queue, _ = self.queue.leave(entry_id)
        return self._queued(queue)._ended_as(entry_id, how)

    def _ended_as(self, entry_id: str, how: EntryEnd) -> Centre:
        """The centre with how a place ended (itself, for an owned one: changed in place)."""
        if self.owned:
            cast(dict[str, EntryEnd], self.ended)[entry_id] = how
            return self
        return evolve(self, ended={**self.ended, entry_id: how})

    def _queued(self, queue: Queue) -> Centre:
        """The centre with this queue (itself, for an owned one: changed in place)."""
        return self if queue is self.queue else evolve(self, queue=queue)


LOGGED_OUT, IDLE = AgentState.LOGGED_OUT, AgentState.IDLE


def _serving(agents: Iterable[Agent]) -> dict[tuple[str, str], int]:
    """Logged-in agents by each (topic, language) they can take."""
    counts: dict[tuple[str, str], int] = {}
    for agent in agents:
        if agent.state is not LOGGED_OUT:
            for pair in itertools.product(agent.topics, agent.languages):
                counts[pair] = counts.get(pair, 0) + 1
    return counts


Result = tuple[Centre, list[CentreCommand]]


def join(centre: Centre, entry: QueueEntry, now: datetime) -> Result:
    rules = centre.topics.get(entry.topic, NO_TOPIC_RULES)
    if rules.overflow_when_no_agents and not centre.serving.get((entry.topic, entry.language)):
        overflowed: list[CentreCommand] = [OverflowEntry(entry.entry_id, "no_agents", entry)]
        return centre._ended_as(entry.entry_id, EntryEnd.OVERFLOWED), overflowed
    centre = centre._queued(centre.queue.join(entry))
    return dispatch(centre, now)


def retake(centre: Centre, entry: QueueEntry, now: datetime) -> Result:
    """A queued entry is held by another call now (the same person called again),
    maybe at a higher priority."""
    centre = centre._queued(centre.queue.update(entry))
    return dispatch(centre, now)


def leave(centre: Centre, entry_id: str, now: datetime) -> Result:
    """The caller hung up while queued (or while their agent was being rung)."""
    entry = centre.queue.entries.get(entry_id)
    if entry is None:
        return centre, []
    commands: list[CentreCommand] = []
    if entry.offered_to is not None:
        agent = ag.offer_cancelled(centre.agents[entry.offered_to], now, entry_id)
        centre = centre._with_agent(agent)
        commands += [CancelRing(agent.agent_id, entry_id), AgentChanged(agent, "caller left")]
    centre = centre._end(entry_id, EntryEnd.LEFT)
    centre, more = dispatch(centre, now)
    return centre, commands + more


def agent_answered(centre: Centre, agent_id: str, entry_id: str, now: datetime) -> Result:
    entry = centre.queue.entries.get(entry_id)
    agent = centre.agents[agent_id]
    if entry is None or entry.offered_to != agent_id or agent.state is not AgentState.RINGING:
        # The caller left a moment before the agent picked up: release the agent.
        return centre, [CancelRing(agent_id, entry_id)]
    agent = ag.answered(agent, now, entry_id)
    centre = centre._with_agent(agent)._end(entry_id, EntryEnd.CONNECTED)
    return centre, [Connect(agent_id, entry_id, entry), AgentChanged(agent, ANSWERED)]


def agent_not_answered(centre: Centre, agent_id: str, entry_id: str, now: datetime, reason: str) -> Result:
    """No answer, busy, rejected or the originate failed: pause the agent, re-offer the caller."""
    return _ring_over(centre, agent_id, entry_id, now, reason, pause=True)


def offer_lost(centre: Centre, agent_id: str, entry_id: str, now: datetime, reason: str) -> Result:
    """The ring's end was lost with the router's own connection to Asterisk (not the
    agent's doing): the agent idle again, not paused, and the caller offered anew."""
    return _ring_over(centre, agent_id, entry_id, now, reason, pause=False)


def _ring_over(
    centre: Centre, agent_id: str, entry_id: str, now: datetime, reason: str, pause: bool
) -> Result:
    agent = centre.agents[agent_id]
    if agent.state is not AgentState.RINGING or agent.entry_id != entry_id:
        return centre, []
    if pause:
        agent = ag.not_answered(agent, now, entry_id, f"auto-pause: {reason}")
    else:
        agent = ag.offer_cancelled(agent, now, entry_id)
    centre = centre._with_agent(agent)
    entry = centre.queue.entries.get(entry_id)
    if entry is not None:
        centre = centre._queued(centre.queue.update(evolve(entry, offered_to=None)))
    centre, more = dispatch(centre, now)
    return centre, [AgentChanged(agent, reason), *more]


def dropped(centre: Centre, agent_id: str, entry: QueueEntry, now: datetime, reason: str) -> Result:
    """The agent's phone went as it answered: the agent is auto-paused and the caller's
    place is back in the queue as it was (its join time and priority: first in line,
    as a rule), offered to the next agent."""
    agent = centre.agents[agent_id]
    if agent.state is not AgentState.ON_CALL or agent.entry_id != entry.entry_id:
        return centre, []
    agent = ag.dropped(agent, now, entry.entry_id, f"auto-pause: {reason}")
    centre = forget_ended(centre._with_agent(agent), [entry.entry_id])
    centre = centre._queued(centre.queue.join(evolve(entry, offered_to=None)))
    centre, more = dispatch(centre, now)
    return centre, [AgentChanged(agent, reason), *more]


def call_ended(centre: Centre, agent_id: str, entry_id: str, now: datetime) -> Result:
    agent = centre.agents[agent_id]
    if agent.state is not AgentState.ON_CALL or agent.entry_id != entry_id:
        return centre, []
    agent = ag.call_ended(agent, now, entry_id, centre.wrap_up)
    centre = centre._with_agent(agent)
    centre, more = dispatch(centre, now)
    return centre, [AgentChanged(agent, "call ended"), *more]


def release(centre: Centre, agent_id: str, entry_id: str, now: datetime) -> Result:
    """The agent's call never happened (a callback's person did not answer): idle at
    once, no wrap-up, and offered the next caller."""
    agent = centre.agents[agent_id]
    if agent.state is not AgentState.ON_CALL or agent.entry_id != entry_id:
        return centre, []
    agent = ag.call_ended(agent, now, entry_id, timedelta(0))
    centre, more = dispatch(centre._with_agent(agent), now)
    return centre, [AgentChanged(agent, "released"), *more]


def agent_command(centre: Centre, agent_id: str, command: str, now: datetime, reason: str = "") -> Result:
    """login / logout / pause / resume, from the admin API or a feature code."""
    agent = centre.agents.get(agent_id)
    if agent is None:
        raise AgentStateError(f"no agent {agent_id}")
    if command == "login":
        agent = ag.login(agent, now)
    elif command == "logout":
        agent = ag.logout(agent, now)
    elif command == "pause":
        agent = ag.pause(agent, now, reason or "paused")
    elif command == "resume":
        agent = ag.resume(agent, now)
    else:
        raise AgentStateError(f"unknown agent command {command!r}")
    centre = centre._with_agent(agent)
    centre, more = dispatch(centre, now)
    return centre, [AgentChanged(agent, command), *more]


def set_reachable(centre: Centre, agent_id: str, reachable: bool, now: datetime) -> Result:
    agent = centre.agents.get(agent_id)
    if agent is None or agent.reachable == reachable:
        return centre, []
    agent = ag.set_reachable(agent, reachable)
    centre, more = dispatch(centre._with_agent(agent), now)
    return centre, [AgentChanged(agent, "reachable" if reachable else "unreachable"), *more]


def reprioritise(centre: Centre, entry_id: str, priority: int, now: datetime) -> Result:
    centre = centre._queued(centre.queue.reprioritise(entry_id, priority))
    return dispatch(centre, now)


def tick(centre: Centre, now: datetime) -> Result:
    """Time passes: wrap-ups end, waits past their topic's maximum overflow."""
    commands: list[CentreCommand] = []
    for agent in list(centre.agents.values()):
        after = ag.tick(agent, now)
        if after is not agent:
            centre = centre._with_agent(after)
            commands.append(AgentChanged(after, "wrap-up over"))
    for entry in centre.queue.ordered():
        due = max_wait_due(centre, entry)
        if due is not None and entry.offered_to is None and now >= due:
            centre = centre._end(entry.entry_id, EntryEnd.OVERFLOWED)
            commands.append(OverflowEntry(entry.entry_id, "max_wait", entry))
    centre, more = dispatch(centre, now)
    return centre, commands + more


def max_wait_due(centre: Centre, entry: QueueEntry) -> datetime | None:
    """When a waiting place overflows (None: never): joined + its topic's max_wait, or its grace's end."""
    max_wait, grace = centre.topics.get(entry.topic, NO_TOPIC_RULES).max_wait, entry.overflow_not_before
    due = None if max_wait is None else entry.joined_at + max_wait
    return max(due, grace) if due is not None and grace is not None else due


def wrap_up_over(centre: Centre, agent_id: str, now: datetime) -> Result:
    """This agent's wrap-up may be over (a deadline the switchboard set)."""
    agent = centre.agents.get(agent_id)
    if agent is None:
        return centre, []
    after = ag.tick(agent, now)
    if after is agent:
        return centre, []
    centre, more = dispatch(centre._with_agent(after), now)
    return centre, [AgentChanged(after, "wrap-up over"), *more]


def overflow(centre: Centre, entry_id: str, reason: str) -> Result:
    """A waiting caller leaves the queue for their topic's overflow (max wait)."""
    entry = centre.queue.entries.get(entry_id)
    if entry is None or entry.offered_to is not None:
        return centre, []
    return centre._end(entry_id, EntryEnd.OVERFLOWED), [OverflowEntry(entry_id, reason, entry)]


def dispatch(centre: Centre, now: datetime) -> Result:
    """Offer waiting callers to available agents, in queue order (each the one idle
    longest who can serve them, or the one who spoke to them last)."""
    commands: list[CentreCommand] = []
    if not centre.available or not centre.queue.entries:  # a busy moment, or a quiet one
        return centre, commands
    for entry, agent in centre.queue.assign(centre):
        agent = ag.offer(agent, now, entry.entry_id)
        centre = centre._with_agent(agent)
        centre = centre._queued(centre.queue.update(evolve(entry, offered_to=agent.agent_id)))
        commands += [RingAgent(agent.agent_id, entry.entry_id), AgentChanged(agent, "offered")]
    return centre, commands


def forget_ended(centre: Centre, entry_ids: Iterable[str]) -> Centre:
    """Drop outcomes the calls have read (keeps ``ended`` small)."""
    forget = set(entry_ids)
    if not forget & centre.ended.keys():
        return centre
    ended = cast(dict[str, EntryEnd], centre.ended) if centre.owned else dict(centre.ended)
    for entry_id in forget:
        ended.pop(entry_id, None)
    return centre if centre.owned else evolve(centre, ended=ended)
