"""``callrouter simulate --from --to`` and ``callrouter staffing --from --to``: a
day recorded in PostgreSQL as a scenario. The store reads the traffic
(``store.arrivals``) and the agents' states (``store.report``),
``simulate.recorded`` makes them a scenario over ``--base`` (or the defaults)
(``scenario``, shared by both commands); ``simulate`` plays it as it plays a
scenario file, ``staffing`` advises on it.

The window is ``--from`` up to ``--to`` (exclusive), each a day (its midnight)
or an ISO datetime, one without an offset on the centre's wall clock. Within one
day of that clock it is played as recorded. A range of whole days (``--from``
and ``--to`` both dates, at most ``MAX_DAYS``) is played as its average day: each
day read on its own, first calls per line, topic and quarter averaged over the
days, talk times and abandons pooled, and the agents logged in each hour
averaged into ``[staff]`` (all-round agents; the days' named logins do not
make one day's shifts). The day is played on the range's first date (its
weekday's opening hours): a range of like days (Monday to Friday, or with
``--weekdays mon`` the Mondays of several weeks) gives a day that means something.

Exit 0: written; 2: bad arguments, config, scenario or database (on stderr).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any, TextIO, cast
from zoneinfo import ZoneInfo

import asyncpg

from callrouter import compiled
from callrouter.config import Settings
from callrouter.core.cover import Logins, patience_estimate
from callrouter.report import instant
from callrouter.simulate import command, recorded
from callrouter.simulate.scenario import Scenario, ScenarioError, build, by_hour, read_data
from callrouter.store.arrivals import ArrivalReader, RecordedTraffic
from callrouter.store.queries import DatabaseUnavailable
from callrouter.store.report import ReportReader

EXIT_UNUSABLE = 2
MAX_DAYS = 92  # a range of whole days: about a quarter at most (each day is read on its own)


@dataclass(frozen=True)
class RecordedDay:
    """What ``--from``, ``--to``, ``-c``, ``--base`` and ``--seed`` ask for."""

    start: date | datetime
    end: date | datetime
    config: Path
    base: Path | None = None
    seed: int | None = None
    weekdays: frozenset[int] | None = None  # a range's days on these weekdays only (Monday 0)


WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def weekdays(text: str) -> frozenset[int]:
    """``--weekdays``: ``mon-fri``, ``sat,sun``, ``tuesday`` (a span may wrap: ``fri-mon``);
    ValueError naming what is not a weekday."""
    days: set[int] = set()
    for part in text.lower().split(","):
        ends = [_weekday(name.strip()) for name in part.split("-")]
        if len(ends) > 2 or None in ends:
            raise ValueError(f"{part.strip()!r}: not a weekday or span of them (mon..sun, e.g. mon-fri)")
        start, end = cast(int, ends[0]), cast(int, ends[-1])
        days.update((start + n) % 7 for n in range((end - start) % 7 + 1))
    return frozenset(days)


def _weekday(name: str) -> int | None:
    for names in (WEEKDAY_NAMES, _FULL_NAMES):
        if name in names:
            return names.index(name)
    return None


def weekday_names(days: frozenset[int] | set[int]) -> str:
    return ",".join(WEEKDAY_NAMES[d] for d in sorted(days))


@dataclass(frozen=True)
class Window:
    start: datetime  # aware
    end: datetime  # aware, exclusive
    midnight: datetime  # the day's, on the centre's wall clock
    zone: str


def windows(request: RecordedDay, zone: str) -> list[Window]:
    """The request as the days it covers: one window within a day, or one per day of
    a range of whole days; ScenarioError for anything else."""
    here = ZoneInfo(zone)
    start, end = (instant(given, here).astimezone(here) for given in (request.start, request.end))
    if start >= end or end <= datetime.combine(start.date() + timedelta(days=1), time(0), tzinfo=here):
        return [window(request, zone)]
    problems = []
    whole_days = _midnight(start) and _midnight(end)
    if not whole_days and end - start <= timedelta(days=1):
        problems.append(
            f"--from and --to must lie within one day of the centre's clock ({zone}): {start.isoformat()} "
            f"to {end.isoformat()} crosses midnight (a scenario is a day: play each day's part on its own)"
        )
    elif not whole_days:
        problems.append(
            f"--from and --to more than a day apart make a range of whole days: give both as dates "
            f"(--from 2026-11-16 --to 2026-11-21, the last day excluded), not {start.isoformat()} "
            f"to {end.isoformat()}"
        )
    days = (end.date() - start.date()).days
    if days > MAX_DAYS:
        problems.append(f"--from and --to: {days} days; a range holds at most {MAX_DAYS}")
    if problems:
        raise ScenarioError("--from/--to", problems)
    midnights = [
        datetime.combine(start.date() + timedelta(days=n), time(0), tzinfo=here) for n in range(days + 1)
    ]
    found = [Window(midnight, following, midnight, zone) for midnight, following in pairwise(midnights)]
    if request.weekdays is None:
        return found
    chosen = [day for day in found if day.midnight.weekday() in request.weekdays]
    if not chosen:
        raise ScenarioError("--weekdays", [
            f"no day from {start.date()} to {end.date()} (excluded) is a {weekday_names(request.weekdays)}"
        ])  # fmt: skip
    return chosen


def day_hours(day: Window) -> float:
    """The real hours from the day's midnight to the next (23 or 25 the day the clocks change)."""
    return (day.end.astimezone(UTC) - day.midnight.astimezone(UTC)).total_seconds() / 3600


