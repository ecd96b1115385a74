"""The periodic check against Asterisk's list: it clears what left Asterisk
unreported, and nothing that arrived while the list was on its way."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from callrouter.ari import models as ari
from callrouter.ari.client import AriError
from callrouter.ari.models import Application, Channel
from callrouter.calls import reconcile
from callrouter.core import switchboard as sb
from callrouter.core.agents import AgentState
from callrouter.core.callbacks import Stage
from callrouter.core.place import PATIENT_VARIABLE, Ended, Patient, Place
from callrouter.core.place import VARIABLE as PLACE_VARIABLE
from callrouter.core.records import CallbackRecord, CallbackState, CallRecord, Outcome
from tests.unit.switchboard import Asterisk, Clock, Switchboard, settle, up


@pytest.fixture
def quick_dial_looks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The looks for people dialled as close together as a test makes its checks."""
    monkeypatch.setattr(reconcile, "DIALS_LOOK_SECONDS", 0.0)


class SlowAsterisk(Asterisk):
    """Takes the application's list at once and answers when told to."""

    def __init__(self) -> None:
        super().__init__()
        self.reply = asyncio.Event()

    async def application(self, app: str) -> Application:
        listed = await super().application(app)
        await self.reply.wait()
        return listed


async def test_a_call_that_arrives_while_the_list_is_on_its_way_stays(tmp_path: Path) -> None:
    asterisk = SlowAsterisk()
    board = Switchboard(tmp_path, asterisk)
    asterisk.reply.set()
    writing = await board.start()
    asterisk.reply.clear()
    checking = asyncio.create_task(board.dispatcher.reconcile(adopt=False))
    await settle()
    board.arrive("late-caller")  # not in the list Asterisk already made
    await settle()
    asterisk.reply.set()
    await checking
    await settle()
    assert "late-caller" in board.dispatcher.board.calls, "a call is not gone for being newer than the list"
    board.hang_up("late-caller")
    await board.quiet()
    await board.writer.close(writing)


async def test_a_caller_whose_agents_phone_vanished_is_told_at_the_check(tmp_path: Path) -> None:
    board = Switchboard(tmp_path)
    writing = await board.start()
    _, agent_channel = await board.talk_to_an_agent("caller")
    del board.asterisk.channels[agent_channel]  # its BYE lost: Asterisk says nothing
    board.clock.now += timedelta(seconds=30)  # found at a later check (gone at the answer: back in the queue)
    await board.dispatcher.reconcile(adopt=False)
    await settle()
    assert ("caller", "normal") in board.asterisk.called("hangup"), "not left in a bridge with nobody"
    assert board.dispatcher.board.legs == {}
    board.hang_up("caller")
    await board.quiet()
    await board.writer.close(writing)


async def test_an_agents_phone_whose_hangup_failed_is_hung_up_at_the_check(tmp_path: Path) -> None:
    board = Switchboard(tmp_path)
    writing = await board.start()
    _, agent_channel = await board.talk_to_an_agent("caller")
    board.asterisk.failing.add("hangup")  # a 500 from Asterisk, once
    board.hang_up("caller")
    await board.quiet()
    state = board.dispatcher.board
    assert agent_channel in state.legs, "still up in the bridge: the check must still see it"
    agent = state.centre.agents[state.legs[agent_channel].agent_id]
    assert agent.state is AgentState.ON_CALL, "not offered a call while on the old one"
    board.asterisk.failing.discard("hangup")
    await board.dispatcher.reconcile(adopt=False)
    assert board.asterisk.hung_up == [agent_channel], "hung up at the check"
    state = board.dispatcher.board
    assert state.legs == {} and state.centre.agents[agent.agent_id].state is not AgentState.ON_CALL
    board.report_hang_ups()
    await board.writer.close(writing)


def dialled(channel_id: str, app_args: str) -> Channel:
    """A channel the router dialled, answered: in the application with its arguments."""
    channel = up(channel_id)
    dialplan = channel.dialplan.model_copy(update={"app_data": f"callrouter,{app_args}"})
    return channel.model_copy(update={"dialplan": dialplan})


