"""``callrouter simulate --compare separate-lines``: separate lines, one queue, and
one queue with keep-your-place and callbacks see the same people with the same
agent-hours; unifying two unequally loaded lines lowers abandonment."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any

import pytest

from callrouter import cli
from callrouter.core.records import RepeatKind
from callrouter.simulate import compare, compare_render, figures
from callrouter.simulate.scenario import Scenario, build

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "examples" / "scenario-small.toml"


def small() -> Scenario:
    data = tomllib.loads(SMALL.read_text())
    data["config"] = "callrouter.example.toml"
    return build(data, "small.toml", ROOT)


def two_lines(seed: int = 3, **changes: Any) -> Scenario:
    """A busy clinic (60 calls an hour) and a quiet one (10) for four hours, four
    all-round agents: separately, 3 and 1 of them."""
    data: dict[str, Any] = {
        "config": "callrouter.example.toml",
        "date": "2026-11-23",
        "seed": seed,
        "handle": {"distribution": "exponential", "mean_seconds": 150},
        "patience": {"distribution": "exponential", "mean_seconds": 120},
        "arrivals": [
            {"line": "clinic-central", "topic": "appointment_book", "start": "09:00", "per_hour": [60] * 4},
            {"line": "clinic-north", "topic": "results", "start": "09:00", "per_hour": [10] * 4},
        ],
        "staff": {"start": "09:00", "per_hour": [4] * 4},
        **changes,
    }
    return build(data, "two-lines.toml", ROOT)


@pytest.fixture(scope="module")
def small_days() -> dict[str, Any]:
    return compare.days(small())


def test_the_three_set_ups_see_the_same_people(small_days: dict[str, Any]) -> None:
    first = {key: compare.first_calls_of(day) for key, day in small_days.items()}
    assert set(first) == set(compare.SETUPS)
    assert len(first["unified"]) > 300
    assert first["separate_lines"] == first["one_queue"] == first["unified"]
    # ... and each person's first call is the first record on their line in every set-up
    numbers = {key: sorted(c.caller_number or "" for c in day.calls) for key, day in small_days.items()}
    assert set(numbers["separate_lines"]) == set(numbers["one_queue"]) == set(numbers["unified"])


def test_separate_lines_share_out_exactly_the_scenarios_agent_hours(small_days: dict[str, Any]) -> None:
    scenario = small()
    split = compare.split_agents(scenario)
    assert set(split) == {"clinic-central", "clinic-north", "hotline-health", "ambulance"}
    for hour, logged_in in enumerate(scenario.agents_by_hour()):
        assert sum(agents[hour] for agents in split.values()) == round(logged_in)
    # the busiest clinic has the most agents while the clinics are open; the ambulance one at least
    assert split["clinic-central"][8] >= split["clinic-north"][8] and split["ambulance"][8] >= 1
    assert split["ambulance"][3] == 2 and split["clinic-central"][3] == 0  # 03:00: only ambulance calls
    logged = {
        key: sum(r.agent.endswith(("staff-001",)) for r in day.agent_states)
        for key, day in small_days.items()
    }
    assert logged["separate_lines"] > 0 and logged["one_queue"] == 0  # separate lines: all-round staff
    summary = {key: figures.summary(day).day for key, day in small_days.items()}
    planned = sum(sum(agents) for agents in split.values())
    for key in compare.SETUPS:  # measured: an agent still on a call at the shift's end stays a little longer
        assert summary[key].agents * 24 == pytest.approx(planned, abs=0.5), key


def test_largest_remainder_with_at_least_one_agent_for_every_line_with_calls() -> None:
    assert compare.largest_remainder(4, {"a": 20, "b": 6, "c": 1}) == {"a": 2, "b": 1, "c": 1}
    assert compare.largest_remainder(10, {"a": 5, "b": 3, "c": 2}) == {"a": 5, "b": 3, "c": 2}
    assert compare.largest_remainder(3, {"a": 1, "b": 1, "c": 0}) == {"a": 2, "b": 1, "c": 0}
    assert compare.largest_remainder(1, {"a": 1, "b": 9}) == {"a": 0, "b": 1}  # fewer agents than lines
    assert compare.largest_remainder(0, {"a": 1}) == {"a": 0}
    for n in range(12):
        seats = compare.largest_remainder(n, {"a": 13.5, "b": 2.25, "c": 0.4, "d": 0})
        assert sum(seats.values()) == n and seats["d"] == 0
        assert n < 3 or min(seats["a"], seats["b"], seats["c"]) >= 1


def test_a_closed_line_gets_no_agents_of_its_own() -> None:
    """A Saturday: clinic-central opens 09:00-15:00; its callers before and after hear the
    after-hours message and load no agent, so every agent of those hours is the hotline's."""
    arrivals = [
        {"line": "clinic-central", "topic": "operator", "start": "08:00", "per_hour": [20] * 12},
        {"line": "hotline-health", "topic": "operator", "start": "08:00", "per_hour": [20] * 12},
    ]
    saturday = two_lines(date="2026-11-28", arrivals=arrivals, staff={"start": "08:00", "per_hour": [4] * 12})
    split = compare.split_agents(saturday)
    closed = [8, 15, 16, 17, 18, 19]
    assert [split["clinic-central"][h] for h in closed] == [0] * 6
    assert [split["hotline-health"][h] for h in closed] == [4] * 6
    assert [split["clinic-central"][h] for h in range(9, 15)] == [2] * 6


