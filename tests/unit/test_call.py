"""One inbound call's life as pure state transitions: answer, greeting and menu (or
the after-hours message), the queue with music and announcements, the agent, the end."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callrouter.core.call import arrive, decide
from callrouter.core.call_events import (
    AgentAnswered,
    AgentLeft,
    AgentMissed,
    AgentRinging,
    Announce,
    Answered,
    BeingOffered,
    CallerHungUp,
    CallEvent,
    ChannelGone,
    CommandFailed,
    Digit,
    MaxDurationReached,
    Overflowed,
    PlaybackFinished,
    TimerFired,
)
from callrouter.core.call_plan import CallPlan, LineInfo, TopicPlan
from callrouter.core.call_state import Call, Phase
from callrouter.core.commands import (
    Answer,
    Bridge,
    Command,
    ContinueInDialplan,
    Hangup,
    JoinQueue,
    LeaveQueue,
    LogEvent,
    Play,
    RequestAnnouncement,
    SaveCall,
    SetLanguage,
    SetVariable,
    StartMoh,
    StartTimer,
    StopMoh,
    StopPlayback,
)
from callrouter.core.hours import DAYS, Hours, Span
from callrouter.core.menu import Action, MenuNode, MenuOption, MenuSpec
from callrouter.core.numbers import CallerNumber, Presentation
from callrouter.core.place import Place
from callrouter.core.queue import QueueEntry
from callrouter.core.records import CallEventRecord, CallRecord, Outcome
from callrouter.core.waits import wait_of

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday, 12:00 in Moscow
PROMPTS = "/srv/callrouter/prompts"
CALL_ID = "c0ffee"
NODE = "asterisk-1"
CHANNEL = "1732312856.12"
CALLER = CallerNumber("+79161234567", Presentation.NUMBER)

MENU = MenuSpec(
    root=MenuNode(
        "menu_main",
        {
            "1": MenuOption(topic="infection"),
            "2": MenuOption(
                submenu=MenuNode(
                    "menu_appointments",
                    {"1": MenuOption(topic="appointment_book"), "0": MenuOption(action=Action.BACK)},
                )
            ),
            "3": MenuOption(topic="results"),
            "0": MenuOption(topic="operator"),
            "9": MenuOption(action=Action.LANGUAGE),
        },
    ),
    default_topic="operator",
    languages=("ru", "en"),
    timeout_seconds=5.0,
    max_failures=3,
)
TOPICS = {
    "infection": TopicPlan(priority=10),
    "appointment_book": TopicPlan(prompt="appointments_hold", overflow_prompt="overflow_busy"),
    "results": TopicPlan(overflow_topic="operator"),
    "operator": TopicPlan(),
    "urgent": TopicPlan(priority=100),
}
PLAN = CallPlan(PROMPTS, MENU, TOPICS, timedelta(seconds=5), timedelta(seconds=60))

CLINIC_HOURS = Hours("Europe/Moscow", {day: (Span(time(8), time(20)),) for day in DAYS[:5]})
LINE = LineInfo("clinic-central", "ru", hours=CLINIC_HOURS)
CLOSED_LINE = LineInfo("clinic-night", "ru", hours=Hours("Europe/Moscow", {}))
AMBULANCE = LineInfo("ambulance", "ru", menu="skip", topic="urgent", priority=100, urgent=True)
AMBULANCE_FAST = LineInfo("ambulance-fast", "ru", menu="fast", topic="urgent", priority=100)


# ---- helpers -------------------------------------------------------------------------
def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def sound(key: str, language: str = "ru") -> str:
    return f"sound:{PROMPTS}/{language}/{key}"


def pid(n: int) -> str:
    return f"{CALL_ID}-p{n}"


def log(kind: str, detail: str, seconds: float) -> LogEvent:
    return LogEvent(CallEventRecord(CALL_ID, NODE, at(seconds), kind, detail))


def new_call(
    line: LineInfo | None = LINE, caller: CallerNumber = CALLER, overloaded: bool = False
) -> tuple[Call, list[Command]]:
    return arrive(
        call_id=CALL_ID,
        node=NODE,
        channel_id=CHANNEL,
        did="+78162700101",
        line=line,
        caller=caller,
        now=T0,
        overloaded=overloaded,
    )


def step(call: Call, event: CallEvent, seconds: float, plan: CallPlan = PLAN) -> tuple[Call, list[Command]]:
    return decide(call, event, at(seconds), plan)


def in_menu(line: LineInfo = LINE, caller: CallerNumber = CALLER, plan: CallPlan = PLAN) -> Call:
    """Answered at 0.1 s; the greeting and main menu (playback p1) are playing."""
    call, _ = new_call(line, caller)
    call, _ = step(call, Answered(), 0.1, plan)
    assert call.phase is Phase.MENU
    assert call.playback_id == pid(1)
    return call


def queued(*keys: str, seconds: float = 3.0, line: LineInfo = LINE, plan: CallPlan = PLAN) -> Call:
    """Keys pressed during the menu prompt at ``seconds``; the place is asked for."""
    call = in_menu(line, plan=plan)
    for key in keys:
        call, _ = step(call, Digit(key), seconds, plan)
    assert call.phase is Phase.QUEUED
    return call


def with_music(*keys: str, plan: CallPlan = PLAN) -> Call:
    """Queued at 3 s, "please hold, you are number 1" (p2) said by 6 s: music
    until the next announcement (timer announce:1)."""
    call = queued(*(keys or ("1",)), plan=plan)
    call, _ = step(call, Announce(1, None), 3.0, plan)
    assert call.playback_id is not None
    call, _ = step(call, PlaybackFinished(call.playback_id), 6.0, plan)
    assert call.moh
    return call


def connected() -> Call:
    call, _ = step(with_music(), AgentAnswered("a1", "agent-chan"), 30.0)
    assert call.phase is Phase.CONNECTED
    return call


def only(commands: list[Command], kind: type[Command]) -> list[Command]:
    return [c for c in commands if isinstance(c, kind)]


def join_of(commands: list[Command]) -> QueueEntry:
    joins = [c.entry for c in commands if isinstance(c, JoinQueue)]
    assert len(joins) == 1
    return joins[0]


# ---- arrival ---------------------------------------------------------------------------
def test_arrive_saves_logs_and_answers() -> None:
    call, commands = new_call()
    assert call.phase is Phase.ANSWERING
    assert call.language == "ru"
    assert not call.ended
    assert commands == [SaveCall(call.record), log("arrived", "clinic-central", 0), Answer()]
    assert call.record == CallRecord(
        call_id=CALL_ID,
        node=NODE,
        channel_id=CHANNEL,
        did="+78162700101",
        line="clinic-central",
        caller_number="+79161234567",
        caller_presentation="number",
        started_at=T0,
        language="ru",
    )


def test_arrive_with_a_withheld_caller() -> None:
    call, _ = new_call(caller=CallerNumber(None, Presentation.WITHHELD))
    assert call.record.caller_number is None
    assert call.record.caller_presentation == "withheld"


def test_unknown_line_is_refused_as_unallocated() -> None:
    call, commands = new_call(line=None)
    assert call.phase is Phase.ENDING
    assert call.record.outcome is Outcome.NO_LINE
    assert call.record.line is None
    assert call.record.ended_at == T0
    assert commands == [SaveCall(call.record), Hangup("unallocated")]
    assert not any(isinstance(c, Answer) for c in commands)
    # An Answered that raced the refusal does nothing; the channel going ends the call.
    assert step(call, Answered(), 0.1) == (call, [])
    call, commands = step(call, ChannelGone("Unallocated"), 0.2)
    assert call.ended
    assert call.record.outcome is Outcome.NO_LINE
    assert call.record.ended_at == T0
    assert SaveCall(call.record) in commands


# ---- answered: greeting and menu, or the after-hours message ---------------------------
def test_answered_on_an_open_line_plays_the_greeting_and_the_main_menu() -> None:
    call, _ = new_call()
    call, commands = step(call, Answered(), 0.25)
    assert call.phase is Phase.MENU
    assert call.record.answered_at == at(0.25)
    assert call.playback_id == pid(1)
    assert commands == [
        SaveCall(call.record),
        SetLanguage("ru"),  # numbers are said in the line's language
        log("menu", "", 0.25),
        Play((sound("greeting-clinic-central"), sound("menu_main")), pid(1)),
    ]


def test_a_line_without_hours_is_always_open() -> None:
    call, _ = new_call(line=LineInfo("hotline", "en"))
    call, commands = step(call, Answered(), 60 * 60 * 12)  # 21:00 in Moscow
    assert call.phase is Phase.MENU
    assert Play((sound("greeting-hotline", "en"), sound("menu_main", "en")), pid(1)) in commands


def test_answered_on_a_closed_line_plays_the_after_hours_message_then_hangs_up() -> None:
    call, _ = new_call(line=CLOSED_LINE)
    call, commands = step(call, Answered(), 0.1)
    assert call.phase is Phase.CLOSED
    assert commands == [
        SaveCall(replace(call.record, end_reason=None)),
        SetLanguage("ru"),
        log("after_hours", "", 0.1),
        Play((sound("greeting-clinic-night"), sound("after_hours")), pid(1)),
    ]
    assert not only(commands, StartTimer)
    # Keys and stale playbacks do nothing while the message plays.
    assert step(call, Digit("1"), 2.0) == (call, [])
    assert step(call, PlaybackFinished("other"), 2.0) == (call, [])
    call, commands = step(call, PlaybackFinished(pid(1)), 9.0)
    assert commands == [Hangup()]
    assert call.phase is Phase.ENDING
    assert call.record.outcome is Outcome.AFTER_HOURS
    assert call.record.ended_at is None  # not until Asterisk says the channel is gone
    call, commands = step(call, ChannelGone("Normal Clearing"), 9.2)
    assert call.ended
    assert call.record.outcome is Outcome.AFTER_HOURS
    assert call.record.ended_at == at(9.2)
    assert commands == [SaveCall(call.record), log("ended", "after_hours", 9.2)]


def test_outside_the_span_is_closed_and_the_lines_closed_prompt_is_used() -> None:
    line = replace(LINE, closed_prompt="closed_clinics")
    call, _ = new_call(line=line)
    call, commands = step(call, Answered(), 60 * 60 * 9)  # 18:00 UTC = 21:00 in Moscow
    assert call.phase is Phase.CLOSED
    assert Play((sound("greeting-clinic-central"), sound("closed_clinics")), pid(1)) in commands


def test_caller_hangs_up_during_the_after_hours_message() -> None:
    call, _ = new_call(line=CLOSED_LINE)
    call, _ = step(call, Answered(), 0.1)
    call, commands = step(call, CallerHungUp("16"), 3.0)
    assert call.ended
    assert call.record.outcome is Outcome.AFTER_HOURS
    assert call.record.ended_at == at(3.0)
    assert not only(commands, Hangup)
    assert not only(commands, LeaveQueue)


# ---- the menu --------------------------------------------------------------------------
def test_a_digit_during_the_prompt_stops_it_then_plays_the_next_level() -> None:
    call, commands = step(in_menu(), Digit("2"), 2.0)
    assert commands == [
        log("key", "2", 2.0),
        StopPlayback(pid(1)),
        # The level, for a restarted router; before the prompt, or it waits for the prompt's end.
        SetVariable("CALLROUTER_MENU", '["2","ru","2"]'),
        Play((sound("menu_appointments"),), pid(2)),
    ]
    assert call.playback_id == pid(2)
    assert call.phase is Phase.MENU


def test_silence_after_the_prompt_repeats_it() -> None:
    call, commands = step(in_menu(), PlaybackFinished(pid(1)), 8.0)
    assert commands == [StartTimer("menu:1", 5.0)]
    assert call.playback_id is None
    assert call.timer == "menu:1"
    call, commands = step(call, TimerFired("menu:1"), 13.0)
    assert commands == [Play((sound("menu_main"),), pid(2))]  # no greeting the second time
    assert call.timer is None
    call, commands = step(call, PlaybackFinished(pid(2)), 16.0)
    assert commands == [StartTimer("menu:2", 5.0)]


def test_stale_timers_and_playbacks_are_ignored() -> None:
    call, _ = step(in_menu(), PlaybackFinished(pid(1)), 8.0)  # timer menu:1 runs
    call, commands = step(call, Digit("2"), 9.0)  # a key cancels the wait
    assert only(commands, Play) == [Play((sound("menu_appointments"),), pid(2))]
    assert not only(commands, StopPlayback)  # nothing was playing
    assert step(call, TimerFired("menu:1"), 13.0) == (call, [])
    assert step(call, PlaybackFinished(pid(1)), 13.0) == (call, [])
    assert step(call, TimerFired("announce:1"), 13.0) == (call, [])


def test_an_invalid_key_plays_invalid_option_then_the_prompt() -> None:
    call, _ = step(in_menu(), PlaybackFinished(pid(1)), 8.0)
    call, commands = step(call, Digit("7"), 9.0)
    assert commands == [log("key", "7", 9.0), Play((sound("invalid_option"), sound("menu_main")), pid(2))]


def test_choosing_a_topic_joins_the_queue() -> None:
    call, commands = step(in_menu(), Digit("1"), 3.0)
    assert call.phase is Phase.QUEUED
    record = call.record
    assert (record.topic, record.priority, record.queued_at) == ("infection", 10, at(3.0))
    assert (record.menu_path, record.language) == ("1", "ru")
    entry = QueueEntry(
        CALL_ID, "infection", "ru", "clinic-central", 10, at(3.0),
        caller_key="+79161234567", channel_id=CHANNEL, call_id=CALL_ID,
    )  # fmt: skip
    assert commands == [
        log("key", "1", 3.0),
        StopPlayback(pid(1)),
        SaveCall(record),
        log("queued", "infection (choice)", 3.0),
        JoinQueue(entry),
        SetVariable("CALLROUTER_PLACE", '["infection",10,"2026-11-23T09:00:03+00:00","ru","1","c0ffee"]'),
        RequestAnnouncement(CALL_ID),  # nothing is playing any more: the place, at once
    ]
    # The place kept on the channel is the place a restarted router resumes.
    (kept,) = [c for c in commands if isinstance(c, SetVariable)]
    assert Place.from_variable(kept.value) == Place("infection", 10, at(3.0), "ru", "1", CALL_ID)
    assert join_of(commands).joined_at == record.queued_at
    assert call.entry_id == CALL_ID
    call, commands = step(call, Announce(1, None), 3.0)
    assert commands == [Play((sound("queue_joined"), sound("queue_position"), "number:1"), pid(2))]


def test_a_caller_whose_agent_is_already_rung_hears_music_not_the_queue() -> None:
    call, _ = step(in_menu(), Digit("1"), 3.0)
    call, commands = step(call, AgentRinging("agent1"), 3.0)
    call, commands = step(call, BeingOffered(), 3.0)
    assert commands == [StartTimer("offer:1", 1.0)], "most agents answer within a second: no music yet"
    call, commands = step(call, TimerFired("offer:1"), 4.0)
    assert commands == [StartMoh()]
    assert step(call, TimerFired("offer:1"), 4.5) == (call, []), "fired once"
    # The agent does not answer: back in the queue, the place is said.
    call, commands = step(call, AgentMissed("agent1", "no answer"), 18.0)
    assert commands[-1] == RequestAnnouncement(CALL_ID)
    call, commands = step(call, Announce(1, None), 18.0)
    assert commands == [
        StopMoh(),
        Play((sound("queue_joined"), sound("queue_position"), "number:1"), pid(2)),
    ]


def test_choosing_through_a_submenu_records_the_path() -> None:
    call = queued("2", "1")
    assert call.record.topic == "appointment_book"
    assert call.record.menu_path == "21"


def test_a_topic_prompt_is_said_on_joining() -> None:
    call, _ = step(in_menu(), Digit("2"), 3.0)
    call, _ = step(call, Digit("1"), 4.0)
    _, commands = step(call, Announce(2, None), 4.0)
    assert commands == [Play((sound("appointments_hold"), sound("queue_position"), "number:2"), pid(3))]


@pytest.mark.parametrize(("line_priority", "priority"), [(0, 10), (5, 10), (10, 10), (50, 50)])
def test_priority_is_the_higher_of_topic_and_line(line_priority: int, priority: int) -> None:
    call = in_menu(replace(LINE, priority=line_priority))
    call, commands = step(call, Digit("1"), 3.0)
    assert call.record.priority == priority
    assert join_of(commands).priority == priority


def test_a_withheld_caller_joins_without_a_key() -> None:
    call = in_menu(caller=CallerNumber(None, Presentation.WITHHELD))
    _, commands = step(call, Digit("0"), 3.0)
    assert join_of(commands).caller_key is None


def test_too_many_failures_go_to_the_default_topic() -> None:
    call, _ = step(in_menu(), PlaybackFinished(pid(1)), 8.0)
    call, _ = step(call, TimerFired("menu:1"), 13.0)  # 1
    call, _ = step(call, Digit("8"), 14.0)  # 2, barging into the repeat
    call, _ = step(call, PlaybackFinished(pid(3)), 17.0)
    assert call.timer == "menu:2"
    call, commands = step(call, TimerFired("menu:2"), 22.0)  # 3
    assert call.phase is Phase.QUEUED
    assert call.record.topic == "operator"
    assert call.record.menu_path == "8"
    assert log("queued", "operator (failures)", 22.0) in commands
    assert join_of(commands).joined_at == at(22.0)
    assert commands[-1] == RequestAnnouncement(CALL_ID)


def test_a_silent_caller_hears_the_short_form_then_joins_the_default_topic() -> None:
    plan = replace(PLAN, menu=replace(MENU, root=replace(MENU.root, short_prompt="menu_short")))
    call, _ = step(in_menu(plan=plan), PlaybackFinished(pid(1)), 20.0, plan)
    call, commands = step(call, TimerFired("menu:1"), 25.0, plan)
    assert commands == [Play((sound("menu_short"),), pid(2))]
    call, _ = step(call, PlaybackFinished(pid(2)), 31.0, plan)
    call, commands = step(call, TimerFired("menu:2"), 36.0, plan)
    assert call.phase is Phase.QUEUED
    assert (call.record.topic, call.record.menu_path) == ("operator", None)
    assert log("queued", "operator (silence)", 36.0) in commands
    assert commands[-1] == RequestAnnouncement(CALL_ID), "nothing plays: the place is said at once"


# ---- language --------------------------------------------------------------------------
def test_the_language_option_switches_the_prompts_and_the_entry() -> None:
    call, commands = step(in_menu(), Digit("9"), 2.0)
    assert commands == [
        log("key", "9", 2.0),
        StopPlayback(pid(1)),
        SetLanguage("en"),
        SetVariable("CALLROUTER_MENU", '["","en","9"]'),
        Play((sound("menu_main", "en"),), pid(2)),
    ]
    assert call.language == "en"
    call, _ = step(call, PlaybackFinished(pid(2)), 6.0)
    call, commands = step(call, TimerFired("menu:1"), 11.0)
    assert commands == [Play((sound("menu_main", "en"),), pid(3))]
    call, commands = step(call, Digit("1"), 12.0)
    assert join_of(commands).language == "en"
    assert call.record.language == "en"
    assert call.record.menu_path == "91"
    # ... and the announcements are in English too.
    _, commands = step(call, Announce(2, 3), 15.5)
    assert only(commands, Play) == [
        Play(
            (sound("queue_joined", "en"), sound("queue_position", "en"), "number:2",
             sound("queue_wait", "en"), "number:3"),
            pid(4),
        )
    ]  # fmt: skip


def test_the_language_option_twice_is_back_to_the_first() -> None:
    call, _ = step(in_menu(), Digit("9"), 2.0)
    call, commands = step(call, Digit("9"), 3.0)
    assert call.language == "ru"
    assert Play((sound("menu_main", "ru"),), pid(3)) in commands


# ---- lines without the full menu ---------------------------------------------------------
def test_a_skip_line_greets_and_joins_its_topic_at_once() -> None:
    call, _ = new_call(line=AMBULANCE)
    call, commands = step(call, Answered(), 0.1)
    assert call.phase is Phase.QUEUED
    record = call.record
    assert (record.topic, record.priority, record.queued_at, record.menu_path) == (
        "urgent",
        100,
        at(0.1),
        None,
    )
    entry = QueueEntry(
        CALL_ID, "urgent", "ru", "ambulance", 100, at(0.1), caller_key="+79161234567", channel_id=CHANNEL,
        call_id=CALL_ID,
    )  # fmt: skip
    assert commands == [
        SaveCall(replace(record, topic=None, priority=None, queued_at=None)),
        SetLanguage("ru"),
        SaveCall(record),
        log("queued", "urgent (line)", 0.1),
        JoinQueue(entry),
        # Before the greeting: Asterisk would carry it out only once the greeting ended.
        SetVariable("CALLROUTER_PLACE", Place("urgent", 100, at(0.1), "ru", place_id=CALL_ID).to_variable()),
        Play((sound("greeting-ambulance"),), pid(1)),
    ]
    # The greeting finishing asks for the position (said, or music if an agent rings).
    call, commands = step(call, PlaybackFinished(pid(1)), 4.0)
    assert commands == [RequestAnnouncement(CALL_ID)]
    # Keys do nothing in the queue.
    assert step(call, Digit("1"), 5.0) == (call, [])


def test_a_fast_line_plays_its_short_menu() -> None:
    call = in_menu(AMBULANCE_FAST)
    assert call.menu_spec is not None
    assert call.menu_spec.root.prompt == "fast_path"
    assert call.playback_id == pid(1)
    call2, commands = step(call, Digit("1"), 1.0)
    assert call2.record.topic == "urgent"
    assert log("queued", "urgent (choice)", 1.0) in commands
    assert join_of(commands).priority == 100


def test_a_fast_line_first_play() -> None:
    call, _ = new_call(line=AMBULANCE_FAST)
    _, commands = step(call, Answered(), 0.1)
    assert Play((sound("greeting-ambulance-fast"), sound("fast_path")), pid(1)) in commands


@pytest.mark.parametrize("key", ["2", "9", "0"])
def test_a_fast_line_other_keys_go_to_the_line_topic(key: str) -> None:
    call, commands = step(in_menu(AMBULANCE_FAST), Digit(key), 1.0)
    assert call.record.topic == "urgent"
    assert join_of(commands).topic == "urgent"


def test_a_fast_line_silence_goes_to_the_line_topic() -> None:
    call, _ = step(in_menu(AMBULANCE_FAST), PlaybackFinished(pid(1)), 5.0)
    call, commands = step(call, TimerFired("menu:1"), 10.0)
    assert call.phase is Phase.QUEUED
    assert log("queued", "urgent (failures)", 10.0) in commands
    assert join_of(commands).topic == "urgent"
    assert commands[-1] == RequestAnnouncement(CALL_ID)


# ---- waiting: music and announcements ----------------------------------------------------
def test_after_the_first_announcement_music_until_the_next() -> None:
    call = queued("1")
    assert step(call, PlaybackFinished(pid(1)), 5.0) == (call, [])  # the stopped menu prompt
    call, commands = step(call, Announce(4, 2), 3.0)
    assert commands == [
        Play(
            (sound("queue_joined"), sound("queue_position"), "number:4", sound("queue_wait"), "number:2"),
            pid(2),
        )
    ]
    call, commands = step(call, PlaybackFinished(pid(2)), 5.0)
    assert commands == [StartMoh(), StartTimer("announce:1", 60.0)]
    assert call.moh
    assert call.playback_id is None


def test_an_announcement_stops_the_music_and_says_position_and_wait() -> None:
    call, commands = step(with_music(), Announce(3, 4), 6.5)
    assert commands == [
        StopMoh(),
        Play((sound("queue_position"), "number:3", sound("queue_wait"), "number:4"), pid(3)),
    ]
    assert call.announcing
    assert not call.moh


def test_an_announcement_without_an_estimate_says_no_wait() -> None:
    _, commands = step(with_music(), Announce(1, None), 6.5)
    assert commands == [StopMoh(), Play((sound("queue_position"), "number:1"), pid(3))]


def test_after_an_announcement_music_until_the_next_one() -> None:
    call, _ = step(with_music(), Announce(3, 4), 6.5)
    call, commands = step(call, PlaybackFinished(pid(3)), 10.0)
    assert commands == [StartMoh(), StartTimer("announce:2", 60.0)]
    assert call.moh
    assert not call.announcing
    call, commands = step(call, TimerFired("announce:2"), 70.0)
    assert commands == [RequestAnnouncement(CALL_ID)]
    assert step(call, TimerFired("announce:2"), 70.5) == (call, [])  # fired once
    call, commands = step(call, Announce(2, 3), 71.0)
    assert commands == [
        StopMoh(),
        Play((sound("queue_position"), "number:2", sound("queue_wait"), "number:3"), pid(4)),
    ]
    call, commands = step(call, PlaybackFinished(pid(4)), 75.0)
    assert commands == [StartMoh(), StartTimer("announce:3", 60.0)]


def test_with_announce_every_zero_there_is_one_announcement() -> None:
    plan = replace(PLAN, announce_every=timedelta(0))
    call, _ = step(with_music(plan=plan), Announce(3, None), 6.5, plan)
    call, commands = step(call, PlaybackFinished(pid(3)), 9.0, plan)
    assert commands == [StartMoh()]
    assert call.timer is None


def test_an_announcement_while_a_prompt_plays_waits() -> None:
    call, _ = new_call(line=AMBULANCE)
    call, _ = step(call, Answered(), 0.1)  # queued at once, the greeting plays
    assert call.phase is Phase.QUEUED and call.playback_id == pid(1)
    assert step(call, Announce(1, 1), 3.5) == (call, [])
    call, _ = step(with_music(), Announce(3, 4), 6.5)
    assert step(call, Announce(3, 4), 6.6) == (call, [])


# ---- the agent -------------------------------------------------------------------------
def test_ringing_is_logged_and_a_missed_agent_brings_the_place_back() -> None:
    call = with_music()
    after, commands = step(call, AgentRinging("a1"), 20.0)
    assert (after, commands) == (call, [log("offered", "a1", 20.0)])
    after, commands = step(call, AgentMissed("a1", "no answer"), 35.0)
    assert (after, commands) == (
        call,
        [log("agent_missed", "a1: no answer", 35.0), RequestAnnouncement(CALL_ID)],
    )
    # While an announcement plays, a missed agent is only logged (the next comes with the timer).
    playing, _ = step(call, Announce(2, None), 36.0)
    after, commands = step(playing, AgentMissed("a2", "no answer"), 37.0)
    assert (after, commands) == (playing, [log("agent_missed", "a2: no answer", 37.0)])


def test_an_agent_answers_over_the_music() -> None:
    call, commands = step(with_music(), AgentAnswered("a1", "agent-chan"), 30.0)
    assert call.phase is Phase.CONNECTED
    record = call.record
    assert (record.agent, record.agent_answered_at, record.outcome) == ("a1", at(30.0), Outcome.ANSWERED)
    assert commands == [
        StopMoh(),
        Bridge("agent-chan"),
        SaveCall(record),
        log("bridged", "a1 agent-chan", 30.0),
    ]
    assert not call.moh
    assert call.timer is None


def test_an_agent_answers_during_a_prompt() -> None:
    call, _ = step(queued("1"), Announce(1, None), 3.0)
    call, commands = step(call, AgentAnswered("a2", "agent-chan-2"), 4.0)
    assert commands[:2] == [StopPlayback(pid(2)), Bridge("agent-chan-2")]
    assert not only(commands, StopMoh)
    assert call.playback_id is None


def test_the_agent_hangs_up() -> None:
    call, commands = step(connected(), AgentLeft(), 200.0)
    assert commands == [Hangup()]
    assert call.phase is Phase.ENDING
    assert call.record.outcome is Outcome.ANSWERED
    call, commands = step(call, ChannelGone("Normal Clearing"), 200.3)
    assert call.ended
    assert call.record.outcome is Outcome.ANSWERED
    assert call.record.ended_at == at(200.3)
    assert call.record.agent == "a1"
    assert commands == [SaveCall(call.record), log("ended", "answered", 200.3)]


def test_the_caller_hangs_up_a_connected_call() -> None:
    call, commands = step(connected(), CallerHungUp("16"), 200.0)
    assert call.ended
    assert call.record.outcome is Outcome.ANSWERED
    assert call.record.ended_at == at(200.0)
    assert not only(commands, LeaveQueue)  # the centre ended the entry when it connected
    assert not only(commands, Hangup)


@pytest.mark.parametrize(
    "event",
    [Announce(1, 1), TimerFired("announce:1"), Digit("1"), PlaybackFinished(pid(2)), Overflowed("max_wait")],
)
def test_a_connected_call_ignores_queue_events(event: CallEvent) -> None:
    call = connected()
    assert step(call, event, 40.0) == (call, [])


# ---- the caller gives up -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("seconds", "outcome"),
    [
        (3.5, Outcome.SHORT_ABANDON),
        (7.99, Outcome.SHORT_ABANDON),
        (8.0, Outcome.ABANDONED),
        (90, Outcome.ABANDONED),
    ],
)
def test_hanging_up_in_the_queue_leaves_it(seconds: float, outcome: Outcome) -> None:
    call, commands = step(queued("1"), CallerHungUp("16"), seconds)  # queued at 3 s
    assert call.ended
    assert call.record.outcome is outcome
    assert call.record.end_reason == "caller: Normal Clearing"  # the cause number in Asterisk's words
    assert call.record.ended_at == at(seconds)
    assert commands == [LeaveQueue(CALL_ID), SaveCall(call.record), log("ended", outcome.value, seconds)]


@pytest.mark.parametrize("event", [CallerHungUp("16"), ChannelGone("Normal Clearing")])
def test_hanging_up_in_the_menu(event: CallEvent) -> None:
    call, commands = step(in_menu(), event, 4.0)
    assert call.ended
    assert call.record.outcome is Outcome.MENU_HANGUP
    assert call.record.ended_at == at(4.0)
    assert not only(commands, LeaveQueue)
    assert not only(commands, Hangup)


def test_hanging_up_before_the_answer() -> None:
    call, _ = new_call()
    call, commands = step(call, CallerHungUp(), 0.05)
    assert call.ended
    assert call.record.answered_at is None
    assert call.record.outcome is Outcome.MENU_HANGUP
    assert commands == [SaveCall(call.record), log("ended", "menu_hangup", 0.05)]


# ---- overflow --------------------------------------------------------------------------
def test_overflow_to_another_topic_keeps_the_place() -> None:
    call = with_music("3")  # results, queued at 3 s
    call, commands = step(call, Overflowed("max_wait"), 603.0)
    assert call.phase is Phase.QUEUED
    assert call.record.topic == "operator"
    assert call.record.queued_at == at(3.0)
    entry = join_of(commands)
    assert (entry.topic, entry.joined_at, entry.entry_id) == ("operator", at(3.0), CALL_ID)
    assert commands[:4] == [
        log("overflow", "results: max_wait", 603.0),
        SaveCall(call.record),
        log("queued", "operator (overflow from results)", 603.0),
        JoinQueue(entry),
    ]
    assert not only(commands, LeaveQueue)  # the centre already ended the old entry
    # A hang-up now is measured from the original join: abandoned, not short.
    call, commands = step(call, CallerHungUp(), 604.0)
    assert call.record.outcome is Outcome.ABANDONED
    assert LeaveQueue(CALL_ID) in commands


def test_overflow_to_another_topic_greets_the_new_wait_then_music_again() -> None:
    call = with_music("3")
    call, commands = step(call, Overflowed("max_wait"), 603.0)
    assert commands[-1] == RequestAnnouncement(CALL_ID)
    call, commands = step(call, Announce(2, None), 603.0)
    assert commands == [StopMoh(), Play((sound("queue_joined"), sound("queue_position"), "number:2"), pid(3))]
    call, commands = step(call, PlaybackFinished(pid(3)), 606.0)
    assert commands == [StartMoh(), StartTimer("announce:2", 60.0)]


def test_overflow_to_another_topic_during_an_announcement_lets_it_finish() -> None:
    call, _ = step(with_music("3"), Announce(4, 9), 500.0)
    call, commands = step(call, Overflowed("max_wait"), 503.0)
    assert not only(commands, Play)
    assert not only(commands, StopPlayback)
    assert call.playback_id == pid(3)
    call, commands = step(call, PlaybackFinished(pid(3)), 506.0)
    assert commands == [StartMoh(), StartTimer("announce:2", 60.0)]


def test_overflow_with_a_message_plays_it_then_hangs_up() -> None:
    call = with_music("2", "1")  # appointment_book
    call, commands = step(call, Overflowed("max_wait"), 903.0)
    assert call.phase is Phase.LEAVING
    assert commands == [
        log("overflow", "appointment_book: max_wait", 903.0),
        StopMoh(),
        Play((sound("overflow_busy"),), pid(4)),
    ]
    assert step(call, Announce(1, 1), 904.0) == (call, [])
    call, commands = step(call, PlaybackFinished(pid(4)), 908.0)
    assert commands == [Hangup()]
    assert call.record.outcome is Outcome.OVERFLOW
    assert call.record.end_reason == "overflow: max_wait"
    call, commands = step(call, ChannelGone(), 908.2)
    assert call.ended
    assert call.record.outcome is Outcome.OVERFLOW
    assert call.record.ended_at == at(908.2)
    assert not only(commands, LeaveQueue)


def test_overflow_without_settings_says_busy_and_the_caller_may_hang_up_first() -> None:
    call = with_music("1")  # infection: no overflow settings
    call, commands = step(call, Overflowed("no_agents"), 10.0)
    assert Play((sound("overflow_busy"),), pid(3)) in commands
    call, commands = step(call, CallerHungUp(), 11.0)
    assert call.ended
    assert call.record.outcome is Outcome.OVERFLOW
    assert not only(commands, LeaveQueue)


def test_overflow_during_the_joining_prompt_stops_it() -> None:
    call, _ = step(queued("1"), Announce(1, None), 3.0)
    _, commands = step(call, Overflowed("no_agents"), 3.5)
    assert commands[1:] == [StopPlayback(pid(2)), Play((sound("overflow_busy"),), pid(3))]


# ---- failures and limits -----------------------------------------------------------------
def test_a_failed_command_in_the_menu_hangs_up() -> None:
    call, commands = step(in_menu(), CommandFailed("play", "404 sound not found"), 1.0)
    assert commands == [Hangup()]
    assert call.phase is Phase.ENDING
    assert call.record.outcome is Outcome.FAILED
    assert call.record.end_reason == "play: 404 sound not found"
    call, commands = step(call, ChannelGone(), 1.5)
    assert call.ended
    assert call.record.outcome is Outcome.FAILED
    assert call.record.end_reason == "play: 404 sound not found"
    assert call.record.ended_at == at(1.5)


def test_a_failed_command_in_the_queue_leaves_it_once() -> None:
    call, commands = step(with_music(), CommandFailed("moh", "409"), 10.0)
    assert commands == [LeaveQueue(CALL_ID), Hangup()]
    assert call.record.outcome is Outcome.FAILED
    assert step(call, CommandFailed("hangup", "500"), 10.1) == (call, [])
    call, commands = step(call, ChannelGone(), 10.5)
    assert call.ended
    assert call.record.outcome is Outcome.FAILED
    assert not only(commands, LeaveQueue)


def test_a_failed_answer_hangs_up() -> None:
    call, _ = new_call()
    call, commands = step(call, CommandFailed("answer", "404"), 0.1)
    assert commands == [Hangup()]
    assert call.record.outcome is Outcome.FAILED


def test_max_duration_on_a_connected_call_is_still_answered() -> None:
    call, commands = step(connected(), MaxDurationReached(), 3600.0)
    assert commands == [Hangup()]
    assert call.record.outcome is Outcome.ANSWERED
    assert call.record.end_reason == "maximum call duration"


def test_max_duration_while_queued_leaves_and_hangs_up_as_an_overflow() -> None:
    """The router ended a wait no agent took: an overflow, its wait counted with the others'."""
    call, commands = step(with_music(), MaxDurationReached(), 3600.0)
    assert commands == [LeaveQueue(CALL_ID), Hangup()]
    assert call.record.outcome is Outcome.OVERFLOW
    assert call.record.end_reason == "maximum call duration"
    assert call.phase is Phase.ENDING
    call, _ = step(call, ChannelGone("Normal Clearing"), 3600.5)  # the record is final once it is gone
    assert call.record.outcome is Outcome.OVERFLOW
    wait = wait_of(call.record)
    assert wait is not None and wait.outcome == "overflow" and wait.seconds > 3000


