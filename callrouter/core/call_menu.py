"""A call in the menu and joining the queue, as pure transitions: the menu a line's
callers get, keys and prompts and silences, the menu level a restarted router
resumes, and the place a chosen topic gives (``join``)."""

from __future__ import annotations

from datetime import datetime

from callrouter.core import menu as mn
from callrouter.core.call_events import CallEvent, Digit, PlaybackFinished, TimerFired
from callrouter.core.call_plan import NO_TOPIC_PLAN, CallPlan, LineInfo
from callrouter.core.call_state import Call, Phase, Result, log_event, play_media, start_timer
from callrouter.core.commands import (
    Command,
    JoinQueue,
    RequestAnnouncement,
    SaveCall,
    SetLanguage,
    SetVariable,
    StopPlayback,
)
from callrouter.core.evolve import evolve
from callrouter.core.place import MENU_RESUMED_PLAYS, MENU_VARIABLE, Adopted, MenuLevel, Place
from callrouter.core.place import VARIABLE as PLACE_VARIABLE
from callrouter.core.queue import QueueEntry


def menu_for(line: LineInfo, plan: CallPlan) -> mn.MenuSpec:
    """The menu a line's callers get: the configured one, the line's fast path, or
    the configured one falling back to the line's own topic."""
    spec = plan.menu
    if line.topic:  # the line's own default topic after too many failures
        spec = evolve(spec, default_topic=line.topic)
    if line.menu == "fast" and line.topic:
        fast = mn.MenuNode("fast_path", {"1": mn.MenuOption(topic=line.topic)})
        spec = evolve(spec, root=fast, default_topic=line.topic, max_failures=1)
    return spec


def in_menu(call: Call, event: CallEvent, now: datetime, plan: CallPlan) -> Result:
    spec = call.menu_spec
    assert spec is not None
    match event:
        case Digit(key):
            before = call.menu
            state, steps = mn.digit(spec, before, key)
            call = evolve(call, menu=state, timer=None)
            kept: list[Command] = []
            moved = (state.path, state.language) != (before.path, before.language)
            if call.live and not state.done and moved:
                # Another level (or language): kept on the channel, so a restarted
                # router plays this level's prompt rather than the menu from the top.
                level = MenuLevel(state.path, state.language, state.keys)
                kept.append(SetVariable(MENU_VARIABLE, level.to_variable()))
            call, commands = menu_steps(call, steps, now, plan, before_play=kept)
            return call, [log_event(call, now, "key", key), *commands]
        case PlaybackFinished(playback_id) if playback_id == call.playback_id:
            state, steps = mn.prompt_finished(spec, call.menu)
            return menu_steps(evolve(call, menu=state, playback_id=None), steps, now, plan)
        case TimerFired(token) if token == call.timer:
            state, steps = mn.timed_out(spec, call.menu)
            return menu_steps(evolve(call, menu=state, timer=None), steps, now, plan)
    return call, []


def menu_steps(
    call: Call,
    steps: list[mn.MenuStep],
    now: datetime,
    plan: CallPlan,
    greeting: str = "",
    before_play: list[Command] | None = None,
) -> Result:
    """The menu's steps as commands. ``before_play`` goes before the next prompt:
    Asterisk carries out a channel's commands one after another, and one sent
    behind a prompt waits for the prompt's end (an 11 s prompt timed it out)."""
    commands: list[Command] = []
    waiting = list(before_play or [])
    for step in steps:
        match step:
            case mn.StopPrompt() if call.playback_id is not None:
                commands.append(StopPlayback(call.playback_id))
                call = evolve(call, playback_id=None)
            case mn.PlayPrompts(prompts, language):
                keys = (greeting, *prompts) if greeting else prompts
                if language != call.language:
                    commands.append(SetLanguage(language))
                commands += waiting
                waiting = []
                call, more = play_media(call, plan.media(language, *keys), language=language)
                commands += more
            case mn.WaitForDigit(seconds):
                call, more = start_timer(call, "menu", seconds)
                commands += more
            case mn.Chosen(topic, reason):
                call, more = join(call, now, plan, topic, reason)
                commands += more
    return call, commands + waiting


def resume_menu(adopted: Adopted, level: MenuLevel, now: datetime, plan: CallPlan) -> Result | None:
    """An adopted call that was in the menu: the prompt of the level it had reached,
    in its language, with the keys it pressed kept (None: that level no longer exists)."""
    spec = menu_for(adopted.line, plan)
    try:
        node = mn.node_at(spec, level.path)
    except (KeyError, AssertionError):
        return None
    record = adopted.record(language=level.language)
    call = Call(record, Phase.MENU, level.language, adopted.line, menu_spec=spec, place_id=adopted.call_id)
    state = mn.MenuState(level.path, 0, level.language, level.keys, playing=True)
    call = evolve(call, plays=MENU_RESUMED_PLAYS, menu=state)
    call, commands = menu_steps(call, [mn.PlayPrompts((node.prompt,), level.language)], now, plan)
    resumed = log_event(call, now, "resumed", f"menu level {''.join(level.path) or 'top'}")
    return call, [SaveCall(record), resumed, SetLanguage(level.language), *commands]


def join(call: Call, now: datetime, plan: CallPlan, topic: str, reason: str) -> Result:
    line = call.line
    assert line is not None
    rules = plan.topics.get(topic, NO_TOPIC_PLAN)
    priority = max(rules.priority, line.priority)
    joined_at = call.record.queued_at or now  # an overflow to another topic keeps the place
    record = evolve(
        call.record,
        topic=topic,
        priority=priority,
        queued_at=joined_at,
        language=call.language,
        menu_path="".join(call.menu.keys) or None,
    )
    entry_id = call.place_id or call.record.call_id
    entry = QueueEntry(
        entry_id, topic, call.language, line.name, priority, joined_at,
        caller_key=call.person, channel_id=record.channel_id, call_id=record.call_id,
    )  # fmt: skip
    call = evolve(call, record=record, phase=Phase.QUEUED, entry_id=entry_id, greeted=False)
    commands: list[Command] = [
        SaveCall(record),
        log_event(call, now, "queued", f"{topic} ({reason})"),
        JoinQueue(entry),
    ]
    if call.live:  # the place on the channel, for a router that adopts the call
        place = Place(topic, priority, joined_at, call.language, record.menu_path, entry_id)
        commands.append(SetVariable(PLACE_VARIABLE, place.to_variable()))
    if call.playback_id is None:
        # Nothing is playing (the menu ended on a key): "please hold" and the
        # position at once, or music if an agent is already being rung.
        commands.append(RequestAnnouncement(entry_id))
    return call, commands
