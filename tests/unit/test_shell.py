"""The shell (the Dispatcher, its channel executors, the record writer's side)
driven through the fake Asterisk: what Asterisk is asked, what the board holds,
what is recorded, for whole calls, a restart, the reconcile check, both ways of
holding, overload, failed commands, and random callers and agents."""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callrouter import config
from callrouter.app import build_dispatcher, build_metrics
from callrouter.ari.fake_asterisk import FakeAsterisk
from callrouter.core import switchboard as sb
from callrouter.core.agents import AgentState
from callrouter.core.records import CallRecord, Outcome, Record
from callrouter.store.writer import RecordWriter

EXAMPLE = Path(__file__).resolve().parents[2] / "callrouter.example.toml"
CLINIC = "+78162700101"  # clinic-central: greeting and menu, "0" for an operator
CLINIC_NORTH = "+78162700102"
AMBULANCE = "+78162700903"  # menu "skip": straight to the urgent topic

# Short timings, so deadlines fire in real (short) time.
FAST = {
    "wrap_up_seconds": "0.2",
    "ring_timeout_seconds": "1",
    "timeout_seconds": "5",  # the menu's silence
    "announce_every_seconds": "60",
    "shed_lag_seconds": "0",
}


def config_text(**values: str) -> str:
    """The example config with the given ``key = value`` lines replaced; the
    clinics always open (tests must not depend on the time of day)."""
    text = EXAMPLE.read_text().replace('hours = "clinics"', 'hours = "always"')
    for key, value in {**FAST, **values}.items():
        text, found = re.subn(rf"^{key} = \S+", f"{key} = {value}", text, flags=re.M)
        assert found == 1, key
    return text


class KeepStore:
    """A record store that keeps everything it is given."""

    def __init__(self) -> None:
        self.records: list[Record] = []

    async def write(self, records: Sequence[Record]) -> list[tuple[Record, str]]:
        self.records.extend(records)
        return []


class Router:
    """A Dispatcher on the fake Asterisk, with a record writer keeping what it writes."""

    def __init__(self, fake: FakeAsterisk, spool: Path, **values: str) -> None:
        settings_ = config.parse(config_text(**values), str(EXAMPLE), environ={})
        metrics = build_metrics(line.name for line in settings_.lines)
        self.fake = fake
        self.store = KeepStore()
        self.writer = RecordWriter(self.store, spool, metrics, max_wait=0.01)
        self.ahead = timedelta(0)  # the router's clock runs this far ahead of the real one
        clock = lambda: datetime.now(UTC) + self.ahead  # noqa: E731
        self.dispatcher = build_dispatcher(settings_, fake, self.writer, metrics, clock)
        self.writing: asyncio.Task[None] | None = None
        fake.connect(self.dispatcher.handle)

    async def start(self, *agents: str) -> None:
        """Connected (as after a start), the given agents logged in."""
        self.writing = asyncio.create_task(self.writer.run())
        await self.dispatcher.on_connect()
        for agent in agents:
            self.login(agent)

    def login(self, agent: str) -> None:
        self.dispatcher.step(sb.AgentCommand(agent, "login"))

    @property
    def board(self) -> sb.Board:
        return self.dispatcher.board

    def agent(self, agent_id: str) -> AgentState:
        return self.board.centre.agents[agent_id].state

    async def close(self) -> None:
        """Every record written (to the keeping store)."""
        assert self.writing is not None
        await self.writer.close(self.writing)

    def calls(self) -> dict[str, CallRecord]:
        """The last snapshot of each call written, by channel."""
        last: dict[str, CallRecord] = {}
        for record in self.store.records:
            if isinstance(record, CallRecord):
                last[record.channel_id] = record
        return last

    def final(self, channel_id: str) -> CallRecord:
        """The one final snapshot of a call (with its outcome and its end)."""
        finals = [
            r
            for r in self.store.records
            if isinstance(r, CallRecord) and r.channel_id == channel_id and r.ended_at is not None
        ]
        assert len(finals) == 1, finals
        return finals[0]


