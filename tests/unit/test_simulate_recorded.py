"""A scenario from a recorded day (simulate/recorded.py, simulate_records.window):
the records' first calls become per_quarter arrivals, their talk times an
empirical handle drawn as recorded, their abandons the patience and their
logins the shifts, unless a base scenario says otherwise; a range of whole
days is played as its average day; a window of more than one day that is not
whole days, or records with nothing to play, are refused by name."""

from __future__ import annotations

import random
import sys
import tomllib
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from callrouter import simulate_records
from callrouter.core.cover import Logins
from callrouter.core.records import AgentStateRecord
from callrouter.simulate.people import draw
from callrouter.simulate.recorded import MIN_TOPIC_TALKS, Recorded, clock, scenario_data
from callrouter.simulate.scenario import Distribution, ScenarioError, build
from callrouter.store.arrivals import RecordedTraffic

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / "callrouter.example.toml")
AGENTS = frozenset({"agent1", "agent2", "agent3", "agent4"})
DAY = date(2026, 11, 23)
RECORDED = Recorded(
    source="records",
    # 09:00-09:15 4 calls, none 09:15-09:30, 09:30-09:45 2; the ambulance at 23:45
    first_calls={
        ("clinic-central", "appointment_book", "ru"): {36: 4, 38: 2},
        ("ambulance", "urgent", None): {95: 1},
    },
    talk_seconds=[60.0, 120.0, 300.0],
    patience_seconds=140.0,
    logins={"agent1": [(8 * 3600 + 20, 12 * 3600 + 30 * 60 + 40), (13 * 3600, 86_400)], "ghost": [(0, 3600)]},
)


def data(base: dict[str, Any] | None = None, recorded: Recorded = RECORDED) -> dict[str, Any]:
    return scenario_data(recorded, base or {}, CONFIG, DAY, AGENTS)


def test_the_records_become_a_scenario() -> None:
    made = data()
    assert made["arrivals"] == [
        {"line": "ambulance", "topic": "urgent", "start": "23:45", "per_quarter": [1]},
        {"line": "clinic-central", "topic": "appointment_book", "start": "09:00", "per_quarter": [4, 0, 2],
         "language": "ru"},
    ]  # fmt: skip
    assert made["handle"] == {"distribution": "empirical", "samples": [60.0, 120.0, 300.0]}
    assert made["patience"] == {"distribution": "exponential", "mean_seconds": 140.0}
    # to the nearest minute; the agent the config does not know is left out
    assert made["shifts"] == [
        {"agents": ["agent1"], "start": "08:00", "end": "12:31"},
        {"agents": ["agent1"], "start": "13:00", "end": "24:00"},
    ]
    scenario = build(made, "records", ROOT)
    assert scenario.file.handle.mean_seconds == pytest.approx(160)
    assert scenario.shifts == {"agent1": ((8 * 3600, 12 * 3600 + 31 * 60), (13 * 3600, 86_400))}
    central = next(s for s in scenario.streams if s.line == "clinic-central")
    assert central.intervals[1] == (9 * 3600 + 900, 9 * 3600 + 1800, 0.0)


def test_a_topic_with_talks_enough_draws_from_its_own() -> None:
    """Thirty answered calls of a topic make its own talk times; fewer, every topic's."""
    booked = [200.0 + n for n in range(MIN_TOPIC_TALKS)]
    recorded = replace(
        RECORDED,
        talk_seconds=[*booked, 30.0],
        talk_by_topic={"appointment_book": booked, "urgent": [30.0]},
    )
    made = data(recorded=recorded)
    ambulance, central = made["arrivals"]
    assert central["handle"] == {"distribution": "empirical", "samples": booked}
    assert "handle" not in ambulance, "one call is no distribution: the pooled one"
    assert made["handle"]["samples"] == [*booked, 30.0]
    scenario = build(made, "records", ROOT)
    by_line = {s.line: s.handle.mean_seconds for s in scenario.streams}
    assert by_line["clinic-central"] == pytest.approx(200 + (MIN_TOPIC_TALKS - 1) / 2)
    assert by_line["ambulance"] == pytest.approx((sum(booked) + 30) / (MIN_TOPIC_TALKS + 1))


