"""Opening hours: a weekly schedule in the line's time zone, plus holidays.

``is_open(hours, now)`` is pure: ``now`` is an aware datetime (any zone); the
schedule is read in its own zone, so daylight-saving changes need no care from
the caller. Urgent lines are always open (the config gives them no hours).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Span:
    start: time
    end: time  # exclusive; time(0, 0) as end means midnight (end of day)

    def contains(self, moment: time) -> bool:
        if self.end == time(0, 0):
            return moment >= self.start
        return self.start <= moment < self.end


@dataclass(frozen=True)
class Hours:
    zone: str
    weekly: dict[str, tuple[Span, ...]]  # day name -> open spans; a missing day is closed
    holidays: frozenset[date] = frozenset()

    def is_open(self, now: datetime) -> bool:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        local = now.astimezone(ZoneInfo(self.zone))
        if local.date() in self.holidays:
            return False
        spans = self.weekly.get(DAYS[local.weekday()], ())
        return any(span.contains(local.time()) for span in spans)


def parse_span(text: str) -> Span:
    """``"08:00-20:00"``; ``"00:00-24:00"`` is the whole day."""
    try:
        start_text, end_text = text.split("-")
        start = time.fromisoformat(start_text.strip())
        end_text = end_text.strip()
        end = time(0, 0) if end_text == "24:00" else time.fromisoformat(end_text)
    except ValueError:
        raise ValueError(f"{text!r} is not a span like 08:00-20:00") from None
    if end != time(0, 0) and end <= start:
        raise ValueError(f"{text!r} ends before it starts")
    return Span(start, end)