@pytest.mark.parametrize(
    "event",
    [Answered(), Digit("1"), CallerHungUp(), ChannelGone(), CommandFailed("x", "y"), MaxDurationReached()],
)
def test_an_ended_call_does_nothing(event: CallEvent) -> None:
    call, _ = step(queued("1"), CallerHungUp(), 10.0)
    assert step(call, event, 11.0) == (call, [])


# ---- any order of events -------------------------------------------------------------------
LINES: list[LineInfo | None] = [LINE, CLOSED_LINE, AMBULANCE, AMBULANCE_FAST, LineInfo("hotline", "en"), None]
KINDS = (
    ["this_playback", "this_timer", "digit"] * 6  # the call's current ids, often
    + ["answered", "playback", "timer", "announce", "agent_answered", "agent_left"] * 2
    + ["ringing", "missed", "overflowed", "offered"]
    + ["hangup", "gone", "failed", "max_duration"]  # the end, now and then
)
STEP = st.tuples(
    st.sampled_from(KINDS),
    st.integers(0, 50),  # picks an id, a key, an agent, a position...
    st.one_of(st.none(), st.integers(0, 60)),  # an estimate
    st.sampled_from([0.0, 0.5, 3.0, 30.0]),  # time before the event
)
KEYS = "1239" + "0123456789*#"
# Answered, a topic, "please hold, you are number 3" said: most calls then wait in the queue.
PREFIX = [("answered", 0), ("digit", 0), ("this_playback", 0), ("announce", 2), ("this_playback", 0)]


