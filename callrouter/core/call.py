"""One inbound call's life, as pure state transitions.

arrive -> answer -> (closed: after-hours message) | greeting + menu -> queue
(music, position and estimate announced) -> an agent answers -> bridged ->
either side hangs up. ``decide(call, event, now)`` returns the next ``Call``
and the commands for the shell, which feeds back what happened as events.
The shared queue and the agents live in ``centre``; a call only joins, leaves
and hears what the centre decided.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from callrouter.core import call_callback as cb
from callrouter.core import menu as mn
from callrouter.core import results_call as rc
from callrouter.core.call_end import finish, gone
from callrouter.core.call_events import (
    AgentAnswered,
    AgentDropped,
    AgentLeft,
    AgentMissed,
    AgentRinging,
    Announce,
    Answered,
    BeingOffered,
    CallbackRefused,
    CallbackTaken,
    CallerHungUp,
    CallEvent,
    ChannelGone,
    CommandFailed,
    Digit,
    InputInterrupted,
    MaxDurationReached,
    Overflowed,
    PlaybackFinished,
    Recognised,
    Replaced,
    TimerFired,
)
from callrouter.core.call_ids import CALL_ID_NAMESPACE as CALL_ID_NAMESPACE  # a call's id, as ``call``'s too
from callrouter.core.call_ids import call_id_for as call_id_for
from callrouter.core.call_menu import in_menu, join, menu_for, menu_steps
from callrouter.core.call_plan import NO_TOPIC_PLAN, CallPlan, LineInfo, TopicPlan
from callrouter.core.call_state import Call, Phase, Result, log_event, play_media, start_timer, stop_sound
from callrouter.core.commands import (
    Answer,
    Bridge,
    Command,
    ContinueInDialplan,
    Hangup,
    RequestAnnouncement,
    SaveCall,
    SetLanguage,
    SetVariable,
    StartMoh,
)
from callrouter.core.evolve import evolve
from callrouter.core.numbers import CallerNumber
from callrouter.core.place import MENU_RESUMED_PLAYS
from callrouter.core.place import VARIABLE as PLACE_VARIABLE
from callrouter.core.records import CallRecord, Outcome, RepeatKind

# A caller whose agent is rung at once hears music only if the agent takes longer than this.
RING_BEFORE_MUSIC_SECONDS = 1.0
# dialplans/callrouter.conf: "please call back" (by language), and the fallback ring group (by DID).
BUSY_CONTEXTS = ("callrouter-busy", "callrouter-fallback")


def arrive(
    *,
    call_id: str,
    node: str,
    channel_id: str,
    did: str,
    line: LineInfo | None,
    caller: CallerNumber,
    now: datetime,
    overloaded: bool = False,
    place_id: str = "",
    began: datetime | None = None,
    live: bool = True,
) -> Result:
    """A new channel entered the application for a DID. ``overloaded``: the
    router is too far behind to take it well; it goes back to the dialplan
    ("please call back", or for an urgent line the fallback ring group).
    ``began``: a call a restarted router takes up afresh, whose channel began then
    (its timeline has its arrival already: this is where it "resumed").
    ``live``: False for a call of a simulated day (``Call.live``)."""
    record = CallRecord(
        call_id=call_id,
        node=node,
        channel_id=channel_id,
        did=did,
        line=line.name if line else None,
        caller_number=caller.e164,
        caller_presentation=caller.presentation._value_,  # as .value, without the property
        started_at=began or now,
        language=line.language if line else None,
    )
    language = line.language if line else "en"
    # Recognised by their number; the switchboard narrows this (exclusions, withheld).
    # Taken up afresh after a restart: its playback ids clear of the ones the router before used.
    plays = 0 if began is None else MENU_RESUMED_PLAYS
    call = Call(
        record, Phase.ANSWERING, language, line, place_id=place_id, person=caller.e164, plays=plays, live=live
    )
    if line is None:
        ended = evolve(record, ended_at=now, outcome=Outcome.NO_LINE, end_reason="unknown DID")
        return evolve(call, record=ended, phase=Phase.ENDING), [SaveCall(ended), Hangup("unallocated")]
    arrived = (
        log_event(call, now, "arrived", line.name)
        if began is None
        else log_event(call, now, "resumed", f"afresh at {line.name}")
    )
    if overloaded:
        context, extension = (BUSY_CONTEXTS[1], did) if line.urgent else (BUSY_CONTEXTS[0], call.language)
        ended = evolve(record, outcome=Outcome.BUSY, end_reason=f"router overloaded: {context}")
        call = evolve(call, record=ended, phase=Phase.ENDING)
        return call, [
            SaveCall(ended),
            arrived,
            log_event(call, now, "busy", context),
            ContinueInDialplan(context, extension),
        ]
    return call, [SaveCall(record), arrived, Answer()]


def decide(call: Call, event: CallEvent, now: datetime, plan: CallPlan) -> Result:
    if call.phase is Phase.ENDED:  # ``call.ended``, without a call: for every event
        return call, []
    if type(event) in _IN_ANY_PHASE:  # the rest (most events) go by the call's phase at once
        return _in_any_phase(call, event, now, plan)
    return _by_phase(call, event, now, plan)


def _in_any_phase(call: Call, event: CallEvent, now: datetime, plan: CallPlan) -> Result:
    """The events decided whatever the call's phase: its end, a command failed, its
    maximum duration; and the answer, in the phase that waits for it."""
    match event:
        case CallerHungUp(cause) | ChannelGone(cause):
            return gone(call, now, plan, cause)
        case CommandFailed(command, detail):
            return finish(call, now, Outcome.FAILED, f"{command}: {detail}")
        case MaxDurationReached():
            outcome = {
                Phase.CONNECTED: Outcome.ANSWERED,
                Phase.CLOSED: Outcome.AFTER_HOURS,
                Phase.LEAVING: call.record.outcome or Outcome.OVERFLOW,
                # The router ends a wait no agent took: an overflow (its wait counted with the
                # others' in the waits and the KPI report), not a technical failure.
                Phase.QUEUED: Outcome.OVERFLOW,
            }.get(call.phase, Outcome.FAILED)
            return finish(call, now, outcome, "maximum call duration")
        case Answered() if call.phase is Phase.ANSWERING:
            return _answered(call, now, plan)
    return _by_phase(call, event, now, plan)


_IN_ANY_PHASE = frozenset({CallerHungUp, ChannelGone, CommandFailed, MaxDurationReached, Answered})


def _by_phase(call: Call, event: CallEvent, now: datetime, plan: CallPlan) -> Result:
    if call.phase is Phase.RESULTS and call.results is not None:
        topic = call.results.consult_topic
        return rc.decide(call, event, now, plan, lambda c: join(c, now, plan, topic, "results consult"))
    if call.phase is Phase.MENU and call.callback_pending:
        return cb.choosing(
            call,
            event,
            now,
            plan,
            lambda c: join(c, now, plan, c.known_topic or "", "their callback's place"),
        )
    if call.phase is Phase.MENU:
        return in_menu(call, event, now, plan)
    if call.phase is Phase.QUEUED:
        return _in_queue(call, event, now, plan)
    if call.phase is Phase.CONNECTED and isinstance(event, AgentLeft):
        return finish(call, now, Outcome.ANSWERED, "agent hung up")
    if call.phase is Phase.CONNECTED and isinstance(event, AgentDropped):
        return _dropped(call, now, plan, event.agent_id)
    last_message = call.phase in (Phase.CLOSED, Phase.LEAVING)
    if last_message and isinstance(event, PlaybackFinished) and event.playback_id == call.playback_id:
        outcome = (
            Outcome.AFTER_HOURS if call.phase is Phase.CLOSED else call.record.outcome or Outcome.OVERFLOW
        )
        return finish(call, now, outcome, call.record.end_reason or "message played")
    return call, []


def _answered(call: Call, now: datetime, plan: CallPlan) -> Result:
    line = call.line
    assert line is not None
    # The answered record goes into the one copy of the call each way on makes.
    record = evolve(call.record, answered_at=now)
    commands: list[Command] = [SaveCall(record), SetLanguage(call.language)]
    if line.hours is not None and not line.hours.is_open(now):
        media = plan.media(call.language, f"greeting-{line.name}", line.closed_prompt)
        closed = evolve(record, end_reason="line closed")
        call, play = play_media(call, media, phase=Phase.CLOSED, record=closed)
        return call, [*commands, log_event(call, now, "after_hours"), *play]
    known = call.known_topic if call.known_topic in plan.topics else None
    if known and call.callback_pending:
        call, choice = cb.pending_choice(evolve(call, record=record, phase=Phase.MENU), now, plan)
        return call, commands + choice
    if known:
        # Back to a place an earlier call chose: no menu, and the greeting opens the
        # first announcement, once the switchboard has said which place it is and
        # that is set on the channel (set while a greeting plays, it would wait for
        # the greeting's end, and hold up the requests sent after it).
        call = evolve(call, record=record, phase=Phase.MENU, greeting_owed=True)
        call, joined = join(call, now, plan, known, "kept from the earlier call")
        return call, commands + joined
    if line.topic and line.menu == "skip":
        media = plan.media(call.language, f"greeting-{line.name}")
        call, played = play_media(call, media, record=record, phase=Phase.MENU)
        call, joined = join(call, now, plan, line.topic, "line")
        # The place is set on the channel before the greeting: sent behind it, it
        # would wait for the greeting's end, and so would the bridge to an agent.
        return call, commands + joined + played
    spec = menu_for(line, plan)
    state, steps = mn.start(spec, call.language)
    call = evolve(call, record=record, phase=Phase.MENU, menu_spec=spec, menu=state)
    call, more = menu_steps(call, steps, now, plan, greeting=f"greeting-{line.name}")
    return call, [*commands, log_event(call, now, "menu"), *more]


def _joined_prompts(rules: TopicPlan) -> tuple[str, ...]:
    return (rules.prompt,) if rules.prompt else ("queue_joined",)


def _in_queue(call: Call, event: CallEvent, now: datetime, plan: CallPlan) -> Result:
    if call.dialog is not None and isinstance(
        event, Digit | TimerFired | PlaybackFinished | InputInterrupted
    ):
        return cb.in_dialog(call, event, now, plan)  # settling a callback's number
    match event:
        case PlaybackFinished(playback_id) if playback_id == call.playback_id:
            if call.announcing:
                return _after_announcement(call, plan)
            # The greeting is over: ask for the caller's place.
            assert call.entry_id is not None
            return evolve(call, playback_id=None), [RequestAnnouncement(call.entry_id)]
        case Announce() | BeingOffered() if call.playback_id is None and call.dialog is None:
            return _what_the_caller_hears(call, event, now, plan)
        case TimerFired(token) if token == call.timer and token.startswith("offer:"):
            return _what_the_caller_hears(evolve(call, timer=None), event, now, plan)
        case TimerFired(token) if token == call.timer and call.entry_id is not None:
            return evolve(call, timer=None), [RequestAnnouncement(call.entry_id)]
        case AgentRinging(agent_id):
            return call, [log_event(call, now, "offered", agent_id)]
        case AgentMissed(agent_id, reason):
            missed = log_event(call, now, "agent_missed", f"{agent_id}: {reason}")
            if call.playback_id is None and call.entry_id is not None:
                # Waiting again: the place (or the next agent) is announced now.
                return call, [missed, RequestAnnouncement(call.entry_id)]
            return call, [missed]
        case AgentAnswered(agent_id, agent_channel):
            record = evolve(call.record, agent=agent_id, agent_answered_at=now, outcome=Outcome.ANSWERED)
            call, stop = stop_sound(call, dialog=None, record=record, phase=Phase.CONNECTED)
            return call, [
                *stop,
                Bridge(agent_channel),
                SaveCall(record),
                log_event(call, now, "bridged", f"{agent_id} {agent_channel}"),
            ]
        case Overflowed(reason):
            return _overflow(evolve(call, dialog=None), now, plan, reason)
        case Digit("1") if call.callback_offered:
            return cb.start(call, now, plan)
    return _told(call, event, now, plan)


def _told(call: Call, event: CallEvent, now: datetime, plan: CallPlan) -> Result:
    """What the switchboard tells a waiting caller about their place: taken over,
    kept from an earlier call, or booked as a callback."""
    match event:
        case CallbackTaken():
            return cb.taken(call, now, plan)
        case CallbackRefused(reason):
            return cb.refused(call, now, plan, reason)
        case Recognised():
            return _recognised(call, event, now)
        case Replaced():
            return _replaced(call, now, plan)
    return call, []


def _recognised(call: Call, event: Recognised, now: datetime) -> Result:
    """The same person called before: the record says so, and a kept place is taken
    up (its id, its earlier join time) and told instead of "please hold"."""
    record = evolve(call.record, repeat_of=event.repeat_of, repeat_kind=RepeatKind(event.kind))
    detail = f"{event.kind} of {event.repeat_of}" if event.repeat_of else event.kind
    place = event.place
    if place is None:
        call = evolve(call, record=record)
        return call, [SaveCall(record), log_event(call, now, "repeat", detail)]
    record = evolve(record, queued_at=place.joined_at, priority=place.priority, topic=place.topic)
    entry_id = place.place_id or call.entry_id
    # The place is this call's from now on (an overflow to another topic keeps it).
    call = evolve(call, record=record, entry_id=entry_id, place_id=entry_id or call.place_id, kept=True)
    return call, [
        SaveCall(record),
        log_event(call, now, "repeat", detail),
        SetVariable(PLACE_VARIABLE, place.to_variable()),
    ]


def _replaced(call: Call, now: datetime, plan: CallPlan) -> Result:
    """A newer call of the same person took this call's place: a short message, then the router hangs up."""
    call, stop = stop_sound(call)
    record = evolve(call.record, outcome=Outcome.REPLACED, end_reason="the same caller called again")
    call = evolve(call, phase=Phase.LEAVING, record=record, entry_id=None)
    call, play = play_media(call, plan.media(call.language, "repeat_replaced"))
    return call, [log_event(call, now, "replaced"), SaveCall(record), *stop, *play]