def _whole_days(days: list[Window], stderr: TextIO, name: str) -> list[Window]:
    """A range's days but those the clocks change on (a scenario plays 24 hours: such a
    day's records would land an hour off after the change, or past the day's end), each
    left out said on ``stderr``; ScenarioError if that leaves none."""
    kept = []
    for day in days:
        hours = day_hours(day)
        if hours == 24:
            kept.append(day)
            continue
        print(
            f"{name}: note: {day.midnight.date()} left out of the range: the clocks change that day "
            f"({hours:g} hours in {day.zone}), and a scenario plays a 24-hour day",
            file=stderr,
        )
    if not kept:
        raise ScenarioError("--from/--to", ["every day of the range is a day the clocks change"])
    return kept


def _midnight(moment: datetime) -> bool:
    return moment.timetz().replace(tzinfo=None) == time(0)


def window(request: RecordedDay, zone: str) -> Window:
    """The request's instants on the centre's clock; ScenarioError unless within one day."""
    here = ZoneInfo(zone)
    start, end = (instant(given, here).astimezone(here) for given in (request.start, request.end))
    midnight = datetime.combine(start.date(), time(0), tzinfo=here)
    next_midnight = datetime.combine(start.date() + timedelta(days=1), time(0), tzinfo=here)
    problems = []
    if request.weekdays is not None and start < end:
        problems.append(
            "--weekdays goes with a range of whole days (--from and --to dates more than a day apart: "
            "--from 2026-10-05 --to 2026-11-30 --weekdays mon)"
        )
    if start >= end:
        problems.append(f"--from ({start.isoformat()}) must be before --to ({end.isoformat()})")
    elif end > next_midnight:
        problems.append(
            f"--from and --to must lie within one day of the centre's clock ({zone}): "
            f"{start.isoformat()} to {end.isoformat()} does not (a scenario is a day; "
            "a range of whole days is given by dates: --from 2026-11-16 --to 2026-11-21)"
        )
    if problems:
        raise ScenarioError("--from/--to", problems)
    return Window(start, end, midnight, zone)


async def read(settings: Settings, days: list[Window]) -> recorded.Recorded:
    """The windows' records, in seconds of their day; several days averaged into one."""
    password = settings.database_password.get_secret_value() if settings.database_password else None
    traffic_reader = ArrivalReader(settings.database.dsn, password)
    states_reader = ReportReader(settings.database.dsn, password)
    found: list[tuple[RecordedTraffic, Logins]] = []
    try:
        for span in days:
            traffic = await traffic_reader.traffic(span.start, span.end, span.midnight)
            logins = Logins(span.start)
            async for states in states_reader.agent_states(span.start, span.end):
                for state in states:
                    logins.add(state)
            found.append((traffic, logins))
    finally:
        await traffic_reader.close()
        await states_reader.close()
    if len(days) == 1:
        return _recorded(*found[0], days[0])
    return _averaged(found, days)


def _recorded(traffic: RecordedTraffic, logins: Logins, span: Window) -> recorded.Recorded:
    return recorded.Recorded(
        source=f"records {span.start.isoformat()} to {span.end.isoformat()}",
        first_calls=traffic.first_calls,
        talk_seconds=traffic.talk_seconds,
        talk_by_topic=traffic.talk_by_topic,
        patience_seconds=patience_estimate(traffic.abandoned, traffic.waited_seconds),
        logins=_of_day(logins, span),
    )