def test_one_queue_abandons_fewer_than_separate_lines() -> None:
    comparison = compare.compare(two_lines())
    assert comparison.same_people and comparison.specialists == []
    assert comparison.agents_by_line == {
        "clinic-central": [0] * 9 + [3] * 4 + [0] * 11,
        "clinic-north": [0] * 9 + [1] * 4 + [0] * 11,
    }
    separate, one = (comparison.summaries[key].day for key in ("separate_lines", "one_queue"))
    assert separate.abandonment is not None and one.abandonment is not None
    assert one.abandonment < separate.abandonment - 0.03
    assert one.never_served < separate.never_served
    assert separate.people == one.people


def test_keep_your_place_off_means_no_resumed_place_and_no_callback(small_days: dict[str, Any]) -> None:
    for key in ("separate_lines", "one_queue"):
        kinds = {call.repeat_kind for call in small_days[key].calls}
        assert kinds == {None}, key
        assert small_days[key].callbacks == {} and small_days[key].dials == []
    unified = small_days["unified"]
    assert any(call.repeat_kind is RepeatKind.RESUMED for call in unified.calls)
    assert unified.dials, "the scenario as configured offers callbacks and people take them"
    file = compare.keep_your_place_off(small().settings).file
    assert file.repeat.resume_seconds == 0 and file.callback.offer_after_seconds is None
    assert all(topic.callback_offer_after_seconds is None for topic in file.topics.values())


def test_the_lines_days_merge_without_colliding_ids(small_days: dict[str, Any]) -> None:
    day = small_days["separate_lines"]
    channels = [call.channel_id for call in day.calls]
    assert len(channels) == len(set(channels)) and all("/" in c for c in channels)
    assert {c.split("/")[0] for c in channels} == {
        "clinic-central",
        "clinic-north",
        "hotline-health",
        "ambulance",
    }
    assert all(call.channel_id.split("/")[0] == call.line for call in day.calls)
    assert {r.agent.split("/")[0] for r in day.agent_states} >= {"clinic-central", "ambulance"}
    records = {call.channel_id for call in day.calls}
    assert all(c in records for person in day.people for c in person.calls)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert cli.main(["simulate", str(SMALL), "--compare", "separate-lines", *args]) == 0
    return capsys.readouterr().out


def test_the_command_prints_the_three_set_ups_side_by_side(capsys: pytest.CaptureFixture[str]) -> None:
    table = run_cli(capsys)
    assert "the same people (the same first calls) and 68 agent-hours in each set-up" in table
    head = next(line for line in table.splitlines() if line.startswith("the day"))
    assert head.split("  ")[-1].strip() == "one queue + keep-your-place + callbacks"
    assert "separate lines" in head and "one queue" in head
    for label in ("offered", "abandonment", "ASA", "mean wait", "SL1", "never served", "callbacks"):
        assert any(line.startswith(label) for line in table.splitlines()), label
    data = json.loads(run_cli(capsys, "--format", "json"))
    assert list(data["setups"]) == list(compare.SETUPS) and data["same_people"] is True
    assert data["switched_off"]["keys"]["repeat.resume_seconds"].startswith("0")
    for setup in data["setups"].values():
        assert (
            len(setup["hours"]) == 24 and setup["day"]["people"] == data["setups"]["unified"]["day"]["people"]
        )
        assert sum(h["offered"] for h in setup["hours"]) == setup["day"]["offered"]


def test_replications_give_each_set_up_its_intervals() -> None:
    comparison = compare.compare(two_lines(), replications=2)
    data = json.loads(compare_render.render(comparison, "json"))
    assert data["seeds"] == [3, 4] and data["replications"] == 2
    for setup in data["setups"].values():
        people = setup["day"]["people"]
        assert people["n"] == 2 and people["low"] <= people["mean"] <= people["high"]
        assert math.isclose(setup["day"]["agents"]["mean"] * 24, 16, abs_tol=0.5)
    table = compare_render.render(comparison, "table")
    assert "2 replications, seeds 3..4" in table and "±" in table


def test_the_days_played_side_by_side_give_the_figures_played_one_after_another() -> None:
    """Each set-up's day and each separate line's in worker processes: the same figures
    as the days played here, one after another (``compare.days``), seed for seed."""
    scenario = two_lines()
    here = compare.compare(scenario, replications=2, workers=1)
    side_by_side = compare.compare(scenario, replications=2, workers=2)
    assert side_by_side.summaries == here.summaries and side_by_side.replicated == here.replicated
    assert side_by_side.same_people and here.same_people
    played = {key: figures.summary(day) for key, day in compare.days(scenario).items()}
    assert here.summaries == played
