"""Results calls in the pure core: the life cycle of a notification (retry spacing
and caps per outcome, expiry, a stopped router's call), the switchboard's looks
(window, room, a slow queue), and the call itself: nothing about the result is
ever played before the secret matched and the disclosure was audited, whatever
keys are pressed (a property over every key sequence)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callrouter.core import board_results, results
from callrouter.core import call_events as ev
from callrouter.core import commands as cmd
from callrouter.core import switchboard as sb
from callrouter.core.agents import AgentState
from callrouter.core.call_state import Phase
from callrouter.core.place import PATIENT_VARIABLE, Patient, Place
from callrouter.core.place import VARIABLE as PLACE_VARIABLE
from callrouter.core.records import NotificationRecord, NotificationState
from callrouter.core.results import Notification, ResultKind, RetryRule
from callrouter.core.results_call import RESULTS_DID
from tests.unit.test_switchboard import T0, at, fresh, originates, plays

SECRET = "12031980"
PROMPTS = "sound:/usr/share/callrouter/prompts/ru/"
TOLD = {"results_negative", "results_positive", "results_positive_advice", "results_inconclusive"}
NID = "5b0f6c1e-59a1-4c5e-9a55-2f6e3b1d0a11"


def notification(result: ResultKind = ResultKind.NEGATIVE, **changes: object) -> Notification:
    n = Notification(
        NID, "+79161234567", "clinic-central", "ru", result, "covid-19 PCR", T0, T0 + timedelta(hours=72)
    )
    return replace(n, **changes)  # type: ignore[arg-type]


def rules() -> results.ResultsRules:
    rules = fresh().rules.results
    assert rules is not None
    return rules


# ---- the life cycle -------------------------------------------------------------------------
def test_each_outcome_is_retried_after_its_spacing_until_its_own_cap() -> None:
    r = rules()  # the example: no answer every 30 min, 4 times; busy every 10 min, 4 times
    n = notification()
    record = results.after_attempt(n, "no_answer", at(0), r)
    assert (record.state, record.due_at) == (NotificationState.PENDING, at(1800))
    for i in range(3):  # busy counts against its own cap, not no_answer's
        n = replace(n, attempts=record.attempts, due_at=record.due_at)
        record = results.after_attempt(n, "busy", at(i), r)
        assert record.state is NotificationState.PENDING
        assert record.due_at == at(i + 600)
    n = replace(n, attempts=record.attempts)
    record = results.after_attempt(n, "busy", at(10), r)
    assert (record.state, record.reason) == (NotificationState.UNREACHABLE, "busy x4")
    assert [a.outcome for a in record.attempts] == ["no_answer", "busy", "busy", "busy", "busy"]


def test_wrong_secrets_end_in_verification_failed_and_silence_counts_as_hung_up() -> None:
    r = replace(rules(), retry={**rules().retry, "verification_failed": RetryRule(timedelta(hours=2), 2)})
    n = notification()
    first = results.after_attempt(n, "verification_failed", at(0), r)
    assert (first.state, first.due_at) == (NotificationState.PENDING, at(7200))
    second = results.after_attempt(replace(n, attempts=first.attempts), "verification_failed", at(9), r)
    assert second.state is NotificationState.VERIFICATION_FAILED
    silent = results.after_attempt(n, "no_input", at(0), r)
    assert silent.state is NotificationState.PENDING and silent.due_at == at(1800)  # the hung_up rule


def test_no_retry_after_expiry_and_delivered_or_transferred_are_final() -> None:
    r = rules()
    n = notification(expires_at=at(1000))
    assert results.after_attempt(n, "no_answer", at(0), r).state is NotificationState.EXPIRED
    assert results.after_attempt(n, "delivered", at(0), r).state is NotificationState.DELIVERED
    assert results.after_attempt(n, "transferred", at(0), r).state is NotificationState.TRANSFERRED
    assert results.taken(n, at(1000), rules()) == NotificationRecord(
        NID, at(1000), NotificationState.EXPIRED, n.due_at, (), "not told before it expired"
    )


def test_a_notification_told_during_a_stopped_routers_call_is_delivered_not_told_again() -> None:
    record = results.taken(notification(disclosed=True), at(5), rules())
    assert record is not None and record.state is NotificationState.DELIVERED
    assert results.taken(notification(), at(5), rules()) is None  # dial it


# ---- the switchboard's looks --------------------------------------------------------------
def takes(commands: list[sb.Command]) -> list[sb.TakeResults]:
    return [c for c in commands if isinstance(c, sb.TakeResults)]


def test_a_look_asks_for_as_many_as_there_is_room_for_in_open_windows_only() -> None:
    board, out = sb.step(fresh(), sb.PollResults(), T0)  # Monday 10:00 in Moscow: open
    (take,) = takes(out)
    assert take.limit == 4 and "clinic-central" in take.lines
    assert board.deadlines[("results", "poll")] == T0 + rules().poll
    board, out = sb.step(board, sb.PollResults(), at(1))
    assert takes(out) == [], "one look at a time"
    board, _ = sb.step(board, sb.ResultsTaken((notification(),), 7), at(2))
    assert board.results_pending == 7 and NID in board.results
    board, out = sb.step(board, sb.Wake(), at(10))
    assert takes(out)[0].limit == 3 and takes(out)[0].holding == (NID,)
    sunday = datetime(2026, 11, 29, 9, 0, tzinfo=T0.tzinfo)  # 12:00 in Moscow, but on a Sunday
    assert takes(sb.step(fresh(), sb.PollResults(), sunday)[1]) == []


def test_no_new_results_call_while_the_queue_is_slow() -> None:
    board = fresh()
    board, _ = sb.step(board, sb.Arrived("c1", "+78162700101", "+79160000001", T0, "p1"), T0)
    for event in (ev.Answered(), ev.Digit("0")):
        board, _ = sb.step(board, sb.OnCall("c1", event), T0)
    assert len(board.centre.queue.entries) == 1
    assert takes(sb.step(board, sb.PollResults(), at(60))[1]) != []
    assert takes(sb.step(board, sb.PollResults(), at(121))[1]) == [], "its caller waited over 120 s"


# ---- the call ---------------------------------------------------------------------------------
def answered(result: ResultKind = ResultKind.NEGATIVE) -> tuple[sb.Board, str]:
    board, _ = sb.step(fresh("agent1"), sb.ResultsTaken((notification(result),), 1), T0)
    channel = board.results[NID].channel_id
    board, out = sb.step(board, sb.DialAnswered(channel), at(5))
    assert media(out, channel) == ["results_greeting-clinic-central", "results_verify"]
    again, twice = sb.step(board, sb.DialAnswered(channel), at(6))  # told again (a reconnect's look)
    assert twice == [] and again.calls == board.calls, "one call, one greeting"
    return board, channel


def media(commands: list[sb.Command], channel: str) -> list[str]:
    return [m.removeprefix(PROMPTS) for p in plays(commands, channel) for m in p.media]


def asked(commands: list[sb.Command]) -> list[cmd.VerifySecret | cmd.AuditDisclosure]:
    return [c.command for c in commands if isinstance(c, sb.ForResults)]


def notes(commands: list[sb.Command]) -> list[NotificationRecord]:
    return [
        c.record for c in commands if isinstance(c, sb.Write) and isinstance(c.record, NotificationRecord)
    ]


def on(
    board: sb.Board, channel: str, event: ev.CallEvent, seconds: float
) -> tuple[sb.Board, list[sb.Command]]:
    return sb.step(board, sb.OnCall(channel, event), at(seconds))


def key(board: sb.Board, channel: str, digits: str, seconds: float) -> tuple[sb.Board, list[sb.Command]]:
    out: list[sb.Command] = []
    for digit in digits:
        board, more = on(board, channel, ev.Digit(digit), seconds)
        out += more
    return board, out


def test_the_right_secret_then_the_audit_then_the_result_then_delivered() -> None:
    board, channel = answered()
    board, out = key(board, channel, SECRET + "#", 8)
    assert asked(out) == [cmd.VerifySecret(NID, SECRET)]
    assert not any(m in TOLD for m in media(out, channel))
    board, out = on(board, channel, ev.SecretChecked(True), 9)
    (audit,) = asked(out)
    assert isinstance(audit, cmd.AuditDisclosure) and audit.verified_by == "secret keyed, try 1"
    assert media(out, channel) == [], "nothing told before the audit row is committed"
    board, out = on(board, channel, ev.DisclosureAudited(True), 9)
    assert media(out, channel) == ["results_negative"]
    board, out = on(board, channel, ev.PlaybackFinished(board.calls[channel].playback_id or ""), 12)
    assert media(out, channel) == ["results_repeat"]
    board, out = on(board, channel, ev.Digit("9"), 13)  # again: audited again
    assert [type(c) for c in asked(out)] == [cmd.AuditDisclosure]
    board, out = on(board, channel, ev.DisclosureAudited(True), 13)
    assert media(out, channel) == ["results_negative"]
    board, out = on(board, channel, ev.ChannelGone("hung up"), 14)
    (record,) = notes(out)
    assert record.state is NotificationState.DELIVERED and record.attempts[-1].outcome == "delivered"
    assert NID not in board.results


def test_wrong_secrets_hear_nothing_of_the_result_then_the_neutral_message() -> None:
    board, channel = answered()
    heard: list[str] = []
    for attempt in range(3):
        board, out = key(board, channel, "01011990#", 8 + attempt)
        board, more = on(board, channel, ev.SecretChecked(False), 8 + attempt)
        heard += media(out + more, channel)
    assert heard[-1] == "results_neutral" and not TOLD & set(heard)
    board, out = on(board, channel, ev.PlaybackFinished(board.calls[channel].playback_id or ""), 20)
    board, out = on(board, channel, ev.ChannelGone("hung up"), 21)
    (record,) = notes(out)
    assert record.state is NotificationState.PENDING and record.attempts[-1].outcome == "verification_failed"


def test_an_answering_machine_hears_the_prompt_twice_then_the_neutral_message() -> None:
    board, channel = answered()
    board, _ = on(board, channel, ev.PlaybackFinished(board.calls[channel].playback_id or ""), 10)
    board, out = sb.step(board, sb.Wake(), at(21))
    assert media(out, channel) == ["results_verify"]
    board, _ = on(board, channel, ev.PlaybackFinished(board.calls[channel].playback_id or ""), 25)
    board, out = sb.step(board, sb.Wake(), at(36))
    assert media(out, channel) == ["results_neutral"]
    board, out = on(board, channel, ev.ChannelGone("hung up"), 40)
    assert notes(out)[0].attempts[-1].outcome == "no_input"


def test_a_positive_result_and_1_joins_the_queue_for_a_consultant_transferred() -> None:
    board, channel = answered(ResultKind.POSITIVE)
    board, _ = key(board, channel, SECRET + "#", 8)
    board, _ = on(board, channel, ev.SecretChecked(True), 9)
    board, out = on(board, channel, ev.DisclosureAudited(True), 9)
    assert media(out, channel) == ["results_positive", "results_positive_advice"]
    board, out = on(board, channel, ev.PlaybackFinished(board.calls[channel].playback_id or ""), 15)
    assert media(out, channel) == ["results_consult_offer"]
    board, out = on(board, channel, ev.Digit("1"), 16)
    (record,) = notes(out)
    assert record.state is NotificationState.TRANSFERRED
    (ring,) = originates(out)
    assert ring.agent_id == "agent1" and "results_consult" in ring.label and ring.number == "+79161234567"
    assert board.calls[channel].record.topic == "results_consult"
    assert ("consult", channel) in board.deadlines


def consult_waiting() -> tuple[sb.Board, str, dict[str, str]]:
    """A positive result's patient who pressed 1: waiting for a consultant (agent1 is
    rung); and what their channel keeps for a router that adopts the call."""
    board, channel = answered(ResultKind.POSITIVE)
    board, _ = key(board, channel, SECRET + "#", 8)
    board, _ = on(board, channel, ev.SecretChecked(True), 9)
    board, _ = on(board, channel, ev.DisclosureAudited(True), 9)
    board, _ = on(board, channel, ev.PlaybackFinished(board.calls[channel].playback_id or ""), 15)
    board, out = on(board, channel, ev.Digit("1"), 16)
    kept = {
        c.command.name: c.command.value
        for c in out
        if isinstance(c, sb.ToChannel) and c.channel_id == channel and isinstance(c.command, cmd.SetVariable)
    }
    return board, channel, kept


@pytest.mark.parametrize("talking", [False, True])
def test_a_patient_with_a_consultant_or_waiting_for_one_is_adopted_after_a_restart(talking: bool) -> None:
    """The channel keeps the patient's line and number (a results call's channel names
    neither) beside their place: the next router takes them up as a results call's
    patient waiting in that place, or talking on to the consultant, not hung up."""
    _, channel, kept = consult_waiting()
    patient = Patient.from_variable(kept[PATIENT_VARIABLE])
    place = Place.from_variable(kept[PLACE_VARIABLE])
    assert patient == Patient("clinic-central", "+79161234567") and place is not None
    agent = ("agent1", "agent-leg") if talking else (None, None)
    agent_id, agent_channel = agent
    found = sb.Found(
        channel, RESULTS_DID, patient.number, at(5), place, None, agent_id, agent_channel, line=patient.line
    )
    board, out = sb.step(fresh("agent1", "agent2"), sb.Adopt((found,)), at(30))
    call = board.calls[channel]
    record = call.record
    assert (record.direction, record.line, record.caller_number) == (
        "results",
        "clinic-central",
        patient.number,
    )
    if talking:
        assert call.phase is Phase.CONNECTED and board.centre.agents["agent1"].state is AgentState.ON_CALL
        assert originates(out) == [], "nobody rung: the consultant talks on"
    else:
        assert call.phase is Phase.QUEUED and record.topic == "results_consult"
        (ring,) = originates(out)
        assert "results_consult" in ring.label and ring.number == patient.number, "offered to a consultant"
    # A line the config no longer has: not taken up.
    gone = replace(found, line="clinic-closed-down")
    board, _ = sb.step(fresh("agent1"), sb.Adopt((gone,)), at(30))
    assert channel not in board.calls


def test_a_stopping_router_hangs_up_results_calls_ringing_or_automated_not_a_consultants() -> None:
    """``unattended``: what a stop hangs up (no later router carries these on)."""
    board, _ = sb.step(fresh("agent1"), sb.ResultsTaken((notification(),), 1), T0)
    ringing = board.results[NID].channel_id
    assert board_results.unattended(board) == [ringing]
    board, channel = answered(ResultKind.POSITIVE)
    assert board_results.unattended(board) == [channel], "the identity check"
    board, _ = key(board, channel, SECRET + "#", 8)
    board, _ = on(board, channel, ev.SecretChecked(True), 9)
    board, _ = on(board, channel, ev.DisclosureAudited(True), 9)
    assert board_results.unattended(board) == [channel], "the result told"
    board, _ = on(board, channel, ev.PlaybackFinished(board.calls[channel].playback_id or ""), 15)
    board, _ = on(board, channel, ev.Digit("1"), 16)
    assert board_results.unattended(board) == [], "waiting for a consultant: a caller like any other"


def test_an_unanswered_dial_counts_its_outcome_and_a_silent_ring_is_hung_up() -> None:
    board, _ = sb.step(fresh(), sb.ResultsTaken((notification(),), 1), T0)
    channel = board.results[NID].channel_id
    board, out = sb.step(board, sb.DialGone(channel, "User busy"), at(3))
    assert notes(out)[0].attempts[-1].outcome == "busy"
    board, _ = sb.step(fresh(), sb.ResultsTaken((notification(),), 1), T0)
    channel = board.results[NID].channel_id
    board, out = sb.step(board, sb.Wake(), at(60))
    assert sb.HangupLeg(channel, "ring timeout") in out
    assert notes(out)[0].attempts[-1].outcome == "no_answer"


# ---- never told before proven: a property over key sequences ----------------------------------
events = st.lists(
    st.one_of(
        st.sampled_from("0123456789#*").map(ev.Digit),
        st.just("finish"),
        st.just("wake"),
        st.just("audit_fails"),
        st.just(SECRET + "#"),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(events, st.sampled_from(list(ResultKind)))
def test_no_result_is_played_before_a_matching_secret_and_a_committed_audit(
    steps: list[object], result: ResultKind
) -> None:
    """The shell's part played honestly: VerifySecret is answered by comparing the
    digits with the secret, AuditDisclosure is committed unless the step says it fails."""
    board, channel = answered(result)
    proven = audited = False
    fail_audit = False
    seconds = 6.0
    for item in steps:
        seconds += 1
        if channel not in board.calls:
            break
        if item == "finish":
            board, out = on(
                board, channel, ev.PlaybackFinished(board.calls[channel].playback_id or ""), seconds
            )
        elif item == "wake":
            seconds += 30
            board, out = sb.step(board, sb.Wake(), at(seconds))
        elif item == "audit_fails":
            fail_audit, out = True, []
        elif isinstance(item, str):
            board, out = key(board, channel, item, seconds)
        else:
            assert isinstance(item, ev.Digit)
            board, out = on(board, channel, item, seconds)
        queue = list(out)
        while queue:
            command = queue.pop(0)
            if isinstance(command, sb.ToChannel) and isinstance(command.command, cmd.Play):
                told = {m.removeprefix(PROMPTS) for m in command.command.media} & TOLD
                assert not told or (proven and audited), (told, proven, audited)
                audited = False  # each telling needs its own audit row
            if isinstance(command, sb.ForResults) and channel in board.calls:
                match command.command:
                    case cmd.VerifySecret(_, digits):
                        ok = digits == SECRET
                        proven = proven or ok
                        board, more = on(board, channel, ev.SecretChecked(ok), seconds)
                    case cmd.AuditDisclosure():
                        audited = proven and not fail_audit
                        board, more = on(board, channel, ev.DisclosureAudited(not fail_audit), seconds)
                queue += more


def test_no_consultant_in_time_books_a_consultant_callback_in_that_place() -> None:
    board, channel = answered(ResultKind.POSITIVE)
    board, _ = sb.step(board, sb.AgentCommand("agent1", "pause", "break"), at(6))
    board, _ = key(board, channel, SECRET + "#", 8)
    board, _ = on(board, channel, ev.SecretChecked(True), 9)
    board, _ = on(board, channel, ev.DisclosureAudited(True), 9)
    board, out = on(board, channel, ev.Digit("1"), 12)  # while the advice plays: heard already
    assert notes(out)[0].state is NotificationState.TRANSFERRED
    entry_id = board.calls[channel].entry_id
    assert entry_id in board.centre.queue.entries and not originates(out)
    board, out = sb.step(board, sb.Wake(), at(12 + 120))
    (callback,) = board.callbacks.values()
    assert (callback.record.topic, callback.record.number) == ("results_consult", "+79161234567")
    assert callback.record.joined_at == at(12), "the consult's place"
    assert media(out, channel) == ["callback_accepted"]
    board, out = on(board, channel, ev.PlaybackFinished(board.calls[channel].playback_id or ""), 140)
    board, out = on(board, channel, ev.ChannelGone("hung up"), 141)
    assert notes(out) == [], "transferred already: the call's end changes nothing"


@pytest.mark.parametrize("result", list(ResultKind))
def test_a_patient_who_hangs_up_while_the_result_is_told_has_it_delivered_never_told_again(
    result: ResultKind,
) -> None:
    """Once the audit row is committed and the result begins, it is disclosed: a hang-up
    then is no reason to phone the patient and tell it again."""
    board, channel = answered(result)
    board, _ = key(board, channel, SECRET + "#", 8)
    board, _ = on(board, channel, ev.SecretChecked(True), 9)
    board, out = on(board, channel, ev.DisclosureAudited(True), 9)
    assert media(out, channel)[0] == f"results_{result.value}"
    board, out = on(board, channel, ev.ChannelGone("hung up"), 10.5)  # 1.5 s into the result
    (record,) = notes(out)
    assert record.state is NotificationState.DELIVERED and [a.outcome for a in record.attempts] == [
        "delivered"
    ]
    assert NID not in board.results


def test_a_patient_who_hangs_up_while_the_audit_is_committed_is_not_told_and_is_tried_again() -> None:
    board, channel = answered()
    board, _ = key(board, channel, SECRET + "#", 8)
    board, out = on(board, channel, ev.SecretChecked(True), 9)
    assert [type(c) for c in asked(out)] == [cmd.AuditDisclosure]
    board, out = on(board, channel, ev.ChannelGone("hung up"), 9.5)  # before DisclosureAudited
    (record,) = notes(out)
    assert record.state is NotificationState.PENDING and record.attempts[-1].outcome == "hung_up"


def test_an_attempt_a_stopped_router_was_making_is_counted_not_made_again_at_once() -> None:
    """Taken while dialling (its router stopped mid-attempt, nothing told): the attempt
    counts as ``interrupted``, spaced and capped as a failed one; restarts no longer
    make calls that no cap counts."""
    n = notification(interrupted=True, state=NotificationState.DIALLING)
    record = results.taken(n, at(5), rules())
    assert record is not None and record.state is NotificationState.PENDING
    assert [a.outcome for a in record.attempts] == ["interrupted"] and record.due_at == at(5 + 1800)
    spent = replace(n, attempts=record.attempts * 2)  # two interrupted already: the failed cap is 3
    final = results.taken(spent, at(9), rules())
    assert final is not None and final.state is NotificationState.UNREACHABLE, final
    assert results.taken(replace(n, disclosed=True), at(5), rules()).state is NotificationState.DELIVERED  # type: ignore[union-attr]


def test_wrong_secrets_then_a_hang_up_count_against_the_verification_budget() -> None:
    """Two wrong tries of three, then a hang-up: a verification failure, not a mere
    hang-up (each call would otherwise give a fresh set of guesses up to hung_up's cap)."""
    board, channel = answered()
    for n, wrong in enumerate(("01011990", "02021991")):
        board, _ = key(board, channel, wrong + "#", 8 + n)
        board, _ = on(board, channel, ev.SecretChecked(False), 8.5 + n)
    board, out = on(board, channel, ev.ChannelGone("hung up"), 11)
    (record,) = notes(out)
    assert [a.outcome for a in record.attempts] == ["verification_failed"]
    assert record.state is NotificationState.PENDING and record.due_at == at(11 + 2 * 3600)
