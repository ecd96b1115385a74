"""``callrouter report``: the KPI report of a period, read from PostgreSQL.

The period is ``--from`` up to ``--to`` (exclusive), each a day (its midnight)
or an ISO datetime; one without an offset is the centre's wall clock. The
centre's zone is ``--zone``, else the zone of the opening hours most lines
follow (``[hours.*] zone``), else UTC: weekdays and hours are its. The store
streams the period's calls (``store.report``), the core makes the figures
(``core.kpi``), ``report_render``/``report_html`` write them.

Exit 0: written; 2: bad arguments, config or database (one line on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

from callrouter import report_html, report_render
from callrouter.compiled import centre_zone
from callrouter.config import Settings
from callrouter.core.kpi import Report, Scope, Tally
from callrouter.store.queries import DatabaseUnavailable
from callrouter.store.report import ReportReader

EXIT_UNUSABLE = 2
HELP = """\
The KPI report of a period from PostgreSQL: overall, per line and per topic,
with the load by weekday x hour, the waits, the service level by hour and the
agents planned vs needed by hour.
Counts only: no phone number is ever printed.

  offered          inbound calls that reached a line (results calls apart)
  unique callers   distinct caller numbers; each withheld call is one
  queued           calls whose wait in the queue ended (answered, abandoned,
                   overflow, callback)
  ASA              mean wait (joined the queue -> agent answered) of answered calls
  SL1              answered within T / answered
  SL2              answered within T / (answered + abandoned after T);
                   abandons within T are left out
  abandonment      abandoned (short too) / queued
  AHT              mean talk (agent answered -> end) of answered calls
  repeat rate      calls recognised as a person calling again / offered
  planned          per hour of the day: agents logged in, on average
  needed           per hour of the day: the fewest agents whose SL2 reaches the
                   target by Erlang A at the hour's queued calls, handle time
                   (talk + [queue] wrap_up_seconds) and the callers' patience
                   (abandoned / seconds waited by all queued: exponential MLE)

T is [queue] service_level_seconds (default 20), the target
[queue] service_level_target (default 0.8). --from/--to are days
(2026-11-23) or ISO datetimes (2026-11-23T08:00, with an offset or in the
centre's zone); --to is exclusive. The centre's zone is --zone, else that of
the opening hours most lines follow, else UTC.
Exit 0: written; 2: bad arguments, config or database.
"""


class ReportError(Exception):
    """The arguments cannot make a report: said in one line."""


@dataclass(frozen=True)
class Request:
    start: date | datetime
    end: date | datetime
    lines: tuple[str, ...] = ()
    fmt: str = "table"
    output: Path | None = None
    zone: str | None = None
    config: Path | None = None  # the router's config: never the output


def _overwrites_config(request: Request) -> bool:
    output, config = request.output, request.config
    return output is not None and config is not None and output.exists() and output.samefile(config)


def moment(text: str) -> date | datetime:
    """``--from``/``--to``: a day or an ISO datetime (argparse names the option and the value)."""
    try:
        given = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a day (2026-11-23) nor an ISO datetime"
            " (2026-11-23T08:00, 2026-11-23T08:00+03:00)"
        ) from None
    if not 1970 <= given.year <= 2199:  # records are of these years; the calendar's ends overflow
        raise argparse.ArgumentTypeError(f"{text!r}: a day from 1970 to 2199")
    return given


def zone_name(text: str) -> str:
    """``--zone``: an IANA time zone."""
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a time zone (e.g. Europe/Moscow, UTC)") from None
    return text


def instant(value: date | datetime, zone: ZoneInfo) -> datetime:
    """A day's midnight, or a wall-clock time, in ``zone``; an aware datetime as it is."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time(0), tzinfo=zone)
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def scope_of(request: Request, settings: Settings) -> Scope:
    zone = request.zone or centre_zone(settings)
    # said on the centre's wall clock, whatever offset they were given with
    start, end = (
        instant(given, ZoneInfo(zone)).astimezone(ZoneInfo(zone)) for given in (request.start, request.end)
    )
    if start >= end:
        raise ReportError(f"--from ({start.isoformat()}) must be before --to ({end.isoformat()})")
    known = {line.name for line in settings.lines}
    unknown = [line for line in request.lines if line not in known]
    if unknown:
        raise ReportError(
            f"unknown line {', '.join(map(repr, unknown))} (not a [[lines]] name of the config)"
        )
    queue = settings.file.queue
    lines = tuple(dict.fromkeys(request.lines))
    return Scope(
        start,
        end,
        zone,
        queue.service_level_seconds,
        queue.service_level_target,
        lines,
        queue.wrap_up_seconds,
    )


async def collect(reader: ReportReader, scope: Scope, now: datetime | None = None) -> Report:
    """The period's figures, the calls and the agents' states streamed through the
    core's tally; staff cover up to ``now`` (default: the clock) when the period
    has not ended yet."""
    tally = Tally(scope)
    async for batch in reader.calls(scope.start, scope.end, scope.lines):
        for call in batch:
            tally.add(call)
    async for states in reader.agent_states(scope.start, scope.end):
        for state in states:
            tally.agent_state(state)
    callbacks = await reader.callback_states(scope.start, scope.end, scope.lines)
    notifications = await reader.notification_states(scope.start, scope.end, scope.lines)
    return tally.report(callbacks, notifications, until=now or datetime.now(UTC))


def render(report: Report, fmt: str) -> str:
    if fmt == "html":
        return report_html.page(report)
    if fmt == "json":
        return report_render.as_json_text(report)
    if fmt == "csv":
        return report_render.as_csv(report)
    return report_render.as_table(report)


async def _collect_and_close(reader: ReportReader, scope: Scope) -> Report:
    try:
        return await collect(reader, scope)
    finally:
        await reader.close()


def figures(request: Request, settings: Settings, reader: ReportReader) -> Report:
    """The requested report's figures; ReportError says in one line why there are none."""
    scope = scope_of(request, settings)
    try:
        return asyncio.run(_collect_and_close(reader, scope))
    except DatabaseUnavailable as exc:
        raise ReportError(f"cannot reach the database: {exc}") from None
    except asyncpg.PostgresError as exc:
        raise ReportError(f"the database cannot answer: {exc} (is it migrated? callrouter migrate)") from None


def run(request: Request, settings: Settings, reader: ReportReader, stdout: TextIO, stderr: TextIO) -> int:
    """The whole command; its exit code."""
    try:
        if _overwrites_config(request):
            raise ReportError(
                f"--output {request.output} is the config file: the report goes to another file"
            )
        text = render(figures(request, settings, reader), request.fmt)
        if request.output is None:
            stdout.write(text)
            return 0
        try:
            request.output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ReportError(f"cannot write {request.output}: {exc.strerror}") from None
    except ReportError as exc:
        print(f"report: {exc}", file=stderr)
        return EXIT_UNUSABLE
    print(f"report: {request.fmt} written to {request.output}", file=stderr)
    return 0


def request_of(args: argparse.Namespace) -> Request:
    output = Path(args.output) if args.output and args.output != "-" else None
    config = Path(args.config) if getattr(args, "config", None) else None
    return Request(args.start, args.end, tuple(args.line or ()), args.format, output, args.zone, config)
