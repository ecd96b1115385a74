"""A waiting caller asks to be called back instead of waiting: the offer, the
number read back or keyed, and what happens when the switchboard takes it.

The offer is made at the announcement where the estimated wait first passes the
topic's threshold (only an honest estimate counts) and repeated at each later
one: "press 1 to be called back, you keep your place". On 1 the caller hears
their own number read back: 1 confirms it, 2 gives another (any other key hears
the choice again), so a new number that begins with 1 is never taken for a
confirmation. A withheld caller, or one who pressed 2, is asked to key a number;
it ends with # and is validated (a bad one is refused and asked again, then the
caller simply stays in line: nothing is stored). The caller keeps their place in
the queue all along; an agent may still take them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from callrouter.core.call_events import Digit, InputInterrupted, PlaybackFinished, TimerFired
from callrouter.core.call_plan import NO_TOPIC_PLAN, CallPlan
from callrouter.core.call_state import (
    Call,
    NumberDialog,
    Phase,
    Result,
    log_event,
    play_media,
    start_timer,
    stop_sound,
)
from callrouter.core.commands import Command, RequestCallback, SaveCall, SetVariable, StartMoh
from callrouter.core.evolve import evolve
from callrouter.core.numbers import Presentation, normalise
from callrouter.core.place import VARIABLE as PLACE_VARIABLE
from callrouter.core.place import Ended
from callrouter.core.records import Outcome, RepeatKind

MAX_KEYED = 16  # digits: E.164 has at most 15
KEYING_TRIES = 2  # a bad number is asked again once, then the caller stays in line
KEY_SECONDS = 10.0  # to start or go on keying, after the prompt


def offer_after(plan: CallPlan, topic: str | None) -> timedelta | None:
    rules = plan.topics.get(topic or "", NO_TOPIC_PLAN)
    return rules.callback_offer_after if rules.callback_offer_after is not None else plan.callback_offer_after


def offer_due(call: Call, minutes: int | None, plan: CallPlan) -> bool:
    """Said at this announcement: once offered, at every later one too."""
    if call.callback_offered:
        return True
    threshold = offer_after(plan, call.record.topic)
    return threshold is not None and minutes is not None and timedelta(minutes=minutes) >= threshold


def start(call: Call, now: datetime, plan: CallPlan) -> Result:
    """The caller pressed 1 after the offer."""
    proposed = call.record.caller_number
    call, stop = stop_sound(evolve(call, dialog=NumberDialog(proposed)))
    call, ask = _ask(call, plan, proposed)
    return call, [log_event(call, now, "callback_offer_taken"), *stop, *ask]


def _ask(call: Call, plan: CallPlan, proposed: str | None, first: str | None = None) -> Result:
    media: tuple[str, ...] = plan.media(call.language, first) if first else ()
    if proposed is not None:
        media += (*plan.media(call.language, "callback_confirm"), f"digits:{proposed.lstrip('+')}")
        media += plan.media(call.language, "callback_confirm_keys")
    else:
        media += plan.media(call.language, "callback_key_number")
    return play_media(call, media)


def in_dialog(call: Call, event: object, now: datetime, plan: CallPlan) -> Result:
    """A key, the end of a prompt or a timer while the number is being settled."""
    dialog = call.dialog
    assert dialog is not None
    match event:
        case PlaybackFinished(playback_id) if playback_id == call.playback_id:
            return start_timer(evolve(call, playback_id=None), "callback", KEY_SECONDS)
        case TimerFired(token) if token == call.timer:
            call = evolve(call, timer=None)
            return _number_keyed(call, now, plan) if dialog.keyed else _back_to_waiting(call, now, plan)
        case InputInterrupted() if call.playback_id is not None or call.timer is not None:
            return _interrupted(call, now, plan)
        case Digit("*"):
            return _back_to_waiting(call, now, plan)
        case Digit(key) if dialog.proposed is not None:
            return _confirming(call, dialog.proposed, key, now, plan)
        case Digit("#"):
            return _number_keyed(call, now, plan)
        case Digit(key) if key.isdigit():
            call, stop = stop_sound(
                evolve(call, dialog=evolve(dialog, keyed=(dialog.keyed + key)[:MAX_KEYED]))
            )
            call, timer = start_timer(call, "callback", KEY_SECONDS)
            return call, [*stop, *timer]
    return call, []


def _confirming(call: Call, proposed: str, key: str, now: datetime, plan: CallPlan) -> Result:
    """Their own number was read back: 1 confirms it, 2 asks for another."""
    if key == "1":
        return _accept(call, proposed, now)
    if key == "2":
        call, stop = stop_sound(evolve(call, dialog=NumberDialog(None)))
        call, ask = _ask(call, plan, None)
        return call, [log_event(call, now, "callback_other_number"), *stop, *ask]
    call, stop = stop_sound(call)
    call, ask = _ask(call, plan, proposed, first="invalid_option")
    return call, [*stop, *ask]


def _interrupted(call: Call, now: datetime, plan: CallPlan) -> Result:
    """Keys lost while the events were away: a number keyed so far may be short (and
    valid: a wrong number called back), a 1 or 2 may be lost. The digits are dropped and
    the caller asked again; not a refused try. (Neither prompt nor timer: the number is
    with the switchboard already, nothing is asked.)"""
    dialog = call.dialog
    assert dialog is not None
    call, stop = stop_sound(evolve(call, dialog=evolve(dialog, keyed="")))
    call, ask = _ask(call, plan, dialog.proposed)
    return call, [log_event(call, now, "callback_input_interrupted"), *stop, *ask]


def _number_keyed(call: Call, now: datetime, plan: CallPlan) -> Result:
    dialog = call.dialog
    assert dialog is not None and call.line is not None
    number = normalise(dialog.keyed, call.line.country)
    if number.presentation is Presentation.NUMBER and number.e164 is not None:
        return _accept(call, number.e164, now)
    tries = dialog.tries + 1
    log = log_event(call, now, "callback_number_refused", f"try {tries}")  # the digits are never logged
    if tries >= KEYING_TRIES:
        call, commands = _back_to_waiting(call, now, plan, "callback_stay_in_line")
        return call, [log, *commands]
    call, stop = stop_sound(evolve(call, dialog=NumberDialog(None, "", tries)))
    call, ask = _ask(call, plan, None, first="callback_number_invalid")
    return call, [log, *stop, *ask]


def _accept(call: Call, number: str, now: datetime) -> Result:
    """Asked of the switchboard: it answers CallbackTaken or CallbackRefused."""
    call, stop = stop_sound(call)
    return call, [*stop, log_event(call, now, "callback_requested"), RequestCallback(number)]


def _back_to_waiting(call: Call, now: datetime, plan: CallPlan, prompt: str | None = None) -> Result:
    call, stop = stop_sound(evolve(call, dialog=None))
    commands: list[Command] = [*stop, log_event(call, now, "callback_offer_dropped")]
    if prompt is not None:
        call, play = play_media(evolve(call, announcing=True), plan.media(call.language, prompt))
        return call, commands + play
    return evolve(call, moh=True), [*commands, StartMoh()]


def taken(call: Call, now: datetime, plan: CallPlan) -> Result:
    """The callback is booked and holds the caller's place: a last message, then the router hangs up."""
    record = evolve(call.record, outcome=Outcome.CALLBACK, end_reason="callback requested")
    call = evolve(call, phase=Phase.LEAVING, record=record, entry_id=None, dialog=None)
    call, play = play_media(call, plan.media(call.language, "callback_accepted"))
    # The place is the callback's now: a router that finds the call after a restart hangs it up.
    over = SetVariable(PLACE_VARIABLE, Ended(Outcome.CALLBACK, "callback requested").to_variable())
    return call, [SaveCall(record), log_event(call, now, "callback_booked"), over, *play]