async def test_a_reconnect_leaves_the_people_the_router_dialled_alone(tmp_path: Path) -> None:
    """After a WebSocket drop, the same router's callbacks and results calls (ringing or
    talking) go on: only a dialled channel it does not follow is a stray, hung up."""
    board = Switchboard(tmp_path)
    writing = await board.start()
    channels = {
        "callback-cb1-1": "callback,cb1",
        "results-n1-1-5": "results,n1",
        "callback-old-1": "callback,old",
    }
    for channel_id, app_args in channels.items():
        board.asterisk.channels[channel_id] = dialled(channel_id, app_args)
    board.dispatcher.board = replace(
        board.dispatcher.board, dials={"callback-cb1-1": "cb1"}, result_dials={"results-n1-1-5": "n1"}
    )
    await board.dispatcher.on_connect()  # the events' WebSocket back
    await settle()
    assert board.asterisk.hung_up == ["callback-old-1"], "only the one no callback of this router dials"
    await board.writer.close(writing)


async def test_a_restart_follows_a_callbacks_conversation_it_can_read(tmp_path: Path) -> None:
    """The person and the agent's phone are found talking, the callback is read (any
    state): nobody is hung up, the agent is on the call; the person's hang-up ends it."""
    board = Switchboard(tmp_path)
    person, leg = "callback-cb1-1", "agent-cb1-4"
    board.asterisk.channels[person] = dialled(person, "callback,cb1")
    board.asterisk.channels[leg] = dialled(leg, "agent,cb1,agent1")
    asked: list[list[str]] = []

    async def read(callback_ids: list[str]) -> list[CallbackRecord]:
        asked.append(callback_ids)
        at = board.clock()
        return [
            CallbackRecord(
                "cb1",
                at,
                CallbackState.COMPLETED,
                "+79161234567",
                at,
                at,
                "operator",
                "clinic-central",
                "ru",
                0,
            )
        ]

    board.dispatcher.read_callbacks_with(read)
    writing = asyncio.create_task(board.writer.run())
    await board.dispatcher.on_connect()
    await settle()
    state = board.dispatcher.board
    assert asked == [["cb1"]] and board.asterisk.hung_up == []
    assert (
        state.callbacks["cb1"].stage is Stage.TALKING
        and state.centre.agents["agent1"].state is AgentState.ON_CALL
    )
    channel = board.asterisk.channels.pop(person)
    board.dispatcher.handle(
        board.event(ari.ChannelDestroyed, channel=channel, cause=16, cause_txt="Normal Clearing")
    )
    await settle()
    assert board.asterisk.hung_up == [leg], "the person's end ends the agent's side"
    await board.writer.close(writing)


async def test_a_callbacks_conversation_whose_callback_cannot_be_read_is_followed_still(
    tmp_path: Path,
) -> None:
    """PostgreSQL away at the restart (the callback answered before it went): the
    conversation goes on, as answered, and nothing of the callback is written."""
    board = Switchboard(tmp_path)
    person, leg = "callback-cb1-1", "agent-cb1-4"
    board.asterisk.channels[person] = dialled(person, "callback,cb1")
    board.asterisk.channels[leg] = dialled(leg, "agent,cb1,agent1")

    async def read(callback_ids: list[str]) -> list[CallbackRecord]:
        raise TimeoutError("PostgreSQL answers nothing")

    board.dispatcher.read_callbacks_with(read)
    writing = asyncio.create_task(board.writer.run())
    await board.dispatcher.on_connect()
    await settle()
    state = board.dispatcher.board
    assert board.asterisk.hung_up == [] and state.callbacks["cb1"].stage is Stage.TALKING
    assert state.centre.agents["agent1"].state is AgentState.ON_CALL
    assert state.callbacks["cb1"].record.state is CallbackState.COMPLETED, "nothing to write for it"
    await board.writer.close(writing)


