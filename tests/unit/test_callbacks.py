"""Callbacks in the switchboard, step by step: the offer, the number, the virtual
place at the caller's join time, the reserved agent and the lease, the agent's
phone first and then the person, retries, and a person who calls in meanwhile.
Pure steps on the example's board (callbacks offered from a 5 minute estimate)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from callrouter import compiled, config
from callrouter.core import call_events as ev
from callrouter.core import callback_fit
from callrouter.core import switchboard as sb
from callrouter.core.call_state import Phase
from callrouter.core.callbacks import Stage
from callrouter.core.queue import GIVEN_BACK_GRACE
from callrouter.core.records import (
    CallbackRecord,
    CallbackState,
    CallEventRecord,
    CallRecord,
    Outcome,
    RepeatKind,
)
from tests.unit.test_switchboard import EXAMPLE, NORTH, T0, at, fresh, on, originates, plays, queued

ANNA = "+79161234567"
BORIS = "+79167654321"
PROMPTS = "/usr/share/callrouter/prompts/ru"


def busy_centre(*agents: str) -> sb.Board:
    """Agents logged in but on a break, and ten minute calls behind the estimate:
    a caller in line hears an honest wait past the offer threshold."""
    board = fresh(*agents)
    for agent in agents:
        board, _ = sb.step(board, sb.AgentCommand(agent, "pause", "break"), T0)
    return replace(board, handled=(600.0,) * 5)


def heard(commands: list[sb.Command], channel_id: str) -> list[str]:
    return [m.removeprefix(f"sound:{PROMPTS}/") for p in plays(commands, channel_id) for m in p.media]


def written(commands: list[sb.Command], kind: type) -> list:  # type: ignore[type-arg]
    return [c.record for c in commands if isinstance(c, sb.Write) and isinstance(c.record, kind)]


def finish_playback(board: sb.Board, channel_id: str, seconds: float) -> tuple[sb.Board, list[sb.Command]]:
    return on(board, channel_id, ev.PlaybackFinished(board.calls[channel_id].playback_id or ""), seconds)


def waiting_with_offer(board: sb.Board, channel_id: str, seconds: float, **arrival: object) -> sb.Board:
    board, out = queued(board, channel_id, seconds, **arrival)  # type: ignore[arg-type]
    if "callback_offer" not in heard(out, channel_id):  # the greeting first: then the place
        board, out = finish_playback(board, channel_id, seconds + 1)
    assert "callback_offer" in heard(out, channel_id), heard(out, channel_id)
    board, _ = finish_playback(board, channel_id, seconds + 2)  # music until the next announcement
    return board


def accept(board: sb.Board, channel_id: str, seconds: float) -> tuple[sb.Board, list[sb.Command]]:
    """Press 1 at the offer, then 1 to confirm the number read back."""
    board, out = on(board, channel_id, ev.Digit("1"), seconds)
    board, more = on(board, channel_id, ev.Digit("1"), seconds + 1)
    return board, out + more


def booked(board: sb.Board) -> sb.Board:
    """Callers waiting: ANNA (who takes a callback at 20 s), then BORIS."""
    board = waiting_with_offer(board, "c1", 1, number=ANNA)
    board = waiting_with_offer(board, "c2", 5, number=BORIS)
    board, _ = accept(board, "c1", 20)
    return board


def test_the_offer_comes_with_an_honest_estimate_past_the_threshold_only() -> None:
    board = fresh("agent1")
    board, _ = sb.step(board, sb.AgentCommand("agent1", "pause", "break"), T0)
    board, _ = queued(board, "c1", 1, number=ANNA)
    board, out = finish_playback(board, "c1", 2)
    assert "callback_offer" not in heard(out, "c1"), "no samples: no honest estimate, no offer"
    board, _ = on(board, "c1", ev.Digit("1"), 3)
    assert board.calls["c1"].dialog is None, "1 means nothing before the offer"


def test_the_first_offer_is_on_the_calls_timeline_the_reminders_are_not() -> None:
    board = busy_centre("agent1")
    board, out = queued(board, "c1", 1, number=ANNA)  # the place, the estimate and the offer at once
    assert "callback_offer" in heard(out, "c1")
    offers = [r for r in written(out, CallEventRecord) if r.kind == "callback_offered"]
    assert [(r.at, r.detail) for r in offers] == [(at(1), "estimate 10 min")]
    board, _ = finish_playback(board, "c1", 10)  # music until the next announcement
    timer = board.calls["c1"].timer
    assert timer is not None
    board, out = on(board, "c1", ev.TimerFired(timer), 70)
    assert "callback_offer" in heard(out, "c1"), "reminded"
    assert not [r for r in written(out, CallEventRecord) if r.kind == "callback_offered"]


def test_accepting_reads_the_number_back_and_books_a_callback_that_keeps_the_place() -> None:
    board = busy_centre("agent1")
    board = waiting_with_offer(board, "c1", 1, number=ANNA)
    board = waiting_with_offer(board, "c2", 5, number=BORIS)
    board, out = on(board, "c1", ev.Digit("1"), 20)
    assert heard(out, "c1") == ["callback_confirm", "digits:79161234567", "callback_confirm_keys"]
    board, out = on(board, "c1", ev.Digit("1"), 22)

    (callback,) = board.callbacks.values()
    assert callback.record.number == ANNA and callback.record.joined_at == at(1)
    assert callback.record.state is CallbackState.PENDING and callback.stage is Stage.WAITING
    assert written(out, CallbackRecord)[-1].state is CallbackState.PENDING
    entry = board.centre.queue.entries[callback.callback_id]
    assert entry.channel_id is None and entry.joined_at == at(1), "a virtual place at the caller's join time"
    assert board.centre.queue.position(callback.callback_id) == 1, "ahead of the caller who joined after"
    assert "callback_accepted" in heard(out, "c1")
    board, out = finish_playback(board, "c1", 30)
    board, out = on(board, "c1", ev.CallerHungUp(), 30.5)
    (record,) = [r for r in written(out, CallRecord) if r.channel_id == "c1"]
    assert record.outcome is Outcome.CALLBACK
    assert callback.callback_id in board.centre.queue, "the call's end leaves the callback in place"


def us_centre() -> sb.Board:
    """``busy_centre`` with clinic-central reading numbers as in the US (national ones begin with 1)."""
    text = EXAMPLE.read_text().replace('country = "RU"', 'country = "US"', 1)  # the first line's
    board = compiled.board(config.parse(text, str(EXAMPLE), environ={}))
    board, _ = sb.step(board, sb.AgentCommand("agent1", "login"), T0)
    board, _ = sb.step(board, sb.AgentCommand("agent1", "pause", "break"), T0)
    return replace(board, handled=(600.0,) * 5)


def test_two_at_the_read_back_asks_for_another_number_which_may_begin_with_1() -> None:
    board = waiting_with_offer(us_centre(), "c1", 1, number="+12125550100")
    board, out = on(board, "c1", ev.Digit("1"), 20)
    assert heard(out, "c1") == ["callback_confirm", "digits:12125550100", "callback_confirm_keys"]
    board, out = on(board, "c1", ev.Digit("2"), 22)
    assert heard(out, "c1") == ["callback_key_number"]
    assert [r.kind for r in written(out, CallEventRecord)] == ["callback_other_number"]
    board, _ = on(board, "c1", ev.Digit("1"), 23)
    assert board.callbacks == {} and board.calls["c1"].dialog is not None, "a digit, not a confirmation"
    for key in "2125550123#":
        board, out = on(board, "c1", ev.Digit(key), 24)
    (callback,) = board.callbacks.values()
    assert callback.record.number == "+12125550123", "the number keyed, not the one read back"


def test_another_key_at_the_read_back_hears_the_choice_again() -> None:
    board = waiting_with_offer(busy_centre("agent1"), "c1", 1, number=ANNA)
    board, _ = on(board, "c1", ev.Digit("1"), 20)
    for key in "8#":  # keying a number straight away: the choice again, nothing booked
        board, out = on(board, "c1", ev.Digit(key), 21)
        assert heard(out, "c1") == [
            "invalid_option", "callback_confirm", "digits:79161234567", "callback_confirm_keys"
        ]  # fmt: skip
        assert board.callbacks == {} and board.calls["c1"].dialog is not None
    board, _ = on(board, "c1", ev.Digit("1"), 22)
    (callback,) = board.callbacks.values()
    assert callback.record.number == ANNA


def test_a_withheld_caller_keys_a_number_and_garbage_is_asked_again_then_dropped() -> None:
    board = busy_centre("agent1")
    board = waiting_with_offer(board, "c1", 1, number="anonymous")
    board, out = on(board, "c1", ev.Digit("1"), 20)
    assert heard(out, "c1") == ["callback_key_number"]
    for key in "12#":
        board, out = on(board, "c1", ev.Digit(key), 21)
    assert heard(out, "c1") == ["callback_number_invalid", "callback_key_number"]
    for key in "9#":
        board, out = on(board, "c1", ev.Digit(key), 25)
    assert heard(out, "c1") == ["callback_stay_in_line"]
    assert board.callbacks == {} and board.calls["c1"].dialog is None
    assert board.calls["c1"].phase is Phase.QUEUED, "still in line, nothing stored"

    board, _ = on(board, "c1", ev.Digit("1"), 40)
    for key in "89161112233#":  # a national number, read with the line's country
        board, out = on(board, "c1", ev.Digit(key), 41)
    (callback,) = board.callbacks.values()
    assert callback.record.number == "+79161112233" and callback.record.person is None


def test_a_callback_to_an_excluded_number_is_refused_and_the_caller_stays() -> None:
    board = busy_centre("agent1")
    board = waiting_with_offer(board, "c1", 1, number="+78162700000")
    board, out = accept(board, "c1", 20)
    assert board.callbacks == {} and "callback_not_possible" in heard(out, "c1")
    assert board.calls["c1"].phase is Phase.QUEUED


def test_a_callback_to_one_of_the_centres_own_numbers_is_refused() -> None:
    """It would ring the centre back into its own menu: refused when a caller asks for
    it, and named by its field when an operator makes a follow-up (it was taken)."""
    board = busy_centre("agent1")
    own = "+78162700101"  # clinic-central's line
    waiting = waiting_with_offer(board, "c1", 1, number=own)
    after, out = accept(waiting, "c1", 20)
    assert after.callbacks == {} and "callback_not_possible" in heard(out, "c1")
    found = callback_fit.problems(board.rules, own, "clinic-central", "operator", None)
    assert found == [("number", "the number of one of the centre's lines: it would ring the centre back")]
    in_block = "+78162700355"  # hotline-international's block _781627003XX
    after, out = accept(waiting_with_offer(board, "c2", 1, number=in_block), "c2", 20)
    assert after.callbacks == {} and "callback_not_possible" in heard(out, "c2")
    assert callback_fit.problems(board.rules, in_block, "clinic-central", "operator", None) == found
    assert callback_fit.problems(board.rules, "+79161234567", "clinic-central", "operator", None) == []


def booked_with_agent_free() -> tuple[sb.Board, str]:
    """ANNA's callback booked at 20 s, and agent1 free from 60 s: its lease is asked."""
    board = busy_centre("agent1")
    board = waiting_with_offer(board, "c1", 1, number=ANNA)
    board, _ = accept(board, "c1", 20)
    (callback_id,) = board.callbacks
    board, _ = sb.step(board, sb.AgentCommand("agent1", "resume"), at(60))
    return board, callback_id


