"""``callrouter staffing``: the agents each hour of a scenario's day needs to meet a
service-level target, by Erlang A first, then checked and corrected by simulating
the day, because the redials of callers who gave up add load the formula does
not see, and a queue left at the end of an hour carries into the next.

1. Erlang A (``core.erlang.agents_for``) for each hour with first calls, one
   queue for every line: λ = the hour's first calls from the scenario's
   arrivals that can reach the queue (a line open as they come, less the menu's
   hang-ups: ``staffing_load``), service time = mean handle time (the hour's:
   each arrival stream's own ``handle`` weighted by its calls) + the config's ``wrap_up_seconds``
   + ``timing.agent_answer_seconds`` (the agent is rung for it), patience rate
   θ = 1/mean patience (0: infinite), and T less the agent's ring (the caller's
   wait ends when the agent answers, as the KPI report counts it).
2. The day with that many all-round agents each hour (``[staff]``; the
   scenario's named shifts and staff are left out) is simulated from the same
   seeds every time (common random numbers: a change in the figures comes from
   the staffing, not from other draws). Each hour with calls (``MIN_CALLS`` on
   average at least) is judged by the replications' mean of its service level
   (and abandonment, when a ceiling is given), counted by the KPI report's own
   rules (``core.kpi`` through ``figures``) with this T, and each caller sent to
   overflow one more not answered within T (and lost: ``Trial.level``,
   ``Trial.lost``); each run's ratio weighted by the calls it divides by, so that
   the mean is near the pooled one.
3. Each failing hour gets at least one more agent, or Erlang A's number for the
   calls that reached the queue in it as simulated (redials included) when that
   is more. An hour still failing after two raises also raises the hour before
   it (its queue carries over). Then 2 again.
4. Once every hour meets the target, every judged hour above the fewest agents
   not known to fail it is cut (by one; once a count below is known to fail, by
   half the way to it), all at once, and the day simulated again. A cut that
   made its hour, or the hour after it, fail is undone and that count is known
   to fail; the others stand. Stops when no hour can be cut, or at the
   iteration cap (reported): the last staffing that met the target is the advice.
5. An hour whose shortfall (the level short of the target, or the abandonment
   over its ceiling) has not shrunk by ``STUCK_GAIN`` over its last ``STUCK_RAISES``
   raises, with twice Erlang A's agents for its load already, is one no staffing
   helps (callers who hang up before any agent can answer, phones that are never
   answered): the search stops there, not met.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Literal

from callrouter.core.erlang import agents_for
from callrouter.core.records import Outcome
from callrouter.simulate import replications
from callrouter.simulate.figures import Figures, Summary
from callrouter.simulate.replications import Replicated
from callrouter.simulate.scenario import Scenario
from callrouter.simulate.staff import MAX_AGENTS, Staff
from callrouter.simulate.staffing_load import first_calls_by_hour as first_calls_by_hour
from callrouter.simulate.staffing_load import queue_calls_by_hour as queue_calls_by_hour
from callrouter.simulate.staffing_load import talk_by_hour as talk_by_hour
from callrouter.simulate.staffing_search import HOURS as HOURS
from callrouter.simulate.staffing_search import _Search, _stuck

Definition = Literal["sl1", "sl2"]
# An hour with fewer calls that waited (answered or abandoned) than this a day on average is not
# judged (one late call would be a fifth of its service level): its count stands as it is.
MIN_CALLS = 5.0
# How a call that never reached the queue ended (``Figures.outcomes``): no agent's load.
NEVER_QUEUED = (Outcome.AFTER_HOURS, Outcome.MENU_HANGUP, Outcome.NO_LINE, Outcome.BUSY)
# A queued call no agent answered nor the caller gave up: it counts against the target.
OVERFLOW = Outcome.OVERFLOW.value


class TargetError(ValueError):
    """A --target or --max-abandon that cannot be used; the message says why, in one line."""


@dataclass(frozen=True)
class Target:
    """What each hour must meet: ``level`` of calls answered within ``seconds`` (by
    ``definition``), and at most ``max_abandon`` of queued calls abandoned when given."""

    level: float  # 0..1, exclusive
    seconds: float
    max_abandon: float | None = None
    definition: Definition = "sl2"
    # ``--sure``: an hour meets the target only when the 95% interval of its days' level (and
    # abandonment) lies wholly on the right side of it, not merely their mean.
    sure: bool = False

    def shortfall(self, level: float | None, abandonment: float | None) -> float:
        """How far from the target: the level short of it, or the abandonment over its ceiling."""
        short = self.level - (level or 0.0)
        if self.max_abandon is not None and abandonment is not None:
            short = max(short, abandonment - self.max_abandon)
        return short

    def met(self, level: float | None, abandonment: float | None) -> bool:
        """``level`` None: nobody answered (a judged hour with no answer fails)."""
        return self.shortfall(level, abandonment) <= 0


def roster(needed: Sequence[int], shrinkage: float) -> list[int]:
    """The agents to put on the rota each hour so that ``needed`` are on the phones when
    ``shrinkage`` of paid time goes elsewhere (breaks, training, meetings, absence):
    needed / (1 - shrinkage), rounded up."""
    return [math.ceil(n / (1 - shrinkage) - 1e-9) for n in needed]


# ---- the formula ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Queue:
    """The scenario's one queue as Erlang A sees it (rates per second)."""

    service_seconds: float  # handle + wrap-up + the agent's ring (the day's mix of topics)
    abandon_rate: float  # 1 / mean patience; 0: infinite patience
    threshold: float  # T less the agent's ring
    hourly: tuple[float, ...] = ()  # each hour's service time, by its own mix of topics

    @classmethod
    def of(cls, scenario: Scenario, target: Target) -> Queue:
        ring = scenario.file.timing.agent_answer_seconds
        overhead = scenario.settings.file.queue.wrap_up_seconds + ring
        day, hours = talk_by_hour(scenario)
        patience = scenario.file.patience.finite()
        return cls(
            day + overhead,
            0.0 if patience is None else 1 / patience.mean_seconds,
            max(0.0, target.seconds - ring),
            tuple(talk + overhead for talk in hours),
        )

    def service(self, hour: int | None) -> float:
        return self.service_seconds if hour is None or not self.hourly else self.hourly[hour]

    def agents(self, calls_per_hour: float, target: Target, hour: int | None = None) -> int:
        """Erlang A's fewest agents for this many calls an hour (0 for none), with the
        hour's service time (None: the day's)."""
        if calls_per_hour <= 0:
            return 0
        return agents_for(
            target.level,
            self.threshold,
            calls_per_hour / 3600,
            1 / self.service(hour),
            self.abandon_rate,
            target.max_abandon,
            target.definition,
        )

    def agents_by_hour(self, calls: Sequence[float], target: Target) -> list[int]:
        return [self.agents(n, target, hour) for hour, n in enumerate(calls)]