async def test_a_person_who_answered_while_the_events_were_down_is_told_at_the_reconnect(
    tmp_path: Path,
) -> None:
    """Their StasisStart was lost with the WebSocket: up now, the switchboard hears the
    answer (a ringing one is left to ring)."""
    board = Switchboard(tmp_path)
    writing = await board.start()
    board.asterisk.channels["callback-cb1-1"] = dialled("callback-cb1-1", "callback,cb1")
    ringing = dialled("results-n1-1-5", "results,n1").model_copy(update={"state": "Ringing"})
    board.asterisk.channels["results-n1-1-5"] = ringing
    board.dispatcher.board = replace(
        board.dispatcher.board, dials={"callback-cb1-1": "cb1"}, result_dials={"results-n1-1-5": "n1"}
    )
    stepped: list[object] = []
    reconciler = board.dispatcher._reconciler
    reconciler._step = stepped.append
    await reconciler.reconcile(adopt=True)
    assert [e for e in stepped if isinstance(e, sb.DialAnswered)] == [sb.DialAnswered("callback-cb1-1")]
    assert board.asterisk.hung_up == []
    await board.writer.close(writing)


class RingingOutside(Asterisk):
    """Asterisk whose application lists answered channels only: a ring it originated for
    the application is not in it until answered."""

    async def application(self, app: str) -> Application:
        listed = await super().application(app)
        up = [c for c in listed.channel_ids if self.channels[c].state == "Up"]
        return listed.model_copy(update={"channel_ids": up})


async def test_a_restart_ends_the_rings_a_router_before_left_and_rings_under_new_ids(tmp_path: Path) -> None:
    """Killed while an agent's phone and a callback's person rang: those rings are ended
    at the connect (answered later, they were hung up at once), and this run's own
    channels carry its mark, so none of them is refused as an id already in use."""
    asterisk = RingingOutside()
    for channel_id in ("agent-cb1-1", "callback-cb1-1", "results-n1-1-1700000000"):
        ringing = dialled(channel_id, "x").model_copy(update={"state": "Ringing"})
        asterisk.channels[channel_id] = ringing
    asterisk.channels["someone-else"] = up("someone-else").model_copy(update={"state": "Ringing"})
    board = Switchboard(tmp_path, asterisk)
    board.dispatcher.board = replace(
        board.dispatcher.board, rules=replace(board.dispatcher.board.rules, run="r1")
    )
    writing = await board.start()
    await settle()
    assert sorted(asterisk.hung_up) == ["agent-cb1-1", "callback-cb1-1", "results-n1-1-1700000000"]
    await board.wait_for_operator("caller")
    (rung,) = asterisk.ringing
    assert rung.endswith("-r1"), rung
    await board.close(writing, "caller")


async def test_a_hang_up_with_no_cause_reads_as_asterisks_normal_clearing(tmp_path: Path) -> None:
    """A plain BYE: ChannelHangupRequest has no cause, ChannelDestroyed says 16 Normal
    Clearing; whichever comes first, the call ends "caller: Normal Clearing"."""
    board = Switchboard(tmp_path)
    writing = await board.start()
    saved: list[object] = []
    submit = board.writer.submit

    def keep(record: Any, urgent: bool = False) -> None:
        saved.append(record)
        submit(record, urgent=urgent)

    board.writer.submit = keep  # type: ignore[method-assign]
    board.arrive("caller")
    await settle()
    channel = board.asterisk.channels.pop("caller")
    board.dispatcher.handle(board.event(ari.ChannelHangupRequest, channel=channel))
    await settle()
    (ended,) = [r for r in saved if isinstance(r, CallRecord) and r.ended_at is not None]
    assert ended.end_reason == "caller: Normal Clearing"
    board.dispatcher.handle(board.event(ari.StasisEnd, channel=channel))
    await board.quiet()
    await board.writer.close(writing)