def agent_then_person(board: sb.Board, callback_id: str, t: float) -> tuple[sb.Board, sb.Originate, sb.Dial]:
    """The lease taken at ``t``: the agent's phone rung and answered, then the person dialled."""
    board, out = sb.step(board, sb.CallbackLeased(callback_id, sb.Lease.TAKEN), at(t + 0.1))
    (ring,) = originates(out)
    board, out = sb.step(board, sb.LegAnswered(ring.channel_id), at(t + 2))
    (dial,) = [c for c in out if isinstance(c, sb.Dial)]
    return board, ring, dial


def test_the_callback_is_dialled_agent_first_and_only_with_its_lease() -> None:
    board = booked(busy_centre("agent1"))
    (callback_id,) = board.callbacks
    board, out = sb.step(board, sb.AgentCommand("agent1", "resume"), at(60))
    assert out.count(sb.LeaseCallback(callback_id)) == 1 and not originates(out), "no ring before the lease"
    board, out = sb.step(board, sb.CallbackLeased(callback_id, sb.Lease.TAKEN), at(60.1))
    (ring,) = originates(out)
    assert ring.agent_id == "agent1" and ring.label.startswith("callback ")
    assert not [c for c in out if isinstance(c, sb.Dial)], "the person only once the agent answered"

    board, out = sb.step(board, sb.LegAnswered(ring.channel_id), at(63))
    (dial,) = [c for c in out if isinstance(c, sb.Dial)]
    assert dial.number == ANNA and dial.app_args == f"callback,{callback_id}"
    assert written(out, CallbackRecord)[-1].state is CallbackState.DIALLING

    board, out = sb.step(board, sb.DialAnswered(dial.channel_id), at(70))
    joins = [c for c in out if isinstance(c, sb.ToChannel) and isinstance(c.command, sb.JoinBridge)]
    assert [(j.channel_id, j.command.agent_channel_id) for j in joins] == [(dial.channel_id, ring.channel_id)]  # type: ignore[union-attr]
    done = written(out, CallbackRecord)[-1]
    assert done.state is CallbackState.COMPLETED and [a.outcome for a in done.attempts] == ["answered"]

    board, out = sb.step(board, sb.DialGone(dial.channel_id, "Normal Clearing"), at(300))
    assert sb.HangupLeg(ring.channel_id, "person hung up") in out
    board, _ = sb.step(board, sb.LegGone(ring.channel_id, "normal"), at(300.2))
    assert board.callbacks == {} and board.dials == {} and board.bridges == {}
    assert board.centre.agents["agent1"].state.value == "wrap_up"


