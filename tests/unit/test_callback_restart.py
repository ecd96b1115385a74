"""A restarted router finds a callback's person still talking to its agent: the
conversation goes on, the agent stays on it (offered nobody), and either side's
hang-up ends both and the agent wraps up, as for a callback this router answered."""

from __future__ import annotations

from dataclasses import replace

import pytest

from callrouter.core import call_events as ev
from callrouter.core import commands as cmd
from callrouter.core import switchboard as sb
from callrouter.core.agents import AgentState
from callrouter.core.callbacks import Stage
from callrouter.core.place import VARIABLE as PLACE_VARIABLE
from callrouter.core.place import Ended, Place
from callrouter.core.records import AgentStateRecord, CallbackRecord, CallbackState, CallEventRecord, Outcome
from tests.unit.test_callbacks import (
    ANNA,
    accept,
    agent_then_person,
    booked_with_agent_free,
    busy_centre,
    waiting_with_offer,
    written,
)
from tests.unit.test_switchboard import CLINIC, at, fresh, originates, queued


def talking() -> tuple[sb.FoundCallback, CallbackRecord]:
    """ANNA's callback answered at 70 s, as a restart finds it; and its record as stored."""
    board, callback_id = booked_with_agent_free()
    board, ring, dial = agent_then_person(board, callback_id, 60)
    board, out = sb.step(board, sb.DialAnswered(dial.channel_id), at(70))
    (done,) = written(out, CallbackRecord)
    assert done.state is CallbackState.COMPLETED
    found = sb.FoundCallback(dial.channel_id, callback_id, done, "agent1", ring.channel_id)
    return found, done


def restarted(found: sb.FoundCallback) -> tuple[sb.Board, list[sb.Command]]:
    """A new router: agent1's last row said on a call (idle now), then the adoption."""
    board = fresh()
    last = {"agent1": AgentStateRecord("agent1", at(70), "on_call", "answered")}
    board, _ = sb.step(board, sb.RestoreAgents(last), at(100))
    return sb.step(board, sb.Adopt((), (), (), (found,)), at(100))


def test_a_callback_talking_through_a_restart_is_followed_and_its_agent_offered_nobody() -> None:
    found, _ = talking()
    board, out = restarted(found)
    assert not [c for c in out if isinstance(c, sb.HangupLeg)], "nobody is hung up"
    agent = board.centre.agents["agent1"]
    assert agent.state is AgentState.ON_CALL and agent.entry_id == found.callback_id
    assert board.callbacks[found.callback_id].stage is Stage.TALKING
    assert board.dials == {found.channel_id: found.callback_id}
    assert board.legs[found.agent_channel].answered and board.leg_of == {
        found.callback_id: found.agent_channel
    }
    assert not written(out, CallbackRecord), "completed already: nothing to write"
    assert [r.kind for r in written(out, CallEventRecord)] == ["callback_resumed"]
    board, out = queued(board, "c9", 110)
    assert not originates(out), "agent1 is talking: the caller waits"


@pytest.mark.parametrize("first", ["person", "agent"])
def test_either_sides_hang_up_ends_both_and_the_agent_wraps_up(first: str) -> None:
    found, _ = talking()
    board, _ = restarted(found)
    if first == "person":
        board, out = sb.step(board, sb.DialGone(found.channel_id, "Normal Clearing"), at(300))
        assert sb.HangupLeg(found.agent_channel, "person hung up") in out
        assert sb.DestroyBridge(found.channel_id, f"bridge-{found.channel_id}") in out
        board, _ = sb.step(board, sb.LegGone(found.agent_channel, "Normal Clearing"), at(300.2))
    else:
        board, out = sb.step(board, sb.LegGone(found.agent_channel, "Normal Clearing"), at(300))
        assert sb.HangupLeg(found.channel_id, "agent hung up") in out
        board, _ = sb.step(board, sb.DialGone(found.channel_id, "Normal Clearing"), at(300.2))
    assert board.callbacks == {} and board.dials == {} and board.legs == {} and board.bridges == {}
    assert board.centre.agents["agent1"].state is AgentState.WRAP_UP


