"""An agent's phone that goes within a second of answering (a softphone answering
without media, which Asterisk hangs up at once) dropped the call: the caller goes
back to their place, first in line, and is offered to the next agent; the agent is
auto-paused so their phone takes no more callers. Later, it is an ordinary end."""

from __future__ import annotations

from datetime import timedelta

from callrouter.core import commands as cmd
from callrouter.core import switchboard as sb
from callrouter.core.agents import AgentState
from callrouter.core.call_state import Phase
from callrouter.core.queue import GIVEN_BACK_GRACE
from callrouter.core.records import CallRecord, Outcome, PersonRecord, PlaceRecord, PlaceState
from tests.unit.test_switchboard import (
    T0,
    agent_writes,
    at,
    channel_commands,
    events,
    fresh,
    leg_for,
    originates,
    plays,
    queued,
)


def writes(commands: list[sb.Command], kind: type) -> list:  # type: ignore[type-arg]
    return [c.record for c in commands if isinstance(c, sb.Write) and isinstance(c.record, kind)]


def answered_by_agent1() -> tuple[sb.Board, str]:
    """c1 queued, then c2 behind it; agent1 answers c1 (agent2 is logged out)."""
    board, out = queued(fresh("agent1"), "c1")
    leg = leg_for(out).channel_id
    board, _ = queued(board, "c2", 1)
    board, _ = sb.step(board, sb.LegAnswered(leg), at(3))
    assert board.calls["c1"].phase is Phase.CONNECTED
    return board, leg


def test_a_phone_gone_at_the_answer_puts_the_caller_back_first_and_pauses_the_agent() -> None:
    board, leg = answered_by_agent1()
    entry_id = board.calls["c1"].entry_id
    bridge_id = board.bridges["c1"]
    board, out = sb.step(board, sb.LegGone(leg, "normal"), at(3.4))

    call = board.calls["c1"]
    assert call.phase is Phase.QUEUED and call.entry_id == entry_id
    assert (call.record.agent, call.record.agent_answered_at, call.record.outcome) == (None, None, None)
    assert "agent_dropped" in events(out)
    music = out.index(sb.ToChannel("c1", cmd.StartMoh()))
    assert out.index(sb.DestroyBridge("c1", bridge_id)) < music, "out of the bridge, then music"
    assert "c1" not in board.bridges, "the next agent's bridge is made anew"

    agent1 = board.centre.agents["agent1"]
    assert agent1.state is AgentState.PAUSED
    assert agent1.pause_reason == "auto-pause: dropped the call at answer"
    assert any(r.state == "paused" and urgent for r, urgent in agent_writes(out))
    (place,) = writes(out, PlaceRecord)
    assert (place.place_id, place.state) == (entry_id, PlaceState.WAITING), "a restart keeps the place"

    assert originates(out) == [], "nobody free"
    assert board.centre.queue.ordered()[0].entry_id == entry_id

    board, out = sb.step(board, sb.AgentCommand("agent2", "login"), at(4))
    (ring,) = originates(out)
    assert ring.agent_id == "agent2" and ring.app_args.startswith(f"agent,{entry_id},"), "c1 first, not c2"
    again = f"{bridge_id}-1"  # a new name: the destroyed one may still be leaving Asterisk
    assert sb.ToChannel("c1", sb.MakeBridge(again)) in out, "the place's bridge, made again"
    bridge_id = again
    board, out = sb.step(board, sb.LegAnswered(ring.channel_id), at(5))
    assert board.calls["c1"].phase is Phase.CONNECTED
    assert sb.JoinBridge(bridge_id, ring.channel_id) in channel_commands(out, "c1")
    (saved,) = [r for r in writes(out, CallRecord) if r.channel_id == "c1"]
    assert (saved.agent, saved.outcome) == ("agent2", Outcome.ANSWERED)


def test_a_phone_gone_after_a_second_is_an_ordinary_end() -> None:
    board, leg = answered_by_agent1()
    board, out = sb.step(board, sb.LegGone(leg, "normal"), at(4.5))
    assert cmd.Hangup("normal") in channel_commands(out, "c1"), "the agent hung up: the call is over"
    ending = board.calls["c1"].record
    assert (ending.outcome, ending.end_reason) == (Outcome.ANSWERED, "agent hung up")
    assert board.centre.agents["agent1"].state is AgentState.WRAP_UP


def test_the_ring_made_again_after_a_drop_uses_the_same_place_and_a_new_leg() -> None:
    board, leg = answered_by_agent1()
    board, _ = sb.step(board, sb.LegGone(leg, "normal"), at(3.4))
    board, out = sb.step(board, sb.AgentCommand("agent2", "login"), at(4))
    (ring,) = originates(out)
    assert ring.channel_id != leg and board.leg_of[board.calls["c1"].entry_id or ""] == ring.channel_id
    board, out = sb.step(board, sb.LegGone(ring.channel_id, "No answer"), at(20))
    assert board.calls["c1"].phase is Phase.QUEUED, "no answer from agent2 either: still waiting"
    assert board.centre.agents["agent2"].pause_reason == "auto-pause: No answer"


