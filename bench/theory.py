"""``callrouter simulate`` held against queueing theory: for steady Poisson load
with exponential handle times and exponential patience, one topic, FIFO, no
redials and no callbacks, the M/M/c+M model is exact, and ``core.erlang.erlang_a``
computes it exactly. Each case runs R simulated days (seeds 1..R, fixed here once,
never picked) of the same λ, μ, θ and c, and prints side by side the exact value
and the simulated mean with its 99.9% interval (Student's t over the days) of
P(abandon), the mean wait of all callers, SL1 (T = 20 s) and the occupancy,
each marked inside or outside. Exit 1 if any is outside.

    python -m bench.theory [--quick] [--jobs N]

What makes the simulation M/M/c+M (nothing is corrected afterwards):
- the callers dial the example config's ambulance line, which skips the menu:
  the call joins the queue of the one topic (urgent) the moment it is answered,
  so no prompt or key time comes before the wait; its greeting and the queue's
  announcements play while the caller waits and hold nothing up (an agent's
  answer stops them);
- the scenario's ``timing`` is all 0 s: the agent's phone is answered the moment
  it rings, so the wait ends when an agent is free, and the agent's busy time is
  the talk alone;
- the config is the example's with ``wrap_up_seconds = 0`` (an agent is free the
  moment a call ends), no callback offer, and c all-round agents logged in all day;
- handle time and patience exponential (patience is drawn when the caller joins
  the queue), redial probability 0 (each caller calls once);
- the system starts empty at midnight: the first hour is a warm-up, discarded;
  the figures are those of the calls that arrived in the hours after it
  (``simulate.figures.window``: the KPI report's own tally, as ``callrouter
  simulate`` prints them). Short abandons count as abandoned, as in the model.
  Arrivals stop at the end of those hours: in a FIFO queue no later caller
  changes what happens to an earlier one, and the agents stay logged in until
  midnight, hours after the last wait ends.
So the model's service time 1/μ is the scenario's mean handle time (the talk),
its patience 1/θ the scenario's mean patience, λ the arrivals per hour / 3600.

The full run (8 cases, about 785,000 calls) takes about 4 minutes with
``--jobs 2`` on the 2-core dev machine (about 2,000 calls simulated a second a core).

``--quick``: three cases, fewer days (about 20 s), for a unit or packaging test.
``--jobs N``: N processes (the days are independent).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.simulate import agent_id
from bench.simulate import config_text as example_with_agents
from callrouter.core.erlang import QueueFigures, erlang_a
from callrouter.simulate import figures
from callrouter.simulate.engine import simulate
from callrouter.simulate.replications import Interval, interval
from callrouter.simulate.scenario import build

CONFIDENCE = 0.999
THRESHOLD = 20.0  # the example config's [queue] service_level_seconds (checked)
WARM_UP_HOURS = 1
LINE, TOPIC = "ambulance", "urgent"  # the example's line that skips the menu, and its topic
FIRST_SEED = 1  # day r of every case: seed FIRST_SEED + r


@dataclass(frozen=True)
class Case:
    name: str
    agents: int  # c
    per_hour: float  # λ, first calls an hour
    handle_seconds: float  # 1/μ
    patience_seconds: float  # 1/θ
    days: int  # replications
    hours: int  # each day's steady hours, after the warm-up

    @property
    def load(self) -> float:
        """Offered load A = λ/μ in erlangs."""
        return self.per_hour * self.handle_seconds / 3600

    def exact(self) -> QueueFigures:
        return erlang_a(
            self.agents, self.per_hour / 3600, 1 / self.handle_seconds, 1 / self.patience_seconds, THRESHOLD
        )


# Small centres: 40 days of 22 steady hours (1,300-2,600 calls a day); large ones: 20 days
# of 6 hours (5,000-6,600 calls a day).
CASES = (
    Case("light load, small centre", 5, 60, 180, 120, days=40, hours=22),
    Case("heavy load, small centre", 5, 92, 180, 180, days=40, hours=22),
    Case("overload, small centre, short patience", 5, 120, 180, 60, days=40, hours=22),
    Case("heavy load, small centre, long patience", 5, 96, 180, 900, days=40, hours=22),
    Case("light load, large centre", 50, 800, 180, 120, days=20, hours=6),
    Case("heavy load, large centre", 50, 960, 180, 180, days=20, hours=6),
    Case("overload, large centre, long patience", 50, 1100, 180, 600, days=20, hours=6),
    Case("heavy load, large centre, short patience", 50, 980, 180, 30, days=20, hours=6),
)
QUICK = (
    Case("light load, small centre", 5, 60, 180, 120, days=12, hours=12),
    Case("overload, small centre, short patience", 5, 120, 180, 60, days=12, hours=12),
    Case("heavy load, large centre", 50, 960, 180, 180, days=6, hours=2),
)
FIGURES = (  # (name in simulate's figures, label, name in erlang's QueueFigures)
    ("abandonment", "P(abandon)", "p_abandon"),
    ("mean_wait_seconds", "mean wait, all (s)", "mean_wait"),
    ("sl1", f"SL1 ({THRESHOLD:g} s)", "sl1"),
    ("occupancy", "occupancy", "occupancy"),
)


def config_text(agents: int) -> str:
    """The example config with ``agents`` all-round agents, no wrap-up and no callback offer."""
    text = example_with_agents(agents)
    for old, new in (
        ("wrap_up_seconds = 10 ", "wrap_up_seconds = 0 "),
        ("offer_after_seconds = 300 ", "# offer_after_seconds: never offered "),
    ):
        if old not in text:
            raise RuntimeError(f"the example config changed: no {old.strip()!r} to replace")
        text = text.replace(old, new, 1)
    return text


def scenario_data(case: Case, seed: int) -> dict[str, Any]:
    return {
        "config": f"agents-{case.agents}.toml",
        "date": "2026-11-23",
        "seed": seed,
        "timing": {"prompt_seconds": 0, "key_seconds": 0, "agent_answer_seconds": 0},
        "handle": {"distribution": "exponential", "mean_seconds": case.handle_seconds},
        "patience": {"distribution": "exponential", "mean_seconds": case.patience_seconds},
        "redial": {"probability": 0},
        "callback": {"accept_probability": 0},
        "arrivals": [
            {
                "line": LINE,
                "topic": TOPIC,
                "start": "00:00",
                "per_hour": [case.per_hour] * (WARM_UP_HOURS + case.hours),
            }
        ],
        "shifts": [{"agents": [agent_id(i) for i in range(case.agents)], "start": "00:00", "end": "24:00"}],
    }


def one_day(case: Case, seed: int, folder: str) -> tuple[list[float | None], int]:
    """The steady hours' figures of one simulated day (FIGURES' order), and its calls."""
    scenario = build(scenario_data(case, seed), f"theory: {case.name}", Path(folder))
    if scenario.settings.file.queue.service_level_seconds != THRESHOLD:
        raise RuntimeError("the example config's service_level_seconds is no longer the T of this bench")
    window = figures.window(simulate(scenario), WARM_UP_HOURS, WARM_UP_HOURS + case.hours)
    return [getattr(window, name) for name, _, _ in FIGURES], window.offered


def run(cases: tuple[Case, ...], jobs: int) -> bool:
    started = time.perf_counter()
    print(
        "bench/theory: callrouter simulate against Erlang A (M/M/c+M, exact): Poisson arrivals,\n"
        "exponential handle times and patience, one topic (a line without a menu), FIFO, no redials,\n"
        "no callbacks; ring, wrap-up and prompts 0 s (see the docstring). Each case: days from seeds "
        f"{FIRST_SEED}..,\na {WARM_UP_HOURS} h warm-up discarded; simulated: the mean over the days and "
        f"its {100 * CONFIDENCE:g}% interval\n(Student's t); ±: the interval's half-width / its mean."
    )
    inside_all = True
    # Day r of every case from seed FIRST_SEED + r: fixed once, never chosen to pass.
    with tempfile.TemporaryDirectory() as folder, ProcessPoolExecutor(jobs) as pool:
        for agents in sorted({case.agents for case in cases}):
            (Path(folder) / f"agents-{agents}.toml").write_text(config_text(agents))
        for case in cases:
            seeds = range(FIRST_SEED, FIRST_SEED + case.days)
            days = list(pool.map(one_day, [case] * case.days, seeds, [folder] * case.days))
            inside_all &= report(case, days)
    print(
        f"\n{'every exact value inside its interval' if inside_all else 'SOME EXACT VALUES OUTSIDE'}; "
        f"{time.perf_counter() - started:.0f} s"
    )
    return inside_all


@dataclass(frozen=True)
class Comparison:
    label: str
    exact: float
    simulated: Interval | None  # None: fewer than two days had a value

    @property
    def inside(self) -> bool:
        return self.simulated is not None and self.simulated.covers(self.exact)


def compare(case: Case, days: list[tuple[list[float | None], int]]) -> list[Comparison]:
    """Each of FIGURES: the exact value and the simulated days' mean with its interval."""
    exact = case.exact()
    out = []
    for i, (_, label, model) in enumerate(FIGURES):
        values = [v for v in (figures_of[i] for figures_of, _ in days) if v is not None]
        simulated = interval(values, CONFIDENCE) if len(values) >= 2 else None
        out.append(Comparison(label, getattr(exact, model), simulated))
    return out