async def test_a_restart_adopts_a_patient_waiting_for_a_consultant_and_ends_an_automated_results_call(
    tmp_path: Path,
) -> None:
    """Two results calls a router before had answered: one patient waits for a consultant
    (their channel keeps their line, number and place), one was hearing the greeting.
    The first is taken up as a results call's patient and offered to an agent; the
    second's attempt is over (hung up: the result is never told twice)."""
    asterisk = Asterisk()
    waiting, greeted = "results-n1-1-1700000000", "results-n2-1-1700000000"
    asterisk.channels[waiting] = dialled(waiting, "results,n1")
    asterisk.channels[greeted] = dialled(greeted, "results,n2")
    place = Place("results_consult", 0, Clock().now - timedelta(minutes=2), "ru", None, "place-1")
    asterisk.variables[(waiting, PLACE_VARIABLE)] = place.to_variable()
    asterisk.variables[(waiting, PATIENT_VARIABLE)] = Patient("clinic-central", "+79161234567").to_variable()
    board = Switchboard(tmp_path, asterisk)
    writing = await board.start()
    await settle()
    assert asterisk.hung_up == [greeted]
    record = board.dispatcher.board.calls[waiting].record
    assert (record.direction, record.caller_number, record.topic) == (
        "results",
        "+79161234567",
        "results_consult",
    )
    (args,) = asterisk.ringing.values()
    assert args.split(",")[1] == "place-1", "offered to an agent in the place it held"
    await board.close(writing, waiting)


async def test_an_agent_who_answers_while_the_websocket_is_down_is_connected_at_the_reconnect(
    tmp_path: Path,
) -> None:
    """The agent's StasisStart was lost with the WebSocket: at the reconnect their phone,
    in the application (answered), is told answered; it used to ring on in the
    switchboard until its timeout, then be hung up and the agent paused."""
    board = Switchboard(tmp_path)
    writing = await board.start()
    await board.wait_for_operator("caller")
    ((leg, args),) = board.asterisk.ringing.items()
    del board.asterisk.ringing[leg]
    board.asterisk.channels[leg] = dialled(leg, args)  # answered: in the application
    await board.dispatcher.on_connect()  # the reconnect
    await settle()
    board.clock.now += timedelta(seconds=25)  # past the ring's timeout
    board.dispatcher._woken()
    await settle()
    agent = args.split(",")[2]
    assert board.dispatcher.board.legs[leg].answered and leg not in board.asterisk.hung_up
    assert board.dispatcher.board.centre.agents[agent].state is AgentState.ON_CALL
    await board.close(writing, "caller")


class Flaky(Asterisk):
    """Asterisk answering the first ``times`` looks at ``what`` with a 500."""

    def __init__(self, what: str, times: int = 1) -> None:
        super().__init__()
        self.what, self.times = what, times

    def _fails(self, what: str) -> None:
        if self.what == what and self.times > 0:
            self.times -= 1
            raise AriError(500, "GET", what, "flaky")

    async def application(self, app: str) -> Application:
        self._fails("application")
        return await super().application(app)

    async def get_channel(self, channel_id: str) -> Channel:
        self._fails(channel_id)
        return await super().get_channel(channel_id)


