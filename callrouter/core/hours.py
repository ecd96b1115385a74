"""Opening hours: a weekly schedule in a zone's local wall-clock time, plus holidays.

A span belongs to the weekday it is listed on. One whose end is at or before its
start ends on the next day: ``mon = ["18:00-01:00"]`` is open from Monday 18:00
up to Tuesday 01:00 (exclusive), and ``"00:00-24:00"`` is the whole day. A
holiday closes the spans listed on it, after midnight too; a span listed the day
before a holiday that crosses into it stays open (it is the day before's).

Daylight saving: an instant is open when the local wall clock then reads a time
inside a span. On a spring-forward day a span loses the skipped hour (Europe/
Berlin, 2026-03-29 02:00->03:00: 01:00-04:00 is open 2 real hours) and one
starting inside the gap (02:30) opens when the clock jumps, at 03:00; on a
fall-back day the repeated hour is open twice (2026-10-25 03:00->02:00:
01:00-04:00 is open 4 real hours).

Everything here is pure: ``now`` is an aware datetime (any zone). Urgent lines
are always open (the config gives them no hours).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# How far next_open and next_close look: a weekly schedule opens within 8 days,
# but holidays can close longer, and a year of them is the most anyone lists.
SEARCH = timedelta(days=366)
ONE_DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
CLOCK = re.compile(r"([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?")
DAY_END = ("24:00", "24:00:00")  # as an end only: midnight, the end of the day
DAYS_KEPT = 8  # days whose stretches ``Hours.is_open`` keeps


@dataclass(frozen=True)
class Span:
    start: time
    end: time  # exclusive; at or before start: on the next day (00:00 is the day's end)

    def on(self, day: date) -> tuple[datetime, datetime]:
        """The wall-clock stretch (naive, end exclusive) this span covers when listed on ``day``."""
        end_day = day + ONE_DAY if self.end <= self.start else day
        return datetime.combine(day, self.start), datetime.combine(end_day, self.end)


@dataclass(frozen=True)
class Hours:
    zone: str
    weekly: dict[str, tuple[Span, ...]]  # day name -> open spans; a missing day is closed
    holidays: frozenset[date] = frozenset()
    # The wall-clock stretches that may hold an instant of each day, worked out once a day
    # (every call of a line with hours asks ``is_open``); the latest few days kept. Made
    # anew with each ``Hours`` (never copied with ``evolve``, which would share it).
    _days: dict[date, tuple[tuple[datetime, datetime], ...]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def is_open(self, now: datetime) -> bool:
        wall = _naive(now, ZoneInfo(self.zone))
        day = wall.date()
        stretches = self._days.get(day)
        if stretches is None:
            if len(self._days) >= DAYS_KEPT:
                self._days.clear()
            # A span listed yesterday may still be open after midnight.
            stretches = self._days[day] = tuple(self._wall_stretches(day - ONE_DAY, day))
        for start, end in stretches:  # noqa: SIM110 (a loop, not ``any``: read for every call that arrives)
            if start <= wall < end:
                return True
        return False

    def next_open(self, now: datetime) -> datetime | None:
        """``now`` if open, else the first instant (UTC) it opens; None if it does not within
        ``SEARCH`` (a year: a weekly schedule opens within 8 days unless holidays close it)."""
        if self.is_open(now):
            return now
        for start, _ in self._open_intervals(_utc(now)):
            return start.replace(tzinfo=UTC)
        return None

    def next_close(self, now: datetime) -> datetime | None:
        """``now`` if closed, else the first instant (UTC) it closes; None if open all ``SEARCH`` long
        (spans that meet, such as Monday's ``00:00-24:00`` and Tuesday's, do not close between)."""
        if not self.is_open(now):
            return now
        close = _utc(now)
        for start, end in self._open_intervals(close):
            if start > close:  # a gap between spans: closed from ``close``
                break
            close = max(close, end)
        return None if close >= _utc(now) + SEARCH else close.replace(tzinfo=UTC)

    def _wall_stretches(self, first: date, last: date) -> Iterator[tuple[datetime, datetime]]:
        """The wall-clock stretches of the spans listed on the days ``first`` to ``last``, holidays closed."""
        day = first
        while day <= last:
            if day not in self.holidays:
                for span in self.weekly.get(DAYS[day.weekday()], ()):
                    yield span.on(day)
            day += ONE_DAY

    def _open_intervals(self, since: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals (naive UTC, end exclusive) from ``since`` for ``SEARCH``, ordered by start.

        Adjacent and overlapping intervals are not merged. Within a piece of constant
        UTC offset the wall clock is UTC plus the offset, so a wall-clock stretch maps
        to UTC by subtracting it: that is what makes DST changes exact.
        """
        for piece_start, piece_end, offset in _pieces(ZoneInfo(self.zone), since, since + SEARCH):
            wall_start, wall_end = piece_start + offset, piece_end + offset
            stretches = self._wall_stretches(wall_start.date() - ONE_DAY, wall_end.date())
            clipped = (
                (max(start - offset, piece_start), min(end - offset, piece_end)) for start, end in stretches
            )
            yield from sorted((start, end) for start, end in clipped if start < end)