def test_no_lease_releases_the_agent_unpaused_and_callers_on_the_line_go_first() -> None:
    board = booked(busy_centre("agent1"))
    (callback_id,) = board.callbacks
    board, _ = sb.step(board, sb.AgentCommand("agent1", "resume"), at(60))
    board, out = sb.step(board, sb.CallbackLeased(callback_id, sb.Lease.WAIT), at(60.5))
    (ring,) = originates(out)
    assert ring.app_args.split(",")[1] == "place-c2", "the caller on the line is served meanwhile"
    assert board.callbacks[callback_id].stage is Stage.SCHEDULED
    assert callback_id not in board.centre.queue


def test_a_lease_the_shell_never_answers_counts_as_refused() -> None:
    board = booked(busy_centre("agent1"))
    board, _ = sb.step(board, sb.AgentCommand("agent1", "resume"), at(60))
    board, out = sb.step(board, sb.Wake(), at(71))
    assert [o.app_args.split(",")[1] for o in originates(out)] == ["place-c2"]


def test_no_answer_releases_the_agent_at_once_retries_then_gives_up() -> None:
    board, callback_id = booked_with_agent_free()
    t = 60.0
    for attempt in range(1, 4):
        board, ring, dial = agent_then_person(board, callback_id, t)
        board, out = sb.step(board, sb.DialGone(dial.channel_id, "No answer"), at(t + 32))
        assert board.centre.agents["agent1"].state.value == "idle", "released at once, no wrap-up"
        assert sb.HangupLeg(ring.channel_id, "callback not answered") in out
        record = written(out, CallbackRecord)[-1]
        assert [a.outcome for a in record.attempts] == ["no_answer"] * attempt
        board, _ = sb.step(board, sb.LegGone(ring.channel_id, "normal"), at(t + 32.2))
        if attempt < 3:
            assert record.state is CallbackState.PENDING
            board, out = sb.step(board, sb.Wake(), at(t + 32 + 299))
            assert sb.LeaseCallback(callback_id) not in out, "not before retry_seconds"
            t += 32 + 300
            board, out = sb.step(board, sb.Wake(), at(t))
            assert sb.LeaseCallback(callback_id) in out
    assert record.state is CallbackState.FAILED and board.callbacks == {}
    assert callback_id not in board.centre.queue


