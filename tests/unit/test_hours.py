"""Opening hours: a weekly schedule read in the line's own zone, holidays closed."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callrouter.core.hours import DAYS, Hours, Span, parse_span

MOSCOW = ZoneInfo("Europe/Moscow")  # UTC+3 all year
BERLIN = ZoneInfo("Europe/Berlin")  # CET/CEST: summer time from 2026-03-29


def weekdays(*spans: str) -> dict[str, tuple[Span, ...]]:
    return {day: tuple(parse_span(s) for s in spans) for day in DAYS[:5]}


EVERY_DAY: dict[str, tuple[Span, ...]] = {day: (parse_span("00:00-24:00"),) for day in DAYS}
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
    hours = Hours("Europe/Moscow", EVERY_DAY, frozenset({date(2027, 1, 1)}))
    # 22:00 UTC on 31 December is 01:00 on 1 January in Moscow.
    assert not hours.is_open(datetime(2026, 12, 31, 22, 0, tzinfo=UTC))
    assert hours.is_open(datetime(2026, 12, 31, 20, 59, tzinfo=UTC))


def test_00_to_24_is_the_whole_day() -> None:
    span = parse_span("00:00-24:00")
    assert span == Span(time(0, 0), time(0, 0))
    assert span.on(date(2026, 11, 23)) == (datetime(2026, 11, 23), datetime(2026, 11, 24))
    hours = Hours("Europe/Moscow", {"mon": (span,)})
    assert hours.is_open(msk(23, 0))
    assert hours.is_open(msk(23, 23, 59, 59, 999_999))
    assert not hours.is_open(msk(24, 0))  # Tuesday


def test_a_span_to_midnight() -> None:
    assert parse_span("22:00-24:00").on(date(2026, 11, 23)) == (
        datetime(2026, 11, 23, 22),
        datetime(2026, 11, 24, 0),
    )
    hours = Hours("Europe/Moscow", {"mon": (parse_span("22:00-24:00"),)})
    assert hours.is_open(msk(23, 23, 59, 59))
    assert not hours.is_open(msk(23, 21, 59))
    assert not hours.is_open(msk(24, 0, 30))


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("08:00-20:00", Span(time(8), time(20))),
        (" 08:00 - 20:00 ", Span(time(8), time(20))),
        ("09:30-14:15", Span(time(9, 30), time(14, 15))),
        ("09:00:30-10:00", Span(time(9, 0, 30), time(10))),
        ("18:00-01:00", Span(time(18), time(1))),  # across midnight
        ("18:00-00:00", Span(time(18), time(0))),  # the same as 18:00-24:00
        ("18:00-24:00:00", Span(time(18), time(0))),
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
        ("8:00-20:00", "is not a span"),
        ("08:00+03:00-20:00", "is not a span"),  # no zone: the hours' own
        ("08:00:00.5-20:00", "is not a span"),
        ("08:60-20:00", "is not a span"),
        ("08:00-08:00", "empty or 24 hours is ambiguous"),
        ("00:00-00:00", "empty or 24 hours is ambiguous"),
    ],
)
def test_parse_span_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_span(text)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CLINICS.is_open(datetime(2026, 11, 23, 12, 0))


# ---- spans across midnight ---------------------------------------------------------------
EVENINGS = Hours("Europe/Moscow", {"mon": (parse_span("18:00-01:00"),)})


@pytest.mark.parametrize(
    ("now", "is_open"),
    [
        (msk(23, 17, 59), False),
        (msk(23, 18), True),
        (msk(23, 23, 59, 59), True),
        (msk(24, 0), True),  # Tuesday, but Monday's span
        (msk(24, 0, 59, 59), True),
        (msk(24, 1), False),  # end is exclusive
        (msk(24, 18), False),  # Tuesday lists no span of its own
        (msk(30, 18, 30), True),  # the Monday after
    ],
)
def test_a_span_across_midnight_belongs_to_the_day_it_is_listed_on(now: datetime, is_open: bool) -> None:
    assert EVENINGS.is_open(now) is is_open


def test_sundays_span_runs_into_monday() -> None:
    hours = Hours("Europe/Moscow", {"sun": (parse_span("22:00-02:00"),)})
    assert not hours.is_open(msk(22, 21, 59, 59))  # Sunday 22 November
    assert hours.is_open(msk(22, 22))
    assert hours.is_open(msk(23, 1, 59, 59))  # Monday
    assert not hours.is_open(msk(23, 2))
    assert not hours.is_open(msk(24, 1))  # Tuesday: Monday lists nothing


def test_a_holiday_closes_its_spans_after_midnight_too() -> None:
    hours = Hours("Europe/Moscow", EVENINGS.weekly, frozenset({date(2026, 11, 23)}))  # Monday
    assert not hours.is_open(msk(23, 19))
    assert not hours.is_open(msk(24, 0, 30))
    assert hours.is_open(msk(30, 19))  # the Monday after


def test_a_span_crossing_into_a_holiday_stays_open_after_midnight() -> None:
    tuesday = date(2026, 11, 24)
    hours = Hours("Europe/Moscow", {**EVENINGS.weekly, "tue": EVERY_DAY["tue"]}, frozenset({tuesday}))
    assert hours.is_open(msk(24, 0, 59, 59))  # Monday's span
    assert not hours.is_open(msk(24, 1))  # Tuesday's own span is closed
    assert hours.next_close(msk(24, 0, 30)) == msk(24, 1)


# ---- daylight-saving change days (Europe/Berlin, 2026) ---------------------------------
def open_seconds(hours: Hours, since: datetime, until: datetime) -> float:
    """How long ``hours`` is open in ``[since, until)``, walked with next_open and next_close."""
    total, moment = timedelta(0), since
    while (opens := hours.next_open(moment)) is not None and opens < until:
        closes = hours.next_close(opens)
        assert closes is not None
        total += min(closes, until) - opens
        moment = closes
    return total.total_seconds()


def open_minutes(hours: Hours, since: datetime, until: datetime) -> int:
    """The same, counted by stepping minute by minute (a check on the walk above)."""
    minutes = int((until - since) / timedelta(minutes=1))
    return sum(hours.is_open(since + timedelta(minutes=m)) for m in range(minutes))


EARLY = Hours("Europe/Berlin", {"sun": (parse_span("01:00-04:00"),)})
SPRING_DAY = (datetime(2026, 3, 28, 23, tzinfo=UTC), datetime(2026, 3, 29, 22, tzinfo=UTC))  # 23 h
AUTUMN_DAY = (datetime(2026, 10, 24, 22, tzinfo=UTC), datetime(2026, 10, 25, 23, tzinfo=UTC))  # 25 h


def test_spring_forward_loses_the_skipped_hour() -> None:
    assert open_seconds(EARLY, *SPRING_DAY) == 2 * 3600
    assert open_minutes(EARLY, *SPRING_DAY) == 2 * 60
    # 01:00 CET is 00:00 UTC; the clock jumps from 02:00 CET to 03:00 CEST; 04:00 CEST is 02:00 UTC.
    assert EARLY.next_open(SPRING_DAY[0]) == datetime(2026, 3, 29, 0, tzinfo=UTC)
    assert EARLY.next_close(datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC)) == datetime(
        2026, 3, 29, 2, tzinfo=UTC
    )


def test_fall_back_opens_the_repeated_hour_twice() -> None:
    assert open_seconds(EARLY, *AUTUMN_DAY) == 4 * 3600
    assert open_minutes(EARLY, *AUTUMN_DAY) == 4 * 60
    # 01:00 CEST is 23:00 UTC the day before; 04:00 CET is 03:00 UTC.
    assert EARLY.next_open(AUTUMN_DAY[0]) == datetime(2026, 10, 24, 23, tzinfo=UTC)
    assert EARLY.next_close(datetime(2026, 10, 24, 23, tzinfo=UTC)) == datetime(2026, 10, 25, 3, tzinfo=UTC)


def test_a_span_starting_in_the_skipped_hour_opens_when_the_clock_jumps() -> None:
    hours = Hours("Europe/Berlin", {"sun": (parse_span("02:30-05:00"),)})
    jump = datetime(2026, 3, 29, 1, tzinfo=UTC)  # 02:00 CET becomes 03:00 CEST
    assert not hours.is_open(jump - timedelta(microseconds=1))
    assert hours.is_open(jump)
    assert hours.next_open(SPRING_DAY[0]) == jump
    assert open_seconds(hours, *SPRING_DAY) == 2 * 3600  # 03:00-05:00 CEST


def test_a_span_inside_the_skipped_hour_does_not_open_that_day() -> None:
    hours = Hours("Europe/Berlin", {"sun": (parse_span("02:00-03:00"),)})
    # The next Sunday instead: 02:00 CEST on 5 April is 00:00 UTC.
    assert hours.next_open(SPRING_DAY[0]) == datetime(2026, 4, 5, 0, tzinfo=UTC)


def test_a_span_inside_the_repeated_hour_opens_again_when_the_clock_goes_back() -> None:
    hours = Hours("Europe/Berlin", {"sun": (parse_span("02:00-02:30"),)})
    first, back = datetime(2026, 10, 25, 0, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC)
    assert hours.next_open(AUTUMN_DAY[0]) == first  # 02:00 CEST
    assert hours.next_close(first) == first + timedelta(minutes=30)
    assert hours.next_open(first + timedelta(minutes=30)) == back  # 03:00 CEST is 02:00 CET again
    assert hours.next_close(back) == back + timedelta(minutes=30)
    assert open_seconds(hours, *AUTUMN_DAY) == 3600


def test_a_span_across_midnight_on_a_change_night() -> None:
    hours = Hours("Europe/Berlin", {"sat": (parse_span("22:00-04:00"),)})
    # Saturday 22:00 CET (21:00 UTC) to Sunday 04:00 CEST (02:00 UTC): 5 real hours, not 6.
    assert (
        open_seconds(hours, datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 3, 30, tzinfo=UTC)) == 5 * 3600
    )
    # Saturday 22:00 CEST (20:00 UTC) to Sunday 04:00 CET (03:00 UTC): 7 real hours.
    assert (
        open_seconds(hours, datetime(2026, 10, 24, tzinfo=UTC), datetime(2026, 10, 26, tzinfo=UTC))
        == 7 * 3600
    )


# ---- next_open and next_close ------------------------------------------------------------
def test_next_open_is_now_when_open() -> None:
    assert CLINICS.next_open(msk(23, 12, 0, 1, 5)) == msk(23, 12, 0, 1, 5)
    assert CLINICS.next_close(msk(23, 20)) == msk(23, 20)  # closed: closed now


def test_next_open_and_close_to_the_second() -> None:
    hours = Hours("Europe/Moscow", {"mon": (parse_span("09:00:30-10:00:15"),)})
    opens = hours.next_open(msk(23, 9, 0, 29, 999_999))  # just before
    assert opens == msk(23, 9, 0, 30)
    assert opens.tzinfo is UTC
    assert hours.next_close(msk(23, 9, 0, 30)) == msk(23, 10, 0, 15)
    assert hours.next_open(msk(23, 10, 0, 15)) == msk(30, 9, 0, 30)  # a week later


def test_next_open_skips_the_weekend_and_holidays() -> None:
    assert CLINICS.next_open(msk(28, 14)) == msk(30, 8)  # Saturday afternoon: Monday morning
    hours = Hours("Europe/Moscow", CLINICS.weekly, frozenset({date(2026, 11, 30), date(2026, 12, 1)}))
    assert hours.next_open(msk(28, 14)) == datetime(2026, 12, 2, 8, tzinfo=MOSCOW)


def test_next_close_joins_spans_that_meet() -> None:
    hours = Hours(
        "Europe/Moscow", {**EVERY_DAY, "wed": (parse_span("00:00-08:00"), parse_span("08:00-12:00"))}
    )
    assert hours.next_close(msk(23, 12)) == msk(25, 12)  # Monday noon: open until Wednesday noon
    overlapping = Hours("Europe/Moscow", {"mon": (parse_span("18:00-02:00"), parse_span("20:00-01:00"))})
    assert overlapping.next_close(msk(23, 21)) == msk(24, 2)


def test_never_open_and_always_open() -> None:
    assert Hours("Europe/Moscow", {}).next_open(msk(23, 12)) is None
    always = Hours("Europe/Berlin", EVERY_DAY)  # across both change days
    assert always.next_close(datetime(2026, 1, 1, tzinfo=UTC)) is None
    # Closed by holidays for more than the search's year: None too.
    year = frozenset(date(2026, 11, 1) + timedelta(days=d) for d in range(400))
    assert Hours("Europe/Moscow", EVERY_DAY, year).next_open(msk(23, 12)) is None
    # A holiday for 300 days: found.
    months = frozenset(date(2026, 11, 1) + timedelta(days=d) for d in range(300))
    assert Hours("Europe/Moscow", EVERY_DAY, months).next_open(msk(23, 12)) == datetime(
        2027, 8, 28, tzinfo=MOSCOW
    )


def test_a_zone_far_from_utc_with_now_in_utc() -> None:
    auckland = Hours("Pacific/Auckland", {"mon": (parse_span("09:00-17:00"),)})  # NZDT, UTC+13, in November
    sunday_noon_utc = datetime(2026, 11, 22, 12, tzinfo=UTC)  # already Monday 01:00 in Auckland
    assert not auckland.is_open(sunday_noon_utc)
    assert auckland.next_open(sunday_noon_utc) == datetime(2026, 11, 22, 20, tzinfo=UTC)
    assert auckland.next_close(datetime(2026, 11, 22, 20, tzinfo=UTC)) == datetime(
        2026, 11, 23, 4, tzinfo=UTC
    )
    los_angeles = Hours("America/Los_Angeles", {"fri": (parse_span("18:00-01:00"),)})  # PST, UTC-8
    friday_evening = datetime(2026, 11, 28, 2, tzinfo=UTC)  # Friday 18:00 in Los Angeles, Saturday in UTC
    assert los_angeles.is_open(friday_evening)
    assert los_angeles.next_close(friday_evening) == datetime(2026, 11, 28, 9, tzinfo=UTC)
    assert los_angeles.next_open(datetime(2026, 11, 28, 9, tzinfo=UTC)) == datetime(
        2026, 12, 5, 2, tzinfo=UTC
    )


def test_next_open_and_close_refuse_a_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CLINICS.next_open(datetime(2026, 11, 23, 12, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        CLINICS.next_close(datetime(2026, 11, 23, 12, 0))


# ---- properties: next_open and next_close agree with is_open -----------------------------
ZONES = ("Europe/Berlin", "Pacific/Auckland", "America/Los_Angeles", "Europe/Moscow", "UTC")
CHANGES = [  # instants near the 2026 daylight-saving changes of ZONES, where mistakes hide
    datetime(2026, 3, 29, 1, tzinfo=UTC),
    datetime(2026, 10, 25, 1, tzinfo=UTC),
    datetime(2026, 4, 4, 14, tzinfo=UTC),
    datetime(2026, 9, 26, 14, tzinfo=UTC),
    datetime(2026, 3, 8, 10, tzinfo=UTC),
    datetime(2026, 11, 1, 9, tzinfo=UTC),
]
clocks = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 59]), st.sampled_from([0, 0, 30]))
spans = st.builds(Span, clocks, clocks).filter(lambda s: s.start != s.end or s.start == time(0))
schedules = st.dictionaries(
    st.sampled_from(DAYS), st.lists(spans, min_size=1, max_size=3).map(tuple), max_size=7
)
instants = st.one_of(
    st.datetimes(datetime(2025, 1, 1), datetime(2028, 12, 31), timezones=st.just(UTC)),
    st.builds(
        lambda change, seconds: change + timedelta(seconds=seconds),
        st.sampled_from(CHANGES),
        st.integers(-2 * 86_400, 2 * 86_400),
    ),
)


def between(since: datetime, until: datetime) -> list[datetime]:
    """Instants strictly between: each minute boundary of the first two days, then each hour's."""
    first_minute = since.replace(second=0, microsecond=0) + timedelta(minutes=1)
    minutes = (first_minute + timedelta(minutes=m) for m in range(2 * 24 * 60))
    hourly = (first_minute + timedelta(hours=h) for h in range(48, 24 * 9))
    sample = [moment for moment in (*minutes, *hourly) if moment < until]
    last = until - timedelta(microseconds=1)
    return [*sample, last] if last > since else sample


@settings(max_examples=200, deadline=None)  # each example checks thousands of instants
@given(st.sampled_from(ZONES), schedules, instants, st.lists(st.integers(-2, 9), max_size=3))
def test_next_open_and_next_close_agree_with_is_open(
    zone: str, weekly: dict[str, tuple[Span, ...]], now: datetime, holidays: list[int]
) -> None:
    near = frozenset(now.date() + timedelta(days=d) for d in holidays)  # a few days away, so they matter
    hours = Hours(zone, weekly, near)
    opens, closes = hours.next_open(now), hours.next_close(now)
    if hours.is_open(now):
        assert opens == now
        assert closes is None or closes > now
    else:
        assert closes == now
        assert opens is None or opens > now
    # From now to the change, nothing changes; at the change, it does.
    change = closes if hours.is_open(now) else opens
    until = change or now + timedelta(days=9)
    assert all(hours.is_open(moment) is hours.is_open(now) for moment in between(now, until))
    if change is not None:
        assert hours.is_open(change) is not hours.is_open(now)