def erlang_by_hour(scenario: Scenario, target: Target) -> list[int]:
    """Erlang A's agents for each hour's first calls that can reach the queue."""
    return Queue.of(scenario, target).agents_by_hour(queue_calls_by_hour(scenario), target)


# ---- the simulation ---------------------------------------------------------------------------
def for_advice(scenario: Scenario, target: Target) -> Scenario:
    """The scenario without its own agents on shift (named or ``[staff]``), its figures
    counted with the target's T and level."""
    settings = scenario.settings
    queue = settings.file.queue.model_copy(
        update={"service_level_seconds": target.seconds, "service_level_target": target.level}
    )
    settings = settings.model_copy(update={"file": settings.file.model_copy(update={"queue": queue})})
    return replace(scenario, settings=settings, shifts={}).with_staff(None)


def staffed(scenario: Scenario, counts: Sequence[int]) -> Scenario:
    return scenario.with_staff(staff_of(counts))


def staff_of(counts: Sequence[int]) -> Staff | None:
    """``[staff]`` from the first hour with agents to the last (None: nobody);
    TargetError: an hour needs more agents than a ``[staff]`` holds."""
    hours = [h for h, n in enumerate(counts) if n > 0]
    if not hours:
        return None
    most = max(range(len(counts)), key=lambda h: counts[h])
    if counts[most] > MAX_AGENTS:
        raise TargetError(
            f"{most:02d}:00 would need {counts[most]:,} agents, more than a scenario staffs "
            f"({MAX_AGENTS:,} an hour): is the traffic right?"
        )
    return Staff(start=f"{hours[0]:02d}:00", per_hour=list(counts[hours[0] : hours[-1] + 1]))


