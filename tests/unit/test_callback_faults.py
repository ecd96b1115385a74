"""Callbacks that must end, or give way, before they are dialled again: the person
who called in while their callback was being dialled (never both), a callback the
config no longer fits, one whose row the database does not hold; and the timeline
of a follow-up made by hand. Pure steps on the example's board."""

from __future__ import annotations

from dataclasses import replace

import pytest

from callrouter.calls import tally
from callrouter.core import call_events as ev
from callrouter.core import switchboard as sb
from callrouter.core.call_state import Phase
from callrouter.core.callbacks import Stage
from callrouter.core.queue import GIVEN_BACK_GRACE
from callrouter.core.records import CallbackRecord, CallbackState, CallEventRecord, CallRecord, RepeatKind
from tests.unit.test_callbacks import (
    ANNA,
    BORIS,
    accept,
    agent_then_person,
    booked,
    booked_with_agent_free,
    busy_centre,
    heard,
    waiting_with_offer,
    written,
)
from tests.unit.test_switchboard import NORTH, at, originates, queued


def dialling_anna() -> tuple[sb.Board, str, str, str]:
    """ANNA (joined at 1 s) took a callback at 20 s, hung up; BORIS waits since 5 s;
    agent1 took the callback at 62 s and ANNA's phone rings now. The callback's id,
    the agent's channel and the person's."""
    board = busy_centre("agent1")
    board = waiting_with_offer(board, "c1", 1, number=ANNA)
    board = waiting_with_offer(board, "c2", 5, number="+79167654321")
    board, _ = accept(board, "c1", 20)
    (callback_id,) = board.callbacks
    board, _ = sb.step(board, sb.OnCall("c1", ev.CallerHungUp()), at(31))
    board, _ = sb.step(board, sb.AgentCommand("agent1", "resume"), at(60))
    board, out = sb.step(board, sb.CallbackLeased(callback_id, sb.Lease.TAKEN), at(60.1))
    (ring,) = originates(out)
    board, out = sb.step(board, sb.LegAnswered(ring.channel_id), at(62))
    (dial,) = [c for c in out if isinstance(c, sb.Dial)]
    assert board.callbacks[callback_id].stage is Stage.DIALLING
    return board, callback_id, ring.channel_id, dial.channel_id


def test_a_person_who_calls_in_while_their_callback_is_dialled_keeps_one_place_its_own() -> None:
    board, callback_id, ring, dial = dialling_anna()
    board, _ = queued(board, "c3", 70, number=ANNA, did=NORTH)  # being dialled: no choice to make
    assert "place-c3" in board.centre.queue and board.centre.queue.entries["place-c3"].joined_at == at(70)

    board, out = sb.step(board, sb.DialGone(dial, "User busy"), at(72))  # her line was busy: she is on it
    cancelled = written(out, CallbackRecord)[-1]
    assert cancelled.state is CallbackState.CANCELLED and cancelled.reason == "the person called in"
    assert [a.outcome for a in cancelled.attempts] == ["busy"], "the attempt is kept"
    assert callback_id not in board.callbacks, "never both: no retry"
    entry = board.centre.queue.entries["place-c3"]
    assert entry.joined_at == at(1), "the callback's place: ahead of BORIS, who joined after it"
    assert board.centre.agents["agent1"].entry_id == "place-c3", "the released agent: hers, not BORIS's"
    record = [r for r in written(out, CallRecord) if r.channel_id == "c3"][-1]
    assert record.repeat_kind is RepeatKind.CALLBACK_PENDING and record.queued_at == at(1)

    board, _ = sb.step(board, sb.LegGone(ring, "normal"), at(72.2))
    board, out = sb.step(board, sb.Wake(), at(72 + 400))
    assert sb.LeaseCallback(callback_id) not in out
    assert [
        e for e in board.centre.queue.entries.values() if e.caller_key is None and e.channel_id is None
    ] == []


def test_a_callback_that_falls_due_while_its_person_waits_on_the_line_gives_way_to_them() -> None:
    board = busy_centre("agent1")
    board, _ = queued(board, "c1", 100, number=ANNA)
    person = board.rules.repeat.key_of(ANNA)
    restored = CallbackRecord(
        "cb-1", at(0), CallbackState.PENDING, ANNA, at(0), at(-180), "operator", "clinic-central", "ru", 0,
        person, None,
    )  # fmt: skip
    board, out = sb.step(board, sb.RestoreCallbacks((restored,)), at(101))
    assert board.callbacks == {} and "cb-1" not in board.centre.queue, "never both"
    cancelled = written(out, CallbackRecord)[-1]
    assert cancelled.state is CallbackState.CANCELLED and cancelled.reason == "the person called in"
    assert board.centre.queue.entries["place-c1"].joined_at == at(-180), "the callback's place"


