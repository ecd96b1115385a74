"""One call's life as pure state transitions: arrive, answer, greet, hang up, end."""

from __future__ import annotations

import itertools
from dataclasses import fields
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callrouter.core.call import (
    Answered,
    Call,
    CallerHungUp,
    CallEvent,
    ChannelGone,
    CommandFailed,
    LineInfo,
    MaxDurationReached,
    Phase,
    PlaybackFinished,
    arrive,
    decide,
)
from callrouter.core.commands import Answer, Command, Hangup, Play, SaveCall
from callrouter.core.numbers import CallerNumber, Presentation
from callrouter.core.records import CallRecord, Outcome

T0 = datetime(2026, 11, 22, 22, 0, 56, 802_000, tzinfo=UTC)
PROMPTS = "/usr/share/callrouter/prompts"
LINE = LineInfo("clinic-central", "ru")
CALLER = CallerNumber("+79161234567", Presentation.NUMBER)
GREETING_ID = "c0ffee-greeting"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def new_call(line: LineInfo | None = LINE, caller: CallerNumber = CALLER) -> tuple[Call, list[Command]]:
    return arrive(
        call_id="c0ffee",
        node="asterisk-1",
        channel_id="1732312856.12",
        did="+78162700101",
        line=line,
        caller=caller,
        now=T0,
    )


def step(call: Call, event: CallEvent, seconds: float) -> tuple[Call, list[Command]]:
    return decide(call, event, at(seconds), PROMPTS)


def greeting() -> Call:
    call, _ = new_call()
    call, _ = step(call, Answered(), 0.1)
    assert call.phase is Phase.GREETING
    return call


def saved(commands: list[Command]) -> list[CallRecord]:
    return [c.record for c in commands if isinstance(c, SaveCall)]


# ---- the happy path -----------------------------------------------------------------
def test_arrive_with_a_line_saves_and_answers() -> None:
    call, commands = new_call()
    assert call.phase is Phase.ANSWERING
    assert call.language == "ru"
    assert not call.ended
    assert commands == [SaveCall(call.record), Answer()]
    record = call.record
    assert record.call_id == "c0ffee"
    assert record.node == "asterisk-1"
    assert record.channel_id == "1732312856.12"
    assert record.did == "+78162700101"
    assert record.line == "clinic-central"
    assert record.caller_number == "+79161234567"
    assert record.caller_presentation == "number"
    assert record.started_at == T0
    assert (record.answered_at, record.ended_at, record.outcome) == (None, None, None)


def test_arrive_with_a_withheld_caller() -> None:
    call, _ = new_call(caller=CallerNumber(None, Presentation.WITHHELD))
    assert call.record.caller_number is None
    assert call.record.caller_presentation == "withheld"


def test_answered_saves_and_plays_the_lines_greeting() -> None:
    call, _ = new_call()
    call, commands = step(call, Answered(), 0.25)
    assert call.phase is Phase.GREETING
    assert call.record.answered_at == at(0.25)
    assert call.playback_id == GREETING_ID
    assert commands == [
        SaveCall(call.record),
        Play(f"sound:{PROMPTS}/ru/greeting-clinic-central", GREETING_ID),
    ]


def test_greeting_uses_the_lines_language() -> None:
    call, _ = new_call(line=LineInfo("hotline-international", "en"))
    _, commands = step(call, Answered(), 0.1)
    assert Play(f"sound:{PROMPTS}/en/greeting-hotline-international", GREETING_ID) in commands


def test_greeting_finished_hangs_up_as_greeted() -> None:
    call, commands = step(greeting(), PlaybackFinished(GREETING_ID), 7.0)
    assert commands == [Hangup()]
    assert call.phase is Phase.ENDING
    assert call.record.outcome is Outcome.GREETED
    assert call.record.end_reason == "greeting played"
    assert call.record.ended_at is None  # not until Asterisk says the channel is gone
    assert not call.ended


def test_channel_gone_after_the_hang_up_ends_the_call() -> None:
    call, _ = step(greeting(), PlaybackFinished(GREETING_ID), 7.0)
    call, commands = step(call, ChannelGone("Normal Clearing"), 7.2)
    assert call.phase is Phase.ENDED
    assert call.ended
    assert call.record.ended_at == at(7.2)
    assert call.record.outcome is Outcome.GREETED
    assert call.record.answered_at == at(0.1)
    assert commands == [SaveCall(call.record)]


def test_hang_up_request_after_the_routers_hang_up_keeps_the_outcome() -> None:
    call, _ = step(greeting(), PlaybackFinished(GREETING_ID), 7.0)
    call, commands = step(call, CallerHungUp("16"), 7.1)
    assert call.ended
    assert call.record.outcome is Outcome.GREETED
    assert call.record.end_reason == "greeting played"
    assert saved(commands) == [call.record]


def test_another_playback_finishing_does_nothing() -> None:
    call = greeting()
    after, commands = step(call, PlaybackFinished("someone-elses-playback"), 3.0)
    assert after == call
    assert commands == []


def test_playback_finished_before_the_answer_does_nothing() -> None:
    call, _ = new_call()
    after, commands = step(call, PlaybackFinished(GREETING_ID), 0.1)
    assert (after, commands) == (call, [])


def test_a_second_answered_does_nothing() -> None:
    call = greeting()
    assert step(call, Answered(), 0.2) == (call, [])


# ---- the caller leaves, things fail -------------------------------------------------
@pytest.mark.parametrize("event", [CallerHungUp("16"), ChannelGone("Normal Clearing")])
def test_caller_hang_up_during_the_greeting(event: CallEvent) -> None:
    call, commands = step(greeting(), event, 2.0)
    assert call.ended
    assert call.record.outcome is Outcome.CALLER_HANGUP
    assert call.record.ended_at == at(2.0)
    assert call.record.end_reason is not None
    assert call.record.end_reason.startswith("caller: ")
    assert commands == [SaveCall(call.record)]
    assert not any(isinstance(c, Hangup) for c in commands)