def test_a_callback_whose_answer_was_never_recorded_is_completed_now() -> None:
    found, done = talking()
    dialling = replace(done, state=CallbackState.DIALLING, attempts=())
    board, out = restarted(replace(found, record=dialling))
    (record,) = written(out, CallbackRecord)
    assert record.state is CallbackState.COMPLETED and [a.outcome for a in record.attempts] == ["answered"]
    # and the open callbacks restored next do not dial it again
    board, out = sb.step(board, sb.RestoreCallbacks((dialling,)), at(101))
    assert not [c for c in out if isinstance(c, sb.LeaseCallback | sb.Dial)]


def test_a_conversation_with_an_agent_the_config_does_not_know_is_hung_up() -> None:
    found, _ = talking()
    board, out = restarted(replace(found, agent_id="nobody"))
    assert sb.HangupLeg(found.channel_id, "no such callback or agent") in out
    assert sb.HangupLeg(found.agent_channel, "no such callback or agent") in out
    assert board.callbacks == {} and board.legs == {}


def test_a_caller_told_their_callback_is_booked_is_hung_up_by_the_next_router_and_the_callback_kept() -> None:
    """A restart while the caller hears "we will call you back": their channel says the
    call is over (its place is the callback's), so the next router hangs it up with its
    record as it was, and the stored callback takes its place and is dialled. Taken up as
    waiting (as it was), the caller went back into the queue in the callback's place,
    and the stored callbacks, all of them, failed to be restored in that step."""
    board = busy_centre("agent1")
    board = waiting_with_offer(board, "c1", 1, number=ANNA)
    board, out = accept(board, "c1", 20)
    (callback,) = board.callbacks.values()
    kept = {c.command.name: c.command.value for c in out if isinstance(c, sb.ToChannel)
            and c.channel_id == "c1" and isinstance(c.command, cmd.SetVariable)}  # fmt: skip
    assert Place.from_variable(kept[PLACE_VARIABLE]) is None
    ended = Ended.from_variable(kept[PLACE_VARIABLE])
    assert ended == Ended(Outcome.CALLBACK, "callback requested")
    after = busy_centre("agent1")
    after, _ = sb.step(after, sb.RestoreCallbacks((), complete=False), at(25))
    after, out = sb.step(after, sb.Adopt((sb.Found("c1", CLINIC, ANNA, at(0), ended=ended),)), at(26))
    assert any(isinstance(c, sb.ToChannel) and isinstance(c.command, cmd.Hangup) for c in out), "hung up"
    assert "c1" not in {e.channel_id for e in after.centre.queue.entries.values()}
    after, _ = sb.step(after, sb.RestoreCallbacks((callback.record,), complete=True), at(26))
    assert callback.callback_id in after.callbacks and not after.callbacks_unknown
    assert callback.callback_id in after.centre.queue, "the callback holds its place"
    after, out = sb.step(after, sb.OnCall("c1", ev.ChannelGone("Normal Clearing")), at(27))
    (over,) = [c.record for c in out if isinstance(c, sb.CallOver)]
    assert (over.outcome, over.end_reason) == (Outcome.CALLBACK, "callback requested")


def test_a_stored_callback_whose_place_a_call_holds_is_cancelled_not_restored_twice() -> None:
    """Whatever brought it there, a call holding the callback's very place keeps it (the
    person is on the line): the callback is cancelled, and the restore goes through (it
    raised, and the whole step was lost: every stored callback, and the end of
    ``callbacks_unknown``)."""
    board = busy_centre("agent1")
    board = waiting_with_offer(board, "c1", 1, number=ANNA)
    board, _ = accept(board, "c1", 20)
    (callback,) = board.callbacks.values()
    record = callback.record
    place = Place(
        record.topic, record.priority, record.joined_at, record.language, None, callback.callback_id
    )
    after = busy_centre("agent1")
    after, _ = sb.step(after, sb.RestoreCallbacks((), complete=False), at(25))
    after, _ = sb.step(after, sb.Adopt((sb.Found("c1", CLINIC, ANNA, at(0), place),)), at(26))
    after, out = sb.step(after, sb.RestoreCallbacks((record,), complete=True), at(26))
    assert not after.callbacks_unknown and callback.callback_id not in after.callbacks
    (cancelled,) = written(out, CallbackRecord)
    assert cancelled.state is CallbackState.CANCELLED
    assert after.entries[callback.callback_id] == "c1", "the call keeps the place"