def test_a_person_with_a_pending_callback_who_calls_in_waits_in_its_place_instead() -> None:
    board = booked(busy_centre("agent1"))
    board, _ = finish_playback(board, "c1", 30)
    board, _ = on(board, "c1", ev.CallerHungUp(), 31)
    board, out = queued(board, "c3", 100, number=ANNA, did=NORTH, keys="")
    assert "callback_pending_choice" in heard(out, "c3") and board.callbacks, "asked first"
    board, more = on(board, "c3", ev.Digit("5"), 104)  # anything but 1: waits in the callback's place
    out += more
    assert board.callbacks == {}, "never both"
    cancelled = written(out, CallbackRecord)[-1]
    assert cancelled.state is CallbackState.CANCELLED and cancelled.reason == "the person called in"
    entry = board.centre.queue.entries["place-c3"]
    assert entry.joined_at == at(1) and board.centre.queue.position("place-c3") == 1
    record = [r for r in written(out, CallRecord) if r.channel_id == "c3"][-1]
    assert record.repeat_kind is RepeatKind.CALLBACK_PENDING


def test_a_person_who_waits_on_the_line_in_a_long_pending_callbacks_place_is_not_overflowed_at_once() -> None:
    """Appointments wait 900 s at most: the callback booked at 20 s (its place joined at
    1 s) waited, as callbacks do, past that; its person calls in at 1000 s and chooses to
    wait on the line in its place, and is told so: not a "busy" a second later (their
    callback cancelled), but a grace for the next agent."""
    board = waiting_with_offer(busy_centre("agent1"), "c1", 1, number=ANNA, keys="21")
    board, _ = accept(board, "c1", 20)
    board, _ = finish_playback(board, "c1", 30)
    board, _ = on(board, "c1", ev.CallerHungUp(), 31)
    board, _ = queued(board, "c3", 1000, number=ANNA, did=NORTH, keys="")
    board, out = on(board, "c3", ev.Digit("5"), 1004)
    assert board.callbacks == {} and "repeat_kept_place" in heard(out, "c3")
    assert board.centre.queue.entries["place-c3"].joined_at == at(1), "the callback's place"
    assert board.deadlines[("entry", "place-c3")] == at(1004) + GIVEN_BACK_GRACE
    board, out = sb.step(board, sb.Wake(), at(1005))
    assert board.calls["c3"].phase is Phase.QUEUED and "overflow_busy" not in heard(out, "c3")
    board, out = sb.step(board, sb.AgentCommand("agent1", "resume"), at(1030))
    assert [o.app_args for o in originates(out)] == ["agent,place-c3,agent1"]