@pytest.mark.parametrize("flaky", ["application", "c1"], ids=["the-application", "the-caller's-channel"])
async def test_a_look_that_fails_at_a_restart_is_tried_again_and_no_conversation_is_cut(
    tmp_path: Path, flaky: str
) -> None:
    """A restart while c1 talks to an agent: Asterisk answers the first look at the
    application (or at c1's channel) with an error. The calls are taken up at the next
    look (they were followed by no router: the agent, idle again, was rung for the next
    caller mid-conversation), and the agent's phone is not hung up meanwhile."""
    before = Switchboard(tmp_path / "before")
    writing = await before.start()
    _, leg = await before.talk_to_an_agent("c1")
    agent = before.dispatcher.board.legs[leg].agent_id
    before.dispatcher.detach()
    await before.writer.close(writing)
    asterisk = Flaky(flaky)
    asterisk.channels, asterisk.variables = before.asterisk.channels, before.asterisk.variables
    asterisk.bridges = before.asterisk.bridges
    after = Switchboard(tmp_path / "after", asterisk)
    writing = asyncio.create_task(after.writer.run())
    await after.dispatcher.on_connect()  # events flow again at once: the next look comes 0.5 s later
    await asyncio.sleep(0.6)
    for other, state in list(after.dispatcher.board.centre.agents.items()):
        if state.state is AgentState.LOGGED_OUT:  # the others back at work (the one on c1 is on it)
            after.dispatcher.step(sb.AgentCommand(other, "login"))
    await settle()
    assert asterisk.times == 0, "the look failed once"
    board = after.dispatcher.board
    assert "c1" in board.calls and board.centre.agents[agent].state is AgentState.ON_CALL
    assert asterisk.hung_up == [], "the conversation goes on"
    await after.wait_for_operator("c2")
    assert all(args.split(",")[2] != agent for args in asterisk.ringing.values()), "not rung mid-call"
    await after.close(writing, "c1", "c2")


async def test_a_callbacks_person_whose_channel_vanished_is_gone_at_the_second_check(
    tmp_path: Path, quick_dial_looks: None
) -> None:
    """Talking, the person's channel leaves Asterisk without a word (its ChannelDestroyed
    lost): not at the first check that misses it (an originate may be on its way), at
    the next one it is gone, as if Asterisk had said so: the agent's side ends too."""
    board = Switchboard(tmp_path)
    person, leg = "callback-cb1-1", "agent-cb1-4"
    board.asterisk.channels[person] = dialled(person, "callback,cb1")
    board.asterisk.channels[leg] = dialled(leg, "agent,cb1,agent1")
    writing = asyncio.create_task(board.writer.run())
    await board.dispatcher.on_connect()  # found talking at a restart (nothing read: followed still)
    await settle()
    assert board.dispatcher.board.callbacks["cb1"].stage is Stage.TALKING
    del board.asterisk.channels[person]
    await board.dispatcher.reconcile(adopt=False)
    await settle()
    assert board.asterisk.hung_up == [] and person in board.dispatcher.board.dials
    await board.dispatcher.reconcile(adopt=False)
    await settle()
    state = board.dispatcher.board
    assert board.asterisk.hung_up == [leg], "the person's end ends the agent's side"
    assert person not in state.dials and "cb1" not in state.callbacks
    assert person not in board.dispatcher.executors
    await board.writer.close(writing)


async def test_people_dialled_who_ring_or_come_back_are_not_gone(
    tmp_path: Path, quick_dial_looks: None
) -> None:
    """A ringing person is not in the application, only in Asterisk's channels: never
    gone for that. One missing at one check only (listed again) is not gone either; a
    results call's patient missing at two is."""
    asterisk = RingingOutside()
    board = Switchboard(tmp_path, asterisk)
    writing = await board.start()
    ringing = dialled("callback-cb1-1", "callback,cb1").model_copy(update={"state": "Ringing"})
    patient = dialled("results-n1-1-5", "results,n1").model_copy(update={"state": "Ringing"})
    asterisk.channels[ringing.id] = ringing
    board.dispatcher.board = replace(
        board.dispatcher.board, dials={ringing.id: "cb1"}, result_dials={patient.id: "n1"}
    )
    gone: list[tuple[str, str]] = []
    reconciler = board.dispatcher._reconciler
    reconciler._gone = lambda channel_id, cause: gone.append((channel_id, cause))
    await reconciler.reconcile(adopt=False)  # the patient's originate on its way
    asterisk.channels[patient.id] = patient
    await reconciler.reconcile(adopt=False)
    del asterisk.channels[patient.id]
    await reconciler.reconcile(adopt=False)
    assert gone == []
    await reconciler.reconcile(adopt=False)
    assert gone == [(patient.id, "not in Asterisk any more")]
    await board.writer.close(writing)


