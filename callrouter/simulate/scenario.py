"""A simulation scenario: its file (``scenario_file``: the format, checked key by
key) checked against the router config it names (lines, topics reachable from
each line's menu, agents), and compiled into what the engine plays.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from callrouter import compiled
from callrouter.config import ConfigError, Settings, error_path, load, read_file
from callrouter.config_errors import named_errors
from callrouter.core import menu as mn
from callrouter.core import switchboard as sb
from callrouter.core.call_menu import menu_for
from callrouter.core.lines import is_pattern
from callrouter.simulate import scenario_parts as sp
from callrouter.simulate import staff as st
from callrouter.simulate.scenario_file import CLOCK, NO_NUL, Arrival, ScenarioFile

# DAY_SECONDS and Distribution are named here too: the engine and its people import them from here.
from callrouter.simulate.scenario_file import DAY_SECONDS as DAY_SECONDS
from callrouter.simulate.scenario_file import Distribution as Distribution


class ScenarioError(ConfigError):
    """The scenario (or the config it names) is unusable; ``problems`` lists ``path: message`` lines."""


def by_hour(start: float, end: float) -> Iterator[tuple[int, float]]:
    """Each hour of the day that [start, end) (seconds of the day) touches, with the
    seconds of it that fall in that hour."""
    for hour in range(int(start // 3600), min(24, int(-(-end // 3600)))):
        yield hour, min(end, (hour + 1) * 3600) - max(start, hour * 3600)


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
    handle: Distribution  # the talk times of its calls: the arrival's own, else the scenario's

    def calls_by_hour(self) -> list[float]:
        """The first calls it is expected to bring in each hour of the day (its rates)."""
        calls = [0.0] * 24
        for start, end, rate in self.intervals:
            for hour, covered in by_hour(start, end):
                calls[hour] += rate * max(0, covered)
        return calls


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
                for hour, covered in by_hour(start, end):
                    counts[hour] += max(0, covered) / 3600
        return counts

    def at(self, seconds: float) -> datetime:
        return self.start + timedelta(seconds=seconds)

    def unserved(self) -> list[str]:
        """The arrivals no agent on any shift of the day can take (their topic in their
        language): not wrong, but worth saying, as none of their callers is answered."""
        agents = [a for a in self.settings.file.agents if self.shifts.get(a.id)]
        lines = {line.name: line for line in self.settings.file.lines}
        found = []
        for i, arrival in enumerate(self.file.arrivals):
            language = arrival.language or lines[arrival.line].language
            if not any(arrival.topic in a.topics and language in a.languages for a in agents):
                found.append(
                    f"arrivals[{i}] ({arrival.line}, {arrival.topic}): no agent on shift takes "
                    f"{arrival.topic} in {language!r}; none of its callers will be answered"
                )
        return found


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
    return _parsed(read_file(path, ScenarioError), str(path))


def is_json(path: Path | str) -> bool:
    """A scenario file is JSON by its name (``day.json``, ``DAY.JSON``), else TOML."""
    return str(path).lower().endswith(".json")


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are each given once (as TOML requires); Python's json
    keeps the last of a key given twice, and the first would be lost unsaid."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"the key {json.dumps(key)} given twice in one object")
        found[key] = value
    return found


def _parsed(text: str, source: str) -> Any:
    kind = "JSON" if is_json(source) else "TOML"
    try:
        return json.loads(text, object_pairs_hook=_unique) if kind == "JSON" else tomllib.loads(text)
    except ValueError as exc:  # TOML's and JSON's decode errors, and a number too long to read
        said = "a number of thousands of digits" if "integer string conversion" in str(exc) else exc
        raise ScenarioError(source, [f"not valid {kind}: {said}"]) from None
    except RecursionError:
        raise ScenarioError(source, [f"not valid {kind}: nested too deeply"]) from None


def config_path_of(base: Path, config: str) -> Path:
    """A scenario's config path, read from ``base`` (the folder the scenario is named in)
    as written: ``..`` taken off the path's text, not after following links."""
    return Path(os.path.normpath(base / config))