def _what_the_caller_hears(call: Call, event: CallEvent, now: datetime, plan: CallPlan) -> Result:
    """While nothing plays: their place (with "please hold" the first time), or,
    when an agent is being rung, music if that agent takes more than a second.
    The first callback offer is on the call's timeline (how many were offered one)."""
    match event:
        case Announce(position, minutes):
            media: list[str] = []
            offered: list[Command] = []
            changes: dict[str, object] = {"announcing": True, "greeted": True}  # made in one copy, below
            if call.greeting_owed and call.line is not None:
                media += plan.media(call.language, f"greeting-{call.line.name}")
                changes["greeting_owed"] = False
            if not call.greeted and call.kept:
                media += plan.media(call.language, "repeat_kept_place")
            elif not call.greeted:
                rules = plan.topics.get(call.record.topic or "", NO_TOPIC_PLAN)
                media += plan.media(call.language, *_joined_prompts(rules))
            media += [*plan.media(call.language, "queue_position"), f"number:{position}"]
            if minutes is not None:
                media += [*plan.media(call.language, "queue_wait"), f"number:{minutes}"]
            if cb.offer_due(call, minutes, plan):  # "press 1 to be called back, you keep your place"
                media += plan.media(call.language, "callback_offer")
                if not call.callback_offered:
                    offered.append(log_event(call, now, "callback_offered", f"estimate {minutes} min"))
                changes["callback_offered"] = True
            call, stop = stop_sound(call, **changes)
            call, play = play_media(call, tuple(media))
            return call, offered + stop + play
        case BeingOffered() if not call.moh:
            # Most agents answer within a second: music (for Asterisk, a
            # bridge to join and leave again) starts only if this one does not.
            return start_timer(call, "offer", RING_BEFORE_MUSIC_SECONDS)
        case TimerFired() if call.playback_id is None and not call.moh:
            return evolve(call, moh=True), [StartMoh()]
    return call, []