def pending_choice(call: Call, now: datetime, plan: CallPlan) -> Result:
    """A caller whose callback still waits: "we will call you back: press 1 to keep
    that, or stay on the line in its place"."""
    line = call.line
    assert line is not None
    call, play = play_media(
        call, plan.media(call.language, f"greeting-{line.name}", "callback_pending_choice")
    )
    return call, [log_event(call, now, "callback_pending"), *play]


def choosing(
    call: Call, event: object, now: datetime, plan: CallPlan, join: Callable[[Call], Result]
) -> Result:
    """1 keeps the callback (the call ends); any other key, or silence, waits on the
    line in the callback's place (the switchboard cancels the callback then)."""
    match event:
        case PlaybackFinished(playback_id) if playback_id == call.playback_id:
            return start_timer(evolve(call, playback_id=None), "choice", KEY_SECONDS / 2)
        case Digit("1"):
            call, stop = stop_sound(evolve(call, callback_pending=False))
            reason = "kept the pending callback"
            record = evolve(
                call.record,
                outcome=Outcome.CALLBACK,
                end_reason=reason,
                repeat_kind=RepeatKind.CALLBACK_PENDING,
            )
            call = evolve(call, phase=Phase.LEAVING, record=record)
            call, play = play_media(call, plan.media(call.language, "callback_kept"))
            return call, [*stop, SaveCall(record), log_event(call, now, "callback_kept"), *play]
        case Digit() | TimerFired() if not isinstance(event, TimerFired) or event.token == call.timer:
            call, stop = stop_sound(evolve(call, callback_pending=False))
            call, joined = join(call)
            return call, [*stop, *joined]
    return call, []


def refused(call: Call, now: datetime, plan: CallPlan, reason: str) -> Result:
    call, commands = _back_to_waiting(call, now, plan, "callback_not_possible")
    return call, [log_event(call, now, "callback_refused", reason), *commands]