def _naive(moment: datetime, zone: tzinfo) -> datetime:
    """``moment``'s wall clock in ``zone``, without the zone."""
    if moment.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return moment.astimezone(zone).replace(tzinfo=None, fold=0)


def _utc(moment: datetime) -> datetime:
    """``moment`` as naive UTC, where adding and comparing is exact."""
    return _naive(moment, UTC)


def _offset(zone: ZoneInfo, moment: datetime) -> timedelta:
    """The zone's UTC offset at ``moment`` (naive UTC)."""
    return moment.replace(tzinfo=UTC).astimezone(zone).utcoffset() or timedelta(0)


def _pieces(
    zone: ZoneInfo, since: datetime, until: datetime
) -> Iterator[tuple[datetime, datetime, timedelta]]:
    """``[since, until)`` (naive UTC) cut where the zone's offset changes: (start, end, offset).

    Pieces are at most a day long and a change is looked for at each day's end,
    so two changes within one day that cancel out would go unseen (zones change months apart).
    """
    start = since
    while start < until:
        offset = _offset(zone, start)
        end = min(start + ONE_DAY, until)
        if _offset(zone, end) != offset:
            end = _change(zone, start, end, offset)
        yield start, end, offset
        start = end


def _change(zone: ZoneInfo, before: datetime, after: datetime, offset: timedelta) -> datetime:
    """The instant in ``(before, after]`` the offset stops being ``offset``: zones change on whole seconds."""
    low = before.replace(microsecond=0)  # still ``offset``
    high = after.replace(microsecond=0) + (SECOND if after.microsecond else timedelta(0))  # no longer
    while high - low > SECOND:
        middle = low + (high - low) // SECOND // 2 * SECOND
        if _offset(zone, middle) == offset:
            low = middle
        else:
            high = middle
    return high


def parse_span(text: str) -> Span:
    """``"08:00-20:00"``, seconds allowed (``"09:00:30-10:00"``); ``"00:00-24:00"`` is the whole day;
    an end before the start is on the next day (``"18:00-01:00"``)."""
    parts = [part.strip() for part in text.split("-")]
    try:
        if len(parts) != 2:
            raise ValueError
        start, end = _clock(parts[0]), _clock(parts[1], end=True)
    except ValueError:
        raise ValueError(f"{text!r} is not a span like 08:00-20:00 or 18:00-01:00") from None
    if start == end and parts[1] not in DAY_END:
        raise ValueError(
            f"{text!r} starts when it ends: empty or 24 hours is ambiguous "
            "(00:00-24:00 is a whole day; split a day from another hour in two spans)"
        )
    return Span(start, end)


def _clock(text: str, end: bool = False) -> time:
    """``HH:MM`` or ``HH:MM:SS``; as an end, ``24:00`` is midnight (the day's end)."""
    if end and text in DAY_END:
        return time(0, 0)
    matched = CLOCK.fullmatch(text)
    if matched is None:
        raise ValueError(text)
    hour, minute, second = (int(group or 0) for group in matched.groups())
    return time(hour, minute, second)  # out of range: ValueError
