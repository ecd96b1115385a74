"""``[staff]``: all-round agents by the hour, the form ``callrouter staffing`` and
``--compare separate-lines`` put their staffing in."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from callrouter.simulate import figures
from callrouter.simulate.engine import simulate
from callrouter.simulate.scenario import ScenarioError, build, load_scenario
from callrouter.simulate.staff import Staff, shifts_of

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "examples" / "scenario-small.toml"
H = 3600


def small(**staff: Any) -> dict[str, Any]:
    data = tomllib.loads(SMALL.read_text())
    data["config"] = "callrouter.example.toml"
    if staff:
        data["staff"] = staff
    return data


def test_agent_i_works_the_hours_that_have_more_than_i_agents() -> None:
    staff = Staff(start="07:00", per_hour=[1, 3, 2, 0, 2])
    assert staff.by_hour()[6:13] == [0, 1, 3, 2, 0, 2, 0]
    assert shifts_of(staff) == {
        "staff-001": ((7 * H, 10 * H), (11 * H, 12 * H)),
        "staff-002": ((8 * H, 10 * H), (11 * H, 12 * H)),
        "staff-003": ((8 * H, 9 * H),),
    }


def test_staff_agents_take_every_topic_in_every_language_besides_the_named_shifts() -> None:
    scenario = build(small(start="08:00", per_hour=[2, 3]), "s.toml", ROOT)
    agents = scenario.board().centre.agents
    assert {"staff-001", "staff-002", "staff-003", "agent1", "agent4"} <= set(agents)
    assert agents["staff-003"].topics == frozenset(scenario.settings.file.topics)
    assert agents["staff-003"].languages == frozenset({"ru", "en"})
    assert scenario.shifts["staff-003"] == ((9 * H, 10 * H),)
    assert scenario.shifts["agent1"] == ((8 * H, 20 * H),), "the named shifts stay"
    by_hour = scenario.agents_by_hour()
    assert by_hour[8] == 2 + 2 + 2 and by_hour[9] == 3 + 2 + 2 and by_hour[3] == 2


def test_with_staff_replaces_the_staff_and_keeps_the_rest() -> None:
    scenario = build(small(start="08:00", per_hour=[4]), "s.toml", ROOT)
    fewer = scenario.with_staff(Staff(start="10:00", per_hour=[1]))
    assert [a for a in fewer.shifts if a.startswith("staff-")] == ["staff-001"]
    assert fewer.shifts["staff-001"] == ((10 * H, 11 * H),)
    assert len(fewer.settings.file.agents) == 5 and fewer.file.staff == Staff(start="10:00", per_hour=[1])
    none = scenario.with_staff(None)
    assert not any(a.startswith("staff-") for a in none.board().centre.agents)


def test_bad_staff_keys_are_named_by_their_path() -> None:
    for staff, problem in (
        ({"start": "08:30", "per_hour": [1]}, "staff.start: a whole hour as HH:00 (08:00), not '08:30'"),
        ({"start": "20:00", "per_hour": [1] * 5}, "staff.per_hour: 5 hours from 20:00 run past midnight"),
        ({"per_hour": [1, -1]}, "staff.per_hour: agents per hour must lie in 0..5000"),
        ({"per_hour": [1], "topics": ["nope"]}, "staff.topics: no topic 'nope' in the config"),
        ({"per_hours": [1]}, "staff.per_hours: Extra inputs are not permitted"),
        ({"per_hour": [1, True]}, "staff.per_hour[1]: Input should be a valid integer"),
        ({"per_hour": [2.5]}, "staff.per_hour[0]: Input should be a valid integer"),
        (
            {"per_hour": [1], "languages": ["xx"]},
            "staff.languages: no caller speaks 'xx' (the lines' and the",
        ),
    ):
        with pytest.raises(ScenarioError) as raised:
            build(small(**staff), "bad.toml", ROOT)
        assert any(p.startswith(problem) for p in raised.value.problems), (problem, raised.value.problems)


def test_more_staff_answer_more_of_the_same_callers() -> None:
    base = build(small(), "s.toml", ROOT).with_staff(None)
    few = figures.summary(simulate(base.with_staff(Staff(start="08:00", per_hour=[0] * 12)))).day
    many = figures.summary(simulate(base.with_staff(Staff(start="08:00", per_hour=[4] * 12)))).day
    assert many.offered <= few.offered, "fewer lost callers: fewer redials"
    assert many.people == few.people, "the same people call"
    assert many.answered > few.answered and (many.abandonment or 0) < (few.abandonment or 0)


def test_the_regional_example_is_a_busy_weekday_on_staff_alone() -> None:
    scenario = load_scenario(ROOT / "examples" / "scenario-regional.toml")
    first_calls = sum(rate * (end - start) for s in scenario.streams for start, end, rate in s.intervals)
    assert round(first_calls) == 30_176 and len({s.line for s in scenario.streams}) == 15
    assert set(scenario.shifts) == {f"staff-{i:03d}" for i in range(1, 131)}, "the config's agents stay out"
    planned = scenario.agents_by_hour()
    assert planned[3] == 6 and planned[9] == 130 and sum(planned) == 7 * 6 + 15 + 12 * 130 + 4 * 10