def played(fake: FakeAsterisk, channel_id: str) -> list[str]:
    """Every sound played to a channel, in order (the prompt names)."""
    return [m.rsplit("/", 1)[-1] for args in fake.called("play") if args[0] == channel_id for m in args[1]]


def ringing(fake: FakeAsterisk) -> list[str]:
    """The application args of every originate."""
    return [args[3] for args in fake.called("originate")]


def about(fake: FakeAsterisk, channel_id: str) -> list[str]:
    """The REST methods called about one channel (as its subject or a member)."""
    return [
        name
        for name, args in fake.calls
        if args[0] == channel_id or (name == "add_to_bridge" and channel_id in args[1])
    ]


# ---- 1. a whole call ------------------------------------------------------------------
async def test_a_whole_call_from_arrival_to_the_agents_wrap_up(tmp_path: Path) -> None:
    fake = FakeAsterisk()
    fake.agent("agent1", answer_after=0.05)
    router = Router(fake, tmp_path)
    await router.start("agent1")
    fake.call("c1", CLINIC)
    await fake.settle()
    assert played(fake, "c1")[:2] == ["greeting-clinic-central", "menu_main"]
    assert fake.called("answer") == [], "answered in the dialplan: no REST answer"

    fake.press("c1", "0")
    await fake.settle()
    call = router.board.calls["c1"]
    assert call.entry_id is not None and call.record.topic == "operator"
    entry_id = call.entry_id
    assert ringing(fake) == [f"agent,{entry_id},agent1"]
    assert router.agent("agent1") is AgentState.RINGING

    await fake.settle(0.1)  # the agent answers
    (leg,) = router.board.legs
    ((bridge_id, members),) = fake.bridges.items()
    assert members == {"c1", leg}, "caller and agent in one bridge"
    assert bridge_id not in (call.record.call_id, "c1")
    assert router.agent("agent1") is AgentState.ON_CALL

    fake.hang_up("c1")
    await fake.settle()
    assert leg in fake.hung_up and leg not in fake.channels, "the agent's phone is hung up"
    assert fake.bridges == {}, "the call's bridge is destroyed"
    assert router.agent("agent1") is AgentState.WRAP_UP
    assert router.board.calls == {} and router.board.legs == {}
    await fake.settle(0.3)  # the wrap-up deadline fires by itself
    assert router.agent("agent1") is AgentState.IDLE
    assert router.dispatcher.executors == {}, "the executor is forgotten"
    await router.close()
    record = router.final("c1")
    assert record.outcome is Outcome.ANSWERED and record.agent == "agent1"


# ---- 1b. what the agent's phone shows; a caller who asked for privacy ---------------
async def test_the_agents_phone_shows_the_callers_number_and_a_private_caller_as_anonymous(
    tmp_path: Path,
) -> None:
    fake = FakeAsterisk()
    fake.agent("agent1", answer_after=0.05)
    router = Router(fake, tmp_path)
    await router.start("agent1")
    callers = {"shown": ("8 916 123-45-67", "allowed_not_screened"), "private": ("+79167654321", "prohib")}
    legs = []
    for channel_id, (number, presentation) in callers.items():
        fake.call(channel_id, CLINIC, number=number, presentation=presentation)
        await fake.settle()
        fake.press(channel_id, "0")
        await fake.settle(0.1)  # the agent answers
        (leg,) = router.board.legs
        legs.append(fake.channels[leg].caller)
        fake.hang_up(channel_id)
        await fake.settle(0.3)  # and wraps up
    assert [args[5] for args in fake.called("originate")] == [
        '"clinic-central operator ru" <+79161234567>',
        '"clinic-central operator ru" <anonymous>',
    ]
    assert [caller.number for caller in legs] == ["+79161234567", "anonymous"]
    await router.close()
    assert router.final("shown").caller_number == "+79161234567"
    private = router.final("private")
    assert (private.caller_number, private.caller_presentation) == (None, "withheld")
    stored = [r for r in router.store.records if "7654321" in repr(r)]
    assert stored == [], "the asserted number is written nowhere"