def test_calls_recorded_in_another_language_are_a_stream_that_chooses_it() -> None:
    english = ("clinic-central", "appointment_book", "en")
    made = data(recorded=replace(RECORDED, first_calls={**RECORDED.first_calls, english: {40: 3}}))
    assert [(a["line"], a.get("language")) for a in made["arrivals"]] == [
        ("ambulance", None), ("clinic-central", "en"), ("clinic-central", "ru")
    ]  # fmt: skip
    streams = build(made, "records", ROOT).streams
    assert [s.keys for s in streams if s.line == "clinic-central"] == [("9", "2", "1"), ("2", "1")]


def test_a_base_keeps_its_patience_shifts_and_the_rest() -> None:
    base = tomllib.loads((ROOT / "examples" / "scenario-small.toml").read_text())
    made = data(base)
    assert made["patience"] == base["patience"] and made["shifts"] == base["shifts"]
    assert made["redial"] == base["redial"] and made["config"] == CONFIG and made["date"] == DAY
    assert made["handle"]["distribution"] == "empirical"  # the records', not the base's
    assert build(made, "records", ROOT).file.redial.probability == 0.6


def test_nobody_abandoned_is_infinite_patience() -> None:
    made = data(recorded=Recorded("records", RECORDED.first_calls, [60.0], None, {}))
    assert made["patience"] == {"distribution": "infinite"} and made["shifts"] == []


@pytest.mark.parametrize(
    ("recorded", "problem"),
    [
        (
            Recorded("records", {}, [60.0], None, {}),
            "arrivals: no first call that chose a topic was recorded",
        ),
        (Recorded("records", RECORDED.first_calls, [], None, {}), "handle: no answered call was recorded"),
    ],
)
def test_records_with_nothing_to_play_are_refused(recorded: Recorded, problem: str) -> None:
    with pytest.raises(ScenarioError) as raised:
        data(recorded=recorded)
    assert raised.value.problems[0].startswith(problem)


def test_an_empirical_handle_draws_the_recorded_times_alike() -> None:
    handle = Distribution.model_validate({"distribution": "empirical", "samples": [60, 120, 300]})
    rng = random.Random(1)
    drawn = Counter(draw(rng, handle) for _ in range(3000))
    assert set(drawn) == {60, 120, 300} and min(drawn.values()) > 900


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ({"distribution": "empirical"}, "samples are required"),
        ({"distribution": "empirical", "samples": [60, -1]}, "greater than or equal to 0"),
        ({"distribution": "fixed", "mean_seconds": 60, "samples": [60]}, "samples go with an empirical"),
    ],
)
def test_an_empirical_handle_needs_samples(given: dict[str, Any], problem: str) -> None:
    made = data()
    made["handle"] = given
    with pytest.raises(ScenarioError) as raised:
        build(made, "records", ROOT)
    assert any(p.startswith("handle") and problem in p for p in raised.value.problems), raised.value.problems


def test_clock() -> None:
    assert [clock(0), clock(9 * 3600 + 900), clock(86_400), clock(90_000)] == [
        "00:00",
        "09:15",
        "24:00",
        "24:00",
    ]


def request(start: str, end: str) -> simulate_records.RecordedDay:
    return simulate_records.RecordedDay(
        datetime.fromisoformat(start), datetime.fromisoformat(end), Path(CONFIG)
    )


def test_the_window_is_within_one_day_of_the_centres_clock() -> None:
    span = simulate_records.window(request("2026-11-23T08:00", "2026-11-24T00:00"), "Europe/Moscow")
    assert span.midnight.isoformat() == "2026-11-23T00:00:00+03:00" and span.end.hour == 0
    # an instant given in UTC is put on the centre's clock: 05:00Z is 08:00 in Moscow
    utc = simulate_records.window(
        request("2026-11-23T05:00+00:00", "2026-11-23T06:00+00:00"), "Europe/Moscow"
    )
    assert utc.start.hour == 8 and utc.midnight.day == 23
    for start, end, problem in [
        ("2026-11-23T08:00", "2026-11-24T00:01", "must lie within one day"),
        ("2026-11-23T08:00", "2026-11-23T08:00", "must be before"),
    ]:
        with pytest.raises(ScenarioError) as raised:
            simulate_records.window(request(start, end), "Europe/Moscow")
        assert problem in raised.value.problems[0]


