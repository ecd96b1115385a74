"""A results call, once the patient's phone answered: who is it, then the result.

    greeting (the line's organisation) + "key your date of birth or PIN, then #"
      -> digits (barge in on the prompt), ended by #, by the last allowed digit, or by silence
      -> VerifySecret (the shell checks the argon2 hash) -> SecretChecked
           wrong: "does not match", again, up to ``tries_allowed``; then the neutral
           message (nothing about the result) and the router hangs up
      (the events' WebSocket cut and back while keying: keys were lost, so the digits so
       far are dropped and the prompt heard again, no try used: ``InputInterrupted``)
      -> AuditDisclosure (the shell commits the audit row) -> DisclosureAudited
      -> the result: negative "press 9 to hear it again"; positive with the advice
         and "press 1 for a medical consultant now"; inconclusive: retest advice
      -> 1 (positive): the call joins the one queue with the consult topic

Nothing about the result is played before the secret matched AND the audit row
is committed: the only ``Play`` of a result's prompts follows a
``DisclosureAudited(ok=True)`` that follows a ``SecretChecked(ok=True)``. An
answering machine keys nothing: it hears the prompt twice, then the neutral
message. The keyed digits are never logged (the timeline says "try 2").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from callrouter.core.call_events import (
    Digit,
    DisclosureAudited,
    InputInterrupted,
    PlaybackFinished,
    SecretChecked,
    TimerFired,
)
from callrouter.core.call_plan import CallPlan, LineInfo
from callrouter.core.call_state import (
    Call,
    Phase,
    Result,
    ResultsDialog,
    Told,
    log_event,
    play_media,
    start_timer,
    stop_sound,
)
from callrouter.core.commands import AuditDisclosure, Command, SaveCall, SetLanguage, VerifySecret
from callrouter.core.evolve import evolve
from callrouter.core.records import CallRecord, Outcome
from callrouter.core.results import Notification, ResultKind, ResultsRules

MESSAGE = {
    ResultKind.NEGATIVE.value: ("results_negative",),
    ResultKind.POSITIVE.value: ("results_positive", "results_positive_advice"),
    ResultKind.INCONCLUSIVE.value: ("results_inconclusive",),
}
SILENCES = 2  # the prompt met with silence this often: nobody is keying (an answering machine)


# A results call's DID in its record: the router dialled the patient, who came by none.
RESULTS_DID = "results"


def start(
    *,
    call_id: str,
    node: str,
    channel_id: str,
    line: LineInfo,
    notification: Notification,
    rules: ResultsRules,
    started_at: datetime,
    now: datetime,
    plan: CallPlan,
) -> Result:
    """The patient answered: the greeting and the request for their secret."""
    language = notification.language
    record = CallRecord(
        call_id=call_id, node=node, channel_id=channel_id, did=RESULTS_DID, line=line.name,
        caller_number=notification.number, caller_presentation="number", started_at=started_at,
        answered_at=now, language=language, outcome=Outcome.RESULTS, direction="results",
    )  # fmt: skip
    dialog = ResultsDialog(
        notification.notification_id,
        notification.result.value,
        rules.verify_tries,
        rules.secret_max_digits,
        rules.key_seconds,
        rules.consult_topic,
    )
    call = Call(record, Phase.RESULTS, language, line, results=dialog)
    call, play = play_media(call, plan.media(language, f"results_greeting-{line.name}", "results_verify"))
    opened = log_event(call, now, "results_call", notification.notification_id)
    return call, [SaveCall(record), opened, SetLanguage(language), *play]


def decide(
    call: Call, event: object, now: datetime, plan: CallPlan, join: Callable[[Call], Result]
) -> Result:
    dialog = call.results
    assert dialog is not None
    if dialog.outcome is not None:
        return call, []
    if not dialog.verified:
        return _identifying(call, dialog, event, now, plan)
    return _telling(call, dialog, event, now, plan, join)


# ---- who is it ----------------------------------------------------------------------------
def _identifying(call: Call, dialog: ResultsDialog, event: object, now: datetime, plan: CallPlan) -> Result:
    match event:
        case Digit(key) if not dialog.checking:
            return _keyed(call, dialog, key, now)
        case PlaybackFinished(playback_id) if playback_id == call.playback_id and not dialog.checking:
            return start_timer(evolve(call, playback_id=None), "results", dialog.key_seconds)
        case TimerFired(token) if token == call.timer and not dialog.checking:
            call = evolve(call, timer=None)
            if dialog.keyed:
                return _check(call, dialog, now)
            silences = dialog.silences + 1
            if silences >= SILENCES:  # keyed nothing (at all: no input), or nothing right
                outcome = "verification_failed" if dialog.tries else "no_input"
                return _neutral(call, evolve(dialog, silences=silences), outcome, now, plan)
            call = evolve(call, results=evolve(dialog, silences=silences))
            return play_media(call, plan.media(call.language, "results_verify"))
        case SecretChecked(ok) if dialog.checking:
            return _checked(call, dialog, ok, now, plan)
        case InputInterrupted() if not dialog.checking:
            return _interrupted(call, dialog, now, plan)
    return call, []


def _keyed(call: Call, dialog: ResultsDialog, key: str, now: datetime) -> Result:
    if key == "#":
        return _check(call, dialog, now) if dialog.keyed else (call, [])
    if key == "*":  # start again
        dialog = evolve(dialog, keyed="")
    elif key.isdigit():
        dialog = evolve(dialog, keyed=dialog.keyed + key)
    call, stop = stop_sound(evolve(call, results=dialog))  # barge-in
    if len(dialog.keyed) >= dialog.max_digits:
        call, check = _check(call, dialog, now)
        return call, [*stop, *check]
    call, timer = start_timer(call, "results", dialog.key_seconds)
    return call, [*stop, *timer]


def _interrupted(call: Call, dialog: ResultsDialog, now: datetime, plan: CallPlan) -> Result:
    """Keys pressed while the events were away are lost: the digits so far (or a # to
    come) would be checked as a try short of the secret. They are dropped and the secret
    asked for again; no try is used. A break in the first prompt hears the greeting again."""
    media: tuple[str, ...] = ("results_verify",)
    if call.plays == 1 and call.playback_id is not None and call.line is not None:  # the first prompt
        media = (f"results_greeting-{call.line.name}", *media)
    call, stop = stop_sound(evolve(call, results=evolve(dialog, keyed="")))
    interrupted = log_event(call, now, "results_secret_interrupted", f"try {dialog.tries + 1}")
    call, play = play_media(call, plan.media(call.language, *media))
    return call, [*stop, interrupted, *play]


def _check(call: Call, dialog: ResultsDialog, now: datetime) -> Result:
    call, stop = stop_sound(call)
    digits = dialog.keyed
    call = evolve(call, results=evolve(dialog, keyed="", checking=True))
    tried = log_event(call, now, "results_secret_keyed", f"try {dialog.tries + 1}")
    return call, [*stop, tried, VerifySecret(dialog.notification_id, digits)]


def _checked(call: Call, dialog: ResultsDialog, ok: bool, now: datetime, plan: CallPlan) -> Result:
    tries = dialog.tries + (0 if ok else 1)
    if ok:
        dialog = evolve(dialog, verified=True, checking=True)
        call = evolve(call, results=dialog)
        verified = log_event(call, now, "results_verified", f"try {tries + 1}")
        return call, [verified, _audit(dialog, f"secret keyed, try {tries + 1}")]
    dialog = evolve(dialog, tries=tries, checking=False, silences=0)
    wrong = log_event(call, now, "results_secret_wrong", f"try {tries}")
    if tries >= dialog.tries_allowed:
        call, commands = _neutral(call, dialog, "verification_failed", now, plan)
        return call, [wrong, *commands]
    call, play = play_media(
        evolve(call, results=dialog), plan.media(call.language, "results_verify_wrong", "results_verify")
    )
    return call, [wrong, *play]


def _audit(dialog: ResultsDialog, verified_by: str) -> Command:
    return AuditDisclosure(dialog.notification_id, verified_by, ",".join(MESSAGE[dialog.result]))


# ---- the result ---------------------------------------------------------------------------
def _telling(
    call: Call,
    dialog: ResultsDialog,
    event: object,
    now: datetime,
    plan: CallPlan,
    join: Callable[[Call], Result],
) -> Result:
    match event:
        case DisclosureAudited(ok) if dialog.checking:
            if not ok:  # no audit row, no result: tried again later
                call, commands = _leave(call, evolve(dialog, checking=False), "failed", now, plan)
                return call, [log_event(call, now, "results_not_audited"), *commands]
            dialog = evolve(dialog, checking=False, told=max(dialog.told, Told.TELLING, key=_order))
            call, stop = stop_sound(evolve(call, results=dialog))
            call, play = play_media(call, plan.media(call.language, *MESSAGE[dialog.result]))
            return call, [*stop, log_event(call, now, "results_told", dialog.result), *play]
        case PlaybackFinished(playback_id) if playback_id == call.playback_id:
            call = evolve(call, playback_id=None)
            if dialog.told is Told.TELLING:  # the message is over: what next
                call = evolve(call, results=evolve(dialog, told=Told.TOLD))
                hint = "results_consult_offer" if dialog.result == ResultKind.POSITIVE else "results_repeat"
                return play_media(call, plan.media(call.language, hint))
            return start_timer(call, "results", dialog.key_seconds)
        case TimerFired(token) if token == call.timer and dialog.told is Told.TOLD:
            return _leave(evolve(call, timer=None), dialog, None, now, plan)
        case Digit("9") if dialog.told is Told.TOLD and not dialog.checking:
            call, stop = stop_sound(evolve(call, results=evolve(dialog, checking=True)))
            again = log_event(call, now, "results_again")
            return call, [*stop, again, _audit(dialog, "verified earlier in this call")]
        case Digit("1") if dialog.told is not Told.NOTHING and dialog.result == ResultKind.POSITIVE:
            # Pressed once the result is being told (the offer follows the advice;
            # someone who knows it need not wait for it).
            call, stop = stop_sound(call)
            dialog = evolve(dialog, outcome="transferred")
            # The queue decides the call's outcome from here (answered, abandoned, callback).
            call = evolve(call, results=dialog, phase=Phase.MENU, record=evolve(call.record, outcome=None))
            asked = log_event(call, now, "results_consult", dialog.consult_topic)
            call, joined = join(call)
            return call, [*stop, asked, *joined]
    return call, []


def _order(told: Told) -> int:
    return list(Told).index(told)


# ---- the end ------------------------------------------------------------------------------
def _neutral(call: Call, dialog: ResultsDialog, outcome: str, now: datetime, plan: CallPlan) -> Result:
    """Nothing about the result: the hotline, and goodbye."""
    call, commands = _leave(call, dialog, outcome, now, plan, "results_neutral")
    return call, [log_event(call, now, "results_neutral", outcome), *commands]


def _leave(
    call: Call,
    dialog: ResultsDialog,
    outcome: str | None,
    now: datetime,
    plan: CallPlan,
    prompt: str = "results_goodbye",
) -> Result:
    """A last message, then the router hangs up (``call``'s LEAVING phase)."""
    call, stop = stop_sound(evolve(call, results=evolve(dialog, outcome=outcome or dialog.outcome)))
    record = evolve(call.record, end_reason=f"results: {outcome or 'told'}")
    call, play = play_media(
        evolve(call, phase=Phase.LEAVING, record=record), plan.media(call.language, prompt)
    )
    return call, [*stop, SaveCall(record), *play]


def attempt_outcome(dialog: ResultsDialog) -> str:
    """What the attempt counts as, once the call is over (``core.results.after_attempt``)."""
    if dialog.outcome == "transferred":
        return "transferred"
    if dialog.told is not Told.NOTHING:
        # Audited and begun: told, even if the patient hung up before its end. Counted
        # otherwise, it was dialled and disclosed again (and ended "unreachable").
        return "delivered"
    if dialog.outcome is not None:
        return dialog.outcome
    if dialog.tries > 0:
        # Wrong secrets, then a hang-up: the guesses count against the verification
        # budget (``verification_failed``'s cap), or hanging up before the last try
        # gave another full set of guesses on every call.
        return "verification_failed"
    return "hung_up"  # before the result was told
