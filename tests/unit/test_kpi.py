"""The KPI report's figures (core/kpi.py) on a week counted by hand (kpi_data.py
shows the arithmetic), and at the edges: no calls at all, the last minute of a
Sunday, the service-level threshold itself, a call still going."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import timedelta

import pytest

from callrouter.core import kpi
from callrouter.core.hours import DAYS
from callrouter.core.records import Outcome, RepeatKind
from tests.unit import kpi_data as data


def week() -> kpi.Report:
    return kpi.report(data.SCOPE, data.IN_WEEK, data.CALLBACK_STATES, data.NOTIFICATION_STATES)


def figures(group: kpi.GroupFigures) -> tuple[object, ...]:
    return tuple(getattr(group, name) for name in data.TABLE_FIELDS)


def test_overall_figures_are_the_hand_counted_ones() -> None:
    overall = week().overall
    for name, expected in data.OVERALL.items():
        assert getattr(overall, name) == pytest.approx(expected), name
    assert overall.repeats == data.REPEATS
    assert overall.outcomes == data.OUTCOMES
    # 14 offered = 6 answered + 2 abandoned + 1 short + menu, after hours, callback, replaced, overflow
    assert sum(overall.outcomes.values()) == overall.offered


def test_per_line_and_per_topic() -> None:
    report = week()
    assert list(report.lines) == sorted(data.LINES)
    for name, expected in data.LINES.items():
        assert figures(report.lines[name]) == pytest.approx(expected), name
    assert list(report.topics) == ["infection", "operator", "urgent", "(none)"]  # no topic last
    for name, expected in data.TOPICS.items():
        assert figures(report.topics[name]) == pytest.approx(expected), name


def test_load_by_weekday_and_hour_in_the_centres_zone() -> None:
    load = week().load
    assert len(load) == 7 and all(len(row) == 24 for row in load)
    cells = {(day, hour): n for day, row in zip(DAYS, load, strict=True) for hour, n in enumerate(row) if n}
    assert cells == data.LOAD
    assert sum(map(sum, load)) == 14  # every offered call, once


def test_a_call_at_23_59_on_sunday_is_sundays_last_hour() -> None:
    # 23:59 Moscow is 20:59 UTC: the cell is (sun, 23), not (sun, 20), not Monday's.
    late = data.call("late", "ambulance", "05", data.local(6, "23:59:00"), Outcome.MENU_HANGUP)
    assert late.started_at.hour == 20
    load = kpi.report(data.SCOPE, [late]).load
    assert load[6][23] == 1 and sum(map(sum, load)) == 1
    # and one minute later it is Monday 00:00
    early = replace(late, started_at=late.started_at + timedelta(minutes=1))
    assert kpi.report(data.SCOPE, [early]).load[0][0] == 1


def test_service_level_by_hour() -> None:
    by_hour = week().by_hour
    assert len(by_hour) == 24
    shown = {hour: (g.sl1, g.sl2) for hour, g in enumerate(by_hour) if (g.sl1, g.sl2) != (None, None)}
    assert shown == data.BY_HOUR
    assert [h for h, g in enumerate(by_hour) if g.offered] == [8, 9, 10, 11, 12, 14, 15, 16, 23]


def test_wait_distribution() -> None:
    waits = week().waits
    assert len(waits) == data.WAIT_BINS
    assert [w.upto for w in waits][:4] == [5.0, 10.0, 15.0, 20.0] and waits[-1].upto is None
    assert {w.upto: w.total for w in waits if w.total} == data.WAITS
    assert sum(w.total for w in waits) == data.OVERALL["queued"]
    first, ninety = waits[0], waits[7]
    # <=5 s: c8 answered, c4 abandoned; <=90 s: c10 answered (75 s), c17 overflowed (90 s)
    assert first.counts == {"answered": 1, "abandoned": 1, "overflow": 0, "callback": 0}
    assert ninety.counts == {"answered": 1, "abandoned": 0, "overflow": 1, "callback": 0}


def test_callbacks_and_results_are_counted_apart() -> None:
    report = week()
    assert asdict(report.callbacks) == data.CALLBACK_FIGURES
    assert asdict(report.results) == data.RESULTS


def test_no_calls_no_division_by_zero() -> None:
    report = kpi.report(data.SCOPE, [])
    overall = report.overall
    assert (overall.offered, overall.unique_callers, overall.queued, overall.answered) == (0, 0, 0, 0)
    assert overall.asa_seconds is None and overall.aht_seconds is None
    assert overall.sl1 is None and overall.sl2 is None
    assert overall.abandonment is None and overall.short_abandonment is None and overall.repeat_rate is None
    assert (overall.fcr_answered, overall.fcr_called_again, overall.fcr) == (0, 0, None)
    assert report.lines == {} and report.topics == {}
    assert sum(map(sum, report.load)) == 0 and len(report.by_hour) == 24
    assert all(w.total == 0 for w in report.waits)
    assert set(asdict(report.callbacks).values()) == {0}
    assert report.results.received == 0 and report.results.calls == 0


def test_the_threshold_itself_is_within_and_an_abandon_after_it_counts() -> None:
    # answered at exactly 20 s: within (SL1 1/1); abandoned at 20.5 s: after T, so SL2 = 1/(1+1).
    at_t = data.call("t1", "ambulance", "05", data.local(0, "09:00:00"), Outcome.ANSWERED, "urgent", 20, 30)
    late = data.call("t2", "ambulance", "06", data.local(0, "09:05:00"), Outcome.ABANDONED, "urgent", 20.5)
    overall = kpi.report(data.SCOPE, [at_t, late]).overall
    assert (overall.sl1, overall.sl2, overall.abandoned_after) == (1.0, 0.5, 1)


def test_a_call_still_going_is_offered_but_not_queued() -> None:
    going = replace(
        data.call("g", "ambulance", "05", data.local(0, "09:00:00"), Outcome.ANSWERED, "urgent"),
        outcome=None,
        queued_at=data.local(0, "09:00:10"),
    )
    overall = kpi.report(data.SCOPE, [going]).overall
    assert (overall.offered, overall.queued, overall.outcomes) == (1, 0, {"in_progress": 1})


def test_first_contact_resolution_counts_with_the_answered_call() -> None:
    """a1 (central, 09:00) is called again about by r1 (north, 12:00), which comes first
    in the records; a2's person gave up a later place (resumed: another kind, not
    counted); a3 is withheld (left out); r2 is a recent contact of a call before the
    period (not in it: nothing to count). Answered from a number: a1 a2 r1 r2 = 4, called
    again: a1 -> 3/4; central a1 r2 -> 1/2; north a2 r1 -> 2/2; hour 09 a1 a2 -> 1/2."""
    ans, R = Outcome.ANSWERED, RepeatKind
    calls = [
        data.call("r1", data.NORTH, "31", data.local(0, "12:00:00"), ans, "infection", 5, 60,
                  repeat=R.RECENT_CONTACT, repeat_of="a1"),
        data.call("a1", data.CENTRAL, "31", data.local(0, "09:00:00"), ans, "operator", 5, 60),
        data.call("a2", data.NORTH, "32", data.local(0, "09:05:00"), ans, "infection", 5, 60),
        data.call("a3", data.CENTRAL, None, data.local(0, "09:10:00"), ans, "operator", 5, 60),
        data.call("r2", data.CENTRAL, "33", data.local(0, "12:30:00"), ans, "operator", 5, 60,
                  repeat=R.RECENT_CONTACT, repeat_of="before"),
        data.call("r3", data.CENTRAL, "32", data.local(0, "13:00:00"), Outcome.ABANDONED, "operator", 50,
                  repeat=R.RESUMED, repeat_of="a2"),
    ]  # fmt: skip
    report = kpi.report(data.SCOPE, calls)
    fcr = {
        name: (g.fcr_answered, g.fcr_called_again, g.fcr)
        for name, g in [("overall", report.overall), *report.lines.items(), *report.topics.items()]
    }
    assert fcr == {
        "overall": (4, 1, 3 / 4),
        data.CENTRAL: (2, 1, 1 / 2),
        data.NORTH: (2, 0, 1.0),
        "operator": (2, 1, 1 / 2),
        "infection": (2, 0, 1.0),
    }
    assert [(h, g.fcr) for h, g in enumerate(report.by_hour) if g.fcr_answered] == [(9, 0.5), (12, 1.0)]
