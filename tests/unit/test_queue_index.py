"""Matching reads only the agents the centre's index holds as available, in
whatever order it holds them, and a position is counted rather than sorted:
on random queues and agents, the pairs and the positions are exactly those of
reading every agent and sorting every place (the rules before the indexes)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from callrouter.core import centre as cc
from callrouter.core.agents import Agent, AgentState
from callrouter.core.queue import Queue, QueueEntry, pairs_in_order

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TOPICS = ("general", "results", "urgent")
LANGS = ("ru", "en")
seconds = st.integers(0, 5)  # few distinct times: ties in idle time and in joining


@st.composite
def agents(draw: st.DrawFn) -> list[Agent]:
    ids = draw(st.sets(st.integers(0, 30), max_size=12))
    return [
        Agent(
            f"a{n}",
            frozenset(draw(st.sets(st.sampled_from(TOPICS), min_size=1))),
            frozenset(draw(st.sets(st.sampled_from(LANGS), min_size=1))),
            draw(st.sampled_from(list(AgentState))),
            idle_since=draw(st.none() | seconds.map(lambda s: T0 + timedelta(seconds=s))),
            reachable=draw(st.booleans()),
        )
        for n in sorted(ids)
    ]


@st.composite
def queues(draw: st.DrawFn) -> Queue:
    """The entries in the mapping's order; ``seq`` drawn too (ties in order included)."""
    made = {}
    for n in range(draw(st.integers(0, 8))):
        made[f"e{n}"] = QueueEntry(
            f"e{n}",
            draw(st.sampled_from(TOPICS)),
            draw(st.sampled_from(LANGS)),
            "clinic-central",
            draw(st.sampled_from([0, 0, 5, 100])),
            T0 + timedelta(seconds=draw(seconds)),
            offered_to=draw(st.sampled_from([None, None, "someone"])),
            preferred_agent=draw(st.none() | st.integers(0, 30).map(lambda i: f"a{i}")),
            seq=draw(st.integers(0, 2)),
        )
    return Queue(made)


@given(agents(), queues(), st.randoms())
def test_matching_the_indexed_agents_pairs_as_reading_every_agent(
    everyone: list[Agent], queue: Queue, rnd: random.Random
) -> None:
    centre = cc.Centre(queue, {a.agent_id: a for a in everyone})
    assert centre.available == {a.agent_id for a in everyone if a.available}
    indexed = [centre.agents[agent_id] for agent_id in centre.available]
    rnd.shuffle(indexed)
    assert queue.assign(indexed) == queue.assign(everyone)


@given(queues())
def test_a_position_counted_is_the_one_sorting_gives(queue: Queue) -> None:
    waiting = [e.entry_id for e in queue.ordered() if e.offered_to is None]
    assert [queue.position(entry_id) for entry_id in waiting] == list(range(1, len(waiting) + 1))


@given(agents(), queues())
def test_one_free_agent_is_paired_as_sorting_every_place_pairs_it(
    everyone: list[Agent], queue: Queue
) -> None:
    """With one agent free, the first place it can serve is found without sorting."""
    for agent in everyone:
        if agent.available:
            waiting = sorted(
                (e for e in queue.entries.values() if e.offered_to is None), key=lambda e: e.order
            )
            assert queue.assign([agent]) == pairs_in_order(waiting, [agent])


@given(
    queues(),
    st.lists(st.tuples(st.sampled_from(["join", "leave", "update"]), st.integers(0, 9), st.integers(0, 3))),
)
def test_the_place_each_caller_holds_is_the_one_a_scan_finds(
    queue: Queue, changes: list[tuple[str, int, int]]
) -> None:
    """``by_caller`` reads an index kept through joins, leaves and updates (a place
    changing hands included): always the first entry of that caller in the mapping."""

    def scan(q: Queue, key: str) -> QueueEntry | None:
        return next((e for e in q.entries.values() if e.caller_key == key), None)

    keys = [f"+7900000000{k}" for k in range(4)]
    for n, entry in enumerate(list(queue.entries.values())):  # the drawn entries, some callers twice
        queue = queue.update(QueueEntry(**{**entry.__dict__, "caller_key": keys[n % 4] if n % 3 else None}))
    for change, n, k in changes:
        entry_id = f"x{n}"
        if change == "join":
            if entry_id in queue.entries or scan(queue, keys[k]) is not None:
                continue  # one place a caller: join refuses a second
            queue = queue.join(QueueEntry(entry_id, "general", "ru", "line", 0, T0, caller_key=keys[k]))
        elif change == "leave" and queue.entries:
            queue, _ = queue.leave(sorted(queue.entries)[n % len(queue.entries)])
        elif change == "update" and queue.entries:
            entry = queue.entries[sorted(queue.entries)[n % len(queue.entries)]]
            queue = queue.update(QueueEntry(**{**entry.__dict__, "caller_key": keys[k]}))
        for key in keys:
            assert queue.by_caller(key) == scan(queue, key)
