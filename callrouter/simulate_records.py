"""``callrouter simulate --from --to`` and ``callrouter staffing --from --to``: a
day recorded in PostgreSQL as a scenario. The store reads the traffic
(``store.arrivals``) and the agents' states (``store.report``),
``simulate.recorded`` makes them a scenario over ``--base`` (or the defaults)
(``scenario``, shared by both commands); ``simulate`` plays it as it plays a
scenario file, ``staffing`` advises on it.

The window is ``--from`` up to ``--to`` (exclusive), each a day (its midnight)
or an ISO datetime, one without an offset on the centre's wall clock; it lies
within one day of that clock (a scenario is a day).

Exit 0: written; 2: bad arguments, config, scenario or database (on stderr).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import asyncpg

from callrouter import compiled
from callrouter.config import Settings
from callrouter.core.cover import Logins, patience_estimate
from callrouter.report import instant
from callrouter.simulate import command, recorded
from callrouter.simulate.scenario import Scenario, ScenarioError, build, read_data
from callrouter.store.arrivals import ArrivalReader, RecordedTraffic
from callrouter.store.queries import DatabaseUnavailable
from callrouter.store.report import ReportReader

EXIT_UNUSABLE = 2


@dataclass(frozen=True)
class RecordedDay:
    """What ``--from``, ``--to``, ``-c``, ``--base`` and ``--seed`` ask for."""

    start: date | datetime
    end: date | datetime
    config: Path
    base: Path | None = None
    seed: int | None = None


@dataclass(frozen=True)
class Window:
    start: datetime  # aware
    end: datetime  # aware, exclusive
    midnight: datetime  # the day's, on the centre's wall clock
    zone: str


def window(request: RecordedDay, zone: str) -> Window:
    """The request's instants on the centre's clock; ScenarioError unless within one day."""
    here = ZoneInfo(zone)
    start, end = (instant(given, here).astimezone(here) for given in (request.start, request.end))
    midnight = datetime.combine(start.date(), time(0), tzinfo=here)
    next_midnight = datetime.combine(start.date() + timedelta(days=1), time(0), tzinfo=here)
    problems = []
    if start >= end:
        problems.append(f"--from ({start.isoformat()}) must be before --to ({end.isoformat()})")
    elif end > next_midnight:
        problems.append(
            f"--from and --to must lie within one day of the centre's clock ({zone}): "
            f"{start.isoformat()} to {end.isoformat()} does not (a scenario is a day)"
        )
    if problems:
        raise ScenarioError("--from/--to", problems)
    return Window(start, end, midnight, zone)


async def read(settings: Settings, span: Window) -> recorded.Recorded:
    """The window's records, in seconds of its day."""
    password = settings.database_password.get_secret_value() if settings.database_password else None
    traffic_reader = ArrivalReader(settings.database.dsn, password)
    states_reader = ReportReader(settings.database.dsn, password)
    try:
        traffic = await traffic_reader.traffic(span.start, span.end, span.midnight)
        logins = Logins(span.start)
        async for states in states_reader.agent_states(span.start, span.end):
            for state in states:
                logins.add(state)
    finally:
        await traffic_reader.close()
        await states_reader.close()
    return _recorded(traffic, logins, span)


def _recorded(traffic: RecordedTraffic, logins: Logins, span: Window) -> recorded.Recorded:
    def of_day(at: datetime) -> float:
        return (at - span.midnight).total_seconds()

    return recorded.Recorded(
        source=f"records {span.start.isoformat()} to {span.end.isoformat()}",
        first_calls=traffic.first_calls,
        talk_seconds=traffic.talk_seconds,
        talk_by_topic=traffic.talk_by_topic,
        patience_seconds=patience_estimate(traffic.abandoned, traffic.waited_seconds),
        logins={
            agent: [(of_day(a), of_day(b)) for a, b in spans]
            for agent, spans in logins.spans(span.end).items()
        },
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
        span = window(request, base.get("zone") or compiled.centre_zone(settings))
        records = asyncio.run(read(settings, span))
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
