"""A simulation scenario: TOML or JSON, validated like the config (every bad key
named by its path, ``arrivals[2].per_hour: ...``, all at once), then checked
against the router config it names (lines, topics reachable from each line's
menu, agents), and compiled into what the engine plays.

    config = "../callrouter.example.toml"  # the router config, relative to this file
    date = 2026-11-23                       # the day (its weekday, opening hours, holidays)
    seed = 17
    handle = { distribution = "lognormal", mean_seconds = 180, cv = 0.8 }  # or "empirical", samples = [...]
    patience = { distribution = "exponential", mean_seconds = 120 }  # or "infinite"
    redial = { probability = 0.7, max_attempts = 5, delay = { distribution = "exponential",
               mean_seconds = 180 } }
    [[arrivals]]  # first calls: Poisson, per_hour (or per_quarter: each 15 min) from start
    line = "clinic-central"
    topic = "appointment_book"
    start = "08:00"
    per_hour = [300, 420, 380]
    [[shifts]]
    agents = ["agent1", "agent2"]
    start = "08:00"
    end = "17:00"

``examples/scenario-small.toml`` is a whole one. Times of day are the centre's
wall clock (``zone``, else the zone of the opening hours most lines follow),
counted in elapsed hours from midnight (on a day the clocks change, an hour off
after the change).
"""

from __future__ import annotations

import json
import math
import os
import tomllib
from collections import deque
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from callrouter import compiled
from callrouter.config import ConfigError, Settings, error_path, load
from callrouter.core import menu as mn
from callrouter.core import switchboard as sb
from callrouter.core.call_menu import menu_for
from callrouter.core.lines import is_pattern
from callrouter.simulate import staff as st

CLOCK = r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$"
DAY_SECONDS = 86_400


