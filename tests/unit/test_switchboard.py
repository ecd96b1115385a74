"""The switchboard's rules, step by step: pure ``step(board, event, now)`` calls on
a board compiled from the example config, asserting on the commands it returns
and on the board. No asyncio, no fake ARI."""

from __future__ import annotations

import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from callrouter import compiled, config
from callrouter.core import call_events as ev
from callrouter.core import commands as cmd
from callrouter.core import switchboard as sb
from callrouter.core.agents import AgentState, AgentStateError
from callrouter.core.call_state import Phase
from callrouter.core.place import MENU_VARIABLE, MenuLevel, Place
from callrouter.core.place import VARIABLE as PLACE_VARIABLE
from callrouter.core.queue import QueueError
from callrouter.core.records import (
    AgentStateRecord,
    CallEventRecord,
    CallRecord,
    Outcome,
    PersonRecord,
    PlaceRecord,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "callrouter.example.toml"
SETTINGS = config.parse(EXAMPLE.read_text(), str(EXAMPLE), environ={})
T0 = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # Monday 10:00 in Moscow: the clinics are open
CLINIC = "+78162700101"  # clinic-central: greeting and menu ("0" operator, "2" then "1" appointments)
NORTH = "+78162700102"  # clinic-north
AMBULANCE = "103"  # straight to the urgent topic
RING_GUARD = timedelta(seconds=15 + sb.RING_GRACE_SECONDS)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def fresh(*logged_in: str) -> sb.Board:
    """The example's board with these agents logged in (idle)."""
    board = compiled.board(SETTINGS)
    for agent_id in logged_in:
        board, _ = sb.step(board, sb.AgentCommand(agent_id, "login"), T0)
    return board


def channel_commands(commands: list[sb.Command], channel_id: str) -> list[sb.ChannelCommand]:
    return [c.command for c in commands if isinstance(c, sb.ToChannel) and c.channel_id == channel_id]


def plays(commands: list[sb.Command], channel_id: str) -> list[cmd.Play]:
    return [c for c in channel_commands(commands, channel_id) if isinstance(c, cmd.Play)]


def events(commands: list[sb.Command]) -> list[str]:
    """The call timeline's kinds written in these commands."""
    return [
        c.record.kind for c in commands if isinstance(c, sb.Write) and isinstance(c.record, CallEventRecord)
    ]


def agent_writes(commands: list[sb.Command]) -> list[tuple[AgentStateRecord, bool]]:
    """The agents' state records written, and whether at once."""
    return [
        (c.record, c.urgent)
        for c in commands
        if isinstance(c, sb.Write) and isinstance(c.record, AgentStateRecord)
    ]


def originates(commands: list[sb.Command]) -> list[sb.Originate]:
    return [c for c in commands if isinstance(c, sb.Originate)]


def state(board: sb.Board, agent_id: str = "agent1") -> AgentState:
    return board.centre.agents[agent_id].state


def arrive(
    board: sb.Board,
    channel_id: str,
    seconds: float = 0.0,
    did: str = CLINIC,
    number: str | None = None,
    up: bool = False,
    presentation: str = "",
) -> tuple[sb.Board, list[sb.Command]]:
    number = number if number is not None else f"+7916{zlib.crc32(channel_id.encode()) % 10_000_000:07d}"
    event = sb.Arrived(
        channel_id, did, number, at(seconds), f"place-{channel_id}", up, presentation=presentation
    )
    return sb.step(board, event, at(seconds))


def on(
    board: sb.Board, channel_id: str, event: ev.CallEvent, seconds: float
) -> tuple[sb.Board, list[sb.Command]]:
    return sb.step(board, sb.OnCall(channel_id, event), at(seconds))


def queued(
    board: sb.Board, channel_id: str, seconds: float = 0.0, keys: str = "0", **arrival: object
) -> tuple[sb.Board, list[sb.Command]]:
    """A caller arrives, is answered and presses ``keys`` (default: the operator)."""
    board, out = arrive(board, channel_id, seconds, **arrival)  # type: ignore[arg-type]
    board, more = on(board, channel_id, ev.Answered(), seconds)
    out += more
    for key in keys:
        board, more = on(board, channel_id, ev.Digit(key), seconds)
        out += more
    return board, out


def leg_for(commands: list[sb.Command]) -> sb.Originate:
    (originate,) = originates(commands)
    return originate


def talking(board: sb.Board, channel_id: str, seconds: float = 0.0) -> tuple[sb.Board, str]:
    """A caller whom agent1 (the only free agent) answers; the agent's channel."""
    board, out = queued(board, channel_id, seconds)
    leg = leg_for(out).channel_id
    board, _ = sb.step(board, sb.LegAnswered(leg), at(seconds + 2))
    return board, leg


# ---- ringing an agent --------------------------------------------------------------------------
def test_joining_rings_the_agent_with_our_own_channel_id_and_a_label() -> None:
    board, out = queued(fresh("agent1"), "c1")
    ring = leg_for(out)
    entry_id = board.calls["c1"].entry_id
    assert entry_id == "place-c1"
    assert ring.agent_id == "agent1" and ring.app_args == f"agent,{entry_id},agent1"
    assert ring.channel_id not in ("c1", board.calls["c1"].record.call_id, entry_id)
    assert board.legs[ring.channel_id] == sb.Leg(ring.channel_id, "agent1", entry_id)
    assert board.leg_of == {entry_id: ring.channel_id}, "the leg is known before Asterisk says anything"
    assert ring.label == "clinic-central operator ru", "the agent sees line, topic and language"
    assert ring.ring_seconds == 15
    assert "offered" in events(out), "the caller's timeline says who was rung"
    assert state(board) is AgentState.RINGING

    board, out = sb.step(board, sb.LegAnswered(ring.channel_id), at(3))
    assert state(board) is AgentState.ON_CALL
    assert board.calls["c1"].phase is Phase.CONNECTED
    assert sb.JoinBridge(board.bridges["c1"], ring.channel_id) in channel_commands(out, "c1")


@pytest.mark.parametrize(
    ("number", "presentation", "shown"),
    [
        ("8 916 123-45-67", "allowed_not_screened", "+79161234567"),  # E.164, to phone back
        ("+79161234567", "", "+79161234567"),  # a dialplan that passes no presentation
        ("anonymous", "allowed_not_screened", "anonymous"),
        ("+79161234567", "prohib_not_screened", "anonymous"),  # asked for privacy
        ("12", "allowed_not_screened", "anonymous"),  # nothing usable
    ],
)
def test_the_agents_phone_shows_the_callers_number_unless_withheld(
    number: str, presentation: str, shown: str
) -> None:
    _, out = queued(fresh("agent1"), "c1", number=number, presentation=presentation)
    ring = leg_for(out)
    assert (ring.label, ring.number) == ("clinic-central operator ru", shown)
    assert ring.number != "agent1", "never the agent's own id"


def test_a_caller_leaving_while_the_agent_rings_hangs_up_the_phone_and_the_agent_is_idle() -> None:
    board, out = queued(fresh("agent1"), "c1")
    leg = leg_for(out).channel_id
    board, out = on(board, "c1", ev.CallerHungUp("16"), 5)
    assert sb.HangupLeg(leg, "caller left") in out
    assert state(board) is AgentState.IDLE, "not paused: the caller left, not the agent"
    board, out = sb.step(board, sb.LegGone(leg, "Normal Clearing"), at(6))
    assert state(board) is AgentState.IDLE
    assert board.legs == {} and board.leg_of == {}
    assert not agent_writes(out)


def test_no_answer_pauses_the_agent_and_the_caller_hears_their_place_again() -> None:
    board, out = queued(fresh("agent1"), "c1")
    leg = leg_for(out).channel_id
    assert not plays(out, "c1")[1:], "while the agent rings the caller gets no position"
    board, out = sb.step(board, sb.LegGone(leg, "No answer"), at(16))
    agent = board.centre.agents["agent1"]
    assert agent.state is AgentState.PAUSED and agent.pause_reason == "auto-pause: No answer"
    assert "agent_missed" in events(out)
    (play,) = plays(out, "c1")
    assert "number:1" in play.media, "AgentMissed: the caller's place is announced again"
    assert board.legs == {} and board.leg_of == {}
    ((record, urgent),) = agent_writes(out)
    assert record.state == "paused" and urgent, "an auto-pause is written at once (a restart keeps it)"


def test_a_failed_originate_never_leaves_the_agent_reserved() -> None:
    board, out = queued(fresh("agent1"), "c1")
    leg = leg_for(out).channel_id
    board, _ = sb.step(board, sb.LegGone(leg, "originate failed"), at(0.5))
    assert state(board) is AgentState.PAUSED
    assert board.legs == {} and board.leg_of == {}
    assert ("leg", leg) not in board.deadlines, "no ring guard for a phone that never rang"
    assert board.centre.queue.entries["place-c1"].offered_to is None


def test_a_failed_originate_offers_the_caller_to_the_next_agent() -> None:
    board, out = queued(fresh("agent1", "agent2"), "c1")
    first = leg_for(out)
    board, out = sb.step(board, sb.LegGone(first.channel_id, "originate failed"), at(0.5))
    second = leg_for(out)
    assert {first.agent_id, second.agent_id} == {"agent1", "agent2"}
    assert second.channel_id != first.channel_id
    assert board.leg_of == {"place-c1": second.channel_id}


# ---- what the caller hears --------------------------------------------------------------------
def test_the_announcement_is_honest_no_estimate_without_handled_calls() -> None:
    board = fresh("agent1")
    board, _ = sb.step(board, sb.AgentCommand("agent1", "pause", "break"), T0)
    board, _ = queued(board, "c1", 1)
    board, out = queued(board, "c2", 2)
    play = plays(out, "c2")[-1]
    assert "number:2" in play.media
    assert not any("queue_wait" in m for m in play.media), "no recent calls: no estimate is said"
    assert any("queue_joined" in m for m in play.media), "'please hold' the first time"


def test_the_announcement_gives_an_estimate_once_enough_calls_were_handled() -> None:
    board = fresh("agent1")
    for n in range(5):
        t = n * 200.0
        board, leg = talking(board, f"c{n}", t)  # answered at t + 2
        board, _ = sb.step(board, sb.LegGone(leg, "Normal Clearing"), at(t + 62))
        board, _ = on(board, f"c{n}", ev.ChannelGone("Normal Clearing"), t + 62)
        board, _ = sb.step(board, sb.Wake(), at(t + 100))  # the wrap-up is over
        if n == 3:  # four calls: still no honest figure
            board, _ = sb.step(board, sb.AgentCommand("agent1", "pause", "break"), at(t + 101))
            board, out = queued(board, "early", t + 102)
            assert not any("queue_wait" in m for m in plays(out, "early")[-1].media)
            board, _ = on(board, "early", ev.ChannelGone("Normal Clearing"), t + 103)
            board, _ = sb.step(board, sb.AgentCommand("agent1", "resume"), at(t + 104))
    assert board.handled == (70.0,) * 5, "talk plus wrap-up"
    board, _ = sb.step(board, sb.AgentCommand("agent1", "pause", "break"), at(2000))
    board, _ = queued(board, "w1", 2001)
    board, out = queued(board, "w2", 2002)
    media = plays(out, "w2")[-1].media
    wait = media.index(f"sound:{SETTINGS.file.prompts.directory}/ru/queue_wait")
    assert media[wait - 1 :] == (media[wait - 1], media[wait], "number:3"), "2 x 70 s with one agent: 3 min"
    assert media[wait - 1] == "number:2"


def test_a_caller_whose_agent_rings_hears_music_only_after_a_second() -> None:
    board, out = queued(fresh("agent1"), "c1")
    assert board.deadlines[("call", "c1")] == at(1)
    assert sb.WakeAt(at(1)) in out
    board, out = sb.step(board, sb.Wake(), at(0.9))
    assert out == [] and ("call", "c1") in board.deadlines, "not before its deadline"
    board, out = sb.step(board, sb.Wake(), at(1))
    assert channel_commands(out, "c1") == [cmd.StartMoh()], "BeingOffered: music, no position"


# ---- the end of a call ---------------------------------------------------------------------------
def _nothing_of_the_call_stays(board: sb.Board) -> None:
    assert board.calls == {} and board.entries == {} and board.bridges == {}
    assert board.legs == {} and board.leg_of == {} and board.talk_started == {}
    assert set(board.deadlines) <= {("duration", "")}
    assert board.centre.ended == {} and len(board.centre.queue) == 0


def test_a_call_that_ends_abnormally_while_waiting_gives_up_its_place() -> None:
    board = fresh("agent1")
    board, _ = sb.step(board, sb.AgentCommand("agent1", "pause", "break"), T0)
    board, _ = queued(board, "c1", 1)
    board, out = on(board, "c1", ev.ChannelGone("not in Asterisk any more"), 30)
    (over,) = [c for c in out if isinstance(c, sb.CallOver)]
    assert over.channel_id == "c1" and over.record.outcome is Outcome.ABANDONED
    _nothing_of_the_call_stays(board)


def test_a_call_that_ends_abnormally_while_its_agent_rings_leaves_nothing() -> None:
    board, out = queued(fresh("agent1"), "c1")
    leg = leg_for(out).channel_id
    board, out = on(board, "c1", ev.CommandFailed("play", "500"), 3)
    assert channel_commands(out, "c1")[-1] == cmd.Hangup(), "the router ends the call"
    assert sb.HangupLeg(leg, "caller left") in out and "place-c1" not in board.centre.queue
    board, out = on(board, "c1", ev.ChannelGone("Normal Clearing"), 4)
    assert sb.DestroyBridge("c1", "bridge-place-c1") in out
    (over,) = [c for c in out if isinstance(c, sb.CallOver)]
    assert over.record.outcome is Outcome.FAILED
    board, _ = sb.step(board, sb.LegGone(leg, "Normal Clearing"), at(5))
    _nothing_of_the_call_stays(board)
    assert state(board) is AgentState.IDLE


def test_a_connected_callers_end_hangs_up_the_agents_phone_which_ends_only_when_gone() -> None:
    board, leg = talking(fresh("agent1", "agent2"), "c1")
    board, out = on(board, "c1", ev.CallerHungUp("16"), 60)
    board, more = on(board, "c1", ev.ChannelGone("Normal Clearing"), 60)
    out += more
    assert out.count(sb.HangupLeg(leg, "caller gone")) == 1
    assert board.legs[leg].ending and board.legs[leg].answered
    assert state(board) is AgentState.ON_CALL, "still on the phone: not offered a call"
    board, out = queued(board, "c2", 61)
    assert [o.agent_id for o in originates(out)] == ["agent2"]
    board, _ = sb.step(board, sb.LegGone(leg, "Normal Clearing"), at(62))
    assert leg not in board.legs and state(board) is AgentState.WRAP_UP
    board, out = sb.step(board, sb.LegGone(leg, "Normal Clearing"), at(63))
    assert out == [], "a second report of its end changes nothing"


def test_the_callers_bridge_is_made_while_the_agent_rings_and_joined_at_the_answer() -> None:
    board, out = queued(fresh("agent1"), "c1")
    call = board.calls["c1"]
    (make,) = [c for c in channel_commands(out, "c1") if isinstance(c, sb.MakeBridge)]
    assert board.bridges == {"c1": make.bridge_id}
    assert make.bridge_id != call.record.call_id and call.entry_id != call.record.call_id
    assert "place-c1" in board.centre.queue
    board, out = sb.step(board, sb.LegAnswered(leg_for(out).channel_id), at(2))
    (join,) = [c for c in channel_commands(out, "c1") if isinstance(c, sb.JoinBridge)]
    assert join.bridge_id == make.bridge_id
    assert not [c for c in channel_commands(out, "c1") if isinstance(c, sb.MakeBridge)]


def test_no_bridge_for_a_caller_nobody_rang() -> None:
    board = fresh()
    board, out = queued(board, "c1")
    assert board.bridges == {} and not originates(out)


# ---- deadlines -----------------------------------------------------------------------------------
def test_the_menu_times_out_at_its_deadline_not_before() -> None:
    board, out = arrive(fresh(), "c1")
    board, out = on(board, "c1", ev.Answered(), 0.2)
    (greeting,) = plays(out, "c1")
    assert any("menu_main" in m for m in greeting.media)
    board, out = on(board, "c1", ev.PlaybackFinished(greeting.playback_id), 8)
    assert board.deadlines[("call", "c1")] == at(13) and sb.WakeAt(at(13)) in out
    board, out = sb.step(board, sb.Wake(), at(12.9))
    assert not plays(out, "c1")
    board, out = sb.step(board, sb.Wake(), at(13))
    (again,) = plays(out, "c1")
    short = f"sound:{SETTINGS.file.prompts.directory}/ru/menu_short"
    assert again.media == (short,), "silence: the menu's short form"
    assert ("call", "c1") not in board.deadlines


def test_a_silent_caller_joins_the_default_topic_after_the_short_form() -> None:
    """The greeting and menu, 5 s of silence, the short form, 5 s more: an operator,
    not the whole menu twice more."""
    board, out = arrive(fresh(), "c1")
    board, out = on(board, "c1", ev.Answered(), 0.2)
    board, out = on(board, "c1", ev.PlaybackFinished(plays(out, "c1")[0].playback_id), 20)
    board, out = sb.step(board, sb.Wake(), at(25))
    board, out = on(board, "c1", ev.PlaybackFinished(plays(out, "c1")[0].playback_id), 31)
    assert board.calls["c1"].phase is Phase.MENU
    board, out = sb.step(board, sb.Wake(), at(36))
    call = board.calls["c1"]
    assert call.phase is Phase.QUEUED and call.record.topic == "operator"
    assert call.record.queued_at == at(36)
    assert "place-c1" in board.centre.queue


def test_a_key_cancels_the_menu_deadline_for_good() -> None:
    board, _ = arrive(fresh(), "c1")
    board, out = on(board, "c1", ev.Answered(), 0.2)
    board, _ = on(board, "c1", ev.PlaybackFinished(plays(out, "c1")[0].playback_id), 8)
    board, _ = on(board, "c1", ev.Digit("0"), 9)
    assert board.calls["c1"].phase is Phase.QUEUED
    board, out = sb.step(board, sb.Wake(), at(13))
    assert not plays(out, "c1")[1:] and board.calls["c1"].menu.failures == 0


def test_the_ring_guard_hangs_up_a_phone_that_never_says_it_stopped_ringing() -> None:
    board, out = queued(fresh("agent1"), "c1", 10)
    leg = leg_for(out).channel_id
    assert board.deadlines[("leg", leg)] == at(10) + RING_GUARD
    board, out = sb.step(board, sb.Wake(), at(10) + RING_GUARD - timedelta(seconds=0.1))
    assert not [c for c in out if isinstance(c, sb.HangupLeg)] and state(board) is AgentState.RINGING
    board, out = sb.step(board, sb.Wake(), at(10) + RING_GUARD)
    assert sb.HangupLeg(leg, "ring timeout") in out
    assert state(board) is AgentState.PAUSED and leg not in board.legs
    assert board.centre.agents["agent1"].pause_reason == "auto-pause: ring timeout"
    board, out = sb.step(board, sb.LegGone(leg, "ring timeout"), at(40))
    assert out == [], "the hang-up's report comes back to nothing"


def test_the_ring_guard_goes_once_the_phone_answers() -> None:
    board, out = queued(fresh("agent1"), "c1")
    leg = leg_for(out).channel_id
    board, _ = sb.step(board, sb.LegAnswered(leg), at(3))
    assert ("leg", leg) not in board.deadlines
    board, out = sb.step(board, sb.Wake(), at(60))
    assert not [c for c in out if isinstance(c, sb.HangupLeg)] and state(board) is AgentState.ON_CALL


def test_the_end_of_a_wrap_up_makes_the_agent_idle_and_offers_the_next_caller() -> None:
    board, leg = talking(fresh("agent1"), "c1")
    board, _ = queued(board, "c2", 10)
    assert board.centre.queue.entries["place-c2"].offered_to is None, "agent1 is talking"
    board, out = sb.step(board, sb.LegGone(leg, "Normal Clearing"), at(30))
    assert state(board) is AgentState.WRAP_UP and not originates(out)
    assert board.deadlines[("agent", "agent1")] == at(40) and sb.WakeAt(at(40)) in out
    board, out = sb.step(board, sb.Wake(), at(39))
    assert state(board) is AgentState.WRAP_UP and not originates(out)
    board, out = sb.step(board, sb.Wake(), at(40))
    assert [o.app_args for o in originates(out)] == ["agent,place-c2,agent1"]
    assert state(board) is AgentState.RINGING and ("agent", "agent1") not in board.deadlines


def test_a_topics_max_wait_overflows_a_waiting_caller_at_the_deadline() -> None:
    board, _ = queued(fresh(), "c1", 0, keys="21")  # appointment_book: 900 s, then "busy"
    assert board.deadlines[("entry", "place-c1")] == at(900)
    board, out = sb.step(board, sb.Wake(), at(899))
    assert "place-c1" in board.centre.queue and not plays(out, "c1")[1:]
    board, out = sb.step(board, sb.Wake(), at(900))
    assert "place-c1" not in board.centre.queue and board.calls["c1"].phase is Phase.LEAVING
    (busy,) = plays(out, "c1")
    assert any("overflow_busy" in m for m in busy.media)
    board, out = on(board, "c1", ev.PlaybackFinished(busy.playback_id), 905)
    assert channel_commands(out, "c1") == [cmd.Hangup()]
    board, out = on(board, "c1", ev.ChannelGone("Normal Clearing"), 905)
    (over,) = [c for c in out if isinstance(c, sb.CallOver)]
    assert over.record.outcome is Outcome.OVERFLOW
    _nothing_of_the_call_stays(board)


def test_max_wait_to_another_topic_keeps_the_place_and_its_id() -> None:
    board, _ = queued(fresh(), "c1", 0, keys="3")  # results: 600 s, then the operator
    board, _ = sb.step(board, sb.Wake(), at(600))
    entry = board.centre.queue.entries["place-c1"]
    assert entry.topic == "operator" and entry.joined_at == at(0)
    assert board.entries == {"place-c1": "c1"} and board.calls["c1"].phase is Phase.QUEUED
    assert ("entry", "place-c1") not in board.deadlines, "the operator topic has no maximum wait"


def test_max_wait_spares_a_caller_whose_agent_is_ringing() -> None:
    board = fresh("agent2")  # books appointments in Russian
    board, _ = sb.step(board, sb.AgentCommand("agent2", "pause", "break"), T0)
    board, _ = queued(board, "c1", 0, keys="21")
    board, out = sb.step(board, sb.AgentCommand("agent2", "resume"), at(895))
    leg = leg_for(out).channel_id
    board, out = sb.step(board, sb.Wake(), at(900))
    assert board.calls["c1"].phase is Phase.QUEUED and not plays(out, "c1")
    assert board.deadlines[("entry", "place-c1")] == at(901), "decided once the ring ends"
    board, _ = sb.step(board, sb.LegGone(leg, "No answer"), at(900.5))
    board, out = sb.step(board, sb.Wake(), at(901))
    assert board.calls["c1"].phase is Phase.LEAVING and "place-c1" not in board.centre.queue


def test_the_maximum_call_duration_ends_a_call_through_the_one_duration_deadline() -> None:
    board = replace(fresh("agent1"), rules=replace(fresh().rules, max_call=timedelta(minutes=10)))
    board, leg = talking(board, "c1")
    check = board.deadlines[("duration", "")]
    assert check == at(30), "the example checks every reconcile period"
    board, out = sb.step(board, sb.Wake(), check)
    assert channel_commands(out, "c1") == [] and board.deadlines[("duration", "")] == at(60)
    board, out = sb.step(board, sb.Wake(), at(600))
    assert channel_commands(out, "c1") == [cmd.Hangup()]
    assert board.calls["c1"].record.end_reason == "maximum call duration"
    assert board.calls["c1"].record.outcome is Outcome.ANSWERED
    board, out = sb.step(board, sb.Wake(), at(630))
    assert channel_commands(out, "c1") == [], "told once"
    board, out = on(board, "c1", ev.ChannelGone("Normal Clearing"), 631)
    assert sb.HangupLeg(leg, "caller gone") in out
    assert board.overdue == frozenset()


def test_next_wake_is_the_earliest_deadline() -> None:
    board = fresh("agent1")
    assert board.next_wake() is None
    board, _ = arrive(board, "c1", 5)
    assert board.next_wake() == at(5) + board.rules.duration_check
    board, _ = queued(board, "c2", 6)
    assert board.next_wake() == at(7), "c2's agent rings: music after a second"
    assert board.next_wake() == min(board.deadlines.values())


# ---- arrivals ----------------------------------------------------------------------------------------
def test_a_call_answered_in_the_dialplan_is_not_answered_again() -> None:
    board, out = arrive(fresh(), "c1", up=True)
    commands = channel_commands(out, "c1")
    assert cmd.Answer() not in commands
    assert cmd.SetLanguage("ru") in commands and plays(out, "c1"), "the greeting starts at once"
    assert board.calls["c1"].record.answered_at == T0


def test_a_call_not_yet_answered_is_answered_first() -> None:
    board, out = arrive(fresh(), "c1")
    assert channel_commands(out, "c1") == [cmd.Answer()]
    assert board.calls["c1"].phase is Phase.ANSWERING


def test_an_ambulance_call_goes_straight_to_the_urgent_topic_ahead_of_everyone() -> None:
    board = fresh()
    board, _ = queued(board, "c1", 0)
    board, _ = queued(board, "c2", 5, did=AMBULANCE, keys="")
    assert [e.entry_id for e in board.centre.queue.ordered()] == ["place-c2", "place-c1"]


# ---- privacy ------------------------------------------------------------------------------------------
def test_a_caller_who_asked_for_privacy_is_withheld_everywhere() -> None:
    """Asterisk gives the asserted number with a restricted presentation: it is
    never the call's number, the place's person, or in any command."""
    board, out = queued(fresh("agent1"), "c1", number="+79161234567", presentation="prohib")
    board, more = sb.step(board, sb.LegAnswered(leg_for(out).channel_id), at(2))
    board, last = on(board, "c1", ev.CallerHungUp("16"), 30)
    everything = out + more + last
    (over,) = [c for c in last if isinstance(c, sb.CallOver)]
    assert (over.record.caller_number, over.record.caller_presentation) == (None, "withheld")
    places = [c.record for c in everything if isinstance(c, sb.Write) and isinstance(c.record, PlaceRecord)]
    assert places and all(p.person is None for p in places)
    assert "9161234567" not in repr(everything)
    assert leg_for(out).number == "anonymous"


def test_an_adopted_caller_who_asked_for_privacy_stays_withheld() -> None:
    found = sb.Found("c1", CLINIC, "+79161230000", at(-5), presentation="prohib_not_screened")
    board, out = sb.step(fresh(), sb.Adopt((found,)), T0)
    assert board.calls["c1"].record.caller_number is None
    assert board.calls["c1"].record.caller_presentation == "withheld"
    assert "9161230000" not in repr(out)


# ---- a restart ----------------------------------------------------------------------------------------
def found_waiting(channel_id: str, seconds: float, topic: str = "operator") -> sb.Found:
    place = Place(topic, 0, at(seconds), "ru", "0", f"place-{channel_id}")
    number = f"+7916123{zlib.crc32(channel_id.encode()) % 10_000:04d}"  # one person each
    return sb.Found(channel_id, CLINIC, number, at(seconds - 20), place)


def test_adopted_waiting_callers_resume_their_places_in_order_without_greeting_or_menu() -> None:
    board = fresh()
    found = (found_waiting("c3", 30), found_waiting("c1", 10), found_waiting("c2", 20))
    board, out = sb.step(board, sb.Adopt(found), at(300))
    queue = board.centre.queue.ordered()
    assert [e.entry_id for e in queue] == ["place-c1", "place-c2", "place-c3"]
    assert [e.joined_at for e in queue] == [at(10), at(20), at(30)]
    assert board.entries == {"place-c1": "c1", "place-c2": "c2", "place-c3": "c3"}
    media = [m for c in ("c1", "c2", "c3") for p in plays(out, c) for m in p.media]
    assert media and not any("greeting" in m or "menu" in m or "queue_joined" in m for m in media)
    assert not [c for c in out if isinstance(c, sb.ToChannel) and isinstance(c.command, cmd.Answer)]
    assert "number:1" in plays(out, "c1")[0].media and "number:3" in plays(out, "c3")[0].media


def test_an_adopted_talking_caller_stays_connected_and_its_agent_is_never_offered() -> None:
    board = fresh("agent1")
    talking_call = sb.Found(
        "c9", CLINIC, "+79161239999", at(-100), Place("operator", 0, at(-90), "ru", "0", "place-c9"),
        agent_id="agent1", agent_channel="agent-old-7",
    )  # fmt: skip
    board, out = sb.step(board, sb.Adopt((found_waiting("c1", 10), talking_call)), at(300))
    assert board.calls["c9"].phase is Phase.CONNECTED
    assert state(board) is AgentState.ON_CALL and board.centre.agents["agent1"].entry_id == "place-c9"
    assert board.legs["agent-old-7"] == sb.Leg("agent-old-7", "agent1", "place-c9", answered=True)
    assert board.leg_of["place-c9"] == "agent-old-7" and "place-c9" not in board.centre.queue
    assert not originates(out), "the waiting caller is not offered the agent who talks"
    assert not [c for c in out if isinstance(c, sb.HangupLeg)]
    board, out = sb.step(board, sb.LegGone("agent-old-7", "Normal Clearing"), at(400))
    assert channel_commands(out, "c9") == [cmd.Hangup()], "the agent's end ends the call"
    assert state(board) is AgentState.WRAP_UP


def test_adopting_hangs_up_stray_agent_legs() -> None:
    board, out = sb.step(fresh(), sb.Adopt((), ("agent-x-1", "agent-y-2")), T0)
    assert out == [
        sb.HangupLeg("agent-x-1", "no call waits on it"),
        sb.HangupLeg("agent-y-2", "no call waits on it"),
    ]
    assert board.legs == {}


def test_an_adopted_call_without_a_place_starts_afresh() -> None:
    board, out = sb.step(fresh(), sb.Adopt((sb.Found("c1", CLINIC, "+79161230000", at(-5)),)), T0)
    commands = channel_commands(out, "c1")
    assert cmd.Answer() not in commands, "it is up already"
    (greeting,) = plays(out, "c1")
    assert any("greeting" in m for m in greeting.media) and any("menu_main" in m for m in greeting.media)
    assert board.calls["c1"].phase is Phase.MENU
    # Its row keeps when it began, and its timeline has one arrival: this one "resumed".
    assert board.calls["c1"].record.started_at == at(-5)
    events = [(w.record.kind, w.record.detail) for w in out if isinstance(w, sb.Write)
              and isinstance(w.record, CallEventRecord)]  # fmt: skip
    assert events[0] == ("resumed", "afresh at clinic-central") and "arrived" not in dict(events)
    old_prompts_stopped_first(out, "c1", board.calls["c1"].record.call_id, greeting)


def old_prompts_stopped_first(out: list[sb.Command], channel: str, call_id: str, played: cmd.Play) -> None:
    """The prompts the router before may have left playing are stopped before the first new
    one (by id: from 1, and from 1001 for a call it had taken up itself), whose id is not one."""
    commands = channel_commands(out, channel)
    stops = [c.playback_id for c in commands if isinstance(c, cmd.StopPlayback)]
    assert f"{call_id}-p1" in stops and f"{call_id}-p1001" in stops and played.playback_id not in stops
    assert commands.index(played) > max(commands.index(cmd.StopPlayback(p)) for p in stops)


def test_an_adopted_call_in_a_submenu_hears_that_level_again() -> None:
    found = sb.Found("c1", CLINIC, "+79161230000", at(-5), menu=MenuLevel(("2",), "en", ("9", "2")))
    board, out = sb.step(fresh(), sb.Adopt((found,)), T0)
    (prompt,) = plays(out, "c1")
    old_prompts_stopped_first(out, "c1", board.calls["c1"].record.call_id, prompt)
    assert prompt.media == (f"sound:{SETTINGS.file.prompts.directory}/en/menu_appointments",)
    assert board.calls["c1"].menu.keys == ("9", "2")


def test_a_call_already_known_is_not_adopted_twice() -> None:
    board, _ = queued(fresh(), "c1")
    again, out = sb.step(board, sb.Adopt((found_waiting("c1", 0),)), at(1))
    assert again.calls == board.calls and again.centre.queue == board.centre.queue
    assert not [c for c in out if isinstance(c, sb.ToChannel)]


# ---- agents ---------------------------------------------------------------------------------------------
def test_restored_agents_keep_their_pauses_and_nobody_is_logged_out() -> None:
    last = {
        "agent1": AgentStateRecord("agent1", at(-60), "paused", "lunch"),
        "agent2": AgentStateRecord("agent2", at(-30), "idle"),
        "agent3": AgentStateRecord("agent3", at(-10), "on_call", "answered", "some-call"),
    }
    board, out = sb.step(fresh(), sb.RestoreAgents(last), T0)
    agents = board.centre.agents
    assert agents["agent1"].state is AgentState.PAUSED and agents["agent1"].pause_reason == "lunch"
    assert agents["agent1"].since == at(-60), "paused since the pause began"
    assert agents["agent2"].state is AgentState.IDLE and agents["agent2"].idle_since == at(-30)
    assert agents["agent2"].since == at(-30), "idle since the recorded change, not the restart"
    assert agents["agent3"].state is AgentState.IDLE, "a call it was on is the adopting call's to follow"
    assert agents["agent3"].since == T0
    assert agents["agent4"].state is AgentState.LOGGED_OUT
    # Only the changed state is written: a second restart reads the pause's and the idle's own rows;
    # agent3's once the calls found in Asterisk are taken up (none: its call is over).
    assert agent_writes(out) == []
    _, out = sb.step(board, sb.Adopt(()), at(1))
    assert [(record.agent, record.state, record.at) for record, _ in agent_writes(out)] == [
        ("agent3", "idle", T0)
    ]
    again, _ = sb.step(fresh(), sb.RestoreAgents(last), T0 + timedelta(minutes=5))
    assert again.centre.agents["agent1"].since == at(-60) and again.centre.agents["agent2"].since == at(-30)


def test_restored_states_change_only_agents_still_logged_out() -> None:
    """Read late (PostgreSQL away at the start): an agent who logged in since keeps their state."""
    board, _ = sb.step(fresh(), sb.AgentCommand("agent1", "login"), T0)
    last = {
        "agent1": AgentStateRecord("agent1", at(-60), "paused", "lunch"),
        "agent2": AgentStateRecord("agent2", at(-60), "paused", "lunch"),
    }
    board, out = sb.step(board, sb.RestoreAgents(last), at(5))
    agents = board.centre.agents
    assert agents["agent1"].state is AgentState.IDLE and agents["agent1"].since == T0
    assert agents["agent2"].state is AgentState.PAUSED
    assert agent_writes(out) == []


def test_agent_commands_are_written_at_once_and_offer_waiting_callers() -> None:
    board, _ = queued(fresh(), "c1")
    board, out = sb.step(board, sb.AgentCommand("agent4", "login"), at(5))
    (record, urgent), *_ = agent_writes(out)
    assert urgent and record.agent == "agent4" and record.state == "idle"
    assert [o.agent_id for o in originates(out)] == ["agent4"]


@pytest.mark.parametrize(
    ("agent_id", "command", "error"),
    [
        ("nobody", "login", KeyError),
        ("agent1", "dance", AgentStateError),
        ("agent1", "logout", AgentStateError),  # ringing: never mid-call
        ("agent1", "pause", AgentStateError),
        ("agent1", "login", AgentStateError),
        ("agent2", "resume", AgentStateError),  # logged out, not paused
    ],
)
def test_a_refused_agent_command_raises_and_changes_nothing(
    agent_id: str, command: str, error: type[Exception]
) -> None:
    board, _ = queued(fresh("agent1"), "c1")
    assert state(board) is AgentState.RINGING
    before = replace(board)
    with pytest.raises(error):
        sb.step(board, sb.AgentCommand(agent_id, command), at(1))
    assert board == before


def test_reprioritising_reorders_the_queue_and_an_unknown_entry_is_refused() -> None:
    board = fresh()
    board, _ = queued(board, "c1", 0)
    board, _ = queued(board, "c2", 5)
    priority = board.centre.queue.entries["place-c2"].priority
    board, out = sb.step(board, sb.Reprioritise("place-c2", 50), at(6))
    assert [e.entry_id for e in board.centre.queue.ordered()] == ["place-c2", "place-c1"]
    # on c2's timeline: why a later caller went ahead
    timeline = [c.record for c in out if isinstance(c, sb.Write) and isinstance(c.record, CallEventRecord)]
    assert [(r.call_id, r.kind, r.detail) for r in timeline] == [
        (board.calls["c2"].record.call_id, "reprioritised", f"{priority} -> 50")
    ]
    # and in its row, written at once: a report shows the priority it waited at
    rows = [c.record for c in out if isinstance(c, sb.Write) and isinstance(c.record, CallRecord)]
    assert [(r.channel_id, r.priority) for r in rows] == [("c2", 50)]
    assert board.calls["c2"].record.priority == 50
    # and on its channel: a router that adopts the call after a restart keeps it
    (told,) = [c for c in channel_commands(out, "c2") if isinstance(c, cmd.SetVariable)]
    place = Place.from_variable(told.value)
    assert place is not None and (place.priority, place.place_id, place.topic) == (50, "place-c2", "operator")
    with pytest.raises(QueueError):
        sb.step(board, sb.Reprioritise("gone", 50), at(7))


def test_an_unreachable_agent_is_not_rung_until_reachable_again() -> None:
    board = fresh("agent1")
    board, _ = sb.step(board, sb.Reachable("agent1", False), T0)
    board, out = queued(board, "c1", 1)
    assert not originates(out)
    board, out = sb.step(board, sb.Reachable("agent1", True), at(2))
    assert [o.agent_id for o in originates(out)] == ["agent1"]


# ---- a board that keeps no journal (a simulated day's) -----------------------------------------
def _a_call_answered_and_ended(board: sb.Board) -> list[sb.Command]:
    out: list[sb.Command] = []
    board, more = queued(board, "c1", 0.0, number="+79161234567")
    out += more
    leg = leg_for(more).channel_id
    for event, seconds in ((sb.LegAnswered(leg), 2.0), (sb.OnCall("c1", ev.CallerHungUp("16")), 60.0)):
        board, more = sb.step(board, event, at(seconds))
        out += more
    board, more = sb.step(board, sb.LegGone(leg, "Normal Clearing"), at(60.5))
    return out + more


def test_a_board_without_a_journal_writes_no_call_events_places_nor_memories_and_nothing_else_changes() -> (
    None
):
    """A simulated day's board: nothing of the journal is written, and its calls (not
    ``live``) set no place on their channels (no router will take them up)."""
    board = fresh("agent1")
    kept = _a_call_answered_and_ended(board)
    quiet = replace(board, rules=replace(board.rules, journal=False))
    without = _a_call_answered_and_ended(quiet)
    journal = (CallEventRecord, PlaceRecord, PersonRecord)
    dropped = [c for c in kept if isinstance(c, sb.Write) and isinstance(c.record, journal)]
    assert {type(c.record) for c in dropped} == set(journal)  # the call wrote each kind with one
    placed = [c for c in kept if isinstance(c, sb.ToChannel) and isinstance(c.command, cmd.SetVariable)]
    assert [c.command.name for c in placed] == [PLACE_VARIABLE]  # type: ignore[union-attr]
    assert without == [c for c in kept if c not in dropped and c not in placed]
    assert any(isinstance(c, sb.Write) and isinstance(c.record, CallRecord) for c in without)
    assert any(isinstance(c, sb.Write) and isinstance(c.record, AgentStateRecord) for c in without)


def test_a_call_of_a_board_without_a_journal_sets_no_menu_level_on_its_channel() -> None:
    """Two keys ("2" then "1"): a live call keeps the level reached on its channel (for a
    router that takes it up), a simulated day's call does not."""

    def set_on_channel(board: sb.Board) -> list[str]:
        _, out = queued(board, "c1", 0.0, keys="21", number="+79161234567")
        variables = [c.command for c in out if isinstance(c, sb.ToChannel)]
        return [v.name for v in variables if isinstance(v, cmd.SetVariable)]

    board = fresh("agent1")
    assert set_on_channel(board) == [MENU_VARIABLE, PLACE_VARIABLE]
    assert set_on_channel(replace(board, rules=replace(board.rules, journal=False))) == []