def test_the_dropping_agent_is_not_remembered_as_having_talked_to_the_caller() -> None:
    """The answer remembered the caller's contact with agent1 (a later call of theirs
    would prefer agent1, and count as a repeat contact); the drop gives back what was
    remembered before it, and the agent who answers next is the one remembered."""
    board, leg = answered_by_agent1()
    person = board.calls["c1"].person
    assert person is not None and board.people[person].contact_agent == "agent1"
    board, out = sb.step(board, sb.LegGone(leg, "normal"), at(3.4))
    (memory,) = writes(out, PersonRecord)
    assert (memory.person, memory.contact_agent, memory.contact_at) == (person, None, None)
    assert board.people[person].contact_agent is None
    board, out = sb.step(board, sb.AgentCommand("agent2", "login"), at(4))
    board, out = sb.step(board, sb.LegAnswered(leg_for(out).channel_id), at(5))
    assert board.people[person].contact_agent == "agent2"
    assert [m.contact_agent for m in writes(out, PersonRecord)] == ["agent2"]


def dropped_near_max_wait() -> sb.Board:
    """c1 then c2 wait for appointments (900 s at most, then "busy"); agent1 comes back
    from a break at 895 s and answers c1, whose place is given back at 897.5 s (agent2 is
    logged out): 2.5 s short of c1's maximum wait."""
    board = fresh("agent1")
    board, _ = sb.step(board, sb.AgentCommand("agent1", "pause", "break"), T0)
    board, _ = queued(board, "c1", 0, keys="21")
    board, _ = queued(board, "c2", 10, keys="21")
    board, out = sb.step(board, sb.AgentCommand("agent1", "resume"), at(895))
    board, _ = sb.step(board, sb.LegAnswered(leg_for(out).channel_id), at(897))
    board, out = sb.step(board, sb.LegGone(leg_for(out).channel_id, "normal"), at(897.5))
    assert board.calls["c1"].phase is Phase.QUEUED and originates(out) == []
    return board


def test_a_caller_dropped_near_their_max_wait_gets_the_next_agent_not_the_overflow() -> None:
    board = dropped_near_max_wait()
    grace_end = at(897.5) + GIVEN_BACK_GRACE
    assert board.deadlines[("entry", "place-c1")] == grace_end, "not at 900 s: the drop was not theirs"
    board, out = sb.step(board, sb.Wake(), at(900))
    assert board.calls["c1"].phase is Phase.QUEUED and not plays(out, "c1")
    place = board.centre.queue.ordered()[0]
    assert place.entry_id == "place-c1" and place.joined_at == at(0), "their place and wait as they were"
    board, out = sb.step(board, sb.AgentCommand("agent2", "login"), at(930))
    (ring,) = originates(out)
    assert ring.agent_id == "agent2" and ring.app_args.startswith("agent,place-c1,")
    board, _ = sb.step(board, sb.LegAnswered(ring.channel_id), at(932))
    assert board.calls["c1"].phase is Phase.CONNECTED and board.calls["c1"].record.agent == "agent2"


def test_a_caller_not_dropped_still_overflows_at_max_wait_and_a_dropped_one_at_the_grace_end() -> None:
    board = dropped_near_max_wait()
    board, out = sb.step(board, sb.Wake(), at(910))
    assert board.calls["c2"].phase is Phase.LEAVING, "c2 was never answered: overflowed at 900 s of wait"
    assert any("overflow_busy" in m for p in plays(out, "c2") for m in p.media)
    assert board.calls["c1"].phase is Phase.QUEUED
    grace_end = at(897.5) + GIVEN_BACK_GRACE
    board, out = sb.step(board, sb.Wake(), grace_end - timedelta(seconds=0.5))
    assert board.calls["c1"].phase is Phase.QUEUED and not plays(out, "c1")
    board, out = sb.step(board, sb.Wake(), grace_end)
    assert board.calls["c1"].phase is Phase.LEAVING and "place-c1" not in board.centre.queue
    assert any("overflow_busy" in m for p in plays(out, "c1") for m in p.media)


def test_a_place_taken_up_at_a_restart_is_not_overflowed_at_once() -> None:
    """A restarted router cannot tell a grace that was running (a dropped answer, a kept place),
    so a waiting caller it takes up past their topic's maximum gets one from the restart; one
    whose maximum is further off keeps it (results: 600 s, then the operator topic)."""
    from tests.unit.test_switchboard import found_waiting

    past, later = found_waiting("c1", 0, "results"), found_waiting("c2", 500, "results")
    board, _ = sb.step(fresh(), sb.Adopt((past, later)), at(650))
    assert board.deadlines[("entry", "place-c1")] == at(650) + GIVEN_BACK_GRACE
    assert board.deadlines[("entry", "place-c2")] == at(1100), "its own maximum, after the grace"
    board, _ = sb.step(board, sb.Wake(), at(651))
    assert "place-c1" in board.centre.queue and board.calls["c1"].record.topic == "results"
    board, _ = sb.step(board, sb.Wake(), at(650) + GIVEN_BACK_GRACE)
    assert board.calls["c1"].record.topic == "operator", "overflowed at the grace's end"