def test_a_callback_place_long_past_its_max_wait_taken_up_on_the_line_is_not_overflowed_at_once() -> None:
    """Appointments wait 900 s at most: the person waits on the line since 100 s when
    their callback, pending since long before, gives way; their place takes the callback's
    join time and a grace for the next agent, not a "busy" at the next wake."""
    board = busy_centre("agent1")
    board, _ = queued(board, "c1", 100, number=ANNA, keys="21")
    assert board.deadlines[("entry", "place-c1")] == at(1000)
    person = board.rules.repeat.key_of(ANNA)
    restored = CallbackRecord(
        "cb-1", at(0), CallbackState.PENDING, ANNA, at(0), at(-2000), "appointment_book", "clinic-central",
        "ru", 0, person, None,
    )  # fmt: skip
    board, out = sb.step(board, sb.RestoreCallbacks((restored,)), at(101))
    assert board.centre.queue.entries["place-c1"].joined_at == at(-2000), "the callback's place"
    assert board.deadlines[("entry", "place-c1")] == at(101) + GIVEN_BACK_GRACE
    board, out = sb.step(board, sb.Wake(), at(102))
    assert board.calls["c1"].phase is Phase.QUEUED and "overflow_busy" not in heard(out, "c1")


def restored(callback_id: str, number: str = ANNA, **changes: object) -> CallbackRecord:
    record = CallbackRecord(
        callback_id, at(0), CallbackState.PENDING, number, at(0), at(-60), "operator", "clinic-central", "ru",
        0, None, "c0ffee00-0000-4000-8000-000000000001",
    )  # fmt: skip
    return replace(record, **changes)  # type: ignore[arg-type]


def test_a_restored_callback_the_config_no_longer_fits_is_cancelled_with_the_reason() -> None:
    board = busy_centre("agent1")
    records = (
        restored("cb-topic", topic="dermatology"),
        restored("cb-line", "+79160000002", line="clinic-gone"),
        restored("cb-number", "+7916"),
        restored("cb-fine", "+79160000004"),
    )
    board, out = sb.step(board, sb.RestoreCallbacks(records), at(1))
    assert set(board.callbacks) == {"cb-fine"} and "cb-fine" in board.centre.queue
    reasons = {r.callback_id: r.reason for r in written(out, CallbackRecord)}
    assert reasons == {
        "cb-topic": "no longer valid: topic 'dermatology': no topic of this name is configured",
        "cb-line": "no longer valid: line 'clinic-gone': no line of this name is configured",
        "cb-number": "no longer valid: number not a phone number (read in RU when national)",
    }
    assert all(r.state is CallbackState.CANCELLED for r in written(out, CallbackRecord))
    logged = [(r.kind, r.detail) for r in written(out, CallEventRecord)]
    assert ("callback_cancelled", reasons["cb-topic"]) in logged, "on the timeline of the call that asked"
    counted = [tally.callback_result(r) for r in written(out, CallbackRecord)]
    assert counted == ["cancelled"] * 3


def test_a_callback_whose_number_is_excluded_before_its_retry_is_cancelled_not_rescheduled() -> None:
    board, callback_id, ring, dial = dialling_anna()
    board, _ = sb.step(board, sb.DialGone(dial, "No answer"), at(92))
    board, _ = sb.step(board, sb.LegGone(ring, "normal"), at(92.2))
    rules = replace(board.rules, repeat=replace(board.rules.repeat, exclude=("+7916123*",)))
    board = replace(board, rules=rules)
    board, out = sb.step(board, sb.Wake(), at(92 + 300))
    assert callback_id not in board.callbacks and callback_id not in board.centre.queue
    (cancelled,) = written(out, CallbackRecord)
    assert cancelled.state is CallbackState.CANCELLED
    assert cancelled.reason == "no longer valid: number excluded from callbacks ([repeat] exclude)"
    assert [a.outcome for a in cancelled.attempts] == ["no_answer"]


def leasing(board: sb.Board) -> tuple[sb.Board, str]:
    """ANNA's callback (booked at 20 s) reached agent1, who is reserved for it."""
    board = booked(board)
    (callback_id,) = board.callbacks
    board, out = sb.step(board, sb.AgentCommand("agent1", "resume"), at(60))
    assert sb.LeaseCallback(callback_id) in out
    return board, callback_id


def test_a_callback_the_database_does_not_hold_is_cancelled_not_leased_again_and_again() -> None:
    board, callback_id = leasing(busy_centre("agent1"))
    board, out = sb.step(board, sb.CallbackLeased(callback_id, sb.Lease.ABSENT), at(60.5))
    cancelled = written(out, CallbackRecord)[-1]
    assert cancelled.state is CallbackState.CANCELLED
    assert cancelled.reason == "no lease: the database has no such callback (its record was refused)"
    assert callback_id not in board.callbacks and callback_id not in board.centre.queue
    assert [o.app_args.split(",")[1] for o in originates(out)] == ["place-c2"], "the agent serves a caller"
    board, out = sb.step(board, sb.Wake(), at(60.5 + 3600))
    assert sb.LeaseCallback(callback_id) not in out


