"""The ``callrouter`` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import io
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import uvloop

from callrouter import __version__, logs
from callrouter.config import ConfigError, Settings, load

if TYPE_CHECKING:
    from callrouter.simulate.scenario import Scenario
    from callrouter.simulate_records import RecordedDay

DESCRIPTION = """\
callrouter: one front door for a healthcare contact centre on Asterisk ARI.

Every DID goes through Stasis(callrouter,inbound,DID) to the router, which
greets the caller and (from the inbound work on) routes them to one queue.
Secrets come from the environment: CALLROUTER_ARI_PASSWORD,
CALLROUTER_DATABASE_PASSWORD, CALLROUTER_ADMIN_TOKEN; CALLROUTER_ARI_URL and
CALLROUTER_DATABASE_DSN override the file's addresses.
"""

EXIT_BAD_CONFIG = 2


def _load(path: str) -> Settings:
    """The settings, or exit 2 listing every problem (the same for every command)."""
    try:
        return load(path, check_prompts=True)
    except ConfigError as exc:
        print(f"{exc.source}: invalid configuration", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_CONFIG) from None


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = _load(args.config)
    patterns = sum(1 for line in settings.lines for did in line.dids if did.startswith("_"))
    print(
        f"{args.config}: OK ({len(settings.lines)} lines, "
        f"{sum(len(line.dids) for line in settings.lines)} DIDs of which {patterns} patterns)"
    )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    import asyncpg

    from callrouter.store import migrate, queries
    from callrouter.store.postgres import connect_kwargs

    settings = _load(args.config)
    password = settings.database_password.get_secret_value() if settings.database_password else None

    async def go() -> int:
        conn = await asyncpg.connect(**connect_kwargs(settings.database.dsn, password))
        try:
            applied = await migrate.apply(conn, Path(args.migrations) if args.migrations else None)
        finally:
            await conn.close()
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in applied) or "nothing new"
        print(f"migrations applied: {names}")
        return 0

    try:
        return asyncio.run(go())
    except migrate.MigrationError as exc:
        print(f"migrate: {exc}", file=sys.stderr)
        return 1
    except (*queries.UNAVAILABLE, *queries.REFUSED) as exc:
        print(f"migrate: cannot reach the database: {queries.unavailable(exc, 60)}", file=sys.stderr)
        return 1
    except asyncpg.PostgresError as exc:
        print(f"migrate: the database refused a migration: {exc}", file=sys.stderr)
        return 1


def cmd_results_import(args: argparse.Namespace) -> int:
    from callrouter import compiled, results_import
    from callrouter.store.notifications import Notifications

    settings = _load(args.config)
    password = settings.database_password.get_secret_value() if settings.database_password else None
    expire_after = compiled.results_expire_after(settings)
    store = Notifications(settings.database.dsn, password, expire_after, results_import.hash_threads())
    return results_import.run(
        Path(args.file), compiled.results_input(settings), store, sys.stdout, sys.stderr
    )


def cmd_report(args: argparse.Namespace) -> int:
    from callrouter import report
    from callrouter.store.report import ReportReader

    settings = _load(args.config)
    password = settings.database_password.get_secret_value() if settings.database_password else None
    reader = ReportReader(settings.database.dsn, password)
    return report.run(report.request_of(args), settings, reader, sys.stdout, sys.stderr)


def cmd_simulate(args: argparse.Namespace) -> int:
    from callrouter.simulate import command

    from_records = args.start is not None and args.end is not None
    problem = _simulate_source_problem(args)
    if problem is not None:
        print(f"simulate: {problem}", file=sys.stderr)
        return command.EXIT_UNUSABLE
    if not from_records:
        scenario, seed, out, err = Path(args.scenario), args.seed, sys.stdout, sys.stderr
        return command.run(scenario, args.format, seed, out, err, args.replications, args.compare)
    from callrouter import simulate_records as records

    request = _recorded_day(args)
    out, err = sys.stdout, sys.stderr
    return records.run(request, _load(_config(args)), out, err, args.format, args.replications, args.compare)


def _simulate_source_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with where ``simulate``'s day comes from; None: nothing."""
    if (args.start is None) != (args.end is None):
        return "--from and --to go together (a recorded day)"
    if args.scenario is None and args.start is None:
        return "give a SCENARIO, or --from and --to (a recorded day)"
    if args.scenario is not None and args.start is not None:
        return "a SCENARIO or --from and --to (a recorded day), not both"
    if args.format == "html" and args.replications is not None:
        return "--format html draws one day: not with --replications (use table or json)"
    if args.scenario is not None:
        given = [name for name, value in (("--base", args.base), ("--weekdays", args.weekdays),
                                          ("--config", args.config)) if value is not None]  # fmt: skip
        if given:
            return f"{', '.join(given)}: with --from and --to only (a scenario names its config and the rest)"
    return None


