"""``callrouter staffing --target 80/20 --scenario FILE`` (or ``--from --to``, a
recorded day, whose scenario the caller builds: ``callrouter.simulate_records``):
the agents each hour needs (``staffing``), written out (``staffing_render``);
``--output`` writes the scenario file again with the advised ``[staff]`` in place
of its shifts. Each try's progress goes to stderr. Exit 0: the target is met; 1:
the iteration cap came first (the advice is written, marked NOT MET); 2: bad
arguments, target, scenario or records."""

from __future__ import annotations

import json
import os
import re
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, TextIO

from callrouter.config import read_file
from callrouter.simulate import staffing, staffing_render
from callrouter.simulate.command import EXIT_UNUSABLE, loaded
from callrouter.simulate.scenario import Scenario, ScenarioError, config_path_of, is_json
from callrouter.simulate.staffing import TargetError

EXIT_NOT_MET = 1
HELP = """\
The agents each hour of a scenario's day needs to meet a service-level target:
Erlang A per hour on the first calls (every line as one queue, all-round
agents; service time = handle + wrap-up + the agent's ring, patience from the
scenario), then the day simulated with that staffing (--replications days from
the scenario's seed, the same seeds each time) and corrected until every hour
meets the target: redials of callers who gave up add load the formula does not
see, and a queue left at the end of an hour carries into the next. Then the
hours are tried with fewer agents (one fewer; half the way down to a count
known to fail), kept where the target still holds. Each hour is judged by the
days' figures pooled (each day's ratio weighted by its calls).

--target 80/20: 80% of calls answered within 20 s, by SL2 = answered within T /
(answered + abandoned after T) unless --definition sl1 (answered within T /
answered, which ignores the callers who gave up: meet it with --max-abandon).
--max-abandon 5%: besides, at most 5% of queued calls abandoned each hour.
--sure: an hour meets the target only if the whole 95% interval of its days'
figure does (its pessimistic end), not merely their mean: a few more agents
where a few days cannot tell (without it such hours are marked ~).
Hours with under 5 calls that waited (answered or abandoned) a day on average
are not judged: the formula's count stands, never cut (raised only when the
hour after them keeps missing the target: its queue starts in them).

Prints per hour: the scenario's planned agents, Erlang A's number, the needed
number, first calls and offered calls (redials included), the predicted SL1,
SL2, abandonment, ASA and occupancy with the needed staffing; the day; the
agent-hours planned and needed; and the advised [staff] table to paste into
the scenario (--output FILE writes the scenario with it instead of its shifts).
Each try simulates --replications days: a day of 35,000 calls takes about 18 s,
so such a day takes minutes; --iterations caps the tries (the last staffing
that met the target is the advice). Each try is reported on stderr as it ends,
and the time taken is printed.
--from/--to (instead of --scenario): the day recorded in PostgreSQL between the
two instants (within one day of the centre's clock), or the average day of a
range of dates (--weekdays: only its days on those weekdays), made a scenario
as `callrouter simulate --from --to` makes it (-c the config, --base SCENARIO
for patience, redials, shifts...): first calls and talk times from the records;
planned = the agents' recorded logins (the range's agents logged in each hour
on average; the --base's shifts when it has some).
--output goes with --scenario only.
Exit 0: met; 1: the iteration cap came first (NOT MET); 2: a bad target,
scenario (each bad key by its path), records, database or combination of
arguments (--scenario, or --from and --to: one of them).
"""


MAX_SHRINKAGE = 0.9


def parse_target(text: str) -> tuple[float, float]:
    """``80/20`` (or ``80%/20s``): 80% within 20 s, as (0.8, 20.0)."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%?\s*/\s*(\d+(?:\.\d+)?)\s*s?\s*", text)
    if found is None:
        raise TargetError(f"--target: {text!r} is not PERCENT/SECONDS, e.g. 80/20 (80% within 20 s)")
    level, seconds = float(found[1]), float(found[2])
    if 0 < level < 1 and "%" not in text:  # 0.8/20: 80% meant, or really 0.8%? Asked, not guessed
        raise TargetError(f"--target: {text!r}: the share is in percent: 80/20, or {found[1]}%/{found[2]}")
    # Each number said as written: rounded (99.9999999 as 100) it would seem to lie inside.
    if not 0 < level < 100:
        raise TargetError(f"--target: the share must lie between 0 and 100% (exclusive), not {found[1]}%")
    if not 0 < seconds <= 3600:
        raise TargetError(f"--target: the seconds must lie in (0, 3600], not {found[2]}")
    return level / 100, seconds


def parse_share(text: str, option: str = "--max-abandon", zero: bool = False) -> float:
    """``5%`` (or ``5``): 0.05. ``zero``: 0% is a share too (none), and the caller holds
    the share to its own ceiling (below 100%)."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%?\s*", text)
    if found is None:
        raise TargetError(f"{option}: {text!r} is not a percentage, e.g. 5%")
    share = float(found[1])
    if 0 < share < 1 and "%" not in text:  # 0.05: a fraction meant, or really 0.05%? Asked, not guessed
        raise TargetError(f"{option}: {text!r}: write it with its % sign (5% or {found[1]}%)")
    if not zero and not 0 < share <= 100:
        raise TargetError(f"{option}: must lie in (0, 100%], not {found[1]}%")
    return share / 100


