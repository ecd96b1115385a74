"""The queue and agents together: examples of the failures other ACDs had, and
a stateful property test over random days."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from callrouter.core import centre as cc
from callrouter.core.agents import Agent, AgentState, AgentStateError
from callrouter.core.evolve import evolve
from callrouter.core.queue import QueueEntry

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def agent(agent_id: str, topics=("general",), languages=("ru",)) -> Agent:
    return Agent(agent_id, frozenset(topics), frozenset(languages))


def entry(entry_id: str, *, topic="general", language="ru", priority=0, at=T0, caller=None) -> QueueEntry:
    return QueueEntry(
        entry_id, topic, language, "clinic-central", priority, at, caller_key=caller, channel_id=entry_id
    )


def logged_in(*agents: Agent, wrap_up=timedelta(seconds=10), topics=None) -> cc.Centre:
    centre = cc.Centre.create(list(agents), topics or {}, wrap_up)
    for a in agents:
        centre, _ = cc.agent_command(centre, a.agent_id, "login", T0)
    return centre


def rings(commands) -> list[tuple[str, str]]:
    return [(c.agent_id, c.entry_id) for c in commands if isinstance(c, cc.RingAgent)]


def test_idle_longest_agent_takes_the_longest_waiting_caller():
    centre = cc.Centre.create([agent("a1"), agent("a2")], {}, timedelta(0))
    centre, _ = cc.agent_command(centre, "a2", "login", T0)
    centre, _ = cc.agent_command(centre, "a1", "login", T0 + timedelta(seconds=5))
    centre, _ = cc.agent_command(centre, "a1", "pause", T0 + timedelta(seconds=6))
    centre, _ = cc.agent_command(centre, "a2", "pause", T0 + timedelta(seconds=6))
    centre, _ = cc.join(centre, entry("e1", at=T0 + timedelta(seconds=10)), T0 + timedelta(seconds=10))
    centre, _ = cc.join(centre, entry("e2", at=T0 + timedelta(seconds=11)), T0 + timedelta(seconds=11))
    centre, _ = cc.agent_command(centre, "a1", "resume", T0 + timedelta(seconds=12))
    centre, out = cc.agent_command(centre, "a2", "resume", T0 + timedelta(seconds=13))
    # a1 became idle first and took e1 at once; a2 then takes e2.
    assert rings(out) == [("a2", "e2")]
    assert centre.agents["a1"].entry_id == "e1"


def test_ambulance_caller_overtakes_earlier_clinic_callers():
    centre = cc.Centre.create([agent("a1")], {}, timedelta(0))
    centre, _ = cc.join(centre, entry("clinic1", at=T0), T0)
    centre, _ = cc.join(centre, entry("clinic2", at=T0 + timedelta(seconds=1)), T0)
    centre, _ = cc.join(centre, entry("amb", priority=100, at=T0 + timedelta(seconds=30)), T0)
    centre, out = cc.agent_command(centre, "a1", "login", T0 + timedelta(seconds=31))
    assert rings(out) == [("a1", "amb")]


def test_priority_change_reorders_callers_already_waiting():
    centre = cc.Centre.create([agent("a1")], {}, timedelta(0))
    centre, _ = cc.join(centre, entry("first", at=T0), T0)
    centre, _ = cc.join(centre, entry("second", at=T0 + timedelta(seconds=1)), T0)
    centre, _ = cc.reprioritise(centre, "second", 50, T0 + timedelta(seconds=2))
    assert centre.queue.position("second") == 1
    centre, out = cc.agent_command(centre, "a1", "login", T0 + timedelta(seconds=3))
    assert rings(out) == [("a1", "second")]


def test_a_caller_no_idle_agent_can_serve_does_not_block_the_rest():
    centre = logged_in(agent("ru-only"))
    centre, out = cc.join(centre, entry("en-caller", language="en"), T0)
    assert rings(out) == []
    centre, out = cc.join(centre, entry("ru-caller", at=T0 + timedelta(seconds=1)), T0)
    assert rings(out) == [("ru-only", "ru-caller")]


def test_caller_hanging_up_while_agent_rings_cancels_the_offer_at_once():
    centre = logged_in(agent("a1"))
    centre, _ = cc.join(centre, entry("e1"), T0)
    centre, out = cc.leave(centre, "e1", T0 + timedelta(seconds=1))
    assert cc.CancelRing("a1", "e1") in out
    assert centre.agents["a1"].state is AgentState.IDLE
    assert centre.ended["e1"] is cc.EntryEnd.LEFT
    # The agent picking up a moment later is released, not connected.
    centre, out = cc.agent_answered(centre, "a1", "e1", T0 + timedelta(seconds=2))
    assert out == [cc.CancelRing("a1", "e1")]
    assert centre.agents["a1"].state is AgentState.IDLE


def test_no_answer_pauses_the_agent_and_rings_the_next():
    centre = logged_in(agent("a1"), agent("a2"))
    centre, out = cc.join(centre, entry("e1"), T0)
    first = rings(out)[0][0]
    other = "a2" if first == "a1" else "a1"
    # The other agent is busy with someone else meanwhile? No: it is idle and
    # takes over the caller at once.
    centre, out = cc.agent_not_answered(centre, first, "e1", T0 + timedelta(seconds=15), "no answer")
    assert centre.agents[first].state is AgentState.PAUSED
    assert "no answer" in (centre.agents[first].pause_reason or "")
    assert rings(out) == [(other, "e1")]


def test_failed_originate_never_leaves_agent_reserved():
    centre = logged_in(agent("a1"))
    centre, _ = cc.join(centre, entry("e1"), T0)
    centre, _ = cc.agent_not_answered(centre, "a1", "e1", T0, "originate failed")
    assert centre.agents["a1"].state is AgentState.PAUSED
    assert centre.queue.entries["e1"].offered_to is None


def test_wrap_up_does_not_end_early_and_busy_agents_are_never_rung():
    centre = logged_in(agent("a1"), wrap_up=timedelta(seconds=30))
    centre, _ = cc.join(centre, entry("e1"), T0)
    centre, _ = cc.agent_answered(centre, "a1", "e1", T0 + timedelta(seconds=2))
    centre, out = cc.join(centre, entry("e2", at=T0 + timedelta(seconds=3)), T0 + timedelta(seconds=3))
    assert rings(out) == [], "an agent on a call is never rung"
    centre, out = cc.call_ended(centre, "a1", "e1", T0 + timedelta(seconds=60))
    assert rings(out) == [] and centre.agents["a1"].state is AgentState.WRAP_UP
    centre, out = cc.tick(centre, T0 + timedelta(seconds=89))
    assert rings(out) == [], "wrap-up is not over before 30 s"
    centre, out = cc.tick(centre, T0 + timedelta(seconds=90))
    assert rings(out) == [("a1", "e2")]


def test_no_agent_for_the_topic_can_overflow_at_once():
    rules = {"infection": cc.TopicRules(overflow_when_no_agents=True)}
    centre = logged_in(agent("a1", topics=("general",)), topics=rules)
    centre, out = cc.join(centre, entry("e1", topic="infection"), T0)
    assert out == [cc.OverflowEntry("e1", "no_agents")]
    assert "e1" not in centre.queue and centre.ended["e1"] is cc.EntryEnd.OVERFLOWED


def test_max_wait_overflows():
    rules = {"general": cc.TopicRules(max_wait=timedelta(minutes=2))}
    centre = cc.Centre.create([agent("a1")], rules, timedelta(0))
    centre, _ = cc.join(centre, entry("e1"), T0)
    centre, out = cc.tick(centre, T0 + timedelta(seconds=119))
    assert out == []
    centre, out = cc.tick(centre, T0 + timedelta(seconds=120))
    assert out == [cc.OverflowEntry("e1", "max_wait")]


def test_max_wait_waits_out_a_dropped_places_grace_and_never_overflows_sooner():
    """A place given back after a dropped answer (``overflow_not_before``) overflows at
    the end of its grace, not at its join time plus the maximum; a grace ending before
    that changes nothing. Its join time, and so its order, stay as they were."""
    rules = {"general": cc.TopicRules(max_wait=timedelta(minutes=2))}
    centre = cc.Centre.create([agent("a1")], rules, timedelta(0))
    grace_end = T0 + timedelta(seconds=150)
    centre, _ = cc.join(centre, evolve(entry("dropped"), overflow_not_before=grace_end), T0)
    early = evolve(entry("early", at=T0 + timedelta(seconds=1)), overflow_not_before=T0)
    centre, _ = cc.join(centre, early, T0)
    centre, out = cc.tick(centre, T0 + timedelta(seconds=121))
    assert out == [cc.OverflowEntry("early", "max_wait")]
    assert centre.queue.ordered()[0].joined_at == T0
    centre, out = cc.tick(centre, grace_end - timedelta(seconds=1))
    assert out == []
    centre, out = cc.tick(centre, grace_end)
    assert out == [cc.OverflowEntry("dropped", "max_wait")]


def test_one_person_one_entry():
    centre = cc.Centre.create([], {}, timedelta(0))
    centre, _ = cc.join(centre, entry("e1", caller="+79161234567"), T0)
    with pytest.raises(ValueError, match="already holds a place"):
        cc.join(centre, entry("e2", caller="+79161234567"), T0)


def test_logout_refused_mid_call():
    centre = logged_in(agent("a1"))
    centre, _ = cc.join(centre, entry("e1"), T0)
    with pytest.raises(AgentStateError):
        cc.agent_command(centre, "a1", "logout", T0)


# ---- a random day ----------------------------------------------------------------
TOPICS = ("general", "results", "urgent")
LANGS = ("ru", "en")


class CentreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        agents = [
            Agent(f"a{i}", frozenset(TOPICS[: 1 + i % 3]), frozenset(LANGS[: 1 + i % 2])) for i in range(4)
        ]
        rules = {"results": cc.TopicRules(max_wait=timedelta(minutes=3))}
        self.centre = cc.Centre.create(agents, rules, timedelta(seconds=20))
        self.now = T0
        self.joined: set[str] = set()
        self.outcomes: dict[str, cc.EntryEnd] = {}
        self.n = 0

    def held(self, agent_id: str) -> str:
        entry_id = self.centre.agents[agent_id].entry_id
        assert entry_id is not None
        return entry_id

    def apply(self, result: cc.Result) -> None:
        self.centre, commands = result
        for entry_id, how in self.centre.ended.items():
            assert self.outcomes.setdefault(entry_id, how) == how, f"{entry_id} ended twice"
        self.commands = commands

    @rule(seconds=st.integers(0, 40))
    def time_passes(self, seconds):
        self.now += timedelta(seconds=seconds)
        self.apply(cc.tick(self.centre, self.now))

    @rule(
        topic=st.sampled_from(TOPICS), lang=st.sampled_from(LANGS), priority=st.sampled_from([0, 0, 5, 100])
    )
    def caller_joins(self, topic, lang, priority):
        self.n += 1
        entry_id = f"e{self.n}"
        self.joined.add(entry_id)
        self.apply(
            cc.join(
                self.centre,
                entry(entry_id, topic=topic, language=lang, priority=priority, at=self.now),
                self.now,
            )
        )

    @precondition(lambda self: len(self.centre.queue) > 0)
    @rule(data=st.data())
    def caller_leaves(self, data):
        entry_id = data.draw(st.sampled_from(sorted(self.centre.queue.entries)))
        self.apply(cc.leave(self.centre, entry_id, self.now))

    @precondition(lambda self: any(a.state is AgentState.RINGING for a in self.centre.agents.values()))
    @rule(data=st.data(), answer=st.booleans())
    def ringing_agent_reacts(self, data, answer):
        ringing = sorted(a.agent_id for a in self.centre.agents.values() if a.state is AgentState.RINGING)
        agent_id = data.draw(st.sampled_from(ringing))
        entry_id = self.held(agent_id)
        if answer:
            self.apply(cc.agent_answered(self.centre, agent_id, entry_id, self.now))
        else:
            self.apply(cc.agent_not_answered(self.centre, agent_id, entry_id, self.now, "no answer"))

    @precondition(lambda self: any(a.state is AgentState.ON_CALL for a in self.centre.agents.values()))
    @rule(data=st.data())
    def call_ends(self, data):
        talking = sorted(a.agent_id for a in self.centre.agents.values() if a.state is AgentState.ON_CALL)
        agent_id = data.draw(st.sampled_from(talking))
        self.apply(cc.call_ended(self.centre, agent_id, self.held(agent_id), self.now))

    @rule(
        agent_id=st.sampled_from([f"a{i}" for i in range(4)]),
        command=st.sampled_from(["login", "logout", "pause", "resume"]),
    )
    def agent_does(self, agent_id, command):
        # A refused transition raises and leaves the state untouched.
        with contextlib.suppress(AgentStateError):
            self.apply(cc.agent_command(self.centre, agent_id, command, self.now, "break"))

    @invariant()
    def no_entry_lost_or_duplicated(self):
        queued = set(self.centre.queue.entries)
        ended = set(self.centre.ended)
        assert not queued & ended
        assert queued | ended == self.joined

    @invariant()
    def no_agent_has_two_calls(self):
        held = [a.entry_id for a in self.centre.agents.values() if a.entry_id is not None]
        assert len(held) == len(set(held))
        for a in self.centre.agents.values():
            if a.state is AgentState.RINGING:
                assert self.centre.queue.entries[self.held(a.agent_id)].offered_to == a.agent_id
            if a.state in (AgentState.IDLE, AgentState.PAUSED, AgentState.LOGGED_OUT, AgentState.WRAP_UP):
                assert a.entry_id is None
        for e in self.centre.queue.entries.values():
            if e.offered_to is not None:
                assert self.centre.agents[e.offered_to].entry_id == e.entry_id

    @invariant()
    def the_indexes_are_those_reading_every_agent_gives(self):
        agents = self.centre.agents.values()
        assert self.centre.available == {a.agent_id for a in agents if a.available}
        for topic in TOPICS:
            for lang in LANGS:
                logged = sum(
                    1 for a in agents if a.state is not AgentState.LOGGED_OUT and a.can_serve(topic, lang)
                )
                assert self.centre.serving.get((topic, lang), 0) == logged

    @invariant()
    def nobody_waits_while_an_eligible_agent_is_free(self):
        waiting = [e for e in self.centre.queue.ordered() if e.offered_to is None]
        for a in self.centre.agents.values():
            if a.available:
                assert not any(a.can_serve(e.topic, e.language) for e in waiting)

    @invariant()
    def offers_follow_queue_order(self):
        # Each agent rung in the last step took the first waiting entry they can serve.
        waiting = [e for e in self.centre.queue.ordered() if e.offered_to is None]
        for command in getattr(self, "commands", []):
            if not isinstance(command, cc.RingAgent):
                continue
            offered = self.centre.queue.entries[command.entry_id]
            a = self.centre.agents[command.agent_id]
            for w in waiting:
                if a.can_serve(w.topic, w.language):
                    assert offered.order < w.order, f"{offered.entry_id} rung ahead of {w.entry_id}"


TestCentreMachine = CentreMachine.TestCase
TestCentreMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


@given(
    st.lists(
        st.tuples(
            st.one_of(st.just(AgentState.IDLE), st.sampled_from(list(AgentState))),
            st.one_of(st.just(True), st.booleans()),  # reachable
            st.sets(st.sampled_from(["general", "urgent"]), min_size=1),
            st.sets(st.sampled_from(["ru", "en"]), min_size=1),
            st.one_of(st.none(), st.integers(0, 5)),  # idle since, s after T0 (ties happen)
        ),
        max_size=12,
    ),
    st.sampled_from(["general", "urgent"]),
    st.sampled_from(["ru", "en"]),
)
@settings(max_examples=400)
def test_one_waiting_caller_gets_the_same_agent_as_the_general_rule(agents, topic, language):
    """The one-pass choice for a single waiting caller is the general rule:
    the eligible available agent idle longest, ties by id."""
    from callrouter.core.queue import Queue

    pool = [
        Agent(
            f"a{n}",
            frozenset(topics),
            frozenset(langs),
            state,
            reachable=reachable,
            idle_since=None if idle is None else T0 + timedelta(seconds=idle),
        )
        for n, (state, reachable, topics, langs, idle) in enumerate(agents)
    ]
    queue = Queue.empty().join(entry("e1", topic=topic, language=language))
    eligible = [a for a in pool if a.available and a.can_serve(topic, language)]
    never = T0 + timedelta(days=1)  # no idle time: last in line
    expected = min(eligible, key=lambda a: (a.idle_since or never, a.agent_id)) if eligible else None
    pairs = queue.assign(pool)
    assert [agent.agent_id for _, agent in pairs] == ([expected.agent_id] if expected else [])