def _recorded_day(args: argparse.Namespace) -> RecordedDay:
    from callrouter.simulate_records import RecordedDay

    base = Path(args.base) if args.base else None
    return RecordedDay(args.start, args.end, Path(_config(args)), base, args.seed, args.weekdays)


def _config(args: argparse.Namespace) -> str:
    """A recorded day's config: -c, else the router's own default file."""
    return str(args.config or "callrouter.toml")


def cmd_staffing(args: argparse.Namespace) -> int:
    from callrouter.simulate import staffing_command as sc

    problem = sc.source_problem(
        args.scenario, args.start, args.end, args.base, args.output, args.weekdays, args.config
    )
    if problem is not None:
        print(f"callrouter staffing: {problem}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    request = sc.Request(
        Path(args.scenario) if args.scenario else None, args.target, args.max_abandon, args.definition,
        args.replications, args.iterations, not args.no_trim, args.seed, args.format,
        Path(args.output) if args.output is not None else None, args.shrinkage,
    )  # fmt: skip
    if args.scenario is not None:
        return sc.run(request, sys.stdout, sys.stderr)
    from callrouter import simulate_records as records

    day, settings = _recorded_day(args), _load(_config(args))

    def recorded(stderr: TextIO) -> Scenario | int:
        return records.scenario(day, settings, stderr, "callrouter staffing")

    return sc.run(request, sys.stdout, sys.stderr, recorded)


def cmd_run(args: argparse.Namespace) -> int:
    from callrouter import app

    settings = _load(args.config)
    # uvloop: the event loop's own work was about 40% of the router's CPU per
    # call on asyncio's default loop (bench/, py-spy); uvloop does it in C.
    return uvloop.run(app.run(settings))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="callrouter", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"callrouter {__version__}")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING... (default INFO)")
    parser.add_argument(
        "--log-format",
        choices=["auto", "json", "text"],
        default="auto",
        help="JSON lines by default when stderr is not a terminal",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="connect to Asterisk and route calls until stopped (SIGTERM)")
    run.add_argument("--config", "-c", default="callrouter.toml", help="the callrouter.toml to use")
    run.set_defaults(func=cmd_run)

    mig = sub.add_parser("migrate", help="apply new SQL migrations to the database (safe to repeat)")
    mig.add_argument("--config", "-c", default="callrouter.toml")
    mig.add_argument(
        "--migrations",
        default=None,
        help="folder of NNNN_name.sql files (default: the ones shipped with the package)",
    )
    mig.set_defaults(func=cmd_migrate)

    results = sub.add_parser("results", help="lab results phoned to patients: put them in")
    actions = results.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = actions.add_parser(
        "import",
        help="put results in from a CSV file (exit 0: all in, 1: rows rejected, 2: unusable)",
        description="Put lab results in from a CSV file whose header names the fields: "
        "external_id, phone, secret, test_type, result, line and, optionally, language. "
        "Each rejected row on stderr as 'line N: field: reason'; a summary on stdout. "
        "Exit 0: every row went in (or was in already); 1: some rows were rejected; "
        "2: the file, the config or the database was unusable.",
    )
    imp.add_argument("file", help="the CSV file (UTF-8)")
    imp.add_argument("--config", "-c", default="callrouter.toml")
    imp.set_defaults(func=cmd_results_import)

    _report_parser(sub)
    _simulate_parser(sub)
    _staffing_parser(sub)

    chk = sub.add_parser(
        "check-config", help="validate a config file: prints OK, or every bad key with its path (exit 2)"
    )
    chk.add_argument("config", help="the callrouter.toml to check")
    chk.set_defaults(func=cmd_check_config)
    return parser