def _after_announcement(call: Call, plan: CallPlan) -> Result:
    """The announcement is over: music again until the next one is due."""
    over = {"playback_id": None, "announcing": False, "moh": True}
    if plan.announce_every <= timedelta(0):
        return evolve(call, **over), [StartMoh()]
    call, timer = start_timer(call, "announce", plan.announce_every.total_seconds(), **over)
    return call, [StartMoh(), *timer]


def _dropped(call: Call, now: datetime, plan: CallPlan, agent_id: str) -> Result:
    """The agent's phone went as it answered: waiting again in the same place, with
    music and the announcements; not answered (yet), so no agent on the record."""
    cleared = {"agent": None, "agent_answered_at": None, "outcome": None}
    record = evolve(call.record, **cleared, drops=call.record.drops + 1)
    call, hold = _after_announcement(evolve(call, record=record, phase=Phase.QUEUED), plan)
    # In the queue again (its queue_log shows a second stay, as app_queue's would)
    back = log_event(call, now, "queued", f"{record.topic} (back after {agent_id} dropped the call)")
    return call, [SaveCall(record), log_event(call, now, "agent_dropped", agent_id), back, *hold]


def _overflow(call: Call, now: datetime, plan: CallPlan, reason: str) -> Result:
    topic = call.record.topic or ""
    rules = plan.topics.get(topic, NO_TOPIC_PLAN)
    log = log_event(call, now, "overflow", f"{topic}: {reason}")
    if rules.overflow_topic:
        call = evolve(call, phase=Phase.MENU, entry_id=None)
        call, commands = join(call, now, plan, rules.overflow_topic, f"overflow from {topic}")
        return call, [log, *commands]
    call, stop = stop_sound(call)
    call = evolve(call, phase=Phase.LEAVING, record=evolve(call.record, end_reason=f"overflow: {reason}"))
    call, play = play_media(call, plan.media(call.language, rules.overflow_prompt or "overflow_busy"))
    return call, [log, *stop, *play]
