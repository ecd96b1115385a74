"""``callrouter simulate SCENARIO``: a day of the scenario through the production
switchboard, its figures on stdout. Exit 0: written; 2: the scenario (or the
config it names) is unusable, every bad key named by its path on stderr."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from callrouter.simulate import figures, render, replications
from callrouter.simulate.engine import simulate
from callrouter.simulate.scenario import Scenario, ScenarioError, load_scenario

EXIT_UNUSABLE = 2
HELP = """\
A day of traffic through the router's own switchboard in simulated time: the
scenario (TOML, or JSON by its .json name) names the router config, the date,
arrivals per hour or per 15 minutes by line and topic, handle times, patience,
redials, callbacks taken and agents' shifts (examples/scenario-small.toml).
Prints, for the day and each hour: offered calls, people, answered, abandoned,
average speed of answer, SL1 and SL2 ([queue] service_level_seconds), people
never served, calls per person, agents logged in and their occupancy,
callbacks completed/made. The same seed gives the same figures.
--replications N (2 or more): the day N times, seeds seed, seed + 1, ...; each
figure as its mean with a 95% confidence interval (Student's t over the days).
Exit 0: written; 2: a bad scenario or config (each bad key by its path).
"""


def run(
    path: Path, fmt: str, seed: int | None, stdout: TextIO, stderr: TextIO, replicate: int | None = None
) -> int:
    scenario = loaded(path, seed, stderr)
    if scenario is None:
        return EXIT_UNUSABLE
    if replicate is not None:
        summaries, replicated = replications.replicate(scenario, replicate)
        stdout.write(render.render_replicated(scenario, summaries[0], replicated, fmt))
        return 0
    summary = figures.summary(simulate(scenario))
    stdout.write(render.render(scenario, summary, fmt))
    return 0


def loaded(path: Path, seed: int | None, stderr: TextIO) -> Scenario | None:
    """The scenario, or None once every problem is written to ``stderr`` (by its path)."""
    try:
        return load_scenario(path, seed)
    except ScenarioError as exc:
        print(f"{exc.source}: invalid scenario", file=stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=stderr)
        return None