async def test_a_restart_hangs_up_a_caller_told_their_last_message(tmp_path: Path) -> None:
    """A caller whose channel says their call is over (a callback booked, its message
    being told when the router before stopped) is hung up, not put back in the queue."""
    asterisk = Asterisk()
    asterisk.channels["c1"] = up("c1")
    ended = Ended(Outcome.CALLBACK, "callback requested")
    asterisk.variables[("c1", PLACE_VARIABLE)] = ended.to_variable()
    board = Switchboard(tmp_path, asterisk)
    writing = await board.start()
    await settle()
    assert asterisk.hung_up == ["c1"] and asterisk.ringing == {}
    await board.close(writing)


@pytest.mark.parametrize("ended", [True, False], ids=["ended-meanwhile", "still-playing"])
async def test_a_prompt_that_ended_while_the_websocket_was_down_is_told_at_the_reconnect(
    tmp_path: Path, ended: bool
) -> None:
    """The menu's wait for a key starts when its prompt ends: a PlaybackFinished lost with
    the WebSocket left the caller in silence for good (no key, no timeout). At the
    reconnect a prompt Asterisk no longer plays is told ended; one still playing is not."""
    board = Switchboard(tmp_path)
    writing = await board.start()
    board.arrive("c1")
    await settle()
    playback = board.dispatcher.board.calls["c1"].playback_id
    assert playback is not None and board.asterisk.playbacks["c1"] == playback
    if ended:
        del board.asterisk.playbacks["c1"]
    await board.dispatcher.on_connect()  # the reconnect
    await settle()
    call = board.dispatcher.board.calls["c1"]
    if ended:
        assert call.playback_id != playback and ("call", "c1") in board.dispatcher.board.deadlines
    else:
        assert call.playback_id == playback
    board.hang_up("c1")
    await board.quiet()
    await board.writer.close(writing)


async def test_a_check_that_fails_is_not_the_end_of_the_checks(tmp_path: Path) -> None:
    board = Switchboard(tmp_path)
    checks: list[bool] = []

    async def reconcile(adopt: bool) -> None:
        checks.append(adopt)
        if len(checks) == 1:
            raise RuntimeError("something no handler expected")

    board.dispatcher._reconcile_seconds = 0.01
    board.dispatcher.reconcile = reconcile  # type: ignore[method-assign]
    loop = asyncio.create_task(board.dispatcher.reconcile_loop())
    await asyncio.sleep(0.1)
    assert not loop.done() and len(checks) > 1, "the next check came"
    loop.cancel()


async def test_a_restart_ends_the_old_rings_before_the_calls_it_takes_up_ring_anyone(tmp_path: Path) -> None:
    """An agent rung twice at once (the old ring and the new one) may answer busy and be
    paused: the old ring is hung up first. A ring carrying this run's mark is its own
    (rung while the list was on its way), never hung up as a router before's."""
    asterisk = RingingOutside()
    asterisk.channels["c0"] = up("c0")
    place = Place("operator", 0, Clock().now - timedelta(minutes=1), "ru", "0", "place-0")
    asterisk.variables[("c0", PLACE_VARIABLE)] = place.to_variable()
    for channel_id in ("agent-place-0-1", "agent-other-1-r1"):
        asterisk.channels[channel_id] = dialled(channel_id, "x").model_copy(update={"state": "Ringing"})
    board = Switchboard(tmp_path, asterisk)
    board.dispatcher.board = replace(
        board.dispatcher.board, rules=replace(board.dispatcher.board.rules, run="r1")
    )
    for agent in board.dispatcher.board.centre.agents:  # their states restored before the connect
        board.dispatcher.step(sb.AgentCommand(agent, "login"))
    writing = asyncio.create_task(board.writer.run())
    await board.dispatcher.on_connect()
    await settle()
    order = [(name, args[0]) for name, args in asterisk.calls if name in ("hangup", "originate")]
    assert order[0] == ("hangup", "agent-place-0-1"), order
    assert ("hangup", "agent-other-1-r1") not in order, "this run's own ring"
    assert asterisk.ringing, "the waiting caller's agent is rung after"
    await board.close(writing, "c0")