def test_caller_hang_up_before_the_answer() -> None:
    call, _ = new_call()
    call, commands = step(call, CallerHungUp("normal"), 0.05)
    assert call.ended
    assert call.record.outcome is Outcome.CALLER_HANGUP
    assert call.record.answered_at is None
    assert commands == [SaveCall(call.record)]


@pytest.mark.parametrize("answered", [False, True])
def test_command_failed_fails_the_call_and_hangs_up(answered: bool) -> None:
    call = greeting() if answered else new_call()[0]
    call, commands = step(call, CommandFailed("play", "404 sound not found"), 1.0)
    assert commands == [Hangup()]
    assert call.phase is Phase.ENDING
    assert call.record.outcome is Outcome.FAILED
    assert call.record.end_reason == "play: 404 sound not found"
    call, commands = step(call, ChannelGone(), 1.5)
    assert call.ended
    assert call.record.outcome is Outcome.FAILED
    assert call.record.ended_at == at(1.5)
    assert commands == [SaveCall(call.record)]


def test_command_failed_while_ending_does_not_hang_up_again() -> None:
    call, _ = step(greeting(), PlaybackFinished(GREETING_ID), 7.0)
    after, commands = step(call, CommandFailed("hangup", "500"), 7.1)
    assert commands == []
    assert after.record.outcome is Outcome.GREETED


@pytest.mark.parametrize("answered", [False, True])
def test_max_duration_hangs_up(answered: bool) -> None:
    call = greeting() if answered else new_call()[0]
    call, commands = step(call, MaxDurationReached(), 14_400)
    assert commands == [Hangup()]
    assert call.phase is Phase.ENDING
    assert call.record.outcome is Outcome.FAILED
    assert call.record.end_reason == "maximum call duration"


def test_unknown_line_is_refused_at_once() -> None:
    call, commands = new_call(line=None)
    assert call.phase is Phase.ENDING
    assert call.record.line is None
    assert call.record.outcome is Outcome.NO_LINE
    assert call.record.ended_at == T0
    assert commands == [SaveCall(call.record), Hangup("unallocated")]
    assert not any(isinstance(c, Answer) for c in commands)
    # Asterisk confirms; the record keeps what it said.
    call, commands = step(call, ChannelGone(), 0.3)
    assert call.ended
    assert call.record.outcome is Outcome.NO_LINE
    assert call.record.ended_at == T0
    assert commands == [SaveCall(call.record)]


def test_unknown_line_ignores_a_stray_answered() -> None:
    call, _ = new_call(line=None)
    assert step(call, Answered(), 0.1) == (call, [])


@pytest.mark.parametrize(
    "event",
    [
        Answered(),
        PlaybackFinished(GREETING_ID),
        CallerHungUp(),
        ChannelGone(),
        CommandFailed("hangup", "gone"),
        MaxDurationReached(),
    ],
)
def test_events_after_the_end_do_nothing(event: CallEvent) -> None:
    call, _ = step(greeting(), ChannelGone(), 1.0)
    assert call.ended
    assert step(call, event, 2.0) == (call, [])


# ---- properties ---------------------------------------------------------------------
call_events = st.one_of(
    st.just(Answered()),
    st.builds(PlaybackFinished, st.sampled_from([GREETING_ID, "other-greeting", ""])),
    st.builds(CallerHungUp, st.sampled_from(["normal", "16", "17"])),
    st.builds(ChannelGone, st.sampled_from(["gone", "Normal Clearing", "vanished"])),
    st.builds(CommandFailed, st.sampled_from(["answer", "play", "hangup"]), st.text(max_size=10)),
    st.just(MaxDurationReached()),
)


@given(
    line=st.sampled_from([LINE, None]),
    events=st.lists(call_events, max_size=12),
    gaps=st.lists(st.floats(min_value=0, max_value=600), min_size=12, max_size=12),
)
def test_any_event_sequence_keeps_the_record_honest(
    line: LineInfo | None, events: list[CallEvent], gaps: list[float]
) -> None:
    call, commands = new_call(line=line)
    history = [commands]
    now = 0.0
    ended_after: int | None = None
    for i, event in enumerate(events):
        now += gaps[i]
        before = call
        call, commands = step(call, event, now)
        history.append(commands)
        if before.ended:
            assert (call, commands) == (before, []), "an ended call must not change or act"
        elif call.ended:
            assert ended_after is None
            ended_after = i
            assert saved(commands) == [call.record], "the end is saved once, with the final record"
        if call.ended:
            assert call.record.ended_at is not None
            assert call.record.outcome is not None
            assert call.record.ended_at >= call.record.started_at

    everything = [c for commands in history for c in commands]
    # The router hangs up at most once and never plays after hanging up.
    hangups = [i for i, c in enumerate(everything) if isinstance(c, Hangup)]
    plays = [i for i, c in enumerate(everything) if isinstance(c, Play)]
    assert len(hangups) <= 1
    assert len(plays) <= 1
    if hangups and plays:
        assert plays[0] < hangups[0]
    if line is None:
        assert not any(isinstance(c, Answer | Play) for c in everything)

    # Records are snapshots that only add facts: the store merges them in any order.
    records = saved(everything)
    assert records, "the call is recorded from its first moment"
    for earlier, later in itertools.pairwise(records):
        for field in fields(CallRecord):
            old = getattr(earlier, field.name)
            if old is not None:
                assert getattr(later, field.name) == old, field.name
