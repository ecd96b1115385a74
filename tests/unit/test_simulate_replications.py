"""``callrouter simulate --replications N``: Student's t computed here agrees with
the published tables, an interval is mean ± t·s/√n worked out by hand, and N
replications are exactly N single runs from the seeds seed, seed + 1, …"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from callrouter import cli
from callrouter.simulate import figures, render
from callrouter.simulate.engine import simulate
from callrouter.simulate.replications import FIGURES, interval, intervals, replicate, t_quantile, t_within
from callrouter.simulate.scenario import build

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "examples" / "scenario-small.toml"


@pytest.mark.parametrize(
    ("confidence", "df", "published"),
    [  # two-sided quantiles, as printed in the usual t tables (4 decimals)
        (0.95, 1, 12.7062),
        (0.95, 2, 4.3027),
        (0.95, 4, 2.7764),
        (0.95, 10, 2.2281),
        (0.95, 29, 2.0452),
        (0.95, 30, 2.0423),
        (0.95, 120, 1.9799),
        (0.99, 2, 9.9248),
        (0.99, 15, 2.9467),
        (0.999, 1, 636.6192),
        (0.999, 9, 4.7809),
        (0.999, 19, 3.8834),
        (0.999, 29, 3.6594),
        (0.999, 60, 3.4602),
    ],
)
def test_t_quantiles_agree_with_the_published_table(confidence: float, df: int, published: float) -> None:
    assert t_quantile(confidence, df) == pytest.approx(published, abs=1e-4)


def test_t_tends_to_the_normal_and_its_probability_is_a_probability() -> None:
    # z + (z³ + z)/(4 df) for large df (the first term of Cornish-Fisher), z = 1.959964 the normal's
    assert t_quantile(0.95, 10_000) == pytest.approx(1.959964 + (1.959964**3 + 1.959964) / 40_000, abs=1e-6)
    assert t_within(0.0, 3) == 0.0 and t_within(1e9, 4) == pytest.approx(1.0)
    assert t_within(1.0, 1) == pytest.approx(0.5), "Cauchy: P(|T| <= 1) = 1/2"
    assert t_within(math.sqrt(2), 2) == pytest.approx(1 / math.sqrt(2)), "df = 2: t/√(2 + t²)"
    with pytest.raises(ValueError, match="degrees of freedom"):
        t_within(1.0, 0)


def test_an_interval_worked_out_by_hand() -> None:
    # 1..5: mean 3, s² = (4 + 1 + 0 + 1 + 4)/4 = 2.5, s/√5 = √0.5, t(0.975; 4) = 2.776445
    iv = interval([1, 2, 3, 4, 5])
    assert (iv.mean, iv.n) == (3.0, 5)
    assert iv.half_width == pytest.approx(2.776445 * math.sqrt(0.5), rel=1e-6)
    assert (iv.low, iv.high) == pytest.approx((3 - 1.963243, 3 + 1.963243), abs=1e-6)
    assert iv.covers(1.1) and not iv.covers(1.0)
    # two days, 10 and 14: s = 2√2, s/√2 = 2, t(0.975; 1) = 12.706205
    assert interval([10, 14]).half_width == pytest.approx(25.412409, rel=1e-6)
    assert interval([7.5, 7.5, 7.5]).half_width == 0.0
    with pytest.raises(ValueError, match="at least two"):
        interval([1.0])


def test_an_interval_is_cut_where_the_figure_cannot_go() -> None:
    """Two small days: t with one degree of freedom reaches below 0 and above 100%."""
    runs = [
        replace(ZERO, offered=10, sl2=0.5, calls_per_person=1.0),
        replace(ZERO, offered=100, sl2=1.0, calls_per_person=1.5),
    ]
    found = intervals(runs, 0.95)
    per_person = found["calls_per_person"]
    assert per_person is not None and per_person.low == 1.0, "a person calls at least once"
    offered, sl2 = found["offered"], found["sl2"]
    assert offered is not None and sl2 is not None
    assert offered.low == 0.0 and offered.high == pytest.approx(55 + 12.706205 * 45, rel=1e-6)
    assert (sl2.low, sl2.high) == (0.0, 1.0) and sl2.covers(0.75) and not sl2.covers(1.01)
    assert str(found["people"].low) == "0.0", "never -0.0"  # type: ignore[union-attr]


ZERO = figures.Figures(
    offered=0, people=0, answered=0, abandoned=0, abandonment=None, asa_seconds=None,
    mean_wait_seconds=None, sl1=None, sl2=None, never_served=0, calls_per_person=None, agents=0.0,
    occupancy=None, callbacks_made=0, callbacks_completed=0, outcomes={},
)  # fmt: skip


def small_day(seed: int = 4) -> dict[str, Any]:
    """Two agents, a few hours of bookings on clinic-central: a day of about 60 calls."""
    return {
        "config": "callrouter.example.toml",
        "date": "2026-11-23",
        "seed": seed,
        "handle": {"distribution": "exponential", "mean_seconds": 240},
        "patience": {"distribution": "exponential", "mean_seconds": 90},
        "redial": {"probability": 0.5, "max_attempts": 3},
        "arrivals": [
            {
                "line": "clinic-central",
                "topic": "appointment_book",
                "start": "09:00",
                "per_hour": [20, 25, 15],
            }
        ],
        "shifts": [{"agents": ["agent1", "agent2"], "start": "08:00", "end": "14:00"}],
    }


def test_n_replications_are_n_single_runs_from_consecutive_seeds() -> None:
    summaries, replicated = replicate(build(small_day(), "test", ROOT), 3)
    singles = [figures.summary(simulate(build(small_day(seed), "test", ROOT))) for seed in (4, 5, 6)]
    assert summaries == singles
    assert replicated.seeds == (4, 5, 6) and replicated.confidence == 0.95
    answered = [s.day.answered for s in singles]
    assert len(set(answered)) > 1, "the seeds make different days"
    day = replicated.day["answered"]
    assert day is not None and day.mean == pytest.approx(sum(answered) / 3)
    assert day.half_width == pytest.approx(interval(answered).half_width)
    assert set(replicated.day) == set(FIGURES)
    nine = replicated.hours[9]["offered"]
    assert nine is not None and nine.mean == pytest.approx(sum(s.hours[9].offered for s in singles) / 3)
    assert replicated.hours[3]["asa_seconds"] is None, "nobody answered at 03:00: no interval"


def test_days_run_side_by_side_give_the_figures_of_days_run_one_after_another() -> None:
    scenario = build(small_day(), "test", ROOT)
    alone, replicated_alone = replicate(scenario, 4, workers=1)
    side_by_side, replicated = replicate(scenario, 4, workers=2)
    assert side_by_side == alone and replicated == replicated_alone, "the same days, in seed order"
    assert [s.day.offered for s in alone] == [
        figures.summary(simulate(build(small_day(seed), "test", ROOT))).day.offered for seed in (4, 5, 6, 7)
    ]


def test_the_command_prints_means_and_intervals(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["simulate", str(SMALL), "--replications", "2", "--seed", "7", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["seeds"] == [7, 8] and out["replications"] == 2 and out["confidence"] == 0.95
    offered = out["day"]["offered"]
    assert offered["low"] <= offered["mean"] <= offered["high"] and offered["n"] == 2
    assert set(out["day"]) == set(FIGURES) and len(out["hours"]) == 24
    assert out["day"]["mean_wait_seconds"]["mean"] > 0


def test_the_table_and_too_few_replications(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "day.json").write_text(
        json.dumps({**small_day(), "config": str(ROOT / "callrouter.example.toml")})
    )
    assert cli.main(["simulate", str(tmp_path / "day.json"), "--replications", "2"]) == 0
    table = capsys.readouterr().out
    assert "2 replications, seeds 4..5" in table and "95% interval" in table
    assert "\nmean wait, all (s)  " in table and "\n  10 " in table
    with pytest.raises(SystemExit) as exited:
        cli.main(["simulate", str(SMALL), "--replications", "1"])
    assert exited.value.code == 2
    assert "at least 2" in capsys.readouterr().err


def test_a_figure_only_one_day_has_is_that_days_value_without_an_interval() -> None:
    """Of three days, one answered a call at 03:00: its ASA is the figure, said to be one
    day's (it was dropped as if no day had one)."""
    runs = [replace(ZERO, answered=1, asa_seconds=42.0), ZERO, ZERO]
    found = intervals(runs, 0.95)
    asa = found["asa_seconds"]
    assert asa is not None and asa.mean == 42.0 and asa.n == 1 and not asa.spread
    assert not asa.covers(42.0), "one value makes no interval to cover anything"
    assert found["sl1"] is None, "no day has it"
    assert render.interval_dict(asa) == {"mean": 42.0, "low": None, "high": None, "half_width": None, "n": 1}
    assert render.interval_cell("asa_seconds", asa) == "42.0*"
    assert json.loads(json.dumps(render.interval_dict(asa), allow_nan=False))["mean"] == 42.0
