"""``--replications N``: the scenario's day run N times, from the seeds seed,
seed + 1, …, and each figure given as the mean of the N days with a confidence
interval: Student's t over the replications (the days are independent and each
gives one value of a figure, so mean ± t(N - 1)·s/√N, s the days' standard
deviation). A figure a day has no value for (no call answered: no ASA) is
averaged over the days that have one; with one, it is that day's value, with no interval
(``n`` 1); with none, it is None.

Student's t is computed here, exactly for whole degrees of freedom (Abramowitz
and Stegun 26.7.3: P(|T| ≤ t) as a finite sum in θ = atan(t/√df)), its
quantile by bisection: no table, no approximation, any confidence.

The days are run side by side in worker processes (one per CPU, at most N):
each day is its seed's alone, so the figures, and their order, are those of
running them one after another.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

from callrouter.simulate import figures
from callrouter.simulate import workers as workers_
from callrouter.simulate.engine import simulate
from callrouter.simulate.figures import Figures, Summary
from callrouter.simulate.scenario import Scenario

CONFIDENCE = 0.95
# The figures given with intervals (every number of ``Figures``; the outcomes' counts are left out).
FIGURES = (
    "offered", "people", "answered", "abandoned", "abandonment", "asa_seconds", "mean_wait_seconds",
    "sl1", "sl2", "never_served", "calls_per_person", "agents", "occupancy", "callbacks_made",
    "callbacks_completed",
)  # fmt: skip
# Where each figure's interval is cut: a count is never negative, a share never above 1,
# and a person calls at least once.
BOUNDS = {name: (0.0, math.inf) for name in FIGURES} | {
    "abandonment": (0.0, 1.0), "sl1": (0.0, 1.0), "sl2": (0.0, 1.0), "occupancy": (0.0, 1.0),
    "calls_per_person": (1.0, math.inf),
}  # fmt: skip


@dataclass(frozen=True)
class Interval:
    """A figure's mean over ``n`` replications and the half-width of its confidence interval."""

    mean: float
    half_width: float
    n: int
    # What the figure can be (a count is never negative, a share never above 1): the
    # interval is cut there (a few days of a small centre give wide ones).
    lowest: float = -math.inf
    highest: float = math.inf

    @property
    def low(self) -> float:
        return max(self.mean - self.half_width, self.lowest) + 0.0  # + 0.0: never "-0.0"

    @property
    def high(self) -> float:
        return min(self.mean + self.half_width, self.highest) + 0.0

    @property
    def spread(self) -> bool:
        """Whether there is an interval: two values or more (one day alone has none)."""
        return self.n >= 2

    def covers(self, value: float) -> bool:
        return self.spread and self.low <= value <= self.high


@dataclass(frozen=True)
class Replicated:
    """The day's figures and each hour's over the replications, by ``FIGURES`` name."""

    seeds: tuple[int, ...]
    confidence: float
    day: dict[str, Interval | None]
    hours: tuple[dict[str, Interval | None], ...]  # 24, midnight first


def t_within(t: float, df: int) -> float:
    """P(|T| ≤ t) for Student's t with ``df`` degrees of freedom (A&S 26.7.3)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be a whole number >= 1, not {df}")
    theta = math.atan(t / math.sqrt(df))
    cos2 = math.cos(theta) ** 2
    if df % 2 == 0:  # sin θ·(1 + (1/2)cos²θ + (1·3)/(2·4)cos⁴θ + … up to cos^(df-2)θ)
        term = total = 1.0
        for k in range(1, df // 2):
            term *= cos2 * (2 * k - 1) / (2 * k)
            total += term
        return math.sin(theta) * total
    # df odd: (2/π)·(θ + sin θ·(cos θ + (2/3)cos³θ + … up to cos^(df-2)θ)); df = 1: 2θ/π
    term = total = math.cos(theta) if df > 1 else 0.0
    for k in range(1, (df - 1) // 2):
        term *= cos2 * (2 * k) / (2 * k + 1)
        total += term
    return 2 / math.pi * (theta + math.sin(theta) * total)


def t_quantile(confidence: float, df: int) -> float:
    """The t with P(|T| ≤ t) = ``confidence`` (two-sided), by bisection on ``t_within``."""
    if not 0 < confidence < 1:
        raise ValueError(f"the confidence must lie between 0 and 1 (exclusive), not {confidence}")
    low, high = 0.0, 2.0
    while t_within(high, df) < confidence:
        low, high = high, 2 * high
    while high - low > 1e-12 * high:
        middle = (low + high) / 2
        low, high = (middle, high) if t_within(middle, df) < confidence else (low, middle)
    return (low + high) / 2


def interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """Mean ± t·s/√n of ``values`` (at least two)."""
    n = len(values)
    if n < 2:
        raise ValueError(f"an interval needs at least two values, not {n}")
    mean = math.fsum(values) / n
    variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return Interval(mean, t_quantile(confidence, n - 1) * math.sqrt(variance / n), n)


def seeds_from(first: int, replications: int) -> tuple[int, ...]:
    if replications < 2:
        raise ValueError(f"replications give intervals from two on, not {replications}")
    return tuple(range(first, first + replications))


def replicate(
    scenario: Scenario, replications: int, confidence: float = CONFIDENCE, workers: int | None = None
) -> tuple[list[Summary], Replicated]:
    """The day run from the seeds scenario.seed, scenario.seed + 1, …: each run's
    figures, in seed order, and their means with intervals. ``workers``: processes
    running days side by side (None: one per CPU, at most one per day; 1: here)."""
    seeds = seeds_from(scenario.seed, replications)
    days = [scenario.with_seed(seed) for seed in seeds]
    if workers is None:
        workers = min(replications, os.cpu_count() or 1)
    if workers <= 1:
        summaries = [day_summary(day) for day in days]
    else:
        with workers_.pool(min(workers, replications)) as pool:
            summaries = list(pool.map(day_summary, days))  # in the order given
    return summaries, combine(seeds, summaries, confidence)


def day_summary(scenario: Scenario) -> Summary:
    """One day's figures (what a worker process runs)."""
    return figures.summary(simulate(scenario))


def combine(seeds: Sequence[int], summaries: Sequence[Summary], confidence: float) -> Replicated:
    hours = len(summaries[0].hours)
    return Replicated(
        seeds=tuple(seeds),
        confidence=confidence,
        day=intervals([s.day for s in summaries], confidence),
        hours=tuple(intervals([s.hours[h] for s in summaries], confidence) for h in range(hours)),
    )


def intervals(runs: Sequence[Figures], confidence: float) -> dict[str, Interval | None]:
    """Each of ``FIGURES`` over the runs that have a value for it."""
    out: dict[str, Interval | None] = {}
    for name in FIGURES:
        values = [float(v) for v in (getattr(f, name) for f in runs) if v is not None]
        if not values:
            out[name] = None
            continue
        found = interval(values, confidence) if len(values) >= 2 else Interval(values[0], math.nan, 1)
        lowest, highest = BOUNDS[name]
        out[name] = replace(found, lowest=lowest, highest=highest)
    return out
