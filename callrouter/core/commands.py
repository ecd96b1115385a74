"""What a call's core asks the shell to do. Plain data; the shell carries them out."""

from __future__ import annotations

from dataclasses import dataclass

from callrouter.core.evolve import quick_init
from callrouter.core.queue import QueueEntry
from callrouter.core.records import CallEventRecord, CallRecord


@quick_init
@dataclass(frozen=True)
class Answer:
    pass


@quick_init
@dataclass(frozen=True, slots=True)
class Play:
    media: tuple[str, ...]  # played in sequence under one playback id
    playback_id: str


@dataclass(frozen=True)
class ContinueInDialplan:
    """Hand the channel back to the dialplan (it leaves the application)."""

    context: str
    extension: str


@quick_init
@dataclass(frozen=True)
class SetLanguage:
    """The call's language from now on: Asterisk says numbers and digits in it
    (the shell passes it with each playback, so it costs no REST call)."""

    language: str


@quick_init
@dataclass(frozen=True, slots=True)
class StopPlayback:
    playback_id: str


@quick_init
@dataclass(frozen=True)
class StartMoh:
    pass


@quick_init
@dataclass(frozen=True)
class StopMoh:
    pass


@quick_init
@dataclass(frozen=True)
class StartTimer:
    token: str  # fed back as TimerFired(token); a stale token is ignored
    seconds: float


@quick_init
@dataclass(frozen=True, slots=True)
class SetVariable:
    """Kept on the channel itself, so a restarted router can read it back even
    when the last records never reached the database."""

    name: str
    value: str


@quick_init
@dataclass(frozen=True)
class JoinQueue:
    entry: QueueEntry


@dataclass(frozen=True)
class LeaveQueue:
    entry_id: str


@quick_init
@dataclass(frozen=True)
class RequestAnnouncement:
    """Ask the centre for this caller's position and estimate (fed back as
    Announce, or BeingOffered while an agent is rung for them)."""

    entry_id: str


@dataclass(frozen=True)
class RequestCallback:
    """The caller wants a callback on ``number`` (E.164) instead of waiting; the
    switchboard answers CallbackTaken or CallbackRefused."""

    number: str


@quick_init
@dataclass(frozen=True)
class Bridge:
    agent_channel_id: str


@dataclass(frozen=True)
class Hangup:
    reason: str = "normal"


@quick_init
@dataclass(frozen=True, slots=True)
class SaveCall:
    record: CallRecord


@quick_init
@dataclass(frozen=True, slots=True)
class LogEvent:
    event: CallEventRecord


@dataclass(frozen=True)
class VerifySecret:
    """Check the keyed digits against the notification's stored hash (off the call's
    path: argon2 is slow by design); answered with SecretChecked. The digits go no
    further than the check: never logged, never recorded."""

    notification_id: str
    digits: str


@dataclass(frozen=True)
class AuditDisclosure:
    """Commit the disclosure's audit row before a result is played; answered with
    DisclosureAudited. ``verified_by``: how the callee proved who they are;
    ``played``: the prompts that will tell the result."""

    notification_id: str
    verified_by: str
    played: str


Command = (
    Answer
    | Play
    | SetLanguage
    | StopPlayback
    | StartMoh
    | StopMoh
    | StartTimer
    | SetVariable
    | JoinQueue
    | LeaveQueue
    | RequestAnnouncement
    | RequestCallback
    | Bridge
    | Hangup
    | ContinueInDialplan
    | SaveCall
    | LogEvent
    | VerifySecret
    | AuditDisclosure
)
