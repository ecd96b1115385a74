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
from typing import TextIO

import uvloop

from callrouter import __version__, cli_simulate, logs
from callrouter.config import ConfigError, Settings, load

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
    except queries.CANNOT_ASK as exc:
        print(f"migrate: cannot reach the database: {queries.unavailable(exc, 60)}", file=sys.stderr)
        return 1
    except asyncpg.PostgresError as exc:
        print(f"migrate: the database refused a migration: {exc}", file=sys.stderr)
        return 1


def cmd_results_import(args: argparse.Namespace) -> int:
    from callrouter import compiled, results_import
    from callrouter.secrets_pepper import NO_PEPPER
    from callrouter.store.notifications import Notifications

    settings = _load(args.config)
    password = settings.database_password.get_secret_value() if settings.database_password else None
    expire_after = compiled.results_expire_after(settings)
    pepper = settings.pepper()
    if pepper is None:
        print(f"results import: warning: {NO_PEPPER}", file=sys.stderr)
    store = Notifications(
        settings.database.dsn, password, expire_after, results_import.hash_threads(), pepper=pepper
    )
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
    parser.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        help="DEBUG, INFO, WARNING, ERROR or CRITICAL (default INFO)",
    )
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
    cli_simulate.add_parsers(sub)

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


class _Closed(io.TextIOBase):
    """Standard output when it was closed (``>&-``): writing to it is an unwritable output."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")


class _Aside(io.TextIOBase):
    """Standard error, said as far as it can be: a note, a progress line or an error
    message that cannot be written (``2>/dev/full``, ``2>&-``) is dropped, and the
    command goes on to its own exit status (a note on a full stderr failed a
    simulation whose output had been written)."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.stream is not None and self.stream.isatty()

    def fileno(self) -> int:
        if self.stream is None:
            raise OSError(errno.EBADF, "standard error is closed")
        return self.stream.fileno()

    def write(self, text: str) -> int:
        if self.stream is not None:
            try:
                self.stream.write(text)
                self.stream.flush()
            except OSError:
                _drop(self.stream)  # what is buffered for it: nowhere (else it fails again at exit)
                self.stream = None
        return len(text)


def main(argv: list[str] | None = None) -> int:
    if sys.stdout is None:
        sys.stdout = _Closed()
    original = sys.stderr
    sys.stderr = original if isinstance(original, _Aside) else _Aside(original)
    try:
        return _main(argv)
    finally:
        sys.stderr = original


def _main(argv: list[str] | None) -> int:
    try:
        parser = build_parser()
        given = sys.argv[1:] if argv is None else argv
        args = parser.parse_args(glue_values(parser, given))  # --help, --version: written here
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
        _drop(sys.stdout)
        return 2 if exc.errno != errno.EPIPE else 141


def glue_values(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """``--target -80/20`` made ``--target=-80/20``: argparse takes a value that begins
    with ``-`` (and is no negative number) for an option and says only "expected one
    argument"; glued, the value reaches its option, whose check says what is wrong
    with it. A word that is one of the command's options is never glued (a value left out)."""
    takes_value, known = _options(parser)
    out: list[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            return out + argv[i:]
        if word in takes_value and i + 1 < len(argv):
            value = argv[i + 1]
            if value.startswith("-") and value != "--" and value.split("=", 1)[0] not in known:
                out.append(f"{word}={value}")
                i += 2
                continue
        out.append(word)
        i += 1
    return out


def _options(parser: argparse.ArgumentParser) -> tuple[set[str], set[str]]:
    """The long options of ``parser`` and its commands' parsers that take one value, and
    every option string of them all."""
    takes_value: set[str] = set()
    known: set[str] = set()
    for action in parser._actions:
        known.update(action.option_strings)
        if action.nargs is None and action.option_strings:
            takes_value.update(o for o in action.option_strings if o.startswith("--"))
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                more, names = _options(child)
                takes_value |= more
                known |= names
    return takes_value, known


def _drop(stream: TextIO | io.IOBase) -> None:
    """What is still buffered for ``stream`` goes nowhere: its descriptor now writes to /dev/null."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())


UNWRITABLE = frozenset({errno.ENOSPC, errno.EPIPE, errno.EIO, errno.EFBIG, errno.EDQUOT, errno.EBADF})


if __name__ == "__main__":
    sys.exit(main())
