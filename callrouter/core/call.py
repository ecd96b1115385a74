"""One inbound call's life, as pure state transitions.

``decide(call, event, now)`` returns the next ``Call`` and the commands the
shell must carry out. The shell feeds back what happened (``Answered``,
``PlaybackFinished``, ``CommandFailed``...) as further events. No I/O here.

Foundation flow: arrive -> answer -> greeting -> hang up. The menu and queue
arrive with the inbound work and slot in after the greeting.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from callrouter.core.commands import Answer, Command, Hangup, Play, SaveCall
from callrouter.core.numbers import CallerNumber
from callrouter.core.records import CallRecord, Outcome


class Phase(StrEnum):
    ANSWERING = "answering"
    GREETING = "greeting"
    ENDING = "ending"  # the router asked for the hang-up; waiting for Asterisk
    ENDED = "ended"


# ---- events the shell feeds in -------------------------------------------------
@dataclass(frozen=True)
class Answered:
    pass


@dataclass(frozen=True)
class PlaybackFinished:
    playback_id: str


@dataclass(frozen=True)
class CallerHungUp:
    cause: str = "normal"


@dataclass(frozen=True)
class ChannelGone:
    """The channel left the application or was destroyed."""

    cause: str = "gone"


@dataclass(frozen=True)
class CommandFailed:
    command: str
    detail: str


@dataclass(frozen=True)
class MaxDurationReached:
    pass


CallEvent = Answered | PlaybackFinished | CallerHungUp | ChannelGone | CommandFailed | MaxDurationReached


@dataclass(frozen=True)
class LineInfo:
    """What the call needs to know about its line."""

    name: str
    language: str


@dataclass(frozen=True)
class Call:
    record: CallRecord
    phase: Phase
    language: str
    playback_id: str | None = None

    @property
    def ended(self) -> bool:
        return self.phase is Phase.ENDED


def arrive(
    *,
    call_id: str,
    node: str,
    channel_id: str,
    did: str,
    line: LineInfo | None,
    caller: CallerNumber,
    now: datetime,
) -> tuple[Call, list[Command]]:
    """A new channel entered the application for a DID."""
    record = CallRecord(
        call_id=call_id,
        node=node,
        channel_id=channel_id,
        did=did,
        line=line.name if line else None,
        caller_number=caller.e164,
        caller_presentation=caller.presentation.value,
        started_at=now,
    )
    if line is None:
        ended = replace(record, ended_at=now, outcome=Outcome.NO_LINE, end_reason="unknown DID")
        return Call(ended, Phase.ENDING, "en"), [SaveCall(ended), Hangup("unallocated")]
    call = Call(record, Phase.ANSWERING, line.language)
    return call, [SaveCall(record), Answer()]


def decide(call: Call, event: CallEvent, now: datetime, prompts_dir: str) -> tuple[Call, list[Command]]:
    if call.ended:
        return call, []
    match event:
        case Answered() if call.phase is Phase.ANSWERING:
            record = replace(call.record, answered_at=now)
            playback_id = f"{call.record.call_id}-greeting"
            media = f"sound:{prompts_dir}/{call.language}/greeting-{record.line}"
            return (
                replace(call, record=record, phase=Phase.GREETING, playback_id=playback_id),
                [SaveCall(record), Play(media, playback_id)],
            )
        case PlaybackFinished(playback_id) if (
            call.phase is Phase.GREETING and playback_id == call.playback_id
        ):
            return _finish(call, now, Outcome.GREETED, "greeting played", hang_up=True)
        case CommandFailed(command, detail):
            return _finish(call, now, Outcome.FAILED, f"{command}: {detail}", hang_up=True)
        case MaxDurationReached():
            return _finish(call, now, call.record.outcome or Outcome.FAILED, "maximum call duration", True)
        case CallerHungUp(cause) | ChannelGone(cause):
            return _gone(call, now, cause)
    return call, []


def _finish(
    call: Call, now: datetime, outcome: Outcome, reason: str, hang_up: bool
) -> tuple[Call, list[Command]]:
    if call.phase is Phase.ENDING:
        return call, []
    record = replace(call.record, outcome=outcome, end_reason=reason)
    commands: list[Command] = [Hangup()] if hang_up else []
    return replace(call, record=record, phase=Phase.ENDING), commands


def _gone(call: Call, now: datetime, cause: str) -> tuple[Call, list[Command]]:
    """The channel is gone: the record is final now."""
    if call.phase is Phase.ENDING:
        record = replace(call.record, ended_at=call.record.ended_at or now)
    else:
        record = replace(
            call.record, ended_at=now, outcome=Outcome.CALLER_HANGUP, end_reason=f"caller: {cause}"
        )
    return replace(call, record=record, phase=Phase.ENDED), [SaveCall(record)]
