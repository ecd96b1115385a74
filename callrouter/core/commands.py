"""What the core asks the shell to do. Plain data; the shell carries them out."""

from __future__ import annotations

from dataclasses import dataclass

from callrouter.core.records import CallRecord


@dataclass(frozen=True)
class Answer:
    pass


@dataclass(frozen=True)
class Play:
    media: str
    playback_id: str


@dataclass(frozen=True)
class StopPlayback:
    playback_id: str


@dataclass(frozen=True)
class Hangup:
    reason: str = "normal"


@dataclass(frozen=True)
class SaveCall:
    record: CallRecord


Command = Answer | Play | StopPlayback | Hangup | SaveCall