async def test_a_restarted_router_keeps_a_private_caller_withheld(tmp_path: Path) -> None:
    """The presentation is read from the channel's Stasis() arguments on adoption."""
    fake = FakeAsterisk()
    first = Router(fake, tmp_path / "first")
    await first.start()
    fake.call("private", CLINIC, number="+79167654321", presentation="prohib_not_screened")
    await fake.settle()
    first.dispatcher.detach()
    second = Router(fake, tmp_path / "second")
    await second.start()
    await fake.settle()
    assert second.board.calls["private"].record.caller_presentation == "withheld"
    fake.hang_up("private")
    await fake.settle()
    await second.close()
    await first.close()
    assert second.final("private").caller_number is None
    assert not [r for r in (*first.store.records, *second.store.records) if "7654321" in repr(r)]


# ---- 2. a restart: the calls in Asterisk adopted --------------------------------------
async def test_a_restarted_router_adopts_the_calls_where_they_are(tmp_path: Path) -> None:
    fake = FakeAsterisk()
    fake.agent("agent1", answer_after=0.05)
    first = Router(fake, tmp_path / "first")
    await first.start("agent1")
    fake.call("talking", CLINIC)
    await fake.settle()
    fake.press("talking", "0")
    await fake.settle(0.1)
    assert first.agent("agent1") is AgentState.ON_CALL
    for caller in ("w1", "w2", "w3"):  # nobody else logged in: they wait
        fake.call(caller, CLINIC)
        await fake.settle()
        fake.press(caller, "0")
        await fake.settle()
    fake.call("menu", CLINIC)  # still in the menu's top level
    await fake.settle()
    order = [e.entry_id for e in first.board.centre.queue.ordered()]
    places = {c: first.board.calls[c].entry_id for c in ("w1", "w2", "w3")}
    assert order == [places["w1"], places["w2"], places["w3"]]
    (talking_leg,) = first.board.legs
    bridges = dict(fake.bridges)

    first.dispatcher.detach()  # the router stops; nobody hears Asterisk for a while
    fake.connect(lambda event: None)
    fake.agent("agent2", answer_after=0.01)  # answered while no router ran
    await fake.originate("agent-stray-1", "PJSIP/agent2", "callrouter", "agent,gone-1,agent2", 5, "x")
    fake.agent("agent3", answer_after=0.3)  # still ringing at the restart
    await fake.originate("agent-stray-2", "PJSIP/agent3", "callrouter", "agent,gone-2,agent3", 5, "x")
    await fake.settle(0.05)
    mark = len(fake.calls)

    second = Router(fake, tmp_path / "second")
    await second.start()
    await fake.settle(0.4)
    after = list(fake.calls)[mark:]
    board = second.board
    assert set(board.calls) == {"talking", "w1", "w2", "w3", "menu"}
    assert [e.entry_id for e in board.centre.queue.ordered()] == order, "same order, same place ids"
    assert {c: board.calls[c].entry_id for c in places} == places
    for caller in ("w1", "w2", "w3"):
        heard = [m for name, args in after if name == "play" and args[0] == caller for m in args[1]]
        assert not any("greeting" in m or "menu_main" in m for m in heard), (caller, heard)
    touched = {name for name, args in after if args[0] == "talking" or talking_leg in args}
    touched |= {name for name, args in after if name == "add_to_bridge" and "talking" in args[1]}
    assert touched <= {"get_channel", "get_variable"}, "the bridged call is left as it is"
    assert fake.bridges == bridges and board.legs.keys() == {talking_leg}
    assert second.agent("agent1") is AgentState.ON_CALL
    assert {"agent-stray-1", "agent-stray-2"} <= set(fake.hung_up), "no call waits on them"
    assert "agent-stray-1" not in fake.channels and "agent-stray-2" not in fake.channels
    heard = [
        m.rsplit("/", 1)[-1] for name, args in after if name == "play" and args[0] == "menu" for m in args[1]
    ]
    assert heard[:2] == ["greeting-clinic-central", "menu_main"], "the menu's top level starts afresh"
    # The first router's menu on that channel is stopped before the second's plays, whose ids
    # are clear of it: left going, it played on, the new prompts queued behind it (live: 20 s).
    before = list(fake.calls)[:mark]
    (old,) = [args[2] for name, args in before if name == "play" and args[0] == "menu"]
    stopped = [i for i, (name, args) in enumerate(after) if name == "stop_playback" and args[0] == old]
    played = [(i, args[2]) for i, (name, args) in enumerate(after) if name == "play" and args[0] == "menu"]
    assert stopped and stopped[0] < played[0][0], (stopped, played)
    assert old not in {playback for _, playback in played}

    for caller in ("talking", "w1", "w2", "w3", "menu"):
        fake.hang_up(caller)
    await fake.settle()
    assert talking_leg in fake.hung_up and fake.channels == {} and fake.bridges == {}
    assert second.board.calls == {} and second.board.legs == {} and second.dispatcher.executors == {}
    await second.close()
    assert second.final("talking").outcome is Outcome.ANSWERED
    await first.close()