async def a_pair_then_no_router(tmp_path: Path) -> tuple[Asterisk, str]:
    """c1 talking to an agent (their leg's id), then the router gone (its writer closed)."""
    before = Switchboard(tmp_path / "before")
    writing = await before.start()
    _, leg = await before.talk_to_an_agent("c1")
    before.dispatcher.detach()
    await before.writer.close(writing)
    return before.asterisk, leg


@pytest.mark.parametrize("bridged", [True, False], ids=["in-their-bridge", "never-joined"])
async def test_a_talking_pair_found_at_a_restart_keeps_its_bridge_or_is_joined(
    tmp_path: Path, bridged: bool
) -> None:
    """The bridge a talking pair shares is the one its call ends with (after a drop it is
    named "-1": the name a restart guessed was destroyed, and the real one leaked); a pair
    the router before never joined (it died between the answer and the join) is joined,
    where both sat in silence."""
    asterisk, leg = await a_pair_then_no_router(tmp_path)
    asterisk.bridges = {"bridge-after-a-drop-1": ["c1", leg]} if bridged else {}
    asterisk.calls.clear()
    after = Switchboard(tmp_path / "after", asterisk)
    writing = asyncio.create_task(after.writer.run())
    await after.dispatcher.on_connect()
    await settle()
    joins = asterisk.called("add_to_bridge")
    bridge = after.dispatcher.board.bridges["c1"]
    if bridged:
        assert bridge == "bridge-after-a-drop-1" and joins == []
    else:
        assert joins == [(bridge, ("c1", leg))]
    after.hang_up("c1")
    after.report_hang_ups()
    await settle()
    destroyed = [args[0] for args in asterisk.called("destroy_bridge")]
    assert destroyed == [bridge], "the bridge they were in: none leaked"
    await after.quiet()
    await after.writer.close(writing)


class SlowAfterAFailure(Asterisk):
    """The first look at the application fails; each channel then takes 0.1 s to describe."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    async def application(self, app: str) -> Application:
        if not self.failed:
            self.failed = True
            raise AriError(500, "GET", "application", "flaky")
        return await super().application(app)

    async def get_channel(self, channel_id: str) -> Channel:
        await asyncio.sleep(0.1)
        return await super().get_channel(channel_id)


async def test_a_check_while_a_connect_takes_calls_up_waits_its_turn(tmp_path: Path) -> None:
    """The connect's first look failed, so the periodic check adopts too; run at once,
    the two took up the same callback's conversation, and the second hung it up."""
    asterisk = SlowAfterAFailure()
    person, leg = "callback-cb1-1", "agent-cb1-4"
    asterisk.channels[person] = dialled(person, "callback,cb1")
    asterisk.channels[leg] = dialled(leg, "agent,cb1,agent1")
    board = Switchboard(tmp_path, asterisk)
    writing = asyncio.create_task(board.writer.run())
    await board.dispatcher.on_connect()
    await asyncio.sleep(0.55)  # the connect's next look is on its way (0.5 s after the failed one)
    await board.dispatcher.reconcile(adopt=False)  # the periodic check
    await asyncio.sleep(0.5)
    assert asterisk.hung_up == [], "the conversation goes on"
    assert board.dispatcher.board.callbacks["cb1"].stage is Stage.TALKING
    await board.writer.close(writing)