def event_of(call: Call, kind: str, n: int, minutes: int | None) -> CallEvent:
    """Every kind of event; ids are the call's current ones, old ones, or one not yet used."""
    agent = f"a{n % 2 + 1}"
    reason = ["max_wait", "no_agents"][n % 2]
    any_playback = PlaybackFinished(pid(n % (call.plays + 1) + 1))
    any_timer = TimerFired(f"{['menu', 'announce'][n % 2]}:{n // 2 % (call.timers + 1) + 1}")
    events: dict[str, CallEvent] = {
        "this_playback": PlaybackFinished(call.playback_id) if call.playback_id else any_playback,
        "this_timer": TimerFired(call.timer) if call.timer else any_timer,
        "answered": Answered(),
        "playback": any_playback,
        "timer": any_timer,
        "digit": Digit(KEYS[n % len(KEYS)]),
        "hangup": CallerHungUp(["normal", "16"][n % 2]),
        "gone": ChannelGone(),
        "failed": CommandFailed(["play", "bridge", "moh"][n % 3], "404"),
        "max_duration": MaxDurationReached(),
        "ringing": AgentRinging(agent),
        "missed": AgentMissed(agent, "no answer"),
        "agent_answered": AgentAnswered(agent, "agent-chan"),
        "agent_left": AgentLeft(),
        "overflowed": Overflowed(reason),
        "announce": Announce(n + 1, minutes),
        "offered": BeingOffered(),
    }
    return events[kind]


