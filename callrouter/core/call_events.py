"""What the shell tells a call's core: things that happened, in plain data."""

from __future__ import annotations

from dataclasses import dataclass

from callrouter.core.evolve import quick_init
from callrouter.core.place import Place


@quick_init
@dataclass(frozen=True)
class Answered:
    pass


@quick_init
@dataclass(frozen=True)
class PlaybackFinished:
    playback_id: str


@quick_init
@dataclass(frozen=True, slots=True)
class Digit:
    digit: str


@quick_init
@dataclass(frozen=True)
class TimerFired:
    token: str


@quick_init
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


@quick_init
@dataclass(frozen=True)
class AgentRinging:
    agent_id: str


@dataclass(frozen=True)
class AgentMissed:
    agent_id: str
    reason: str


@quick_init
@dataclass(frozen=True)
class AgentAnswered:
    agent_id: str
    agent_channel_id: str


@dataclass(frozen=True)
class AgentLeft:
    """The agent hung up a connected call."""


@dataclass(frozen=True)
class AgentDropped:
    """The agent's phone went at once after answering (``Rules.dropped_within``):
    the caller is back in their place (the switchboard has put it back)."""

    agent_id: str


@dataclass(frozen=True)
class Overflowed:
    reason: str


@quick_init
@dataclass(frozen=True)
class Announce:
    position: int
    estimate_minutes: int | None  # None: no honest estimate, so none is said


@quick_init
@dataclass(frozen=True)
class BeingOffered:
    """No position to say: an agent is being rung for this caller right now."""


@dataclass(frozen=True)
class Recognised:
    """The switchboard recognised this caller as someone who called before.
    ``place``: the place they keep (an earlier join time, another place's id), if any."""

    kind: str  # a RepeatKind value
    repeat_of: str | None  # the earlier call
    place: Place | None = None


@dataclass(frozen=True)
class Replaced:
    """The same person called again while this call waited: the newer call holds the
    place now; this one hears a short message and is released."""


@dataclass(frozen=True)
class CallbackTaken:
    """The callback is booked: it holds the caller's place now."""

    callback_id: str


@dataclass(frozen=True)
class CallbackRefused:
    reason: str


@dataclass(frozen=True)
class SecretChecked:
    """The shell's answer to ``VerifySecret``: the keyed digits match the stored hash (or not)."""

    ok: bool


@dataclass(frozen=True)
class DisclosureAudited:
    """The shell's answer to ``AuditDisclosure``: the audit row is committed (or could not be)."""

    ok: bool


@dataclass(frozen=True)
class InputInterrupted:
    """The events' WebSocket to Asterisk was cut and is back: keys pressed meanwhile are
    lost (Asterisk does not send them again), so input being keyed may be short of
    what the caller keyed. Told to every call at the reconnect; most ignore it."""


CallEvent = (
    Answered
    | PlaybackFinished
    | Digit
    | TimerFired
    | CallerHungUp
    | ChannelGone
    | CommandFailed
    | MaxDurationReached
    | AgentRinging
    | AgentMissed
    | AgentAnswered
    | AgentLeft
    | AgentDropped
    | Overflowed
    | Announce
    | BeingOffered
    | Recognised
    | Replaced
    | CallbackTaken
    | CallbackRefused
    | SecretChecked
    | DisclosureAudited
    | InputInterrupted
)
