"""A waiting caller's place, kept on their channel, and taken up again by a restarted router.

When a call joins the queue it writes its place (topic, priority, join time,
language, keys pressed) into a channel variable. Asterisk keeps the channel
while no router runs; the next router reads the variable back when it adopts
the call and ``resume`` puts the caller back in the queue at their original
join time: no greeting, no menu, the same order as before.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring_ascii

from callrouter.core.call_plan import LineInfo
from callrouter.core.call_state import Call, Phase, Result, log_event
from callrouter.core.commands import Hangup, JoinQueue, RequestAnnouncement, SaveCall
from callrouter.core.evolve import evolve, quick_init
from callrouter.core.numbers import CallerNumber
from callrouter.core.queue import GIVEN_BACK_GRACE, QueueEntry
from callrouter.core.records import CallRecord, Outcome

VARIABLE = "CALLROUTER_PLACE"
MENU_VARIABLE = "CALLROUTER_MENU"  # the menu level a caller reached (before choosing a topic)
PATIENT_VARIABLE = "CALLROUTER_PATIENT"  # a results call's patient waiting for a consultant
# Playback ids of a resumed call start here, clear of the ones its first router used.
RESUMED_PLAYS = 1000
# ... and of a call taken up in the menu (afresh, or at its level), whose prompts of the
# router before (from 1, or from RESUMED_PLAYS) are stopped first by their ids
# (``board_restart._stop_old_prompts``): clear of both. (Taken up in the menu a second
# time, the prompts the first taker left are not among those stopped.)
MENU_RESUMED_PLAYS = 2 * RESUMED_PLAYS


def compact_json(items: Sequence[str | int | None]) -> str:
    """``json.dumps(items, separators=(",", ":"))`` for a list of strings, whole numbers and
    None, quoted by the JSON encoder's own function without building an encoder (it was
    built for every call that joins, and every menu level)."""
    parts = []
    for item in items:  # one loop, no call an item: it runs for every call that joins
        if item is None:
            parts.append("null")
        elif isinstance(item, str):
            parts.append(encode_basestring_ascii(item))
        else:
            parts.append(int.__repr__(item))  # as the encoder writes an int (a bool is not one here)
    return "[" + ",".join(parts) + "]"


@quick_init
@dataclass(frozen=True)
class Place:
    topic: str
    priority: int
    joined_at: datetime
    language: str
    menu_path: str | None = None
    place_id: str | None = None  # None: a place written before places had ids (its call id)

    def to_variable(self) -> str:
        fields: list[str | int | None] = [
            self.topic, self.priority, self.joined_at.isoformat(), self.language, self.menu_path,
        ]  # fmt: skip
        return compact_json([*fields, self.place_id] if self.place_id else fields)

    @classmethod
    def from_variable(cls, text: str | None) -> Place | None:
        """The place a channel carries; None for none, or for one that is not ours."""
        if not text:
            return None
        try:
            topic, priority, joined, language, menu_path, *rest = json.loads(text)
            when = datetime.fromisoformat(joined)
        except (ValueError, TypeError):
            return None
        place_id = rest[0] if len(rest) == 1 else None
        if len(rest) > 1 or not (place_id is None or (isinstance(place_id, str) and place_id)):
            return None
        if not (isinstance(topic, str) and isinstance(priority, int) and isinstance(language, str)):
            return None
        if when.tzinfo is None or not (menu_path is None or isinstance(menu_path, str)):
            return None
        return cls(topic, priority, when, language, menu_path, place_id)


def place_id_of(place: Place | None, call_id: str) -> str:
    """The id of the place a call holds: the place's own, or the call's for a place
    written before places had ids (and for a call whose place is unknown)."""
    return place.place_id if place is not None and place.place_id else call_id


@quick_init
@dataclass(frozen=True)
class MenuLevel:
    """Where in the menu a caller was: the keys that led to the level, its language,
    and every key pressed (for the record)."""

    path: tuple[str, ...]
    language: str
    keys: tuple[str, ...] = ()

    def to_variable(self) -> str:
        return compact_json(["".join(self.path), self.language, "".join(self.keys)])

    @classmethod
    def from_variable(cls, text: str | None) -> MenuLevel | None:
        if not text:
            return None
        try:
            path, language, keys = json.loads(text)
        except (ValueError, TypeError):
            return None
        if not (isinstance(path, str) and isinstance(language, str) and isinstance(keys, str) and language):
            return None
        return cls(tuple(path), language, tuple(keys))


@dataclass(frozen=True)
class Ended:
    """A call told its last message (a callback booked for it): the outcome and reason its
    record has, kept on the channel in place of its place (``VARIABLE``), for a router
    that finds the call after a restart: it hangs it up, the record as it was (taken up
    as waiting, the caller would have been put back in the queue in their callback's place)."""

    outcome: Outcome
    reason: str

    def to_variable(self) -> str:
        return compact_json(["ended", self.outcome.value, self.reason])

    @classmethod
    def from_variable(cls, text: str | None) -> Ended | None:
        try:
            tag, outcome, reason = json.loads(text or "")
            return cls(Outcome(outcome), reason) if tag == "ended" and isinstance(reason, str) else None
        except (ValueError, TypeError):
            return None


@dataclass(frozen=True)
class Patient:
    """A results call's patient who asked for a consultant (and waits in the queue, or
    talks to one): the line the result was phoned for and the patient's number, kept on
    the channel (``PATIENT_VARIABLE``) for a router that adopts the call after a restart
    (the channel, dialled by the router, names no DID and no caller)."""

    line: str
    number: str

    def to_variable(self) -> str:
        return compact_json([self.line, self.number])

    @classmethod
    def from_variable(cls, text: str | None) -> Patient | None:
        if not text:
            return None
        try:
            line, number = json.loads(text)
        except (ValueError, TypeError):
            return None
        if not (isinstance(line, str) and isinstance(number, str) and line and number):
            return None
        return cls(line, number)


@dataclass(frozen=True)
class Adopted:
    """A call a restarted router found in Asterisk, as Asterisk describes it."""

    call_id: str
    node: str
    channel_id: str
    did: str
    line: LineInfo
    caller: CallerNumber
    started_at: datetime
    person: str | None = None  # who the caller is recognised as (``repeat``): None, never matched
    direction: str = "inbound"  # or "results": a results call's patient the router had dialled

    def record(self, **facts: object) -> CallRecord:
        return CallRecord(
            call_id=self.call_id, node=self.node, channel_id=self.channel_id, did=self.did,
            line=self.line.name, caller_number=self.caller.e164,
            caller_presentation=self.caller.presentation.value, started_at=self.started_at,
            answered_at=self.started_at, direction=self.direction, **facts,  # type: ignore[arg-type]
        )  # fmt: skip


def resume(adopted: Adopted, place: Place, now: datetime) -> Result:
    """An adopted call that was waiting: back in the queue at its place."""
    record = adopted.record(
        language=place.language, menu_path=place.menu_path, topic=place.topic,
        priority=place.priority, queued_at=place.joined_at,
    )  # fmt: skip
    entry_id, line = place_id_of(place, adopted.call_id), adopted.line
    call = Call(
        record, Phase.QUEUED, place.language, line, entry_id=entry_id, greeted=True, plays=RESUMED_PLAYS,
        place_id=entry_id,
    )  # fmt: skip
    entry = QueueEntry(
        entry_id, place.topic, place.language, line.name, place.priority, place.joined_at,
        caller_key=adopted.person, channel_id=adopted.channel_id, call_id=adopted.call_id,
        overflow_not_before=now + GIVEN_BACK_GRACE,
    )  # fmt: skip
    call = evolve(call, person=adopted.person)
    return call, [
        SaveCall(record),
        log_event(call, now, "resumed", f"{place.topic} since {place.joined_at.isoformat()}"),
        JoinQueue(entry),
        RequestAnnouncement(entry_id),
    ]


def resume_ended(adopted: Adopted, ended: Ended, now: datetime) -> Result:
    """An adopted call the router before had ended (its last message told): hung up now,
    its record's outcome and reason as that router decided them."""
    record = adopted.record(outcome=ended.outcome, end_reason=ended.reason)
    line = adopted.line
    call = Call(record, Phase.ENDING, line.language, line, plays=RESUMED_PLAYS)
    return call, [SaveCall(record), log_event(call, now, "resumed", f"ended: {ended.outcome}"), Hangup()]


def resume_connected(adopted: Adopted, entry_id: str, agent_id: str, now: datetime) -> Result:
    """An adopted call that was talking to an agent: left as it is, followed to its end."""
    record = adopted.record(agent=agent_id, outcome=Outcome.ANSWERED)
    line = adopted.line
    call = Call(
        record, Phase.CONNECTED, line.language, line, entry_id=entry_id, plays=RESUMED_PLAYS,
        place_id=entry_id,
    )  # fmt: skip
    return call, [SaveCall(record), log_event(call, now, "resumed", f"connected to {agent_id}")]