def test_restored_and_scheduled_callbacks_join_the_queue_at_their_time() -> None:
    board = busy_centre("agent1")
    restored = CallbackRecord(
        "cb-1", T0, CallbackState.PENDING, ANNA, T0, T0 - timedelta(minutes=3), "operator", "clinic-central",
        "ru", 0, ANNA, None,
    )  # fmt: skip
    later = replace(restored, callback_id="cb-2", number=BORIS, person=BORIS, joined_at=at(600))
    board, _ = sb.step(board, sb.RestoreCallbacks((restored,)), at(1))
    assert "cb-1" in board.centre.queue
    board, out = sb.step(board, sb.ScheduleCallback(later), at(2))
    assert "cb-2" not in board.centre.queue and written(out, CallbackRecord)
    with pytest.raises(sb.CallbackError):
        sb.step(board, sb.ScheduleCallback(replace(later, callback_id="cb-3")), at(3))
    board, _ = sb.step(board, sb.Wake(), at(600))
    assert "cb-2" in board.centre.queue
    board, out = sb.step(board, sb.CancelCallback("cb-2", "agent: done by mail"), at(601))
    assert (
        "cb-2" not in board.centre.queue and written(out, CallbackRecord)[-1].state is CallbackState.CANCELLED
    )
    with pytest.raises(KeyError):
        sb.step(board, sb.CancelCallback("cb-9", "x"), at(602))


def test_a_callback_whose_number_is_excluded_since_is_cancelled_with_the_reason() -> None:
    board = booked(busy_centre("agent1"))
    (callback_id,) = board.callbacks
    rules = replace(board.rules, repeat=replace(board.rules.repeat, exclude=(ANNA,)))
    board = replace(board, rules=rules)
    board, out = sb.step(board, sb.AgentCommand("agent1", "resume"), at(60))
    assert sb.LeaseCallback(callback_id) not in out
    board, out = sb.step(board, sb.Wake(), at(60))
    cancelled = written(out, CallbackRecord)[-1]
    assert cancelled.state is CallbackState.CANCELLED and cancelled.reason == (
        "no longer valid: number excluded from callbacks ([repeat] exclude)"
    )
    assert board.callbacks == {} and [o.app_args.split(",")[1] for o in originates(out)] == ["place-c2"]