@settings(max_examples=300, deadline=None)
@given(
    line=st.sampled_from(LINES),
    announce_every=st.sampled_from([0, 60]),
    start=st.sampled_from([[], [("answered", 0)], [("answered", 0), ("digit", 2)], PREFIX]),
    steps=st.lists(STEP, max_size=40),
)
def test_any_sequence_of_events_is_handled(
    line: LineInfo | None,
    announce_every: int,
    start: list[tuple[str, int]],
    steps: list[tuple[str, int, int | None, float]],
) -> None:
    plan = replace(PLAN, announce_every=timedelta(seconds=announce_every))
    call, commands = new_call(line)
    seconds = 0.0
    in_queue: str | None = None  # the entry the centre holds for this call
    played: set[str] = set()
    for kind, n, minutes, pause in [(k, n, 2, 1.0) for k, n in start] + steps:
        event = event_of(call, kind, n, minutes)
        seconds += pause
        before = call
        call, commands = decide(call, event, at(seconds), plan)  # never raises

        if before.ended:
            assert (call, commands) == (before, [])
        if call.ended:
            assert call.record.ended_at is not None
            assert call.record.outcome is not None
        # The centre ends the entry itself when it connects or overflows it.
        if before.phase is Phase.QUEUED and isinstance(event, AgentAnswered | Overflowed):
            in_queue = None
        for command in commands:
            match command:
                case JoinQueue(entry):
                    assert in_queue is None, "joined twice without leaving"
                    in_queue = entry.entry_id
                case LeaveQueue(entry_id):
                    assert in_queue == entry_id, "left without a join"
                    in_queue = None
                case Play(_, playback_id):
                    assert playback_id not in played
                    played.add(playback_id)
                case StopPlayback(playback_id):
                    assert playback_id in played
                case _:
                    pass
        if call.phase in (Phase.ENDING, Phase.ENDED):
            assert in_queue is None, "an ended call still holds a place"
        assert (in_queue is not None) == (call.phase is Phase.QUEUED)