def _report_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from callrouter import report

    rep = sub.add_parser(
        "report",
        help="the KPI report of a period (table, csv, json or html)",
        description=report.HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rep.add_argument(
        "--from",
        dest="start",
        metavar="FROM",
        required=True,
        type=report.moment,
        help="the first day or instant",
    )
    rep.add_argument(
        "--to", dest="end", metavar="TO", required=True, type=report.moment, help="the day or instant after"
    )
    rep.add_argument("--line", action="append", help="only this line (repeat for several)")
    rep.add_argument("--format", choices=["table", "csv", "json", "html"], default="table")
    rep.add_argument("--output", "-o", help="write to this file (default: stdout)")
    rep.add_argument("--zone", type=report.zone_name, help="the centre's time zone (default: from [hours])")
    rep.add_argument("--config", "-c", default="callrouter.toml")
    rep.set_defaults(func=cmd_report)


def _simulate_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from callrouter.simulate import command, compare, render

    sim = sub.add_parser(
        "simulate",
        help="a day of traffic through the router's switchboard in simulated time (table, json or html)",
        description=command.HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sim.add_argument("scenario", nargs="?", help="the scenario file (TOML, or JSON by its .json name)")
    sim.add_argument("--format", choices=render.FORMATS, default="table")
    sim.add_argument("--seed", type=int, help="the random seed (default: the scenario's)")
    sim.add_argument(
        "--replications",
        type=_replications,
        metavar="N",
        help="run the day N times (seeds seed, seed+1, ...): each figure's mean and 95%% interval",
    )
    sim.add_argument(
        "--compare",
        choices=compare.COMPARISONS,
        help="separate-lines: the day as separate lines, as one queue, and as one queue with "
        "keep-your-place and callbacks, side by side (see above)",
    )
    _recorded_day_arguments(sim)
    sim.set_defaults(func=cmd_simulate)


def _recorded_day_arguments(sim: argparse.ArgumentParser) -> None:
    """``simulate --from --to``: the day's arrivals and handle times from the records."""
    from callrouter import report

    day = "a recorded day (instead of a scenario): "
    sim.add_argument(
        "--from", dest="start", metavar="FROM", type=report.moment, help=day + "its first instant"
    )
    sim.add_argument("--to", dest="end", metavar="TO", type=report.moment, help=day + "the instant after")
    sim.add_argument(
        "--base", metavar="SCENARIO", help="with --from/--to: patience, redials, shifts... from it"
    )
    sim.add_argument("--config", "-c", help="with --from/--to: the config (default callrouter.toml)")
    sim.add_argument(
        "--weekdays",
        metavar="DAYS",
        type=_weekdays,
        help="with --from/--to dates: only the range's days on these weekdays (mon-fri, sat,sun, mon)",
    )


def _staffing_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from callrouter.simulate import staffing_command, staffing_render

    staff = sub.add_parser(
        "staffing",
        help="the agents each hour needs to meet a service-level target (Erlang A, checked by simulation)",
        description=staffing_command.HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    staff.add_argument("--scenario", metavar="FILE", help="the scenario (TOML, or .json)")
    staff.add_argument("--target", required=True, help="PERCENT/SECONDS: 80/20 is 80%% within 20 s")
    staff.add_argument(
        "--max-abandon", metavar="PERCENT", help="at most this share abandoned each hour (e.g. 5%%)"
    )
    staff.add_argument(
        "--definition", choices=["sl2", "sl1"], default="sl2", help="the service level judged (default sl2)"
    )
    staff.add_argument(
        "--shrinkage",
        metavar="PERCENT",
        help="paid time off the phones (breaks, training, absence), e.g. 30%%: the rota each hour too",
    )
    staff.add_argument(
        "--replications",
        type=_replications,
        default=4,
        metavar="N",
        help="days simulated for each staffing tried (default 4)",
    )
    staff.add_argument(
        "--iterations", type=_positive, default=12, metavar="N", help="staffings tried at most (default 12)"
    )
    staff.add_argument(
        "--no-trim", action="store_true", help="stop at the first staffing that meets the target"
    )
    staff.add_argument("--seed", type=int, help="the first seed (default: the scenario's)")
    staff.add_argument("--format", choices=staffing_render.FORMATS, default="table")
    staff.add_argument("--output", "-o", metavar="FILE", help="write the scenario with the advised [staff]")
    _recorded_day_arguments(staff)
    staff.set_defaults(func=cmd_staffing)


def _weekdays(text: str) -> frozenset[int]:
    from callrouter.simulate_records import weekdays

    try:
        return weekdays(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a whole number >= 1: {text!r}")
    return int(text)


MAX_REPLICATIONS = 1000


def _replications(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if count < 2:
        raise argparse.ArgumentTypeError("at least 2 (an interval needs two days)")
    if count > MAX_REPLICATIONS:
        raise argparse.ArgumentTypeError(f"at most {MAX_REPLICATIONS} (a busy day takes seconds each)")
    return count


class _Closed(io.TextIOBase):
    """Standard output when it was closed (``>&-``): writing to it is an unwritable output."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")


def main(argv: list[str] | None = None) -> int:
    if sys.stdout is None:
        sys.stdout = _Closed()
    try:
        args = build_parser().parse_args(argv)  # --help, --version: written here
        logs.setup(args.log_level, args.log_format)
        return int(args.func(args))
    except KeyboardInterrupt:
        print("callrouter: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        if exc.errno not in UNWRITABLE:
            raise
        # The output could not be written (a full disk, a reader gone): said, not a traceback,
        # and what is still buffered for it dropped (else Python says it again at exit).
        print(f"callrouter: cannot write the output: {exc.strerror}", file=sys.stderr)
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 2 if exc.errno != errno.EPIPE else 141


UNWRITABLE = frozenset({errno.ENOSPC, errno.EPIPE, errno.EIO, errno.EFBIG, errno.EDQUOT, errno.EBADF})


if __name__ == "__main__":
    sys.exit(main())
