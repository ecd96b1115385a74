"""A centre's agents are indexed (who is free, in idle order; who serves what), and
a simulated day changes them, its queue and its outcomes in place (``Centre.owning``)
rather than copying them for every change. On random agents and random runs of the
centre's transitions: the owned centre ends exactly where the copied one does, each
step's commands are the same (a place connected or overflowed comes with itself as
it was), a copied centre is never changed, and the indexes are those built from
scratch; matching by the idle order finds the pairs the rules before the index
found by reading every agent."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from callrouter.core import centre as cc
from callrouter.core.agents import Agent, AgentState, AgentStateError
from callrouter.core.evolve import evolve
from callrouter.core.queue import Queue, QueueEntry
from tests.unit.test_queue_index import LANGS, T0, TOPICS, agents, queues

OPERATIONS = (
    "login", "logout", "pause", "resume", "join", "leave", "answer", "no_answer", "drop", "end",
    "wrap_up_over", "unreachable", "reachable", "overflow", "tick", "retake", "reprioritise",
)  # fmt: skip
# A wait that overflows after 30 s (``tick``), and one that overflows at once with nobody logged in.
RULES = {
    "general": cc.TopicRules(max_wait=timedelta(seconds=30)),
    "results": cc.TopicRules(overflow_when_no_agents=True),
}
steps = st.lists(
    st.tuples(st.sampled_from(OPERATIONS), st.integers(0, 30), st.integers(0, 9), st.integers(0, 20)),
    max_size=40,
)


def apply(centre: cc.Centre, op: str, agent_id: str, n: int, at: int) -> cc.Result:
    now = T0 + timedelta(seconds=at)
    entry_id = f"e{n}"
    entry = centre.queue.entries.get(entry_id)
    offered = entry.offered_to if entry is not None else None
    agent = centre.agents.get(agent_id)
    on_call = agent.entry_id if agent is not None and agent.entry_id else entry_id
    match op:
        case "login" | "logout" | "pause" | "resume":
            return cc.agent_command(centre, agent_id, op, now)
        case "join":
            topic, language = TOPICS[n % len(TOPICS)], LANGS[n % len(LANGS)]
            place = QueueEntry(entry_id, topic, language, "clinic-central", n % 3, now, f"p{n}")
            if entry_id in centre.queue:
                return centre, []
            return cc.join(centre, evolve(place, preferred_agent=f"a{at}"), now)
        case "leave":
            return cc.leave(centre, entry_id, now)
        case "answer" if offered is not None:
            return cc.agent_answered(centre, offered, entry_id, now)
        case "no_answer" if offered is not None:
            return cc.agent_not_answered(centre, offered, entry_id, now, "no answer")
        case "drop" if agent is not None and agent.entry_id:
            place = QueueEntry(on_call, "general", "ru", "clinic-central", 0, T0, None)
            return cc.dropped(centre, agent_id, place, now, "dropped")
        case "end":
            return cc.call_ended(centre, agent_id, on_call, now)
        case "wrap_up_over":
            return cc.wrap_up_over(centre, agent_id, now)
        case "unreachable" | "reachable":
            return cc.set_reachable(centre, agent_id, op == "reachable", now)
        case "overflow" | "tick" | "retake" | "reprioritise":
            return _queue_op(centre, op, entry, at)
    return centre, []


def _queue_op(centre: cc.Centre, op: str, entry: QueueEntry | None, at: int) -> cc.Result:
    now = T0 + timedelta(seconds=at)
    match op:
        case "overflow" if entry is not None:
            return cc.overflow(centre, entry.entry_id, "max_wait")
        case "tick":
            return cc.tick(centre, now)
        case "retake" if entry is not None:
            return cc.retake(centre, evolve(entry, priority=entry.priority + 1, caller_key=f"q{at}"), now)
        case "reprioritise" if entry is not None:
            return cc.reprioritise(centre, entry.entry_id, at % 4, now)
    return centre, []


def indexes(centre: cc.Centre) -> tuple[object, ...]:
    counted = {pair: n for pair, n in centre.serving.items() if n}  # a count down to 0 may stay
    return (set(centre.available), list(centre.idle_order), counted)


@settings(max_examples=300)
@given(agents(), steps)
def test_an_owned_centre_changes_exactly_as_a_copied_one(pool: list[Agent], run: list[tuple]) -> None:  # type: ignore[type-arg]
    copied = cc.Centre(Queue.empty(), {a.agent_id: a for a in pool}, RULES)
    owned = copied.owning()
    for op, agent_n, n, at in run:
        agent_id = f"a{agent_n}"
        if agent_id not in copied.agents:
            continue
        kept, before = copied, dict(copied.agents)
        was, ended = dict(copied.queue.entries), dict(copied.ended)
        try:
            copied, said = apply(copied, op, agent_id, n, at)
        except AgentStateError:
            try:
                apply(owned, op, agent_id, n, at)
            except AgentStateError:
                continue
            raise AssertionError(f"{op} refused by the copied centre only") from None
        owned, told = apply(owned, op, agent_id, n, at)
        assert told == said, op
        assert owned.owned and dict(owned.agents) == dict(copied.agents) and owned.queue == copied.queue
        assert owned.queue.owned and dict(owned.ended) == dict(copied.ended)
        assert indexes(owned) == indexes(copied)
        rebuilt = cc.Centre(copied.queue, dict(copied.agents))
        assert indexes(copied) == indexes(rebuilt), "the indexes are those built from scratch"
        assert dict(kept.agents) == before, "a copied centre is never changed"
        assert dict(kept.queue.entries) == was and dict(kept.ended) == ended
        for command in (c for c in told if isinstance(c, cc.Connect | cc.OverflowEntry)):
            assert command.entry is not None and command.entry.entry_id == command.entry_id
            if command.entry_id in was:  # not one that overflowed as it joined
                assert command.entry == was[command.entry_id], "as it was"
        for key, entry_id in (owned.queue.callers or {}).items():
            assert owned.queue.entries[entry_id].caller_key == key, "the owned queue's index holds"
        assert {e.caller_key for e in owned.queue.entries.values() if e.caller_key} == set(
            owned.queue._callers()
        )


def reference(queue: Queue, everyone: list[Agent]) -> list[tuple[QueueEntry, Agent]]:
    """The rules as they were before the idle order: every agent read, the minimum taken."""
    free = [a for a in everyone if a.available]
    never = T0 + timedelta(days=365)
    pairs = []
    for entry in sorted((e for e in queue.entries.values() if e.offered_to is None), key=lambda e: e.order):
        eligible = [a for a in free if a.can_serve(entry.topic, entry.language)]
        if eligible:
            preferred = [a for a in eligible if a.agent_id == entry.preferred_agent]
            agent = (
                preferred[0]
                if preferred
                else min(eligible, key=lambda a: (a.idle_since or never, a.agent_id))
            )
            pairs.append((entry, agent))
            free.remove(agent)
    return pairs


@st.composite
def mostly_free(draw: st.DrawFn) -> list[Agent]:
    """Agents most of whom are free (``agents()`` seldom draws two), with ties in idle time."""
    return [
        a if draw(st.integers(0, 4)) == 0 else evolve(a, state=AgentState.IDLE, reachable=True)
        for a in draw(agents())
    ]


@settings(max_examples=300)
@given(mostly_free(), queues())
def test_matching_in_idle_order_pairs_as_reading_every_agent(everyone: list[Agent], queue: Queue) -> None:
    centre = cc.Centre(queue, {a.agent_id: a for a in everyone})
    expected = reference(queue, everyone)
    assert queue.assign(centre) == expected, "the centre's index"
    assert queue.assign(centre.owning()) == expected
    assert queue.assign(everyone) == expected, "any agents, sorted on the way"


def test_a_board_stepped_in_place_then_by_copying_is_never_changed_by_the_copying_step() -> None:
    """The centre an in-place step took over stays owned; a copying step on that board
    later (as a test may do) works on a copy and leaves the board it was given as it was."""
    from callrouter.core import switchboard as sb
    from tests.unit.test_switchboard import at, fresh

    stepped, _ = sb.step(fresh("agent1"), sb.AgentCommand("agent2", "login"), at(1), in_place=True)
    assert stepped.centre.owned
    before = dict(stepped.centre.agents)
    after, _ = sb.step(stepped, sb.AgentCommand("agent1", "pause", "lunch"), at(2))
    assert dict(stepped.centre.agents) == before and stepped.centre.agents["agent1"].state.value == "idle"
    assert after.centre.agents["agent1"].state.value == "paused" and not after.centre.owned
    assert "agent1" in stepped.centre.available and "agent1" not in after.centre.available


def test_an_owned_centre_overflows_a_place_as_it_joins_as_a_copied_one_does() -> None:
    """Its topic overflows at once with nobody logged in to take it: the outcome is kept,
    the queue untouched, the command carries the place; the copied centre is not changed."""
    nobody = Agent("a1", frozenset(TOPICS), frozenset(LANGS))  # logged out
    copied = cc.Centre(Queue.empty(), {"a1": nobody}, RULES)
    owned = copied.owning()
    place = QueueEntry("e1", "results", "ru", "clinic-central", 0, T0, "p1")
    after, said = cc.join(copied, place, T0)
    owned_after, told = cc.join(owned, place, T0)
    assert said == told == [cc.OverflowEntry("e1", "no_agents")]
    assert told[0].entry == place  # type: ignore[union-attr]
    assert owned_after is owned and dict(owned.ended) == dict(after.ended) == {"e1": cc.EntryEnd.OVERFLOWED}
    assert not owned.queue.entries and dict(copied.ended) == {}