def test_caller_hanging_up_a_connected_call_says_who() -> None:
    call, _ = step(connected(), ChannelGone("Normal Clearing"), 20.0)
    assert call.record.outcome is Outcome.ANSWERED
    assert call.record.end_reason == "caller: Normal Clearing"


def test_the_record_keeps_a_language_changed_in_the_menu() -> None:
    call = in_menu()
    call, _ = step(call, Digit("9"), 1.0)
    call, _ = step(call, ChannelGone("Normal Clearing"), 2.0)
    assert call.record.outcome is Outcome.MENU_HANGUP
    assert call.record.language == "en"


def test_maximum_duration_during_the_after_hours_message_keeps_its_outcome() -> None:
    call, _ = new_call(CLOSED_LINE)
    call, _ = step(call, Answered(), 0.1)
    call, commands = step(call, MaxDurationReached(), 5.0)
    assert Hangup() in commands
    assert call.record.outcome is Outcome.AFTER_HOURS


def test_too_many_failures_go_to_the_lines_own_default_topic() -> None:
    line = LineInfo("infection-hotline", "ru", topic="infection")
    call, _ = new_call(line=line)
    call, _ = step(call, Answered(), 0.1)
    for n, key in enumerate("777", 1):
        call, commands = step(call, Digit(key), n)
    assert join_of(commands).topic == "infection"