def report(case: Case, days: list[tuple[list[float | None], int]]) -> bool:
    print(
        f"\n{case.name}: c = {case.agents}, λ = {case.per_hour:g}/h, AHT {case.handle_seconds:g} s, "
        f"patience {case.patience_seconds:g} s, A = {case.load:.2f} erl; "
        f"{case.days} days x {case.hours} h, {sum(n for _, n in days):,} calls"
    )
    print(f"  {'figure':<20}{'Erlang A':>10}{'simulated':>11}  {'99.9% interval':<24}{'±':>6}")
    comparisons = compare(case, days)
    for c in comparisons:
        iv = c.simulated
        if iv is None:
            print(f"  {c.label:<20}{_num(c.exact):>10}  (fewer than two days with a value)")
            continue
        span = f"[{_num(iv.low)}, {_num(iv.high)}]"
        print(
            f"  {c.label:<20}{_num(c.exact):>10}{_num(iv.mean):>11}  {span:<24}{_relative(iv):>6}  "
            f"{'inside' if c.inside else 'OUTSIDE'}"
        )
    return all(c.inside for c in comparisons)


def _num(value: float) -> str:
    return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"


def _relative(iv: Interval) -> str:
    return f"{100 * iv.half_width / iv.mean:.1f}%" if iv.mean else "—"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="three cases, fewer days (about 20 s)")
    parser.add_argument("--jobs", type=int, default=1, help="processes (default 1)")
    args = parser.parse_args(argv)
    return 0 if run(QUICK if args.quick else CASES, max(1, args.jobs)) else 1


if __name__ == "__main__":
    sys.exit(main())