@dataclass(frozen=True)
class Trial:
    """One staffing simulated: each run's figures (and their means with intervals)."""

    counts: tuple[int, ...]
    summaries: list[Summary]
    replicated: Replicated

    def mean(self, hour: int | None, name: str) -> float | None:
        """The runs' mean of a figure (hour None: the day's), over the runs that have a
        value; a ratio weighted by the calls it divides by, as if the runs' calls were
        pooled (a run with 2 calls in the hour, one lost, counts less than one with 40)."""
        runs = self._runs(hour)
        return _weighted([(float(v), _weight(f, name)) for f in runs if (v := getattr(f, name)) is not None])

    def reaching(self, hour: int) -> float:
        """The runs' mean of the hour's calls that reached the queue (all but those told the
        line is closed, hung up in the menu, or to no line, or turned away as busy)."""
        runs = [s.hours[hour] for s in self.summaries]
        left_out = [sum(f.outcomes.get(o, 0) for o in NEVER_QUEUED) for f in runs]
        return math.fsum(f.offered - n for f, n in zip(runs, left_out, strict=True)) / len(runs)

    def judged(self, hour: int) -> bool:
        """Whether the hour's calls that waited (answered, abandoned or sent to overflow)
        are enough to judge."""
        waited = [f.answered + f.abandoned + f.outcomes.get(OVERFLOW, 0) for f in self._runs(hour)]
        return math.fsum(waited) / len(waited) >= MIN_CALLS

    def _runs(self, hour: int | None) -> list[Figures]:
        return [s.day if hour is None else s.hours[hour] for s in self.summaries]

    def level(self, hour: int | None, definition: Definition) -> float | None:
        """The level the verdict goes by: the KPI report's SL1 or SL2, with each caller sent
        to overflow (the topic's maximum wait, or the maximum call duration, reached) one
        more not answered within T. Without an overflow, the report's figure itself."""
        return self._with_overflow(hour, definition)

    def lost(self, hour: int | None) -> float | None:
        """The share of queued calls lost, for ``--max-abandon``: abandoned, or sent to overflow."""
        return self._with_overflow(hour, "abandonment")

    def _with_overflow(self, hour: int | None, name: str) -> float | None:
        if not any(f.outcomes.get(OVERFLOW, 0) for f in self._runs(hour)):
            return self.mean(hour, name)  # the report's own figure, to the last digit
        weighed = []
        for summary in self.summaries:
            f = summary.day if hour is None else summary.hours[hour]
            group = summary.kpi.overall if hour is None else summary.kpi.by_hour[hour]
            over = f.outcomes.get(OVERFLOW, 0)
            if name == "abandonment":
                part, whole = group.abandoned + over, group.queued
            else:
                part = group.answered_within
                whole = group.answered + (group.abandoned_after if name == "sl2" else 0) + over
            if whole:
                weighed.append((part / whole, _weight(f, name) + over))
        return _weighted(weighed)

    def uncertain(self, target: Target) -> list[int]:
        """The hours judged that meet the target on the runs' mean, yet with the target
        inside the 95% interval of the runs' level (or abandonment): a few days cannot
        tell whether they meet it. (No interval from one run: none is uncertain then.)
        With ``target.sure`` such an hour fails instead (``failing``): none is uncertain."""
        return [] if target.sure else self._close(target, self._short(target))

    def _close(self, target: Target, short: list[int]) -> list[int]:
        close = []
        for hour in range(HOURS):
            if hour in short or not self.judged(hour):
                continue
            figures = self.replicated.hours[hour]
            level, abandoned = figures.get(target.definition), figures.get("abandonment")  # the report's
            ceiling = target.max_abandon
            if (level is not None and level.covers(target.level)) or (
                ceiling is not None and abandoned is not None and abandoned.covers(ceiling)
            ):
                close.append(hour)
        return close

    def failing(self, target: Target) -> list[int]:
        """The hours judged whose calls, on the runs' mean, miss the target (or none of
        whose calls was answered); with ``target.sure``, and those met within the noise."""
        short = self._short(target)
        return sorted(short + self._close(target, short)) if target.sure else short

    def _short(self, target: Target) -> list[int]:
        return [
            h
            for h in range(HOURS)
            if self.judged(h) and not target.met(self.level(h, target.definition), self.lost(h))
        ]