def test_a_range_of_whole_days_is_one_window_a_day() -> None:
    days = simulate_records.windows(request("2026-11-16T00:00", "2026-11-21T00:00"), "Europe/Moscow")
    assert [d.midnight.date().isoformat() for d in days] == [f"2026-11-{n}" for n in range(16, 21)]
    assert all(d.start == d.midnight and d.end - d.start == timedelta(days=1) for d in days)
    one = simulate_records.windows(request("2026-11-23T08:00", "2026-11-23T12:00"), "Europe/Moscow")
    assert len(one) == 1 and one[0].start.hour == 8 and one[0].end.hour == 12, "within a day: as given"
    for start, end, problem in [
        ("2026-11-16T08:00", "2026-11-18T00:00", "make a range of whole days: give both as dates"),
        ("2026-11-23T20:00", "2026-11-24T04:00", "to 2026-11-24T04:00:00+03:00 crosses midnight"),
        ("2026-01-01T00:00", "2026-06-01T00:00", "151 days; a range holds at most 92"),
    ]:
        with pytest.raises(ScenarioError) as raised:
            simulate_records.windows(request(start, end), "Europe/Moscow")
        assert any(problem in p for p in raised.value.problems), raised.value.problems


def test_a_day_the_clocks_change_is_left_out_of_a_range_and_said(capsys: pytest.CaptureFixture[str]) -> None:
    """Berlin's clocks go back on 2026-10-25 (25 hours): its records would land an hour off
    after the change and past the scenario's 24 hours; the range's other days are played."""
    days = simulate_records.windows(request("2026-10-24T00:00", "2026-10-27T00:00"), "Europe/Berlin")
    assert [simulate_records.day_hours(d) for d in days] == [24, 25, 24]
    kept = simulate_records._whole_days(days, sys.stderr, "simulate")
    assert [d.midnight.date().isoformat() for d in kept] == ["2026-10-24", "2026-10-26"]
    assert capsys.readouterr().err == (
        "simulate: note: 2026-10-25 left out of the range: the clocks change that day (25 hours in "
        "Europe/Berlin), and a scenario plays a 24-hour day\n"
    )
    spring = simulate_records.windows(request("2026-03-29T00:00", "2026-03-30T00:00"), "Europe/Berlin")
    assert [simulate_records.day_hours(d) for d in spring] == [23]
    with pytest.raises(ScenarioError, match="--from/--to"):
        simulate_records._whole_days(spring * 2, sys.stderr, "simulate")


def test_days_of_a_range_are_averaged_into_one() -> None:
    """First calls per quarter averaged over the days, talks and abandons pooled, and the
    agents logged in each hour averaged into [staff] (rounded)."""
    days = simulate_records.windows(request("2026-11-23T00:00", "2026-11-25T00:00"), "Europe/Moscow")
    first, second = (
        RecordedTraffic(first_calls={("clinic-central", "appointment_book", None): {36: 4}},
                        talk_seconds=[60.0], talk_by_topic={"appointment_book": [60.0]},
                        abandoned=1, waited_seconds=100.0),
        RecordedTraffic(first_calls={("clinic-central", "appointment_book", None): {36: 2, 37: 1},
                                     ("ambulance", "urgent", None): {95: 1}},
                        talk_seconds=[120.0, 30.0],
                        talk_by_topic={"appointment_book": [120.0], "urgent": [30.0]},
                        abandoned=1, waited_seconds=140.0),
    )  # fmt: skip
    one, two = Logins(days[0].start), Logins(days[1].start)
    one.add(AgentStateRecord("agent1", days[0].start + timedelta(hours=8), "idle", "login"))
    one.add(
        AgentStateRecord("agent1", days[0].start + timedelta(hours=10, minutes=30), "logged_out", "logout")
    )
    two.add(AgentStateRecord("agent1", days[1].start + timedelta(hours=8), "idle", "login"))
    two.add(AgentStateRecord("agent2", days[1].start + timedelta(hours=8), "idle", "login"))
    two.add(AgentStateRecord("agent1", days[1].start + timedelta(hours=9), "logged_out", "logout"))
    two.add(AgentStateRecord("agent2", days[1].start + timedelta(hours=9), "logged_out", "logout"))
    averaged = simulate_records._averaged([(first, one), (second, two)], days)
    assert averaged.first_calls == {
        ("clinic-central", "appointment_book", None): {36: 3.0, 37: 0.5},
        ("ambulance", "urgent", None): {95: 0.5},
    }
    assert averaged.talk_seconds == [60.0, 120.0, 30.0]
    assert averaged.talk_by_topic == {"appointment_book": [60.0, 120.0], "urgent": [30.0]}
    assert averaged.patience_seconds == pytest.approx(240.0 / 2)
    assert averaged.source.endswith("(2 days averaged)") and averaged.logins == {}
    staff = averaged.staff_per_hour
    assert staff is not None and staff[8] == 1.5 and staff[9] == 0.5 and staff[10] == 0.25 and staff[11] == 0
    made = data(recorded=averaged)
    assert made["staff"] == {"start": "00:00", "per_hour": [0] * 8 + [2, 1] + [0] * 14}
    assert "shifts" not in made and made["arrivals"][1]["per_quarter"] == [3.0, 0.5]
    scenario = build(made, averaged.source, ROOT)
    assert scenario.agents_by_hour()[8:11] == [2.0, 1.0, 0.0]
    base = tomllib.loads((ROOT / "examples" / "scenario-small.toml").read_text())
    assert "staff" not in data(base, recorded=averaged), "the base's shifts are kept instead"