@dataclass(frozen=True)
class Request:
    scenario: Path | None  # None: a recorded day (``run``'s ``recorded``)
    target: str
    max_abandon: str | None = None
    definition: Literal["sl1", "sl2"] = "sl2"
    replications: int = 4
    iterations: int = 12
    trim: bool = True
    seed: int | None = None
    fmt: str = "table"
    output: Path | None = None
    shrinkage: str | None = None
    sure: bool = False


def source_problem(
    scenario: str | None,
    start: object,
    end: object,
    base: str | None,
    output: str | None,
    weekdays: object = None,
    config: str | None = None,
) -> str | None:
    """What is wrong with where the day comes from (``--scenario``, or ``--from``
    and ``--to``, with what goes with each); None: nothing."""
    if (scenario is None) == (start is None and end is None) or (start is None) != (end is None):
        return "give --scenario FILE, or --from and --to (a recorded day): one of them"
    if scenario is not None and base is not None:
        return "--base goes with --from and --to (a scenario file gives the rest itself)"
    if scenario is None and output is not None:
        return "--output writes the scenario file again with the advice: with --scenario only"
    if scenario is not None and weekdays is not None:
        return "--weekdays goes with --from and --to (a range of recorded days)"
    if output == "":
        return "--output: an empty file name"
    if scenario is not None and config is not None:
        return "--config goes with --from and --to (a scenario names its config)"
    return None


def run(
    request: Request,
    stdout: TextIO,
    stderr: TextIO,
    recorded: Callable[[TextIO], Scenario | int] | None = None,
) -> int:
    """The whole command on ``request.scenario``, or on the day ``recorded`` builds
    (its exit code instead once it wrote the problem to stderr); its exit code."""
    try:
        level, seconds = parse_target(request.target)
        ceiling = None if request.max_abandon is None else parse_share(request.max_abandon)
        shrinkage = 0.0 if request.shrinkage is None else parse_share(request.shrinkage, "--shrinkage", True)
        if shrinkage > MAX_SHRINKAGE:
            written = (request.shrinkage or "").strip().removesuffix("%").strip()  # 99.999% is no 100.00%
            raise TargetError(
                f"--shrinkage: at most {MAX_SHRINKAGE:.0%} of paid time off the phones (a rota of ten "
                f"for each agent on the phones), not {written}%"
            )
    except staffing.TargetError as exc:
        print(f"callrouter staffing: {exc}", file=stderr)
        return EXIT_UNUSABLE
    problem = _output_problem(request.output, request.scenario)
    if problem is not None:
        print(f"callrouter staffing: --output {request.output}: {problem}", file=stderr)
        return EXIT_UNUSABLE
    scenario = _scenario(request, stderr, recorded)
    if isinstance(scenario, int):
        return scenario
    problem = (
        _overwrites_config(request, scenario)
        or _format_problem(request)
        or _write_advised(request, "[staff]\nper_hour = [1]\n", trying=True)
    )
    if problem is not None:
        print(f"callrouter staffing: --output {request.output}: {problem}", file=stderr)
        return EXIT_UNUSABLE
    ring = scenario.file.timing.agent_answer_seconds
    if seconds <= ring:
        print(
            f"callrouter staffing: --target: {seconds:g} s is within the agents' ring "
            f"(timing.agent_answer_seconds = {ring:g} s): no caller is answered sooner",
            file=stderr,
        )
        return EXIT_UNUSABLE
    target = staffing.Target(level, seconds, ceiling, request.definition, request.sure)
    started = time.perf_counter()

    def progress(attempt: int, counts: tuple[int, ...], failing: list[int]) -> None:
        hours = ", ".join(f"{h:02d}" for h in failing) or "none"
        print(
            f"staffing: try {attempt}: {sum(counts)} agent-hours, hours missing the target: {hours} "
            f"({time.perf_counter() - started:.0f} s)",
            file=stderr,
            flush=True,
        )

    try:
        advice = staffing.advise(
            scenario, target, request.replications, request.iterations, request.trim, progress=progress
        )
    except staffing.TargetError as exc:  # an hour needs more agents than a scenario staffs
        print(f"callrouter staffing: {exc}", file=stderr)
        return EXIT_UNUSABLE
    advice = replace(advice, shrinkage=shrinkage)
    stdout.write(staffing_render.render(scenario, advice, request.fmt))
    if not advice.met:  # a staffing that fails the target is no advice to run a day on
        if request.output is not None:
            print(f"callrouter staffing: --output {request.output}: not written: target not met", file=stderr)
        return EXIT_NOT_MET
    problem = _write_advised(request, staffing_render.staff_toml(advice))
    if problem is not None:
        print(f"callrouter staffing: --output {request.output}: {problem}", file=stderr)
        return EXIT_UNUSABLE
    return 0


