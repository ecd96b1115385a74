"""Staff cover (core/cover.py): agents planned from their state records, the
offered load, the patience estimate and agents needed by Erlang A, per hour of
the centre's day; and the hours of a wall clock that changes."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callrouter import report
from callrouter.core import kpi
from callrouter.core.cover import Cover, CoverTally, seconds_by_hour
from callrouter.core.erlang import agents_for
from callrouter.core.records import Outcome
from tests.unit.cover_data import CALLS, SCOPE, START, STATES, ZONE, at


def cover(until: datetime | None = None) -> Cover:
    report = kpi.report(SCOPE, CALLS, agent_states=STATES, until=until or SCOPE.end)
    assert report.cover is not None
    return report.cover


def test_agents_planned_are_the_mean_logged_in_per_hour() -> None:
    hours = cover().hours
    assert [hours[h].planned for h in range(8)] == [1.0] * 8  # logged in before the day began
    assert hours[9].planned == pytest.approx(1.5)  # agent1 all hour, agent2 from 09:30
    assert hours[10].planned == pytest.approx(1.5)  # agent1 to 10:30, agent2 all hour
    assert hours[11].planned == 0.0 and hours[23].planned == 0.0
    assert all(h.hours == 1.0 for h in hours)


def test_offered_load_patience_and_agents_needed_by_erlang_a() -> None:
    figures = cover()
    assert figures.abandoned == 10 and figures.waited_seconds == pytest.approx(1100)
    assert figures.patience_seconds == pytest.approx(110)
    nine, ten = figures.hours[9], figures.hours[10]
    assert (nine.queued, nine.arrivals_per_hour, nine.handle_seconds) == (60, 60, 180)
    assert nine.load_erlangs == pytest.approx(3.0)
    assert nine.needed == agents_for(0.8, 20, 60 / 3600, 1 / 180, 1 / 110, definition="sl2")
    assert nine.needed is not None and nine.needed > 3
    # no call answered in 10:00: the period's mean talk (170 s) stands in
    assert (ten.queued, ten.handle_seconds) == (10, 180)
    assert ten.needed == agents_for(0.8, 20, 10 / 3600, 1 / 180, 1 / 110, definition="sl2")
    # a menu hang-up is no queued call: the hour needs nobody
    assert figures.hours[12].queued == 0 and figures.hours[12].needed == 0


def test_nobody_abandoned_is_infinite_patience_and_erlang_c() -> None:
    answered = [c for c in CALLS if c.outcome is Outcome.ANSWERED]
    report = kpi.report(SCOPE, answered, until=SCOPE.end)
    assert report.cover is not None and report.cover.patience_seconds is None
    assert report.cover.hours[9].needed == agents_for(0.8, 20, 60 / 3600, 1 / 180, 0.0, definition="sl2")


def test_hours_not_reached_yet_are_not_covered() -> None:
    figures = cover(until=at("10:30:00"))
    assert figures.hours[10].hours == pytest.approx(0.5)
    assert figures.hours[10].planned == pytest.approx(2.0)  # both, all the half hour covered
    assert figures.hours[10].arrivals_per_hour == pytest.approx(20)  # 10 calls in half an hour
    assert figures.hours[11].planned is None and figures.hours[11].needed is None


def test_a_target_of_100_percent_needs_no_finite_number() -> None:
    tally = CoverTally(START, ZONE, 20.0, 1.0)
    for call in CALLS:
        tally.add_call(call)
    assert tally.figures(SCOPE.end).hours[9].needed is None


def test_no_cover_unless_asked_for() -> None:
    assert kpi.report(SCOPE, CALLS).cover is None


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "since", "until", "expected"),
    [
        # Moscow, no daylight saving: 08:30 to 10:15
        ("Europe/Moscow", "2026-11-23T05:30", "2026-11-23T07:15", [(8, 1800), (9, 3600), (10, 900)]),
        # half-hour offset: 03:00 UTC is 08:30 in Kolkata
        ("Asia/Kolkata", "2026-11-23T03:00", "2026-11-23T04:00", [(8, 1800), (9, 1800)]),
        # Berlin springs forward at 02:00 CET (01:00 UTC): 01:30 CET, then 03:00 CEST
        ("Europe/Berlin", "2026-03-29T00:30", "2026-03-29T02:30", [(1, 1800), (3, 3600), (4, 1800)]),
        # and falls back at 03:00 CEST (01:00 UTC): the hour 02 twice over
        ("Europe/Berlin", "2026-10-25T00:00", "2026-10-25T02:00", [(2, 7200)]),
        # Lord Howe: daylight saving of half an hour (02:00 +10:30 is 02:30 +11 on 2026-10-04)
        ("Australia/Lord_Howe", "2026-10-03T15:00", "2026-10-03T16:00", [(1, 1800), (2, 1800)]),
    ],
)
def test_seconds_by_hour_of_the_wall_clock(
    zone: str, since: str, until: str, expected: list[tuple[int, float]]
) -> None:
    assert list(seconds_by_hour(ZoneInfo(zone), utc(since), utc(until))) == expected


@pytest.mark.parametrize(("day", "hours", "hour_2"), [("2026-10-25", 25, 7200), ("2026-03-29", 23, None)])
def test_a_day_given_on_the_zones_own_clock_counts_every_real_second(
    day: str, hours: int, hour_2: float | None
) -> None:
    """The report gives its days as the zone's own midnights: a time of the zone adds on its
    wall clock, and the day the clocks go back counted 24 hours (its 02:00 hour once)."""
    zone = ZoneInfo("Europe/Berlin")
    start = datetime.fromisoformat(day).replace(tzinfo=zone)
    end = (start + timedelta(days=1)).replace(tzinfo=zone)
    found = dict(seconds_by_hour(zone, start, end))
    assert sum(found.values()) == hours * 3600
    assert found.get(2) == hour_2
    tally = CoverTally(start, "Europe/Berlin", 20, 0.8)
    cover = tally.figures(end)
    assert sum(h.hours for h in cover.hours) == hours


def test_every_format_shows_planned_vs_needed() -> None:
    day = kpi.report(SCOPE, CALLS, agent_states=STATES, until=SCOPE.end)
    needed = agents_for(0.8, 20, 60 / 3600, 1 / 180, 1 / 110, definition="sl2")
    table = report.render(day, "table")
    assert "agents planned vs needed by hour of the day (Europe/Moscow; mean patience 1:50" in table
    cover = table.split("agents planned vs needed")[1].splitlines()
    row = next(line for line in cover if line.startswith("  09  "))
    assert row.split() == [
        "09",
        "1.00",
        "60",
        "60.0",
        "3:00",
        "3.00",
        "1.5",
        str(needed),
        f"{1.5 - needed:+.1f}",
    ]
    quiet = next(line for line in cover if line.startswith("  03  "))
    assert quiet.split() == ["03", "1.00", "0", "0.0", "—", "0.00", "1.0", "0", "+1.0"]
    assert "needed" in table.split("definitions")[1]
    figures = json.loads(report.render(day, "json"))["cover"]
    assert figures["patience_seconds"] == 110 and figures["model"] == "erlang_a"
    assert figures["hours"][9]["needed"] == needed and figures["hours"][9]["planned"] == 1.5
    assert "needed" in json.loads(report.render(day, "json"))["definitions"]
    written = csv.DictReader(io.StringIO(report.render(day, "csv")))
    rows = {(r["name"], r["figure"]): r["value"] for r in written if r["section"] == "cover"}
    assert rows["09", "needed"] == str(needed) and rows["", "patience_seconds"] == "110.0"
    assert rows["11", "needed"] == "0" and rows["09", "load_erlangs"] == "3.0"
    page = report.render(day, "html")
    assert '<table data-table="cover">' in page
    assert '<tr data-row="09" class="short"><td>09:00</td>' in page  # 1.5 planned, fewer than needed
    rows_shown = page.split('data-table="cover"')[1].split("</table>")[0].count("<tr data-row=")
    assert rows_shown == 11  # 00-10: agents logged in or calls queued; not the empty hours


def test_a_report_without_cover_leaves_it_out() -> None:
    day = kpi.report(SCOPE, CALLS)
    assert "planned vs needed" not in report.render(day, "table")
    assert "cover" not in json.loads(report.render(day, "json"))
    assert 'data-table="cover"' not in report.render(day, "html")