# ---- overload ----------------------------------------------------------------------------
def test_an_overloaded_router_sends_a_new_caller_back_to_hear_call_back() -> None:
    call, commands = new_call(overloaded=True)
    assert call.phase is Phase.ENDING
    assert call.record.outcome is Outcome.BUSY
    assert commands[-1] == ContinueInDialplan("callrouter-busy", "ru"), "said in the line's language"
    assert log("busy", "callrouter-busy", 0.0) in commands
    assert not only(commands, Answer) and not only(commands, Play), "nothing more for the router to do"
    call, commands = step(call, ChannelGone("left the application"), 0.2)
    assert call.ended
    assert call.record.outcome is Outcome.BUSY
    assert call.record.ended_at == at(0.2)


def test_an_urgent_line_is_never_told_to_call_back() -> None:
    call, commands = new_call(AMBULANCE, overloaded=True)
    expected = ContinueInDialplan("callrouter-fallback", "+78162700101")
    assert commands[-1] == expected, "the fallback ring group"
    assert call.record.outcome is Outcome.BUSY


def test_an_agent_answering_within_a_second_means_no_music_at_all() -> None:
    call, _ = step(in_menu(), Digit("1"), 3.0)
    call, _ = step(call, BeingOffered(), 3.0)
    call, commands = step(call, AgentAnswered("agent1", "agent-chan"), 3.6)
    assert not only(commands, StartMoh) and not only(commands, StopMoh)
    assert Bridge("agent-chan") in commands
    assert step(call, TimerFired("offer:1"), 4.0) == (call, [])


def test_a_call_id_is_derived_from_its_node_and_channel() -> None:
    """A router adopting a call after a restart gives it the id it already has."""
    from callrouter.core.call import call_id_for

    assert call_id_for("asterisk-1", "1795385046.12") == call_id_for("asterisk-1", "1795385046.12")
    assert call_id_for("asterisk-1", "1795385046.12") != call_id_for("asterisk-2", "1795385046.12")
    assert call_id_for("asterisk-1", "1795385046.12") != call_id_for("asterisk-1", "1795385046.13")


NAMES = st.text(st.characters(blacklist_categories=["Cs"]))  # what encodes to UTF-8


@given(NAMES, NAMES)
def test_a_call_id_is_the_uuid5_of_its_node_and_channel(node: str, channel_id: str) -> None:
    """Computed without ``uuid``'s object, for speed: the same id as before, to the bit."""
    from callrouter.core.call import CALL_ID_NAMESPACE, call_id_for

    assert call_id_for(node, channel_id) == str(uuid.uuid5(CALL_ID_NAMESPACE, f"{node}/{channel_id}"))