def test_a_persons_phone_that_never_says_it_stopped_ringing_is_hung_up_as_no_answer() -> None:
    board = booked(busy_centre("agent1"))
    (callback_id,) = board.callbacks
    board, _ = sb.step(board, sb.AgentCommand("agent1", "resume"), at(60))
    board, out = sb.step(board, sb.CallbackLeased(callback_id, sb.Lease.TAKEN), at(60.1))
    board, out = sb.step(board, sb.LegAnswered(originates(out)[0].channel_id), at(62))
    (dial,) = [c for c in out if isinstance(c, sb.Dial)]
    board, out = sb.step(board, sb.Wake(), at(62 + 30 + sb.RING_GRACE_SECONDS))
    assert sb.HangupLeg(dial.channel_id, "ring timeout") in out
    assert [a.outcome for a in written(out, CallbackRecord)[-1].attempts] == ["no_answer"]
    assert board.centre.agents["agent1"].entry_id == "place-c2", "released at once: the next caller"


def test_a_person_who_keeps_their_pending_callback_hangs_up_and_the_callback_stays() -> None:
    board = booked(busy_centre("agent1"))
    (callback_id,) = board.callbacks
    board, _ = finish_playback(board, "c1", 30)
    board, _ = on(board, "c1", ev.CallerHungUp(), 31)
    board, out = queued(board, "c3", 100, number=ANNA, did=NORTH, keys="1")
    assert "callback_kept" in heard(out, "c3") and callback_id in board.callbacks
    assert callback_id in board.centre.queue and "place-c3" not in board.centre.queue
    record = [r for r in written(out, CallRecord) if r.channel_id == "c3"][-1]
    assert (record.outcome, record.repeat_kind) == (Outcome.CALLBACK, RepeatKind.CALLBACK_PENDING)


def test_silence_at_the_choice_waits_in_the_callbacks_place() -> None:
    board = booked(busy_centre("agent1"))
    board, _ = finish_playback(board, "c1", 30)
    board, _ = on(board, "c1", ev.CallerHungUp(), 31)
    board, _ = queued(board, "c3", 100, number=ANNA, did=NORTH, keys="")
    board, _ = finish_playback(board, "c3", 110)
    board, _ = sb.step(board, sb.Wake(), at(116))
    assert board.callbacks == {} and board.centre.queue.entries["place-c3"].joined_at == at(1)


def test_an_agent_who_leaves_while_the_person_rings_does_not_use_up_the_persons_attempts() -> None:
    """The agent's phone goes while the person's rings: the attempt is kept (agent_left)
    but not counted against the person's max_attempts (3); only after a bound of its
    own (3 x 3 in all) does such a callback fail."""
    board, callback_id = booked_with_agent_free()
    t = 60.0
    for attempt in range(1, 10):
        board, ring, dial = agent_then_person(board, callback_id, t)
        board, out = sb.step(board, sb.LegGone(ring.channel_id, "normal"), at(t + 3))  # the agent hung up
        assert sb.HangupLeg(dial.channel_id, "agent hung up") in out
        record = written(out, CallbackRecord)[-1]
        assert [a.outcome for a in record.attempts] == ["agent_left"] * attempt
        if attempt < 9:
            assert record.state is CallbackState.PENDING, f"attempt {attempt}: the person missed nothing"
            board, _ = sb.step(board, sb.DialGone(dial.channel_id, "Normal Clearing"), at(t + 3.1))
            if board.centre.agents["agent1"].state.value == "paused":
                board, _ = sb.step(board, sb.AgentCommand("agent1", "resume"), at(t + 4))
            t += 3 + 300
            board, out = sb.step(board, sb.Wake(), at(t))
            assert sb.LeaseCallback(callback_id) in out
    assert record.state is CallbackState.FAILED and record.reason == "agent_left x9"
