"""A call's state, and the small steps every transition of ``call`` builds on:
log an event, play (with a fresh playback id), start a timer (with a fresh
token, so only the latest counts), silence the caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from callrouter.core import menu as mn
from callrouter.core.call_plan import LineInfo
from callrouter.core.commands import Command, LogEvent, Play, StartTimer, StopMoh, StopPlayback
from callrouter.core.evolve import evolve, quick_init
from callrouter.core.records import CallEventRecord, CallRecord


class Phase(StrEnum):
    ANSWERING = "answering"
    CLOSED = "closed"  # playing the after-hours message
    MENU = "menu"  # greeting and menu
    QUEUED = "queued"
    CONNECTED = "connected"
    LEAVING = "leaving"  # a last message, then the router hangs up
    ENDING = "ending"  # the router asked for the hang-up; waiting for Asterisk
    ENDED = "ended"
    RESULTS = "results"  # a results call: identity check, then the result (``results_call``)


@dataclass(frozen=True)
class NumberDialog:
    """Settling the number a callback will dial (``call_callback``)."""

    proposed: str | None  # the caller's own number, read back (None: withheld, they key one)
    keyed: str = ""
    tries: int = 0


class Told(StrEnum):
    """How far a results call got with the result."""

    NOTHING = "nothing"
    TELLING = "telling"  # the audit row is committed and the result is being played
    TOLD = "told"  # played to its end at least once


@dataclass(frozen=True)
class ResultsDialog:
    """A results call (``results_call``): the callee keys their secret, then hears the result."""

    notification_id: str
    result: str  # negative | positive | inconclusive
    tries_allowed: int
    max_digits: int
    key_seconds: float
    consult_topic: str  # a positive result's "press 1" joins the queue for it
    keyed: str = ""  # digits keyed so far on this try (never logged)
    tries: int = 0  # wrong secrets so far
    silences: int = 0  # prompts met with silence
    checking: bool = False  # a VerifySecret or AuditDisclosure is on its way
    verified: bool = False
    told: Told = Told.NOTHING
    outcome: str | None = None  # decided: verification_failed | no_input | transferred | failed


@quick_init
@dataclass(frozen=True)
class Call:
    record: CallRecord
    phase: Phase
    language: str
    line: LineInfo | None = None
    menu_spec: mn.MenuSpec | None = None
    menu: mn.MenuState = field(default_factory=mn.MenuState)
    playback_id: str | None = None  # what is playing now, if anything
    plays: int = 0  # playback ids are call_id-p<n>
    timers: int = 0  # timer tokens are <kind>:<n>; only the latest counts
    timer: str | None = None
    moh: bool = False
    announcing: bool = False  # the playing sound is a position announcement
    greeted: bool = False  # "please hold" was said (with the first position)
    entry_id: str | None = None
    # The id the caller's place in the queue gets (minted outside the core, so a
    # place is not its call): empty means the call id, as for calls made before.
    place_id: str = ""
    person: str | None = None  # who the caller is recognised as (None: never matched)
    known_topic: str | None = None  # an earlier call of theirs chose it: the menu is skipped
    kept: bool = False  # kept an earlier place: told so instead of "please hold"
    greeting_owed: bool = False  # joined without the menu: the line's greeting opens the first announcement
    callback_offered: bool = False  # offered a callback: reminded at each announcement
    callback_pending: bool = False  # their callback waits: keep it (1), or wait in its place
    dialog: NumberDialog | None = None  # settling a callback's number
    results: ResultsDialog | None = None  # a results call's dialog (``results_call``)
    # False: a call of a simulated day, whose board writes no timeline (``Rules.journal``) and
    # which no router will take up: its events are not made (``log_event``), nor its place
    # and menu level set on its channel as it joins or goes down the menu (the rarer
    # settings, at a kept place, a priority change or a callback's number, still are).
    live: bool = True

    @property
    def ended(self) -> bool:
        return self.phase is Phase.ENDED


Result = tuple[Call, list[Command]]


# What ``log_event`` gives for a call that is not ``live``: its board writes no call events.
NOT_WRITTEN = LogEvent(CallEventRecord(None, "", datetime.min.replace(tzinfo=UTC), "not written"))


def log_event(call: Call, now: datetime, kind: str, detail: str = "") -> LogEvent:
    if not call.live:
        return NOT_WRITTEN
    return LogEvent(CallEventRecord(call.record.call_id, call.record.node, now, kind, detail))


def play_media(call: Call, media: tuple[str, ...], **changes: object) -> Result:
    """Play ``media`` (``changes``: any other fields changed, in the same copy of the call)."""
    playback_id = f"{call.record.call_id}-p{call.plays + 1}"
    return evolve(call, **changes, playback_id=playback_id, plays=call.plays + 1), [Play(media, playback_id)]


def start_timer(call: Call, kind: str, seconds: float, **changes: object) -> Result:
    token = f"{kind}:{call.timers + 1}"
    return evolve(call, **changes, timer=token, timers=call.timers + 1), [StartTimer(token, seconds)]


# What silencing the caller changes (``stop_sound``).
SILENT: dict[str, object] = {"playback_id": None, "moh": False, "timer": None, "announcing": False}


def stop_sound(call: Call, **changes: object) -> Result:
    """Silence the caller (before an announcement or the bridge); ``changes``: any other
    fields changed (or silenced fields set again), in the same copy of the call."""
    commands: list[Command] = []
    if call.playback_id is not None:
        commands.append(StopPlayback(call.playback_id))
    if call.moh:
        commands.append(StopMoh())
    return evolve(call, **{**SILENT, **changes}), commands