# ---- 3. the reconcile check --------------------------------------------------------------
async def test_a_caller_who_vanished_is_cleared_at_the_check(tmp_path: Path) -> None:
    fake = FakeAsterisk()
    router = Router(fake, tmp_path)
    await router.start()
    fake.call("c1", CLINIC)
    await fake.settle()
    fake.vanish("c1")
    await fake.settle()
    assert "c1" in router.board.calls, "Asterisk said nothing"
    await router.dispatcher.reconcile(adopt=False)
    await fake.settle()
    assert router.board.calls == {} and router.dispatcher.executors == {}
    await router.close()
    assert router.final("c1").outcome is not None


async def test_an_agents_phone_that_vanished_makes_its_caller_hear_the_end(tmp_path: Path) -> None:
    fake = FakeAsterisk()
    fake.agent("agent1", answer_after=0.01)
    router = Router(fake, tmp_path)
    await router.start("agent1")
    fake.call("c1", CLINIC)
    await fake.settle()
    fake.press("c1", "0")
    await fake.settle(0.05)
    (leg,) = router.board.legs
    fake.vanish(leg)
    router.ahead = timedelta(seconds=30)  # found at a later check (gone at the answer: back in the queue)
    await router.dispatcher.reconcile(adopt=False)
    await fake.settle()
    assert "c1" in fake.hung_up, "not left in a bridge with nobody"
    assert router.board.calls == {} and router.board.legs == {} and fake.bridges == {}
    assert router.agent("agent1") is AgentState.WRAP_UP
    await router.close()
    record = router.final("c1")
    assert (record.outcome, record.end_reason) == (Outcome.ANSWERED, "agent hung up")


async def test_an_agents_phone_whose_hangup_failed_is_hung_up_at_the_check(tmp_path: Path) -> None:
    fake = FakeAsterisk()
    fake.agent("agent1", answer_after=0.01)
    router = Router(fake, tmp_path)
    await router.start("agent1")
    fake.call("c1", CLINIC)
    await fake.settle()
    fake.press("c1", "0")
    await fake.settle(0.05)
    (leg,) = router.board.legs
    fake.fail("hangup")
    fake.hang_up("c1")
    await fake.settle()
    assert leg in fake.channels and router.board.legs[leg].ending, "kept for the check"
    assert router.agent("agent1") is AgentState.ON_CALL, "not offered a call while still on the old one"
    await router.dispatcher.reconcile(adopt=False)
    await fake.settle()
    assert leg in fake.hung_up and leg not in fake.channels
    assert router.board.legs == {} and router.agent("agent1") is AgentState.WRAP_UP
    await router.close()


async def test_a_caller_whose_hangup_failed_is_hung_up_at_the_check(tmp_path: Path) -> None:
    fake = FakeAsterisk()
    router = Router(fake, tmp_path)
    await router.start()
    fake.fail("play", 500)  # the call ends as failed...
    fake.fail("hangup", 500)  # ...and hanging it up fails once
    fake.call("c1", CLINIC)
    await fake.settle()
    assert fake.called("hangup") == [("c1", "normal")] and "c1" in fake.channels
    await router.dispatcher.reconcile(adopt=False)
    await fake.settle()
    assert "c1" in fake.channels, "one check is not enough: a hangup may still be on its way"
    await router.dispatcher.reconcile(adopt=False)  # still there at the next check: hung up again
    await fake.settle()
    await router.close()
    assert "c1" not in fake.channels and router.board.calls == {}, "left in silence until they hang up"


