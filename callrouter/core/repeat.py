"""Recognising a person who calls again: one person, one place in line.

A person is their normalised number. Withheld numbers are never matched (unless
the config allows matching on the number the network asserted for a withheld
caller), nor are numbers on the exclusion list (hospital switchboards, shared
lines), so two people behind one number are never merged.

What is remembered of a person is a ``PersonRecord``: the place they last gave
up by hanging up while waiting (kept ``resume`` long), and their last answered
call (kept ``contact`` long). The switchboard holds these in memory, writes
every change, and a restarted router loads them back; the call path never
waits on the database.

When a person's call joins the queue, the first of these that holds decides:
- already waiting (their number holds a place now): the new call takes it over;
- abandoned recently: a new place at the old join time, ahead of everyone who
  joined after it;
- answered recently: a repeat contact, and their last agent preferred.
"""

from __future__ import annotations

import fnmatch
import functools
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from callrouter.core.evolve import evolve
from callrouter.core.learnt import Learnt
from callrouter.core.numbers import CallerNumber
from callrouter.core.queue import QueueEntry
from callrouter.core.records import PersonRecord

# People's keys worked out ahead of time, by another process (``core.learnt``), by secret and number.
KEYS: Learnt[tuple[bytes, str], str] = Learnt()
# An exclusion: an E.164 number, maybe with ``*`` (any digits) and ``?`` (one digit).
EXCLUSION = re.compile(r"^\+[0-9*?]{1,16}$")


@dataclass(frozen=True)
class RepeatRules:
    resume: timedelta = timedelta(minutes=10)
    contact: timedelta = timedelta(hours=24)
    skip_menu: bool = True  # a redialler whose earlier call chose a topic skips the menu
    exclude: tuple[str, ...] = ()
    match_withheld: bool = False  # match a withheld caller on the number the network asserted
    # Numbers are personal health data: people are known by a keyed hash of their
    # number (the key from the environment, never committed), not the number itself.
    secret: bytes = field(default=b"", repr=False)

    def person(self, caller: CallerNumber) -> str | None:
        """The key a caller is recognised by; None: never matched."""
        number = caller.e164
        if number is None and self.match_withheld:
            number = caller.asserted
        if number is None or self.excluded(number):
            return None
        return self.key_of(number)

    def key_of(self, number: str) -> str:
        """The person behind an E.164 number (32 hex digits of an HMAC-SHA256)."""
        learnt = KEYS.get((self.secret, number))  # worked out ahead (``core.learnt``)
        return learnt or hmac.digest(self.secret, number.encode(), "sha256").hex()[:32]

    def excluded(self, number: str) -> bool:
        return excluded(self.exclude, number)


def excluded(patterns: tuple[str, ...], number: str) -> bool:
    """Whether an E.164 number matches one of ``[repeat] exclude``'s patterns (* and ?)."""
    return patterns != () and _exclusions(patterns).match(number) is not None


@functools.lru_cache(maxsize=16)
def _exclusions(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """The patterns as one expression, as ``fnmatch.fnmatchcase`` reads each (compiled once,
    not looked up pattern by pattern for every caller)."""
    return re.compile("|".join(fnmatch.translate(pattern) for pattern in patterns))


def resumable(rules: RepeatRules, memory: PersonRecord | None, now: datetime) -> PersonRecord | None:
    """The memory of a place this person gave up recently enough to have it back."""
    if memory is None or memory.left_at is None or memory.joined_at is None or memory.topic is None:
        return None
    return memory if now - memory.left_at <= rules.resume else None


def recent_contact(rules: RepeatRules, memory: PersonRecord | None, now: datetime) -> PersonRecord | None:
    if memory is None or memory.contact_at is None:
        return None
    return memory if now - memory.contact_at <= rules.contact else None


def left(memory: PersonRecord | None, entry: QueueEntry, call_id: str | None, now: datetime) -> PersonRecord:
    """They hung up while waiting: remember the place (its join time, topic, priority)."""
    assert entry.caller_key is not None
    base = memory or PersonRecord(entry.caller_key, now)
    return evolve(
        base, at=now, left_at=now, joined_at=entry.joined_at, topic=entry.topic, priority=entry.priority,
        language=entry.language, line=entry.line, left_call_id=call_id,
    )  # fmt: skip


def resumed(memory: PersonRecord, now: datetime) -> PersonRecord:
    """The place was taken back: it cannot be taken back twice."""
    return evolve(
        memory, at=now, left_at=None, joined_at=None, topic=None, priority=None, language=None, line=None,
        left_call_id=None,
    )  # fmt: skip


def answered(
    memory: PersonRecord | None, person: str, agent: str, call_id: str | None, now: datetime
) -> PersonRecord:
    """They talked to an agent: a later call is a repeat contact, that agent preferred.
    A place they had given up is answered now, so it is forgotten."""
    base = resumed(memory, now) if memory is not None else PersonRecord(person, now)
    return evolve(base, at=now, contact_at=now, contact_agent=agent, contact_call_id=call_id)


def forget_after(rules: RepeatRules, memory: PersonRecord) -> datetime | None:
    """The last moment this memory matters: ``expired`` from just after it (None: already)."""
    ends = []
    if memory.left_at is not None and memory.joined_at is not None and memory.topic is not None:
        ends.append(memory.left_at + rules.resume)
    if memory.contact_at is not None:
        ends.append(memory.contact_at + rules.contact)
    return max(ends, default=None)


def expired(rules: RepeatRules, memory: PersonRecord, now: datetime) -> bool:
    return resumable(rules, memory, now) is None and recent_contact(rules, memory, now) is None


def loaded(
    rules: RepeatRules, records: Mapping[str, PersonRecord] | list[PersonRecord], now: datetime
) -> dict[str, PersonRecord]:
    """The memories a restarted router keeps (the latest of each person, still in a window)."""
    values = records.values() if isinstance(records, Mapping) else records
    latest: dict[str, PersonRecord] = {}
    for record in values:
        known = latest.get(record.person)
        if known is None or record.at >= known.at:
            latest[record.person] = record
    return {p: r for p, r in latest.items() if not expired(rules, r, now)}