def _write_advised(request: Request, staff: str, *, trying: bool = False) -> str | None:
    """The scenario written again to ``--output`` with ``staff`` in place of its shifts
    (``trying``: only made, not written: what would keep it from being written, said
    before the search); what went wrong, or None."""
    if request.output is None or request.scenario is None:
        return None
    try:
        text = with_staff(read_file(request.scenario, ScenarioError), request.scenario, request.output, staff)
        if not trying:
            request.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        return str(exc.strerror or exc)
    except ScenarioError as exc:
        return "; ".join(exc.problems)
    except ValueError as exc:
        return str(exc)
    return None


def _overwrites_config(request: Request, scenario: Scenario) -> str | None:
    """The advice never goes over the router's config the scenario names."""
    output = request.output
    if output is None or request.scenario is None or not output.exists():
        return None
    config = config_path_of(request.scenario.parent, scenario.file.config)
    if config.exists() and output.samefile(config):
        return "is the scenario's config: the advice goes to another file (the config stays as it is)"
    return None


def _format_problem(request: Request) -> str | None:
    """The advice is written as the scenario is, and simulate reads a file by its name
    (.json: JSON, else TOML): a name of the other kind would be read as what it is not."""
    output, scenario = request.output, request.scenario
    if output is None or scenario is None or is_json(scenario) == is_json(output):
        return None
    kind, name = ("JSON", "a name ending .json") if is_json(scenario) else ("TOML", "a name not ending .json")
    return f"the advised scenario is written as the scenario is, {kind}: give it {name}"


def _output_problem(output: Path | None, scenario: Path | None = None) -> str | None:
    """What keeps the advised scenario from being written there, told before the search."""
    if output is None:
        return None
    if not output.name or output.is_dir():
        return "is a folder, not a file"
    if scenario is not None and output.exists() and scenario.exists() and output.samefile(scenario):
        return "is the scenario itself: the advice goes to another file (the scenario stays as it is)"
    if not output.parent.is_dir():
        return f"no folder {output.parent}"
    existed = output.exists()
    try:  # opened to add to (nothing written, nothing cut), as it will be opened to write
        with output.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        return f"cannot be written: {exc.strerror or exc}"
    if not existed:  # made by the check: not left behind should the search fail
        output.unlink(missing_ok=True)
    return None


def _scenario(
    request: Request, stderr: TextIO, recorded: Callable[[TextIO], Scenario | int] | None
) -> Scenario | int:
    if recorded is not None:
        return recorded(stderr)
    if request.scenario is None:
        raise ValueError("a scenario file or a recorded day is needed")
    scenario = loaded(request.scenario, request.seed, stderr)
    return EXIT_UNUSABLE if scenario is None else scenario


def with_staff(text: str, source: Path, output: Path, staff: str) -> str:
    """The scenario's text with ``staff`` (a ``[staff]`` table) in place of its
    ``[[shifts]]`` and ``[staff]``, its config path made relative to ``output``."""
    config = tomllib.loads(staff)["staff"]
    if is_json(source):
        data = json.loads(text)
        data.pop("shifts", None)
        data["config"] = _config_path(data["config"], source, output)
        return json.dumps({**data, "staff": config}, indent=2, ensure_ascii=False) + "\n"
    kept, skipping = [], False
    for line in text.splitlines():
        header = re.match(r"""\s*\[\[?\s*["']?([A-Za-z_.-]+)["']?\s*\]\]?""", line)
        if header:
            skipping = header[1] in ("shifts", "staff")
        if not skipping:
            kept.append(line)
    out = "\n".join(kept).rstrip() + "\n\n" + staff
    before = tomllib.loads(text)
    where = before.get("config")  # a top-level key: on a line before any table, so kept
    moved = _config_path(where, source, output) if isinstance(where, str) else where
    if isinstance(moved, str):
        key = r"""(?m)^\s*(config|"config"|'config')\s*=\s*("[^"\n]*"|'[^'\n]*')"""
        out = re.sub(key, lambda _: f"config = {json.dumps(moved)}", out, count=1)
    try:
        check = tomllib.loads(out)
    except tomllib.TOMLDecodeError:  # [staff] or the config written another way (dotted, inline, multi-line)
        raise ValueError("cannot put [staff] in place of the shifts here: paste it by hand") from None
    kept_as_was = {k: v for k, v in check.items() if k not in ("staff", "config")} == {
        k: v for k, v in before.items() if k not in ("shifts", "staff", "config")
    }
    if "shifts" in check or check.get("staff") != config or not kept_as_was:
        raise ValueError("cannot put [staff] in place of the shifts here: paste it by hand")
    if check.get("config") != moved:
        raise ValueError("cannot write the config's path for the new folder here: paste [staff] by hand")
    return out


def _config_path(config: str, source: Path, output: Path) -> str:
    """The config's path as seen from the output file's folder, read as ``simulate``
    reads it (``config_path_of``: from the folder the scenario is named in, links not
    followed), so the written scenario names the config the source named."""
    if Path(config).is_absolute():
        return config
    absolute = config_path_of(source.absolute().parent, config)
    return Path(os.path.relpath(absolute, os.path.normpath(output.absolute().parent))).as_posix()