def build(data: Any, source: str, base: Path) -> Scenario:
    try:
        file = ScenarioFile.model_validate(data)
    except ValidationError as exc:  # the checks against the config still run over the good keys
        raise ScenarioError(source, _problems(exc) + _beside(data, exc, base)) from None
    try:
        settings = load(config_path_of(base, file.config), environ={})
    except ConfigError as exc:
        raise ScenarioError(source, _config_problems(exc)) from None
    problems: list[str] = []
    streams, shifts, day = _checked(sp.of_file(file), settings, file.handle, problems)
    if problems or day is None:
        raise ScenarioError(source, problems)
    zone, start = day
    scenario = Scenario(file, source, settings, zone, start, tuple(s for s in streams if s), shifts)
    return scenario.with_staff(file.staff) if file.staff is not None else scenario


def _config_problems(exc: ConfigError) -> list[str]:
    return [f"config: {exc.source}: {p}" for p in exc.problems]


def _beside(data: Any, exc: ValidationError, base: Path) -> list[str]:
    """A file with bad keys: the problems against its config of the pieces that are good."""
    config = sp.config_of(data, exc)
    if config is None:
        return []
    try:
        settings = load(config_path_of(base, config), environ={})
    except ConfigError as error:
        return _config_problems(error)
    problems: list[str] = []
    _checked(sp.good_parts(data, exc), settings, PLACEHOLDER, problems)
    return problems


PLACEHOLDER = Distribution(distribution="fixed", mean_seconds=1)  # talk times of streams not played


def _checked(
    parts: sp.Parts, settings: Settings, handle: Distribution, problems: list[str]
) -> tuple[list[Stream | None], dict[str, tuple[tuple[int, int], ...]], tuple[str, datetime] | None]:
    """The scenario's pieces checked against the config, each problem appended: the
    streams, the agents' shifts, and the day's zone and its midnight (None: no good date)."""
    board = compiled.board(settings)
    dids = {line.name: line.dids for line in settings.lines}
    streams = [_stream(board.rules, dids, arrival, i, problems, handle) for i, arrival in parts.arrivals]
    shifts = _shifts(parts.shifts, set(board.centre.agents), problems)
    if parts.staff is not None:
        problems += st.staff_problems(parts.staff, settings)
    problems += sp.rule_problems(parts, settings)
    day = None if parts.when is None else _day(*parts.when, settings, problems)
    return streams, shifts, day


def _day(day: date, written: str | None, settings: Settings, problems: list[str]) -> tuple[str, datetime]:
    """The day's zone and its midnight in UTC; a day the clocks change on is a problem."""
    zone = written or compiled.centre_zone(settings)
    # In UTC: the switchboard's clock runs in real seconds, whatever the wall clock does that day.
    here = ZoneInfo(zone)
    start = datetime.combine(day, time(0), tzinfo=here).astimezone(UTC)
    following = datetime.combine(day + timedelta(days=1), time(0), tzinfo=here)
    if (hours := (following - start).total_seconds() / 3600) != 24:
        # Times of day are elapsed seconds from midnight, and the figures' hours are those
        # of the wall clock: on such a day they part at the change.
        problems.append(
            f"date: {day} is a day the clocks change in {zone} ({hours:g} hours); a scenario "
            "plays a 24-hour day: take the same weekday a week before or after"
        )
    return zone, start


# What a pattern a time of day must match means, said instead of the pattern.
_PATTERNS = {
    CLOCK: "a time of day as HH:MM (08:00; 24:00 ends the day)",
    st.WHOLE_HOUR: "a whole hour as HH:00 (08:00)",
    NO_NUL: "a path without a NUL character",
}


