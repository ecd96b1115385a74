"""``callrouter simulate`` and ``callrouter staffing``: their arguments, and where
their day comes from (a scenario file, or a day recorded in PostgreSQL)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from callrouter import cli  # its settings loader (cli imports this module: read at call time)

if TYPE_CHECKING:
    from callrouter.simulate.scenario import Scenario
    from callrouter.simulate_records import RecordedDay


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _simulate_parser(sub)
    _staffing_parser(sub)


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
    return records.run(
        request, cli._load(_config(args)), out, err, args.format, args.replications, args.compare
    )


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
        return cli.EXIT_BAD_CONFIG
    request = sc.Request(
        Path(args.scenario) if args.scenario else None, args.target, args.max_abandon, args.definition,
        args.replications, args.iterations, not args.no_trim, args.seed, args.format,
        Path(args.output) if args.output is not None else None, args.shrinkage, args.sure,
    )  # fmt: skip
    if args.scenario is not None:
        return sc.run(request, sys.stdout, sys.stderr)
    from callrouter import simulate_records as records

    day, settings = _recorded_day(args), cli._load(_config(args))

    def recorded(stderr: TextIO) -> Scenario | int:
        return records.scenario(day, settings, stderr, "callrouter staffing")

    return sc.run(request, sys.stdout, sys.stderr, recorded)


def _command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str, text: str
) -> argparse.ArgumentParser:
    """A command whose help is its module's text, as written (its lines kept)."""
    return sub.add_parser(
        name, help=summary, description=text, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def _simulate_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from callrouter.simulate import command, compare, render

    sim = _command(
        sub,
        "simulate",
        "a day of traffic through the router's switchboard in simulated time (table, json or html)",
        command.HELP,
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

    staff = _command(
        sub,
        "staffing",
        "the agents each hour needs to meet a service-level target (Erlang A, checked by simulation)",
        staffing_command.HELP,
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
    staff.add_argument(
        "--sure",
        action="store_true",
        help="an hour meets the target only if the whole 95%% interval of its days' figure does",
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
