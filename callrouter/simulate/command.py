"""``callrouter simulate SCENARIO``: a day of the scenario through the production
switchboard, its figures on stdout. Exit 0: written; 2: the scenario (or the
config it names) is unusable, every bad key named by its path on stderr."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import TextIO

from callrouter.simulate import compare, compare_render, figures, page, render, replications
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
--compare separate-lines: the before/after picture of unifying the lines, the
day in three set-ups side by side, from the same seed (the same people make the
same first calls in each) with the same agent-hours:
  1. separate lines: each line alone, its own queue, with only its own callers
     and its own agents: each hour, the agents logged in then (rounded to whole
     agents) split over the lines in proportion to the calls expected on each
     that hour (largest remainder; a line with calls gets at least one while
     there are as many agents as such lines; an hour with no calls expected
     splits by the day's), as all-round agents; the lines' days then merged;
  2. one queue: every line into the one queue, the scenario's own agents and
     shifts (a note says when they do not all take every topic and language);
  3. one queue + keep-your-place + callbacks: the scenario as configured.
  In 1 and 2 the config's repeat-caller recognition and callback offers are
  off: repeat.resume_seconds = 0, repeat.contact_seconds = 0,
  repeat.skip_menu = false, repeat.exclude = ["+*"] (no number recognised),
  no callback.offer_after_seconds and no topic's callback_offer_after_seconds.
  With --replications N, each figure's mean and interval in each set-up.
--format html: one self-contained page (no script, no link: it opens offline)
with the KPI report's kind of charts: offered and answered by hour, the service
level by hour against the target, the waits, agents and occupancy by hour; the
day's and the hours' tables; with --compare, the three set-ups side by side.
One day: not with --replications.
--from/--to (instead of SCENARIO): the day recorded in PostgreSQL between the
two instants (within one day of the centre's clock): first calls per line and
topic per 15 minutes and the recorded talk times (handle "empirical"); the
rest (patience, redials, callbacks, shifts, timing) from --base SCENARIO, else
patience estimated from the records' abandons (exponential; infinite when none
abandoned) and shifts from the agents' recorded logins. Two dates more than a
day apart (--from 2026-11-16 --to 2026-11-21: Monday to Friday, the last day
excluded; at most 92 days) play the range's average day on its first date:
first calls per quarter averaged over the days, talks and abandons pooled, and
[staff] the agents logged in each hour on average. --weekdays mon (or mon-fri,
sat,sun) keeps only the range's days on those weekdays: the average Monday of
--from 2026-10-05 --to 2026-11-30.
Exit 0: written; 2: a bad scenario or config (each bad key by its path),
--format html with --replications, or bad arguments or database.
"""


def run(
    path: Path,
    fmt: str,
    seed: int | None,
    stdout: TextIO,
    stderr: TextIO,
    replicate: int | None = None,
    comparison: str | None = None,
) -> int:
    try:
        scenario = load_scenario(path, seed)
    except ScenarioError as exc:
        return refuse(exc, stderr)
    return play(scenario, fmt, stdout, stderr, replicate, comparison)


def refuse(exc: ScenarioError, stderr: TextIO) -> int:
    """Every problem of an unusable scenario on stderr; the exit code."""
    print(f"{exc.source}: invalid scenario", file=stderr)
    for problem in exc.problems:
        print(f"  {problem}", file=stderr)
    return EXIT_UNUSABLE


def play(
    scenario: Scenario,
    fmt: str,
    stdout: TextIO,
    stderr: TextIO,
    replicate: int | None = None,
    comparison: str | None = None,
) -> int:
    """The scenario's day (``replicate`` times; ``comparison``: in three set-ups), its figures on stdout."""
    if fmt == "html" and replicate is not None:
        print("--format html draws one day: not with --replications (use table or json)", file=stderr)
        return EXIT_UNUSABLE
    for note in scenario.unserved():
        print(f"note: {note}", file=stderr)
    if comparison is not None:
        compared = compare.compare(scenario, replicate)
        stdout.write(page.compare_page(compared) if fmt == "html" else compare_render.render(compared, fmt))
        return 0
    if replicate is not None:
        summaries, replicated = replications.replicate(scenario, replicate)
        stdout.write(render.render_replicated(scenario, summaries[0], replicated, fmt))
        return 0
    day = simulate(scenario, progress=Progress(scenario, stderr))
    if day.late_redials:
        print(
            f"note: {day.late_redials} redials would come after midnight (people who gave up late): "
            "not made, a scenario is one day",
            file=stderr,
        )
    summary = figures.summary(day)
    stdout.write(page.page(scenario, summary) if fmt == "html" else render.render(scenario, summary, fmt))
    return 0


class Progress:
    """A day that takes a while says how far it has come on stderr, at most every
    ``EVERY`` seconds (a quick one says nothing)."""

    EVERY = 5.0

    def __init__(self, scenario: Scenario, stderr: TextIO) -> None:
        self.start, self.stderr = scenario.start, stderr
        self.began = self.told = time.monotonic()

    def __call__(self, reached: datetime) -> None:
        now = time.monotonic()
        if now - self.told < self.EVERY:
            return
        self.told = now
        hour = int((reached - self.start).total_seconds() // 3600)
        at = f"{hour:02d}:00" if hour < 24 else "past midnight (calls still up)"
        print(f"simulate: {at} reached ({now - self.began:.0f} s)", file=self.stderr, flush=True)


def loaded(path: Path, seed: int | None, stderr: TextIO) -> Scenario | None:
    """The scenario, or None once every problem is written to ``stderr`` (by its path)."""
    try:
        return load_scenario(path, seed)
    except ScenarioError as exc:
        refuse(exc, stderr)
        return None