class ScenarioError(ConfigError):
    """The scenario (or the config it names) is unusable; ``problems`` lists ``path: message`` lines."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def seconds_of_day(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 3600 + int(minutes) * 60


# ---- the file --------------------------------------------------------------------------------
class Distribution(Strict):
    """A duration drawn at random: exponential, lognormal (its mean and coefficient of
    variation), fixed (always the mean) or empirical (one of ``samples``, each as
    likely: recorded durations; the mean is theirs)."""

    distribution: Literal["exponential", "lognormal", "fixed", "empirical"]
    mean_seconds: float = Field(gt=0, le=DAY_SECONDS)
    cv: float = Field(default=1.0, gt=0, le=10, description="lognormal only: standard deviation / mean")
    samples: tuple[float, ...] | None = Field(
        default=None, min_length=1, description="empirical only: the durations drawn from, in seconds"
    )

    @model_validator(mode="before")
    @classmethod
    def _mean_of_samples(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("distribution") == "empirical" and "mean_seconds" not in data:
            samples = data.get("samples")
            if not samples:
                raise ValueError("samples are required for an empirical distribution (durations in seconds)")
            if isinstance(samples, list | tuple) and all(isinstance(x, int | float) for x in samples):
                return {**data, "mean_seconds": max(math.fsum(samples) / len(samples), 1e-9)}
        return data

    @model_validator(mode="after")
    def _samples_when_empirical(self) -> Distribution:
        if (self.distribution == "empirical") != (self.samples is not None):
            raise ValueError("samples go with an empirical distribution, and only with it")
        if self.samples is not None and not all(0 <= x <= DAY_SECONDS for x in self.samples):
            raise ValueError(f"samples must lie between 0 and {DAY_SECONDS} seconds")
        return self


class Patience(Strict):
    """How long a caller waits in the queue before hanging up; ``infinite``: never."""

    distribution: Literal["exponential", "lognormal", "fixed", "infinite"]
    mean_seconds: float | None = Field(default=None, gt=0, le=DAY_SECONDS)
    cv: float = Field(default=1.0, gt=0, le=10)

    @model_validator(mode="after")
    def _mean_unless_infinite(self) -> Patience:
        if self.distribution != "infinite" and self.mean_seconds is None:
            raise ValueError(f"mean_seconds is required for {self.distribution} patience")
        return self

    def finite(self) -> Distribution | None:
        if self.distribution == "infinite" or self.mean_seconds is None:
            return None
        return Distribution(distribution=self.distribution, mean_seconds=self.mean_seconds, cv=self.cv)


class Redial(Strict):
    """Callers whose call ended unserved (abandoned, overflowed, told to call back) call again."""

    probability: float = Field(default=0.0, ge=0, le=1, description="after each unserved call")
    delay: Distribution = Distribution(distribution="exponential", mean_seconds=300)
    max_attempts: int = Field(default=5, ge=1, le=100, description="calls per person in all, the first too")


class CallbackBehaviour(Strict):
    """What callers do with the callbacks the config offers."""

    accept_probability: float = Field(default=0.0, ge=0, le=1, description="take the first offer")
    answer_probability: float = Field(default=1.0, ge=0, le=1, description="answer the callback's call")
    answer_seconds: float = Field(default=5.0, ge=0, le=600, description="their phone rings this long first")


class Timing(Strict):
    """How long Asterisk's and the people's parts take."""

    prompt_seconds: float = Field(default=2.0, ge=0, le=60, description="each sound of a playback")
    key_seconds: float = Field(default=1.0, ge=0, le=60, description="before each key the caller presses")
    agent_answer_seconds: float = Field(default=2.0, ge=0, le=60, description="an agent's phone rings")


class Arrival(Strict):
    """First calls on a line for a topic: Poisson, at a rate constant within each interval."""

    line: str
    topic: str
    start: str = Field(default="00:00", pattern=CLOCK)
    per_hour: list[float] | None = Field(default=None, min_length=1, description="calls in each hour")
    per_quarter: list[float] | None = Field(default=None, min_length=1, description="calls in each 15 min")

    @field_validator("per_hour", "per_quarter")
    @classmethod
    def _not_negative(cls, counts: list[float] | None) -> list[float] | None:
        if counts is not None and any(c < 0 for c in counts):
            raise ValueError("calls per interval cannot be negative")
        return counts

    @model_validator(mode="after")
    def _one_of(self) -> Arrival:
        if (self.per_hour is None) == (self.per_quarter is None):
            raise ValueError("give per_hour or per_quarter (one of them)")
        return self

    def intervals(self) -> list[tuple[int, int, float]]:
        """(start, end, calls per second) in seconds of the day."""
        step, counts = (3600, self.per_hour) if self.per_hour is not None else (900, self.per_quarter or [])
        first = seconds_of_day(self.start)
        return [(first + i * step, first + (i + 1) * step, n / step) for i, n in enumerate(counts)]


class Shift(Strict):
    agents: list[str] = Field(min_length=1)
    start: str = Field(pattern=CLOCK)
    end: str = Field(pattern=CLOCK)

    @model_validator(mode="after")
    def _in_order(self) -> Shift:
        if seconds_of_day(self.end) <= seconds_of_day(self.start):
            raise ValueError("end must be after start (a shift across midnight: two shifts)")
        return self


class ScenarioFile(Strict):
    config: str = Field(min_length=1, description="the router config, relative to the scenario file")
    date: date
    seed: int = 0
    zone: str | None = Field(default=None, description="the wall clock of times; default: the config's")
    timing: Timing = Timing()
    handle: Distribution
    patience: Patience
    redial: Redial = Redial()
    callback: CallbackBehaviour = CallbackBehaviour()
    arrivals: list[Arrival] = Field(min_length=1)
    shifts: list[Shift] = Field(default_factory=list)
    staff: st.Staff | None = Field(default=None, description="all-round agents by the hour, besides shifts")

    @field_validator("zone")
    @classmethod
    def _zone(cls, zone: str | None) -> str | None:
        if zone is not None:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"{zone!r} is not a time zone (e.g. Europe/Moscow, UTC)") from None
        return zone


# ---- compiled against the config -------------------------------------------------------------
@dataclass(frozen=True)
class Stream:
    """One arrival line of the scenario, ready to play: the number dialled and the keys pressed."""

    line: str
    topic: str
    did: str
    country: str
    keys: tuple[str, ...]  # the menu path to the topic (none: the line skips the menu)
    intervals: tuple[tuple[int, int, float], ...]  # (start, end, calls per second), seconds of the day


@dataclass(frozen=True)
class Scenario:
    file: ScenarioFile
    source: str
    settings: Settings
    zone: str
    start: datetime  # the day's midnight on the centre's wall clock, in UTC
    streams: tuple[Stream, ...]
    shifts: dict[str, tuple[tuple[int, int], ...]]  # agent -> (login, logout) in seconds of the day

    @property
    def seed(self) -> int:
        return self.file.seed

    def with_seed(self, seed: int) -> Scenario:
        """The same scenario drawn from another seed (a replication of its day)."""
        return replace(self, file=self.file.model_copy(update={"seed": seed}))

    def board(self) -> sb.Board:
        return compiled.board(self.settings)

    def with_staff(self, staff: st.Staff | None) -> Scenario:
        """The same day with these all-round agents by the hour instead of the scenario's
        own ``[staff]`` (None: none; the named shifts stay)."""
        file = self.settings.file
        kept = [a for a in file.agents if not _staffed(a.id)]
        settings = self.settings.model_copy(update={"file": file.model_copy(update={"agents": kept})})
        shifts = {agent: spans for agent, spans in self.shifts.items() if not _staffed(agent)}
        if staff is not None:
            settings = st.with_staff(settings, staff)
            shifts |= st.shifts_of(staff)
        file_now = self.file.model_copy(update={"staff": staff})
        return replace(self, file=file_now, settings=settings, shifts=shifts)

    def agents_by_hour(self) -> list[float]:
        """Agents on shift in each hour of the day (one there for part of it: that share)."""
        counts = [0.0] * 24
        for spans in self.shifts.values():
            for start, end in spans:
                for hour in range(start // 3600, min(24, -(-end // 3600))):
                    covered = min(end, (hour + 1) * 3600) - max(start, hour * 3600)
                    counts[hour] += max(0, covered) / 3600
        return counts

    def at(self, seconds: float) -> datetime:
        return self.start + timedelta(seconds=seconds)


def _staffed(agent: str) -> bool:
    return agent.startswith(st.PREFIX)


def load_scenario(path: Path | str, seed: int | None = None) -> Scenario:
    """The scenario and its config, or ScenarioError with every problem (a bad config's too)."""
    path = Path(path)
    data = read_data(path)
    if seed is not None and isinstance(data, dict):
        data["seed"] = seed
    return build(data, str(path), path.parent)


def read_data(path: Path) -> Any:
    """A scenario file's data as written, not yet checked; ScenarioError: unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(str(path), [f"cannot read: {exc.strerror}"]) from None
    return _parsed(text, str(path))


def _parsed(text: str, source: str) -> Any:
    try:
        return json.loads(text) if source.endswith(".json") else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        kind = "JSON" if source.endswith(".json") else "TOML"
        raise ScenarioError(source, [f"not valid {kind}: {exc}"]) from None


def build(data: Any, source: str, base: Path) -> Scenario:
    try:
        file = ScenarioFile.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(source, _problems(exc)) from None
    config_path = Path(os.path.normpath(base / file.config))
    try:
        settings = load(config_path, environ={})
    except ConfigError as exc:
        raise ScenarioError(source, [f"config: {exc.source}: {p}" for p in exc.problems]) from None
    problems: list[str] = []
    board = compiled.board(settings)
    dids = {line.name: line.dids for line in settings.lines}
    streams = [_stream(board.rules, dids, arrival, i, problems) for i, arrival in enumerate(file.arrivals)]
    shifts = _shifts(file.shifts, set(board.centre.agents), problems)
    if file.staff is not None:
        problems += st.staff_problems(file.staff, settings)
    ring = settings.file.queue.ring_timeout_seconds
    if file.timing.agent_answer_seconds >= ring:
        problems.append(
            f"timing.agent_answer_seconds: must be shorter than the config's ring timeout ({ring:g} s): "
            "agents who never answer are paused, and nobody resumes them"
        )
    if problems:
        raise ScenarioError(source, problems)
    zone = file.zone or compiled.centre_zone(settings)
    # In UTC: the switchboard's clock runs in real seconds, whatever the wall clock does that day.
    start = datetime.combine(file.date, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)
    scenario = Scenario(file, source, settings, zone, start, tuple(s for s in streams if s), shifts)
    return scenario.with_staff(file.staff) if file.staff is not None else scenario


def _problems(exc: ValidationError) -> list[str]:
    return [f"{error_path(err['loc'])}: {err['msg'].removeprefix('Value error, ')}" for err in exc.errors()]


def _stream(
    rules: sb.Rules, dids: dict[str, list[str]], arrival: Arrival, index: int, problems: list[str]
) -> Stream | None:
    here = f"arrivals[{index}]"
    line = rules.line_named(arrival.line)
    intervals = arrival.intervals()
    if intervals[-1][1] > DAY_SECONDS:
        which = "per_hour" if arrival.per_hour is not None else "per_quarter"
        problems.append(f"{here}.{which}: {len(intervals)} intervals from {arrival.start} run past midnight")
    if line is None:
        known = ", ".join(sorted(rules.by_name))
        problems.append(f"{here}.line: no line {arrival.line!r} in the config (lines: {known})")
        return None
    if arrival.topic not in rules.plan.topics:
        problems.append(f"{here}.topic: no topic {arrival.topic!r} in the config")
        return None
    did = next((d for d in dids[line.name] if not is_pattern(d) and rules.line_for(d) == line), None)
    if did is None:
        problems.append(f"{here}.line: {line.name} has no plain DID to dial (only patterns)")
        return None
    keys = keys_to(menu_for(line, rules.plan), arrival.topic) if line.menu != "skip" else None
    if line.menu == "skip" and arrival.topic != line.topic:
        problems.append(f"{here}.topic: {line.name} skips the menu: its callers all go to {line.topic}")
        return None
    if keys is None and line.menu != "skip":
        problems.append(f"{here}.topic: {arrival.topic!r} cannot be reached from {line.name}'s menu")
        return None
    return Stream(line.name, arrival.topic, did, line.country, keys or (), tuple(intervals))


def keys_to(spec: mn.MenuSpec, topic: str) -> tuple[str, ...] | None:
    """The shortest run of keys from the top of the menu to ``topic`` (None: none leads there)."""
    todo: deque[tuple[mn.MenuNode, tuple[str, ...]]] = deque([(spec.root, ())])
    while todo:
        node, path = todo.popleft()
        for key, option in sorted(node.options.items()):
            if option.topic == topic:
                return (*path, key)
            if option.submenu is not None:
                todo.append((option.submenu, (*path, key)))
    return None


def _shifts(
    shifts: list[Shift], agents: set[str], problems: list[str]
) -> dict[str, tuple[tuple[int, int], ...]]:
    by_agent: dict[str, list[tuple[int, int, int]]] = {}
    for i, shift in enumerate(shifts):
        span = (seconds_of_day(shift.start), seconds_of_day(shift.end))
        for j, agent in enumerate(shift.agents):
            if agent not in agents:
                problems.append(f"shifts[{i}].agents[{j}]: no agent {agent!r} in the config")
                continue
            for start, end, other in by_agent.get(agent, []):
                if span[0] < end and start < span[1]:
                    problems.append(f"shifts[{i}].agents[{j}]: {agent} is on shifts[{other}] then too")
            by_agent.setdefault(agent, []).append((*span, i))
    return {agent: _joined(sorted((s, e) for s, e, _ in spans)) for agent, spans in sorted(by_agent.items())}


def _joined(spans: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Shifts one after the other as one (08-16 and 16-20: logged in 08-20, not out and in at 16)."""
    joined: list[tuple[int, int]] = []
    for start, end in spans:
        if joined and joined[-1][1] == start:
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
    return tuple(joined)
