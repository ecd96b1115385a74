"""Whether a callback fits the config: a configured line, topic and language, a
phone number (read in the line's country) not on the exclusion list and not one
of the centre's own lines' numbers.

Checked when a follow-up is made by hand (``by_hand``: every bad field named),
and again whenever a pending callback is (re)scheduled or restored at start
(``no_longer_valid``): the config may have changed since it was booked, and a
callback that no longer fits is cancelled with the reason, never kept waiting.
"""

from __future__ import annotations

from datetime import datetime

from callrouter.core import callbacks as cbs
from callrouter.core.board import Rules
from callrouter.core.callbacks import FollowUp, InvalidFollowUp
from callrouter.core.numbers import normalise
from callrouter.core.records import CallbackRecord, CallbackState

Problems = list[tuple[str, str]]
OWN_NUMBER = "the number of one of the centre's lines"  # never called back: it would ring the centre


def problems(rules: Rules, number: str, line_name: str, topic: str, language: str | None) -> Problems:
    """Each field the config does not take, and why (none: it fits)."""
    found: Problems = []
    line = rules.line_named(line_name)
    if line is None:
        found.append(("line", "no line of this name is configured"))
    if topic not in rules.plan.topics:
        found.append(("topic", "no topic of this name is configured"))
    if language is not None and language not in rules.plan.menu.languages:
        languages = ", ".join(rules.plan.menu.languages)
        found.append(("language", f"not one of the menu's languages ({languages})"))
    e164 = normalise(number, line.country).e164 if line is not None else None
    if line is not None and e164 is None:
        found.append(("number", f"not a phone number (read in {line.country} when national)"))
    elif e164 is not None and rules.repeat.excluded(e164):
        found.append(("number", "excluded from callbacks ([repeat] exclude)"))
    elif e164 is not None and rules.lines.owns(e164):
        found.append(("number", f"{OWN_NUMBER}: it would ring the centre back"))
    return found


def no_longer_valid(rules: Rules, record: CallbackRecord) -> str | None:
    """Why a booked callback cannot be dialled under this config (None: it can)."""
    found = problems(rules, record.number, record.line, record.topic, record.language)
    if not found:
        return None
    return "no longer valid: " + "; ".join(f"{field} {_named(record, field)}{why}" for field, why in found)


def _named(record: CallbackRecord, field: str) -> str:
    """The bad value itself where it is no secret (never the number)."""
    value = {"line": record.line, "topic": record.topic, "language": record.language}.get(field)
    return f"{value!r}: " if value is not None else ""


def by_hand(rules: Rules, order: FollowUp, callback_id: str, now: datetime) -> CallbackRecord:
    """The pending callback a follow-up makes, checked against the config (``problems``)
    and a time within ``MAX_AHEAD`` (one gone by joins now). Raises InvalidFollowUp
    naming every bad field. Whether the number has one open already is the
    switchboard's to say (``ScheduleCallback``)."""
    found = problems(rules, order.number, order.line, order.topic, order.language)
    joined_at = max(order.at or now, now)
    if joined_at - now > cbs.MAX_AHEAD:
        found.append(("at", f"more than {cbs.MAX_AHEAD.days} days ahead"))
    line = rules.line_named(order.line)
    topic = rules.plan.topics.get(order.topic)
    number = normalise(order.number, line.country).e164 if line is not None else None
    if found or line is None or topic is None or number is None:
        raise InvalidFollowUp(found)
    priority = order.priority if order.priority is not None else max(topic.priority, line.priority)
    return CallbackRecord(
        callback_id, now, CallbackState.PENDING, number, now, joined_at, order.topic, line.name,
        order.language or line.language, priority, rules.repeat.key_of(number), reason=f"made by {order.by}",
    )  # fmt: skip