def _problems(exc: ValidationError) -> list[str]:
    found = []
    for err in named_errors(exc):
        said = err["msg"].removeprefix("Value error, ")
        if err["type"] == "tuple_type":  # what a file writes is a list
            said = "a list is expected here"
        if err["type"] == "string_pattern_mismatch":
            pattern = str((err.get("ctx") or {}).get("pattern"))
            said = f"{_PATTERNS.get(pattern, said)}, not {err['input']!r}"
        found.append(f"{error_path(err['loc'])}: {said}")
    return found


def _stream(
    rules: sb.Rules,
    dids: dict[str, list[str]],
    arrival: Arrival,
    index: int,
    problems: list[str],
    handle_default: Distribution,
) -> Stream | None:
    here = f"arrivals[{index}]"
    line = rules.line_named(arrival.line)
    intervals = arrival.intervals()
    if intervals[-1][1] > DAY_SECONDS:
        which = "per_hour" if arrival.per_hour is not None else "per_quarter"
        unit = "hour" if which == "per_hour" else "quarter"
        count = f"{len(intervals)} {unit}{'s' if len(intervals) > 1 else ''}"
        problems.append(f"{here}.{which}: {count} from {arrival.start} run past midnight")
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
    spec = menu_for(line, rules.plan)
    keys = keys_to(spec, arrival.topic) if line.menu != "skip" else None
    if line.menu == "skip" and arrival.topic != line.topic:
        problems.append(f"{here}.topic: {line.name} skips the menu: its callers all go to {line.topic}")
        return None
    if keys is None and line.menu != "skip":
        problems.append(f"{here}.topic: {arrival.topic!r} cannot be reached from {line.name}'s menu")
        return None
    if arrival.language is not None and arrival.language != line.language:
        switch = _language_keys(spec, line.language, arrival.language) if line.menu != "skip" else None
        if switch is None:
            problems.append(
                f"{here}.language: {arrival.language!r} cannot be chosen on {line.name} (its language is "
                f"{line.language!r}; the menu offers {', '.join(spec.languages)}"
                + (", but the line skips the menu)" if line.menu == "skip" else ")")
            )
            return None
        keys = (*switch, *(keys or ()))
    handle = arrival.handle or handle_default
    return Stream(line.name, arrival.topic, did, line.country, keys or (), tuple(intervals), handle)


def _language_keys(spec: mn.MenuSpec, start: str, wanted: str) -> tuple[str, ...] | None:
    """The top level's language key, pressed until the menu speaks ``wanted`` (None: it never does)."""
    key = next((k for k, o in sorted(spec.root.options.items()) if o.action is mn.Action.LANGUAGE), None)
    if key is None or wanted not in spec.languages:
        return None
    langs = spec.languages
    first = langs.index(start) + 1 if start in langs else 0  # as ``menu.digit`` cycles
    presses = next(n for n in range(1, len(langs) + 1) if langs[(first + n - 1) % len(langs)] == wanted)
    return (key,) * presses


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
    shifts: tuple[sp.ShiftPart, ...], agents: set[str], problems: list[str]
) -> dict[str, tuple[tuple[int, int], ...]]:
    by_agent: dict[str, list[tuple[int, int, int]]] = {}
    for shift in shifts:
        here = f"shifts[{shift.index}]"
        for j, agent in enumerate(shift.agents):
            if agent not in agents:
                problems.append(f"{here}.agents[{j}]: no agent {agent!r} in the config")
                continue
            if shift.span is None:  # its times are bad: when it overlaps another is not known
                continue
            for start, end, other in by_agent.get(agent, []):
                if shift.span[0] < end and start < shift.span[1]:
                    problems.append(f"{here}.agents[{j}]: {agent} is on shifts[{other}] then too")
            by_agent.setdefault(agent, []).append((*shift.span, shift.index))
    return {agent: st.joined(sorted((s, e) for s, e, _ in on)) for agent, on in sorted(by_agent.items())}
