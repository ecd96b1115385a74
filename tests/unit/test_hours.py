"""Opening hours: a weekly schedule read in the line's own zone, holidays closed."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callrouter.core.hours import DAYS, Hours, Span, parse_span

MOSCOW = ZoneInfo("Europe/Moscow")  # UTC+3 all year
BERLIN = ZoneInfo("Europe/Berlin")  # CET/CEST: summer time from 2026-03-29


def weekdays(*spans: str) -> dict[str, tuple[Span, ...]]:
    return {day: tuple(parse_span(s) for s in spans) for day in DAYS[:5]}


CLINICS = Hours("Europe/Moscow", {**weekdays("08:00-20:00"), "sat": (parse_span("09:00-14:00"),)})


def msk(day: int, hour: int, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    """A moment in November 2026 in Moscow (2026-11-23 is a Monday)."""
    return datetime(2026, 11, day, hour, minute, second, micro, tzinfo=MOSCOW)


# ---- weekly schedule -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("now", "is_open"),
    [
        (msk(23, 8), True),  # Monday, opening minute: start is inclusive
        (msk(23, 7, 59, 59, 999_999), False),
        (msk(23, 19, 59, 59, 999_999), True),
        (msk(23, 20), False),  # end is exclusive
        (msk(27, 12), True),  # Friday
        (msk(28, 9), True),  # Saturday's shorter day
        (msk(28, 14), False),
        (msk(28, 8, 30), False),
        (msk(29, 12), False),  # Sunday: not in the schedule, closed
    ],
)
def test_open_by_weekday_and_span(now: datetime, is_open: bool) -> None:
    assert CLINICS.is_open(now) is is_open


def test_now_in_another_zone_is_read_in_the_lines_zone() -> None:
    # 05:30 UTC on Monday is 08:30 in Moscow: open. 17:30 UTC is 20:30: closed.
    assert CLINICS.is_open(datetime(2026, 11, 23, 5, 30, tzinfo=UTC))
    assert not CLINICS.is_open(datetime(2026, 11, 23, 17, 30, tzinfo=UTC))
    # Sunday 22:00 in New York is already Monday 06:00 in Moscow: still closed...
    new_york = ZoneInfo("America/New_York")
    assert not CLINICS.is_open(datetime(2026, 11, 22, 22, 0, tzinfo=new_york))
    # ... and Monday 00:30 in New York is Monday 08:30 in Moscow: open.
    assert CLINICS.is_open(datetime(2026, 11, 23, 0, 30, tzinfo=new_york))
    # A fixed offset works as well as a named zone.
    assert CLINICS.is_open(datetime(2026, 11, 23, 10, 0, tzinfo=timezone(timedelta(hours=5))))


def test_weekday_is_the_local_day_not_the_utc_day() -> None:
    # Saturday 22:30 UTC is Sunday 01:30 in Moscow: the whole-day Saturday rule must not apply.
    hours = Hours("Europe/Moscow", {"sat": (parse_span("00:00-24:00"),)})
    assert not hours.is_open(datetime(2026, 11, 28, 22, 30, tzinfo=UTC))
    assert hours.is_open(datetime(2026, 11, 28, 20, 30, tzinfo=UTC))  # 23:30 Saturday in Moscow


def test_several_spans_a_day_close_for_lunch() -> None:
    hours = Hours("Europe/Moscow", weekdays("08:00-13:00", "14:00-18:00"))
    assert hours.is_open(msk(24, 12, 59))
    assert not hours.is_open(msk(24, 13, 30))
    assert hours.is_open(msk(24, 14))
    assert not hours.is_open(msk(24, 18))


def test_no_spans_at_all_is_always_closed() -> None:
    hours = Hours("Europe/Moscow", {})
    assert not any(hours.is_open(msk(23, 0) + timedelta(hours=h)) for h in range(24 * 7))


# ---- daylight saving -------------------------------------------------------------------
def test_summer_time_moves_the_utc_opening_hour() -> None:
    hours = Hours("Europe/Berlin", weekdays("08:00-20:00"))
    # Monday 06:30 UTC: 07:30 CET before the change (closed), 08:30 CEST after (open).
    assert not hours.is_open(datetime(2026, 3, 23, 6, 30, tzinfo=UTC))
    assert hours.is_open(datetime(2026, 3, 30, 6, 30, tzinfo=UTC))
    # Monday 18:30 UTC: 19:30 CET (open) before, 20:30 CEST (closed) after.
    assert hours.is_open(datetime(2026, 3, 23, 18, 30, tzinfo=UTC))
    assert not hours.is_open(datetime(2026, 3, 30, 18, 30, tzinfo=UTC))
    # Autumn: back to CET on 2026-10-25; Monday 06:30 UTC is 07:30 again.
    assert hours.is_open(datetime(2026, 10, 19, 6, 30, tzinfo=UTC))
    assert not hours.is_open(datetime(2026, 10, 26, 6, 30, tzinfo=UTC))


def test_the_changeover_nights_themselves() -> None:
    hours = Hours("Europe/Berlin", {"sun": (parse_span("02:00-03:00"),)})
    # Spring: 02:00-03:00 local does not exist on 2026-03-29; 00:30 UTC is 01:30 CET, 01:30 UTC is 03:30 CEST.
    assert not hours.is_open(datetime(2026, 3, 29, 0, 30, tzinfo=UTC))
    assert not hours.is_open(datetime(2026, 3, 29, 1, 30, tzinfo=UTC))
    # Autumn: 02:00-03:00 local happens twice on 2026-10-25 (00:xx and 01:xx UTC); both are open.
    assert hours.is_open(datetime(2026, 10, 25, 0, 30, tzinfo=UTC))
    assert hours.is_open(datetime(2026, 10, 25, 1, 30, tzinfo=UTC))
    assert not hours.is_open(datetime(2026, 10, 25, 2, 30, tzinfo=UTC))  # 03:30 CET


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)))
def test_is_open_matches_the_local_wall_clock(now: datetime) -> None:
    hours = Hours("Europe/Berlin", weekdays("08:00-20:00"))
    local = now.astimezone(BERLIN)
    expected = local.weekday() < 5 and time(8) <= local.time() < time(20)
    assert hours.is_open(now) is expected


# ---- holidays, whole days, bad input ---------------------------------------------------
def test_holidays_are_closed_whatever_the_schedule() -> None:
    hours = Hours("Europe/Moscow", weekdays("08:00-20:00"), frozenset({date(2026, 11, 4)}))
    assert not hours.is_open(msk(4, 12))  # Wednesday, a holiday
    assert hours.is_open(msk(5, 12))  # Thursday
    assert hours.is_open(msk(3, 12))


def test_a_holiday_is_the_local_date() -> None:
    every_day: dict[str, tuple[Span, ...]] = {day: (parse_span("00:00-24:00"),) for day in DAYS}
    hours = Hours("Europe/Moscow", every_day, frozenset({date(2027, 1, 1)}))
    # 22:00 UTC on 31 December is 01:00 on 1 January in Moscow.
    assert not hours.is_open(datetime(2026, 12, 31, 22, 0, tzinfo=UTC))
    assert hours.is_open(datetime(2026, 12, 31, 20, 59, tzinfo=UTC))


def test_00_to_24_is_the_whole_day() -> None:
    span = parse_span("00:00-24:00")
    assert span == Span(time(0, 0), time(0, 0))
    assert span.contains(time(0, 0))
    assert span.contains(time(12, 0))
    assert span.contains(time(23, 59, 59, 999_999))
    hours = Hours("Europe/Moscow", {"mon": (span,)})
    assert hours.is_open(msk(23, 0))
    assert hours.is_open(msk(23, 23, 59, 59))
    assert not hours.is_open(msk(24, 0))  # Tuesday


def test_a_span_to_midnight() -> None:
    span = parse_span("22:00-24:00")
    assert span.contains(time(23, 59))
    assert not span.contains(time(21, 59))
    assert not span.contains(time(0, 30))


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("08:00-20:00", Span(time(8), time(20))),
        (" 08:00 - 20:00 ", Span(time(8), time(20))),
        ("09:30-14:15", Span(time(9, 30), time(14, 15))),
    ],
)
def test_parse_span(text: str, span: Span) -> None:
    assert parse_span(text) == span


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is not a span"),
        ("08:00", "is not a span"),
        ("08:00-12:00-14:00", "is not a span"),
        ("8am-5pm", "is not a span"),
        ("25:00-26:00", "is not a span"),
        ("24:00-24:00", "is not a span"),
        ("08:00-", "is not a span"),
        ("20:00-08:00", "ends before it starts"),  # across midnight is not supported
        ("08:00-08:00", "ends before it starts"),
    ],
)
def test_parse_span_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_span(text)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CLINICS.is_open(datetime(2026, 11, 23, 12, 0))
