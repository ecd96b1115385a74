"""The centre's shell with a fake ARI: what it asks Asterisk to do, and what it
tells the callers' sessions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest.mock import AsyncMock

import pytest

from callrouter.ari.client import AriNotFound
from callrouter.ari.fake import FakeAriClient
from callrouter.calls.centre import CentreRunner, RingSettings
from callrouter.core import call_events as ev
from callrouter.core import centre as cc
from callrouter.core.agents import Agent, AgentState
from callrouter.core.queue import QueueEntry
from callrouter.metrics import Metrics
from callrouter.store.writer import RecordWriter

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class Caller:
    def __init__(self) -> None:
        self.events: list[ev.CallEvent] = []

    def feed(self, event: ev.CallEvent) -> None:
        self.events.append(event)


class NullStore:
    async def write(self, records):
        return []


def runner(tmp_path: Path, ari: FakeAriClient, ring_seconds: float = 0.05) -> CentreRunner:
    agents = [Agent("agent1", frozenset({"operator"}), frozenset({"ru"}))]
    centre = cc.Centre.create(agents, {}, timedelta(0))
    writer = RecordWriter(NullStore(), tmp_path, Metrics())
    run = CentreRunner(centre, ari, writer, Metrics(), RingSettings("callrouter", ring_seconds), lambda: T0)
    run.agent_command("agent1", "login")
    return run


def entry(entry_id: str = "e1") -> QueueEntry:
    return QueueEntry(
        entry_id, "operator", "ru", "clinic-central", 0, T0, f"+7916123456{entry_id[-1]}", entry_id
    )


def state(run: CentreRunner) -> AgentState:
    return run.centre.agents["agent1"].state


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_joining_rings_the_agent_with_our_own_channel_id(tmp_path: Path):
    ari = FakeAriClient()
    run = runner(tmp_path, ari)
    caller = Caller()
    run.join(entry(), caller)
    await settle()
    (channel_id, endpoint, app, args, _, caller_id), *_ = ari.called("originate")
    assert endpoint == "PJSIP/agent1" and app == "callrouter" and args == "agent,e1,agent1"
    assert channel_id in run.legs, "the leg is known before Asterisk says anything"
    assert "clinic-central operator ru" in caller_id, "the agent sees line, topic and language"
    assert caller.events == [ev.AgentRinging("agent1")]
    run.leg_answered(channel_id)
    assert caller.events[-1] == ev.AgentAnswered("agent1", channel_id)
    assert run.centre.agents["agent1"].state is AgentState.ON_CALL


async def test_caller_leaving_while_the_agent_rings_hangs_up_the_agents_phone(tmp_path: Path):
    ari = FakeAriClient()
    run = runner(tmp_path, ari)
    run.join(entry(), Caller())
    await settle()
    channel_id = ari.called("originate")[0][0]
    run.leave("e1")
    await settle()
    assert (channel_id, "normal") in ari.called("hangup")
    run.leg_gone(channel_id, "Normal Clearing")
    assert run.centre.agents["agent1"].state is AgentState.IDLE, "not paused: the caller left, not the agent"


async def test_no_answer_pauses_the_agent_and_tells_the_caller(tmp_path: Path):
    ari = FakeAriClient()
    run = runner(tmp_path, ari)
    caller = Caller()
    run.join(entry(), caller)
    await settle()
    run.leg_gone(ari.called("originate")[0][0], "No answer")
    assert run.centre.agents["agent1"].state is AgentState.PAUSED
    assert ev.AgentMissed("agent1", "No answer") in caller.events


async def test_a_failed_originate_never_leaves_the_agent_reserved(tmp_path: Path):
    ari = FakeAriClient()
    ari.failing.add("originate")
    run = runner(tmp_path, ari)
    run.join(entry(), Caller())
    await settle()
    assert run.centre.agents["agent1"].state is AgentState.PAUSED
    assert run.legs == {}


async def test_announcement_is_honest(tmp_path: Path):
    run = runner(tmp_path, FakeAriClient())
    run.agent_command("agent1", "pause", "break")
    run.join(entry("e1"), Caller())
    run.join(entry("e2"), Caller())
    announcement = run.announcement("e2")
    assert announcement == ev.Announce(2, None), "no recent calls: no estimate is said"
    assert run.announcement("gone") is None, "not queued: nothing to say"


async def test_a_caller_whose_agent_rings_gets_no_position(tmp_path: Path):
    run = runner(tmp_path, FakeAriClient())
    run.join(entry("e1"), Caller())
    assert run.announcement("e1") == ev.BeingOffered(), "agent1 is rung at once"


async def test_the_same_number_on_two_lines_waits_twice_until_repeat_callers_merge_them(tmp_path: Path):
    run = runner(tmp_path, FakeAriClient())
    run.agent_command("agent1", "pause", "break")
    first, second = Caller(), Caller()
    same = QueueEntry("e1", "operator", "ru", "clinic-central", 0, T0, "+79161234567", "e1")
    run.join(same, first)
    run.join(QueueEntry("e2", "operator", "ru", "clinic-north", 0, T0, "+79161234567", "e2"), second)
    assert len(run.centre.queue) == 2
    assert first.events == [] and second.events == [], "neither is overflowed or refused"


async def test_a_session_that_ends_without_leaving_gives_up_its_place(tmp_path: Path):
    run = runner(tmp_path, FakeAriClient())
    run.agent_command("agent1", "pause", "break")
    run.join(entry("e1"), Caller())
    run.call_over("e1")
    assert "e1" not in run.centre.queue
    assert "e1" not in run.centre.ended, "the call is over: nothing of it is kept"


async def connected(run: CentreRunner, ari: FakeAriClient, entry_id: str) -> str:
    """A caller joins, agent1 is rung and answers; the agent's channel."""
    run.join(entry(entry_id), Caller())
    await settle()
    channel_id: str = ari.called("originate")[0][0]
    run.leg_answered(channel_id)
    return channel_id