def _of_day(logins: Logins, span: Window) -> dict[str, list[tuple[float, float]]]:
    def of_day(at: datetime) -> float:
        return (at - span.midnight).total_seconds()

    return {
        agent: [(of_day(a), of_day(b)) for a, b in spans] for agent, spans in logins.spans(span.end).items()
    }


def _averaged(read: list[tuple[RecordedTraffic, Logins]], days: list[Window]) -> recorded.Recorded:
    """Several days as their average day: first calls per line, topic and quarter and the
    agents logged in each hour averaged over the days; talks and abandons pooled."""
    count = len(days)
    first_calls: dict[tuple[str, str, str | None], dict[int, float]] = {}
    talks: list[float] = []
    by_topic: dict[str, list[float]] = {}
    abandoned, waited = 0, 0.0
    logged_in = [0.0] * 24  # agent-seconds in each hour, every day together
    for (traffic, logins), span in zip(read, days, strict=True):
        for stream, quarters in traffic.first_calls.items():
            counts = first_calls.setdefault(stream, {})
            for quarter, n in quarters.items():
                counts[quarter] = counts.get(quarter, 0.0) + n / count
        talks += traffic.talk_seconds
        for topic, seconds in traffic.talk_by_topic.items():
            by_topic.setdefault(topic, []).extend(seconds)
        abandoned, waited = abandoned + traffic.abandoned, waited + traffic.waited_seconds
        for spans in _of_day(logins, span).values():
            for since, until in spans:
                for hour, covered in by_hour(since, until):
                    logged_in[hour] += max(0.0, covered)
    first, last = days[0], days[-1]
    # Days left out of the range (--weekdays): the weekdays the average is of.
    spanned = (last.midnight.date() - first.midnight.date()).days + 1
    which = f": {weekday_names({day.midnight.weekday() for day in days})}" if spanned > count else ""
    return recorded.Recorded(
        source=f"records {first.start.isoformat()} to {last.end.isoformat()} ({count} days averaged{which})",
        first_calls=first_calls,
        talk_seconds=talks,
        talk_by_topic=by_topic,
        patience_seconds=patience_estimate(abandoned, waited),
        logins={},
        staff_per_hour=[seconds / 3600 / count for seconds in logged_in],
    )


def scenario(
    request: RecordedDay, settings: Settings, stderr: TextIO, name: str = "simulate"
) -> Scenario | int:
    """The recorded day as a scenario; or, once the problem is written to ``stderr``
    (``name``: the command saying it), the exit code."""
    try:
        base: dict[str, Any] = {}
        if request.base is not None:
            base = read_data(request.base)
            if not isinstance(base, dict):
                raise ScenarioError(str(request.base), ["not a scenario: a table of keys is expected"])
        days = windows(request, base.get("zone") or compiled.centre_zone(settings))
        if len(days) > 1:
            days = _whole_days(days, stderr, name)
        span = days[0]
        records = asyncio.run(read(settings, days))
        agents = frozenset(compiled.board(settings).centre.agents)
        data = recorded.scenario_data(
            records, base, str(request.config.resolve()), span.midnight.date(), agents
        )
        data["zone"] = span.zone
        if request.seed is not None:
            data["seed"] = request.seed
        return build(data, records.source, Path.cwd())
    except ScenarioError as exc:
        return command.refuse(exc, stderr)
    except DatabaseUnavailable as exc:
        print(f"{name}: cannot reach the database: {exc}", file=stderr)
        return EXIT_UNUSABLE
    except asyncpg.PostgresError as exc:
        print(f"{name}: the database cannot answer: {exc} (is it migrated? callrouter migrate)", file=stderr)
        return EXIT_UNUSABLE


def run(
    request: RecordedDay,
    settings: Settings,
    stdout: TextIO,
    stderr: TextIO,
    fmt: str = "table",
    replicate: int | None = None,
    comparison: str | None = None,
) -> int:
    """``simulate --from --to``, the whole command; its exit code."""
    day = scenario(request, settings, stderr)
    if isinstance(day, int):
        return day
    return command.play(day, fmt, stdout, stderr, replicate, comparison)