def test_weekdays_pick_the_days_of_a_range() -> None:
    weekdays = simulate_records.weekdays
    assert weekdays("mon-fri") == {0, 1, 2, 3, 4} and weekdays("sat,sun") == {5, 6}
    assert weekdays("Friday-mon") == {4, 5, 6, 0}, "a span may wrap past Sunday"
    assert weekdays("tue, thu") == {1, 3} and weekdays("sun-sun") == {6}
    for wrong in ["", "monkey", "mon-", "mon-tue-wed", "1"]:
        with pytest.raises(ValueError, match="not a weekday"):
            weekdays(wrong)
    # Mondays from 2026-10-05 (a Monday) up to 2026-11-30 (excluded): eight of them
    mondays = replace(request("2026-10-05T00:00", "2026-11-30T00:00"), weekdays=frozenset({0}))
    days = simulate_records.windows(mondays, "Europe/Moscow")
    assert [d.midnight.date() for d in days] == [date(2026, 10, 5) + timedelta(weeks=n) for n in range(8)]
    assert all(d.end - d.start == timedelta(days=1) for d in days)
    weekend = replace(request("2026-11-16T00:00", "2026-11-21T00:00"), weekdays=frozenset({5, 6}))
    with pytest.raises(ScenarioError) as raised:
        simulate_records.windows(weekend, "Europe/Moscow")
    assert "no day from 2026-11-16 to 2026-11-21 (excluded) is a sat,sun" in raised.value.problems[0]
    backwards = replace(request("2026-11-30T00:00", "2026-11-23T00:00"), weekdays=frozenset({0}))
    with pytest.raises(ScenarioError) as raised:
        simulate_records.windows(backwards, "Europe/Moscow")
    assert len(raised.value.problems) == 1 and "must be before" in raised.value.problems[0]
    within = replace(request("2026-11-23T08:00", "2026-11-23T12:00"), weekdays=frozenset({0}))
    with pytest.raises(ScenarioError) as raised:
        simulate_records.windows(within, "Europe/Moscow")
    assert "--weekdays goes with a range of whole days" in raised.value.problems[0]


def test_an_average_of_chosen_weekdays_says_which() -> None:
    mondays = replace(request("2026-11-16T00:00", "2026-11-30T00:00"), weekdays=frozenset({0}))
    days = simulate_records.windows(mondays, "Europe/Moscow")
    empty = RecordedTraffic(first_calls={}, talk_seconds=[], talk_by_topic={}, abandoned=0, waited_seconds=0)
    averaged = simulate_records._averaged([(empty, Logins(d.start)) for d in days], days)
    assert averaged.source.endswith("(2 days averaged: mon)"), averaged.source