# What a ratio divides by, near enough: SL1 and ASA the answered (exactly), SL2 the answered and
# abandoned after T, abandonment every queued call (here: those answered or abandoned).
WEIGHTS = {"sl1": ("answered",), "asa_seconds": ("answered",), "sl2": ("answered", "abandoned"),
           "abandonment": ("answered", "abandoned")}  # fmt: skip


def _weighted(weighed: list[tuple[float, float]]) -> float | None:
    """The mean of (value, weight) pairs by weight (all weights 0: the plain mean)."""
    total = math.fsum(w for _, w in weighed)
    if not total:
        return math.fsum(v for v, _ in weighed) / len(weighed) if weighed else None
    return math.fsum(v * w for v, w in weighed) / total


def _weight(figures: Figures, name: str) -> float:
    counts = WEIGHTS.get(name)
    return 1.0 if counts is None else float(sum(getattr(figures, count) for count in counts))


Runner = Callable[[Scenario, int], tuple[list[Summary], Replicated]]
Progress = Callable[[int, tuple[int, ...], list[int]], None]  # try, its counts, the hours failing


@dataclass
class Advice:
    target: Target
    replications: int
    erlang: list[int]
    needed: list[int]
    trial: Trial  # the needed staffing's
    met: bool
    iterations: int
    capped: bool  # the iteration cap stopped the search
    seconds: float = 0.0
    hopeless: list[int] = field(default_factory=list)  # hours more agents did not bring nearer the target
    history: list[tuple[int, ...]] = field(default_factory=list)  # each staffing tried, in order
    shrinkage: float = 0.0  # of paid time off the phones: the rota is ``roster(needed, shrinkage)``

    @cached_property
    def uncertain(self) -> list[int]:
        """The hours met within the noise of the days (``Trial.uncertain``): none unless met."""
        return self.trial.uncertain(self.target) if self.met else []

    @property
    def rostered(self) -> list[int]:
        return roster(self.needed, self.shrinkage)


def advise(
    scenario: Scenario,
    target: Target,
    replications_: int = 4,
    max_iterations: int = 12,
    trim: bool = True,
    run: Runner = replications.replicate,
    progress: Progress | None = None,
) -> Advice:
    """The fewest agents each hour (as far as the search goes) meeting ``target``
    in the simulated day; see the module's docstring for how."""
    started = time.perf_counter()
    base = for_advice(scenario, target)
    queue = Queue.of(base, target)
    reaching = queue_calls_by_hour(base)
    erlang = queue.agents_by_hour(reaching, target)
    search = _Search(list(erlang), [1 if calls > 0 else 0 for calls in reaching], trim)
    best: Trial | None = None
    trial = None
    iterations = 0
    shortfalls: dict[int, list[float]] = {}  # each hour's, at each raise of it in a row
    hopeless: list[int] = []
    while iterations < max_iterations and not search.done and not hopeless:
        iterations += 1
        counts = tuple(search.counts)
        trial = Trial(counts, *run(staffed(base, counts), replications_))
        search.history.append(counts)
        failing = trial.failing(target)
        if progress is not None:
            progress(iterations, counts, failing)
        if not failing:
            best = trial
            search.passed({h for h in range(HOURS) if trial.judged(h)})
        else:
            seen = {h: queue.agents(max(reaching[h], trial.reaching(h)), target, h) for h in failing}
            if not search.cut:  # raising, not undoing a cut
                stuck = _stuck(shortfalls, {h: _shortfall(trial, target, h) for h in failing})
                # and twice Erlang A's agents (three at least: an hour of a few calls is noisy)
                hopeless = [h for h in stuck if counts[h] >= 2 * max(seen[h], 3)]
            search.failed(failing, seen)
    final = best if best is not None and not hopeless else trial
    assert final is not None  # max_iterations >= 1
    return Advice(
        target, replications_, erlang, list(final.counts), final, best is not None and not hopeless,
        iterations, capped=not search.done and not hopeless, seconds=time.perf_counter() - started,
        history=search.history, hopeless=hopeless,
    )  # fmt: skip


def _shortfall(trial: Trial, target: Target, hour: int) -> float:
    return target.shortfall(trial.level(hour, target.definition), trial.lost(hour))