# ---- 4. holding ---------------------------------------------------------------------------
async def test_waiting_in_the_holding_bridge(tmp_path: Path) -> None:
    fake = FakeAsterisk()
    router = Router(fake, tmp_path, hold='"bridge"', announce_every_seconds="0.1")
    await router.start()
    (hold,) = router.dispatcher.hold_bridge_ids
    assert hold in fake.bridges and fake.called("start_bridge_moh") == [(hold,)]
    fake.call("c1", CLINIC)
    await fake.settle()
    fake.press("c1", "0")
    await fake.settle(0.35)
    assert fake.called("add_to_bridge") == [(hold, ("c1",))], "added once"
    assert fake.bridges[hold] == {"c1"}
    assert played(fake, "c1").count("queue_position") >= 3, "announcements play over the music"
    assert fake.called("start_moh") == [] and fake.called("stop_moh") == []
    fake.hang_up("c1")
    await fake.settle()
    assert fake.bridges == {hold: set()} and router.board.calls == {}
    await router.close()
    assert router.final("c1").outcome is Outcome.SHORT_ABANDON


async def test_waiting_with_music_on_the_channel(tmp_path: Path) -> None:
    fake = FakeAsterisk()
    router = Router(fake, tmp_path, hold='"channel"')
    await router.start()
    assert router.dispatcher.hold_bridge_ids == [] and fake.bridges == {}
    fake.call("c1", CLINIC)
    await fake.settle()
    fake.press("c1", "0")
    await fake.settle()
    assert fake.called("start_moh") == [("c1",)]
    assert fake.called("add_to_bridge") == []
    fake.hang_up("c1")
    await fake.settle()
    assert router.board.calls == {} and router.dispatcher.executors == {}
    await router.close()


# ---- 5. overload ---------------------------------------------------------------------------
def busy_routes(fake: FakeAsterisk) -> dict[str, tuple[str, str]]:
    return {args[0]: (args[1], args[2]) for args in fake.called("continue_in_dialplan")}


@pytest.mark.parametrize("behind", ["late events", "slow replies"])
async def test_overload_sends_new_callers_back(tmp_path: Path, behind: str) -> None:
    fake = FakeAsterisk()
    if behind == "late events":
        fake.event_seconds = 0.1
    else:
        fake.round_trip = 0.2
    router = Router(fake, tmp_path, shed_lag_seconds="0.05")
    await router.start()
    fake.call("first", CLINIC)  # taken: two periods over the target before limiting
    await fake.settle(0.6)
    fake.call("second", CLINIC, number="+79160000003")
    await fake.settle(0.6)
    assert "first" in router.board.calls and "second" in router.board.calls
    fake.call("clinic", CLINIC_NORTH)
    fake.call("ambulance", AMBULANCE, number="+79160000002")
    await fake.settle(0.4)
    assert busy_routes(fake) == {
        "clinic": ("callrouter-busy", "ru"),
        "ambulance": ("callrouter-fallback", AMBULANCE),
    }
    assert set(router.board.calls) == {"first", "second"}
    assert router.dispatcher.executors.keys() == {"first", "second"}
    fake.hang_up("first")
    await fake.settle(0.4)
    await router.close()
    assert router.final("clinic").outcome is Outcome.BUSY
    assert router.final("ambulance").outcome is Outcome.BUSY


async def test_nobody_is_shed_with_shed_lag_seconds_0(tmp_path: Path) -> None:
    fake = FakeAsterisk(event_seconds=0.1)
    fake.round_trip = 1.0
    router = Router(fake, tmp_path, shed_lag_seconds="0")
    await router.start()
    fake.call("first", CLINIC)
    await fake.settle(0.6)
    fake.call("clinic", CLINIC_NORTH)
    fake.call("ambulance", AMBULANCE, number="+79160000002")
    await fake.settle(0.2)
    assert busy_routes(fake) == {}
    assert set(router.board.calls) == {"first", "clinic", "ambulance"}
    for caller in ("first", "clinic", "ambulance"):
        fake.hang_up(caller)
    await fake.settle(0.2)
    await router.close()