def test_a_callback_the_database_says_ended_is_forgotten_its_record_left_alone() -> None:
    board, callback_id = leasing(busy_centre("agent1"))
    board, out = sb.step(board, sb.CallbackLeased(callback_id, sb.Lease.CLOSED), at(60.5))
    assert not written(out, CallbackRecord), "the database's final word stands"
    assert ("callback_dropped", "no lease: the database says it ended") in [
        (r.kind, r.detail) for r in written(out, CallEventRecord)
    ]
    assert callback_id not in board.callbacks and callback_id not in board.centre.queue
    assert [o.app_args.split(",")[1] for o in originates(out)] == ["place-c2"]


def test_a_lease_held_elsewhere_or_a_database_away_still_waits_and_retries() -> None:
    board, callback_id = leasing(busy_centre("agent1"))
    board, out = sb.step(board, sb.CallbackLeased(callback_id, sb.Lease.WAIT), at(60.5))
    assert not written(out, CallbackRecord) and board.callbacks[callback_id].stage is Stage.SCHEDULED


def test_a_follow_up_made_by_hand_has_its_steps_on_the_callbacks_own_timeline() -> None:
    board = busy_centre("agent1")
    follow_up = restored("cb-hand", call_id=None, reason="made by agent1")
    board, _ = sb.step(board, sb.ScheduleCallback(follow_up), at(1))
    board, out = sb.step(board, sb.AgentCommand("agent1", "resume"), at(60))
    board, out = sb.step(board, sb.CallbackLeased("cb-hand", sb.Lease.TAKEN), at(60.1))
    steps = [(r.call_id, r.callback_id, r.kind) for r in written(out, CallEventRecord)]
    assert steps == [(None, "cb-hand", "callback_agent_rung")]
    board, out = sb.step(board, sb.LegAnswered(originates(out)[0].channel_id), at(62))
    (dial,) = [c for c in out if isinstance(c, sb.Dial)]
    board, out = sb.step(board, sb.DialGone(dial.channel_id, "No answer"), at(92))
    kinds = [(r.call_id, r.callback_id, r.kind, r.detail) for r in written(out, CallEventRecord)]
    assert kinds == [(None, "cb-hand", "callback_attempt", "no_answer")]


def test_a_callback_a_caller_booked_is_on_both_timelines_the_calls_and_its_own() -> None:
    board, callback_id = leasing(busy_centre("agent1"))
    board, out = sb.step(board, sb.CallbackLeased(callback_id, sb.Lease.TAKEN), at(60.1))
    (step,) = written(out, CallEventRecord)
    assert (step.call_id is not None, step.callback_id, step.kind) == (
        True,
        callback_id,
        "callback_agent_rung",
    )


def test_until_the_stored_callbacks_are_known_none_is_booked_and_then_none_is_doubled() -> None:
    """A router started while PostgreSQL could not answer restores the spool's callbacks
    only: a caller's callback is refused (the caller keeps their place) and an operator's
    too, until PostgreSQL's are restored; then ANNA's stored one is hers, however its id
    is spelt, and no second one is taken for her number."""
    board, _ = sb.step(busy_centre("agent1"), sb.RestoreCallbacks((), complete=False), at(0))
    waiting = waiting_with_offer(board, "c1", 1, number=ANNA)
    refused, out = accept(waiting, "c1", 20)
    assert refused.callbacks == {} and "callback_not_possible" in heard(out, "c1")
    assert refused.calls["c1"].phase is Phase.QUEUED
    hand = CallbackRecord(
        "cb-9", at(21), CallbackState.PENDING, BORIS, at(21), at(21), "operator", "clinic-central", "ru", 0,
    )  # fmt: skip
    with pytest.raises(sb.CallbackError, match="not known yet"):
        sb.step(refused, sb.ScheduleCallback(hand), at(21))
    stored_id = "6f1c1d8e-5d4f-4a43-9c1e-0c8f6c1b2a11"
    anna = replace(hand, callback_id=stored_id, number=ANNA, person=ANNA, joined_at=at(-300))
    again = replace(anna, callback_id=stored_id.replace("-", ""))  # the spool's spelling, restored twice
    second = replace(anna, callback_id="0c1d8e6f-5d4f-4a43-9c1e-0c8f6c1b2a12", joined_at=at(-200))  # hers too
    board, _ = sb.step(refused, sb.RestoreCallbacks((anna, again, second)), at(22))
    assert list(board.callbacks) == [stored_id] and not board.callbacks_unknown
    board, _ = sb.step(board, sb.ScheduleCallback(hand), at(23))
    assert "cb-9" in board.callbacks, "known now: booked as before"