async def test_a_caller_who_ends_a_connected_call_leaves_nothing_of_the_agents_phone(tmp_path: Path):
    ari = FakeAriClient()
    run = runner(tmp_path, ari)
    channel_id = await connected(run, ari, "e1")
    run.call_over("e1")
    await settle()
    assert (channel_id, "normal") in ari.called("hangup")
    assert run.legs == {}, "forgotten once hung up: its end event may never come"
    assert run.centre.agents["agent1"].state is AgentState.IDLE, "released (no wrap-up here)"
    run.leg_gone(channel_id, "Normal Clearing")  # the end event, if it comes, changes nothing
    assert run.centre.agents["agent1"].state is AgentState.IDLE


async def test_an_agents_phone_whose_hangup_failed_is_kept_until_it_is_hung_up(tmp_path: Path):
    ari = FakeAriClient()
    run = runner(tmp_path, ari)
    channel_id = await connected(run, ari, "e1")
    ari.failing.add("hangup")  # a 500 from Asterisk, once
    run.call_over("e1")
    await settle()
    assert channel_id in run.legs, "still up in the bridge: kept for reconcile"
    assert run.ending_legs() == [channel_id]
    assert state(run) is AgentState.ON_CALL, "not offered a call while on the old one"
    ari.failing.discard("hangup")
    await run.end_leg(channel_id)  # reconcile's next try
    assert ari.called("hangup").count((channel_id, "normal")) == 2
    assert run.legs == {} and state(run) is AgentState.IDLE


async def test_an_agents_phone_asterisk_no_longer_knows_is_forgotten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    ari = FakeAriClient()
    run = runner(tmp_path, ari)
    channel_id = await connected(run, ari, "e1")
    gone = AriNotFound(404, "DELETE", f"channels/{channel_id}", "Channel not found")
    monkeypatch.setattr(ari, "hangup", AsyncMock(side_effect=gone))
    run.call_over("e1")
    await settle()
    assert run.legs == {} and run.centre.agents["agent1"].state is AgentState.IDLE


async def test_the_ring_guard_goes_once_the_phone_answers_or_ends(tmp_path: Path):
    ari = FakeAriClient()
    run = runner(tmp_path, ari)
    run.join(entry("e1"), Caller())
    await settle()
    answering = run.legs[ari.called("originate")[0][0]]
    assert answering.guard is not None and not answering.guard.cancelled()
    run.leg_answered(answering.channel_id)
    assert answering.guard.cancelled(), "an answered phone keeps no timer (nor the leg through it)"
    run.call_over("e1")
    run.join(entry("e2"), Caller())
    await settle()
    (ringing,) = run.legs.values()
    assert ringing.entry_id == "e2" and ringing.guard is not None
    run.leg_gone(ringing.channel_id, "Busy")
    assert ringing.guard.cancelled()


async def test_the_callers_bridge_is_made_while_the_agent_rings(tmp_path: Path):
    ari = FakeAriClient()
    run = runner(tmp_path, ari)
    run.join(entry("e1"), Caller())
    await settle()
    assert ari.called("create_bridge") == [("call-e1", "mixing")]
    assert await run.bridge_ready("e1") and run.bridge_made("e1")
    assert not await run.bridge_ready("e2"), "no bridge for a caller nobody rang"


async def test_a_failed_bridge_is_made_again_at_the_answer(tmp_path: Path):
    ari = FakeAriClient()
    ari.failing.add("create_bridge")
    run = runner(tmp_path, ari)
    run.join(entry("e1"), Caller())
    await settle()
    assert not await run.bridge_ready("e1")