# ---- 6. failed commands ----------------------------------------------------------------------
async def test_a_failed_playback_ends_the_call(tmp_path: Path) -> None:
    fake = FakeAsterisk()
    router = Router(fake, tmp_path)
    await router.start()
    fake.fail("play", 500)
    fake.call("c1", CLINIC)
    await fake.settle()
    assert fake.hung_up == ["c1"] and fake.channels == {}
    assert router.board.calls == {} and router.dispatcher.executors == {}
    await router.close()
    record = router.final("c1")
    assert record.outcome is Outcome.FAILED and (record.end_reason or "").startswith("play:")


async def test_a_failed_originate_pauses_the_agent_and_rings_the_next(tmp_path: Path) -> None:
    fake = FakeAsterisk()
    fake.agent("agent1", answer_after=0.01)
    fake.agent("agent2", answer_after=0.01)
    router = Router(fake, tmp_path)
    await router.start("agent1", "agent2")  # agent1 idle longest: rung first
    fake.fail("originate", 500)
    fake.call("c1", CLINIC)
    await fake.settle()
    fake.press("c1", "0")
    await fake.settle(0.05)
    entry = router.board.calls["c1"].entry_id
    assert ringing(fake) == [f"agent,{entry},agent1", f"agent,{entry},agent2"]
    assert router.agent("agent1") is AgentState.PAUSED
    assert router.agent("agent2") is AgentState.ON_CALL
    (leg,) = router.board.legs
    assert {"c1", leg} in fake.bridges.values()
    fake.hang_up("c1")
    await fake.settle()
    await router.close()
    assert router.final("c1").agent == "agent2"


async def test_an_agent_who_rejects_is_paused_and_the_caller_offered_to_the_next(tmp_path: Path) -> None:
    fake = FakeAsterisk()
    fake.agent("agent1", reject=True)
    fake.agent("agent2", answer_after=0.01)
    router = Router(fake, tmp_path)
    await router.start("agent1", "agent2")
    fake.call("c1", CLINIC)
    await fake.settle()
    fake.press("c1", "0")
    await fake.settle(0.05)
    entry = router.board.calls["c1"].entry_id
    assert ringing(fake) == [f"agent,{entry},agent1", f"agent,{entry},agent2"]
    paused = router.board.centre.agents["agent1"]
    assert paused.state is AgentState.PAUSED and (paused.pause_reason or "").startswith("auto-pause")
    assert router.agent("agent2") is AgentState.ON_CALL
    fake.hang_up("c1")
    await fake.settle()
    assert fake.channels == {} and fake.bridges == {}
    await router.close()


async def test_a_failed_bridge_ends_the_call_and_frees_the_agent(tmp_path: Path) -> None:
    fake = FakeAsterisk()
    fake.agent("agent1", answer_after=0.01)
    router = Router(fake, tmp_path)
    await router.start("agent1")
    fake.fail("add_to_bridge", 500)
    fake.call("c1", CLINIC)
    await fake.settle()
    fake.press("c1", "0")
    await fake.settle(0.05)
    assert "c1" in fake.hung_up and fake.channels == {}, "the caller and the agent's phone hung up"
    assert fake.bridges == {}
    assert router.board.calls == {} and router.board.legs == {}
    assert router.agent("agent1") is not AgentState.ON_CALL
    await fake.settle(0.3)
    assert router.agent("agent1") is AgentState.IDLE
    await router.close()
    assert router.final("c1").outcome is Outcome.FAILED


