"""A scenario from a recorded day (simulate/recorded.py, simulate_records.window):
the records' first calls become per_quarter arrivals, their talk times an
empirical handle drawn as recorded, their abandons the patience and their
logins the shifts, unless a base scenario says otherwise; a window of more
than one day, or records with nothing to play, are refused by name."""

from __future__ import annotations

import random
import tomllib
from collections import Counter
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from callrouter import simulate_records
from callrouter.simulate.people import draw
from callrouter.simulate.recorded import MIN_TOPIC_TALKS, Recorded, clock, scenario_data
from callrouter.simulate.scenario import Distribution, ScenarioError, build

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / "callrouter.example.toml")
AGENTS = frozenset({"agent1", "agent2", "agent3", "agent4"})
DAY = date(2026, 11, 23)
RECORDED = Recorded(
    source="records",
    # 09:00-09:15 4 calls, none 09:15-09:30, 09:30-09:45 2; the ambulance at 23:45
    first_calls={("clinic-central", "appointment_book"): {36: 4, 38: 2}, ("ambulance", "urgent"): {95: 1}},
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
        {"line": "clinic-central", "topic": "appointment_book", "start": "09:00", "per_quarter": [4, 0, 2]},
    ]
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
        ({"distribution": "empirical", "samples": [60, -1]}, "samples must lie between 0"),
        ({"distribution": "fixed", "mean_seconds": 60, "samples": [60]}, "samples go with an empirical"),
    ],
)
def test_an_empirical_handle_needs_samples(given: dict[str, Any], problem: str) -> None:
    made = data()
    made["handle"] = given
    with pytest.raises(ScenarioError) as raised:
        build(made, "records", ROOT)
    assert any(p.startswith("handle: ") and problem in p for p in raised.value.problems), (
        raised.value.problems
    )


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