class VariableOnceUnread(Asterisk):
    """The first look at a channel variable fails (a 500), the next ones answer."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    async def get_variable(self, channel_id: str, name: str) -> str | None:
        if not self.failed:
            self.failed = True
            raise AriError(500, "GET", "variable", "flaky")
        return await super().get_variable(channel_id, name)


async def test_a_variable_not_read_at_a_restart_cuts_no_patients_conversation(tmp_path: Path) -> None:
    """A patient talking to a consultant: their channel's first variable could not be
    read. Taken for "not set", the patient was hung up as a stray and the consultant's
    phone with them; now both are taken up at the next look."""
    asterisk = VariableOnceUnread()
    patient, leg = "results-n1-1-1700000000", "agent-place-1-2"
    asterisk.channels[patient] = dialled(patient, "results,n1")
    asterisk.channels[leg] = dialled(leg, "agent,place-1,agent1")
    asterisk.bridges = {"bridge-place-1": [patient, leg]}
    place = Place("results_consult", 0, Clock().now - timedelta(minutes=2), "ru", None, "place-1")
    asterisk.variables[(patient, PLACE_VARIABLE)] = place.to_variable()
    asterisk.variables[(patient, PATIENT_VARIABLE)] = Patient("clinic-central", "+79161234567").to_variable()
    board = Switchboard(tmp_path, asterisk)
    writing = asyncio.create_task(board.writer.run())
    await board.dispatcher.on_connect()
    await asyncio.sleep(0.6)  # the next look
    assert asterisk.failed and asterisk.hung_up == []
    assert board.dispatcher.board.centre.agents["agent1"].state is AgentState.ON_CALL
    assert board.dispatcher.board.calls[patient].record.direction == "results"
    await board.close(writing, patient)


class AnsweredOutside(Asterisk):
    """Channels up in Asterisk but not in the application (answered while it was away)."""

    def __init__(self) -> None:
        super().__init__()
        self.outside: set[str] = set()

    async def application(self, app: str) -> Application:
        listed = await super().application(app)
        return listed.model_copy(
            update={"channel_ids": [c for c in listed.channel_ids if c not in self.outside]}
        )


async def test_an_agent_who_answers_while_the_application_is_away_is_not_paused(tmp_path: Path) -> None:
    """The answer came while the events' WebSocket was cut ("Stasis app not active"):
    the phone is up but never comes to the router. It used to ring on in the
    switchboard until its timeout, the agent in silence, then paused for a ring let go,
    and the caller never joined. Now it is hung up at the reconnect, the agent stays
    idle and is rung again for the caller."""
    asterisk = AnsweredOutside()
    board = Switchboard(tmp_path, asterisk)
    writing = await board.start()
    await board.wait_for_operator("caller")
    ((leg, args),) = asterisk.ringing.items()
    agent = args.split(",")[2]
    del asterisk.ringing[leg]
    asterisk.channels[leg] = dialled(leg, args)  # up
    asterisk.outside.add(leg)
    await board.dispatcher.on_connect()  # the reconnect
    await settle()
    assert leg in asterisk.hung_up
    assert board.dispatcher.board.centre.agents[agent].state is AgentState.RINGING, "rung again, not paused"
    ((again, again_args),) = asterisk.ringing.items()
    assert again != leg and again_args.split(",")[2] == agent
    await board.close(writing, "caller")


async def test_the_bridge_of_a_pair_whose_caller_left_while_no_router_ran_is_destroyed(
    tmp_path: Path,
) -> None:
    """The caller hangs up while no router runs: a restart hangs up the agent's phone left
    alone (no call waits on it) and destroys the bridge it sat in, which stayed in Asterisk,
    empty, for good. A bridge with anyone else in it is left."""
    asterisk, leg = await a_pair_then_no_router(tmp_path)
    del asterisk.channels["c1"]  # gone while no router ran
    asterisk.bridges = {"bridge-place-c1": [leg], "someone-elses": [leg, "other-1"]}
    asterisk.calls.clear()
    after = Switchboard(tmp_path / "after", asterisk)
    writing = asyncio.create_task(after.writer.run())
    await after.dispatcher.on_connect()
    await settle()
    assert leg in asterisk.hung_up, "no call waits on it"
    assert [args[0] for args in asterisk.called("destroy_bridge")] == ["bridge-place-c1"]
    assert list(asterisk.bridges) == ["someone-elses"]
    await after.quiet()
    await after.writer.close(writing)