# ---- 7. random callers and agents leave nothing behind ---------------------------------------
PHONES: dict[str, dict[str, Any]] = {
    "answers": {"answer_after": 0.03},
    "slow": {"answer_after": 0.2},
    "rejects": {"reject": True, "reject_after": 0.02},
    "never answers": {"answer_after": None},
}
AGENTS = ("agent1", "agent2", "agent3", "agent4")
# (DID, keys pressed, how the caller ends, when: seconds after arriving)
caller_plans = st.tuples(
    st.sampled_from([CLINIC, CLINIC_NORTH, AMBULANCE]),
    st.lists(st.sampled_from("0123456789*#"), max_size=3).map(tuple),
    st.sampled_from(["hang_up", "vanish"]),
    st.floats(0.0, 0.6),
)
phone_plans = st.tuples(*[st.sampled_from([*PHONES, "logged out"]) for _ in AGENTS])


CallerPlan = tuple[str, tuple[str, ...], str, float]
Act = tuple[float, int, str, str, str]  # at (seconds from the start), order, act, channel, DID or digit


def schedule(callers: list[CallerPlan]) -> list[Act]:
    acts: list[Act] = []
    for n, (did, keys, end, after) in enumerate(callers):
        channel_id, arrives = f"caller-{n}", n * 0.02
        acts.append((arrives, len(acts), "call", channel_id, did))
        acts += [
            (arrives + 0.04 * (k + 1), len(acts) + k, "press", channel_id, d) for k, d in enumerate(keys)
        ]
        acts.append((arrives + after, len(acts), end, channel_id, ""))
    return sorted(acts)


async def act_out(fake: FakeAsterisk, acts: list[Act]) -> None:
    """The callers' acts at their times (none on a channel the router ended)."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    for at, _, act, channel_id, arg in acts:
        await fake.settle(max(0.0, began + at - loop.time()))
        if act == "call":
            fake.call(channel_id, arg)
        elif channel_id not in fake.channels:
            continue
        elif act == "press":
            fake.press(channel_id, arg)
        elif act == "hang_up":
            fake.hang_up(channel_id)
        else:
            fake.vanish(channel_id)


def assert_nothing_left(router: Router, fake: FakeAsterisk) -> None:
    board = router.board
    assert (board.calls, board.legs, board.entries, board.bridges, board.leg_of) == ({}, {}, {}, {}, {})
    assert len(board.centre.queue) == 0
    assert router.dispatcher.executors == {}
    busy = {AgentState.RINGING, AgentState.ON_CALL}
    assert not [a for a in board.centre.agents.values() if a.state in busy]
    assert fake.channels == {} and fake.bridges == {}


async def random_day(callers: list[CallerPlan], phones: tuple[str, ...]) -> None:
    fake = FakeAsterisk(play_seconds=0.02)
    with tempfile.TemporaryDirectory() as spool:
        router = Router(
            fake,
            Path(spool),
            wrap_up_seconds="0.05",
            ring_timeout_seconds="0.3",
            timeout_seconds="0.15",
            announce_every_seconds="0.1",
        )
        await router.start()
        for agent_id, phone in zip(AGENTS, phones, strict=True):
            if phone in PHONES:
                fake.agent(agent_id, **PHONES[phone])
                router.login(agent_id)
        await act_out(fake, schedule(callers))
        await fake.settle(0.1)
        for channel_id in [c for c in fake.channels if c.startswith("caller-")]:
            fake.hang_up(channel_id)  # everyone left hangs up
        await fake.settle(0.3)
        await router.dispatcher.reconcile(adopt=False)  # clears the callers who vanished
        await fake.settle(0.3)
        assert_nothing_left(router, fake)
        await router.close()
        finals: dict[str, list[CallRecord]] = {}
        for record in router.store.records:
            if isinstance(record, CallRecord):
                ended = finals.setdefault(record.call_id, [])
                if record.ended_at is not None:
                    ended.append(record)
        assert len(finals) == len(callers)
        for call_id, ended in finals.items():
            assert len(ended) == 1 and ended[0].outcome is not None, (call_id, ended)


# SHELL_EXAMPLES=200 for a longer hunt (about 1.2 s an example).
@settings(
    max_examples=int(os.environ.get("SHELL_EXAMPLES", "6")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(callers=st.lists(caller_plans, min_size=1, max_size=10), phones=phone_plans)
def test_random_callers_and_agents_leave_nothing_behind(
    callers: list[CallerPlan], phones: tuple[str, ...]
) -> None:
    asyncio.run(random_day(callers, phones))