def test_a_failed_callbacks_reason_counts_each_outcome() -> None:
    """Busy, then not answered: it said "no_answer x2", the last outcome twice."""
    from datetime import timedelta

    from callrouter.core import callbacks as cbs

    rules = cbs.CallbackRules(max_attempts=2)
    record = CallbackRecord(
        "cb-1", at(0), CallbackState.DIALLING, ANNA, at(0), at(0), "operator", "x", "ru", 0
    )
    callback = cbs.Callback(record, Stage.DIALLING, agent="agent1")
    once = cbs.attempt_failed(callback, rules, "busy", at(10), None)
    twice = cbs.attempt_failed(
        replace(once, stage=Stage.DIALLING), rules, "no_answer", at(10) + timedelta(minutes=5), None
    )
    assert twice.record.state is CallbackState.FAILED and twice.record.reason == "busy x1, no_answer x1"
    thrice = cbs.attempt_failed(replace(once, stage=Stage.DIALLING), rules, "busy", at(400), None)
    assert thrice.record.reason == "busy x2"


def test_a_person_answered_but_never_bridged_to_the_agent_is_an_attempt_failed_not_completed() -> None:
    """The person answered; joining their channel to the agent's bridge failed twice (the
    executor's CommandFailed). Not a conversation: the answer is taken back, both phones
    are hung up, the agent is released at once, and the callback is tried again, then
    failed by its rules (3 attempts), never recorded completed."""
    board, callback_id = booked_with_agent_free()
    t = 60.0
    for attempt in range(1, 4):
        board, ring, dial = agent_then_person(board, callback_id, t)
        board, out = sb.step(board, sb.DialAnswered(dial.channel_id), at(t + 5))
        assert written(out, CallbackRecord)[-1].state is CallbackState.COMPLETED  # as it was answered
        failed = ev.CommandFailed("joinbridge", "Channel not in Stasis application")
        board, out = sb.step(board, sb.OnCall(dial.channel_id, failed), at(t + 5.2))
        record = written(out, CallbackRecord)[-1]
        assert [a.outcome for a in record.attempts] == ["not_bridged"] * attempt
        assert sb.HangupLeg(dial.channel_id, "not bridged") in out
        assert sb.HangupLeg(ring.channel_id, "callback not bridged") in out
        assert board.centre.agents["agent1"].state.value == "idle", "released at once, no wrap-up"
        assert "agent1" not in board.talk_started
        assert ("callback_not_bridged", "joinbridge: Channel not in Stasis application") in [
            (r.kind, r.detail) for r in written(out, CallEventRecord)
        ]
        board, out = sb.step(board, sb.LegGone(ring.channel_id, "normal"), at(t + 5.4))
        assert board.centre.agents["agent1"].state.value == "idle"
        board, out = sb.step(board, sb.DialGone(dial.channel_id, "Normal Clearing"), at(t + 5.5))
        assert not written(out, CallbackRecord), "its end changes nothing more"
        assert [c for c in out if isinstance(c, sb.DestroyBridge)] != []
        assert dial.channel_id not in board.dials and dial.channel_id not in board.bridges
        if attempt < 3:
            assert record.state is CallbackState.PENDING
            t += 5.5 + 300
            board, out = sb.step(board, sb.Wake(), at(t))
            assert sb.LeaseCallback(callback_id) in out
    assert record.state is CallbackState.FAILED and record.reason == "not_bridged x3"
    assert board.callbacks == {} and callback_id not in board.centre.queue


def test_a_dial_the_callback_has_left_ends_nothing_of_its_next_one() -> None:
    """Not bridged, then dialled again before Asterisk said the first person's channel was
    gone: that word about the old channel leaves the new dial alone."""
    board, callback_id = booked_with_agent_free()
    board, ring, first = agent_then_person(board, callback_id, 60)
    board, _ = sb.step(board, sb.DialAnswered(first.channel_id), at(65))
    failed = ev.CommandFailed("joinbridge", "refused")
    board, _ = sb.step(board, sb.OnCall(first.channel_id, failed), at(65.2))
    board, _ = sb.step(board, sb.LegGone(ring.channel_id, "normal"), at(65.4))
    board, _ = sb.step(board, sb.Wake(), at(65.2 + 300))
    board, _, second = agent_then_person(board, callback_id, 65.2 + 300)
    board, out = sb.step(board, sb.DialGone(first.channel_id, "Normal Clearing"), at(65.2 + 303))
    assert not written(out, CallbackRecord) and board.callbacks[callback_id].person_leg == second.channel_id
    assert board.callbacks[callback_id].stage is Stage.DIALLING
