"""``--compare separate-lines``: the before/after picture of unifying the lines,
the same people and the same agent-hours in three set-ups, from the same seed.

1. ``separate_lines``: each line its own queue, as before unification. Each line
   is simulated alone, with only its own callers (drawn once for the whole day,
   so the very same people) and its own share of the agents: each hour, the
   agents logged in then (``Scenario.agents_by_hour``, rounded to whole agents)
   split over the lines in proportion to the calls each line is expected to
   bring to its queue that hour (not a closed line's; largest remainder; a line with calls gets at least one
   agent while there are as many agents as such lines; an hour without calls
   splits by the day's calls), as all-round agents (``[staff]``). Nobody is
   recognised and nobody is offered a callback (``keep_your_place_off``). The
   lines' days are then merged into one day (their channel, call, agent and
   callback ids prefixed with the line, since each run numbers its own).
2. ``one_queue``: every line into the one queue with the scenario's own agents
   and shifts; still nobody recognised, no callback offered.
3. ``unified``: the scenario as configured: one queue, keep-your-place and
   callbacks as the config has them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from callrouter.config import Settings
from callrouter.simulate import figures
from callrouter.simulate import workers as workers_
from callrouter.simulate.day import Day
from callrouter.simulate.engine import simulate
from callrouter.simulate.figures import Summary
from callrouter.simulate.people import Draws, Person, first_calls
from callrouter.simulate.replications import CONFIDENCE, Replicated, combine, seeds_from
from callrouter.simulate.scenario import Scenario
from callrouter.simulate.staff import Staff, languages_of
from callrouter.simulate.staffing_load import reaching_by_stream

COMPARISONS = ("separate-lines",)
SETUPS = ("separate_lines", "one_queue", "unified")
LABELS = {
    "separate_lines": "separate lines",
    "one_queue": "one queue",
    "unified": "one queue + keep-your-place + callbacks",
}
# Every key ``keep_your_place_off`` changes, and to what (the help and the JSON say so).
SWITCHED_OFF = {
    "repeat.resume_seconds": "0 (a redial never has its old place back)",
    "repeat.contact_seconds": "0 (no repeat contact, no preferred last agent)",
    "repeat.skip_menu": "false (a redialler goes through the menu again)",
    "repeat.exclude": '["+*"] (no number is recognised: a second call never takes over a first\'s place)',
    "callback.offer_after_seconds": "absent (no callback offered)",
    "topics.*.callback_offer_after_seconds": "absent (no topic offers one either)",
}
EVERYONE = "+*"


def keep_your_place_off(settings: Settings) -> Settings:
    """The config with repeat-caller recognition and callback offers switched off (``SWITCHED_OFF``)."""
    file = settings.file
    repeat = file.repeat.model_copy(
        update={"resume_seconds": 0.0, "contact_seconds": 0.0, "skip_menu": False, "exclude": [EVERYONE]}
    )
    callback = file.callback.model_copy(update={"offer_after_seconds": None})
    topics = {
        name: topic.model_copy(update={"callback_offer_after_seconds": None})
        for name, topic in file.topics.items()
    }
    changed = file.model_copy(update={"repeat": repeat, "callback": callback, "topics": topics})
    return settings.model_copy(update={"file": changed})


def plain(scenario: Scenario) -> Scenario:
    """The scenario with keep-your-place and callbacks off."""
    return replace(scenario, settings=keep_your_place_off(scenario.settings))


# ---- the lines' shares of the agents -------------------------------------------------------
def lines_of(scenario: Scenario) -> list[str]:
    """The scenario's lines, in the order their arrivals first name them."""
    return list(dict.fromkeys(stream.line for stream in scenario.streams))


def expected_calls(scenario: Scenario) -> dict[str, list[float]]:
    """First calls expected on each line in each hour of the day that can reach its queue
    (the arrivals' rates; a closed line's and the menu's hang-ups load no agent: as
    ``staffing_load`` counts them)."""
    calls = {line: [0.0] * 24 for line in lines_of(scenario)}
    for stream, reaching in zip(scenario.streams, reaching_by_stream(scenario), strict=True):
        line = calls[stream.line]
        for hour, expected in enumerate(reaching):
            line[hour] += expected
    return calls


def largest_remainder(agents: int, weights: Mapping[str, float]) -> dict[str, int]:
    """``agents`` split in proportion to ``weights`` (largest remainder); then each
    line with weight gets at least one, taken from the line most over its quota,
    while some line has more than one."""
    seats = dict.fromkeys(weights, 0)
    loaded = [line for line, weight in weights.items() if weight > 0]
    if agents <= 0 or not loaded:
        return seats
    total = math.fsum(weights[line] for line in loaded)
    quotas = {line: agents * weights[line] / total for line in loaded}
    for line in loaded:
        seats[line] = math.floor(quotas[line])
    by_remainder = sorted(loaded, key=lambda line: (seats[line] - quotas[line], -weights[line]))
    for line in by_remainder[: agents - sum(seats.values())]:
        seats[line] += 1
    for line in sorted(loaded, key=lambda line: -weights[line]):
        donors = [d for d in loaded if seats[d] > 1]
        if seats[line] == 0 and donors:
            donor = max(donors, key=lambda d: seats[d] - quotas[d])
            seats[donor] -= 1
            seats[line] += 1
    return seats


def split_agents(scenario: Scenario) -> dict[str, list[int]]:
    """Each line's agents in each hour of the day, for separate lines."""
    calls = expected_calls(scenario)
    day = {line: math.fsum(hours) for line, hours in calls.items()}
    split = {line: [0] * 24 for line in calls}
    for hour, logged_in in enumerate(scenario.agents_by_hour()):
        weights = {line: hours[hour] for line, hours in calls.items()}
        if not any(weights.values()):
            weights = day
        for line, n in largest_remainder(math.floor(logged_in + 0.5), weights).items():
            split[line][hour] = n
    return split


# ---- the three days -------------------------------------------------------------------------
def callers(scenario: Scenario) -> list[Person]:
    """The day's people, fresh (each run adds its calls to them), as every set-up draws them."""
    return first_calls(scenario, Draws(scenario.seed).arrivals)


def line_scenario(scenario: Scenario, line: str, agents: Sequence[int]) -> Scenario:
    """One line alone, keep-your-place and callbacks off, with ``agents`` all-round agents by the hour."""
    alone = replace(plain(scenario), streams=tuple(s for s in scenario.streams if s.line == line), shifts={})
    return alone.with_staff(Staff(start="00:00", per_hour=list(agents)))


def separate_lines(scenario: Scenario) -> Day:
    people, split = callers(scenario), split_agents(scenario)  # drawn once for every line
    return merged(plain(scenario), {line: line_day(scenario, line, people, split) for line in split})


def line_day(
    scenario: Scenario,
    line: str,
    people: list[Person] | None = None,
    split: Mapping[str, Sequence[int]] | None = None,
) -> Day:
    """One line's day alone, with its own callers of the day's people and its share of the
    agents (``people`` and ``split``: the day's, else drawn and split here, as a worker does)."""
    people = callers(scenario) if people is None else people
    split = split_agents(scenario) if split is None else split
    mine = [p for p in people if p.stream.line == line]
    return simulate(line_scenario(scenario, line, split[line]), people=mine)


def merged(scenario: Scenario, days: Mapping[str, Day]) -> Day:
    """The lines' days as one, each one's ids prefixed with its line (``line/c12``)."""
    out = Day(scenario, [])
    for line, day in days.items():
        out.people += [replace(p, calls=[f"{line}/{c}" for c in p.calls]) for p in day.people]
        out.calls += [
            replace(
                c,
                channel_id=f"{line}/{c.channel_id}",
                call_id=f"{line}/{c.call_id}",
                repeat_of=_tagged(line, c.repeat_of),
            )
            for c in day.calls
        ]
        out.agent_states += [
            replace(r, agent=f"{line}/{r.agent}", call_id=_tagged(line, r.call_id)) for r in day.agent_states
        ]
        out.callbacks |= {
            f"{line}/{key}": replace(
                r, callback_id=f"{line}/{r.callback_id}", call_id=_tagged(line, r.call_id)
            )
            for key, r in day.callbacks.items()
        }
        out.dials += day.dials
        out.steps += day.steps
        ended = [at for at in (out.ended_at, day.ended_at) if at is not None]
        out.ended_at = max(ended, default=None)
    out.people.sort(key=lambda p: p.first_at)
    out.dials.sort()
    return out


def _tagged(line: str, value: str | None) -> str | None:
    return None if value is None else f"{line}/{value}"


def days(scenario: Scenario) -> dict[str, Day]:
    """The three set-ups' days, by ``SETUPS`` key."""
    return {
        "separate_lines": separate_lines(scenario),
        "one_queue": simulate(plain(scenario)),
        "unified": simulate(scenario),
    }


@dataclass(frozen=True)
class Comparison:
    scenario: Scenario
    agents_by_line: dict[str, list[int]]  # separate lines: each line's agents by the hour
    summaries: dict[str, Summary]  # by set-up: the day (the first seed's, replicated)
    same_people: bool  # every set-up's people made the same first calls (every seed's)
    specialists: list[str]  # the scenario's agents on shift who do not take every topic and language
    replicated: dict[str, Replicated] | None = None  # by set-up, with --replications


def compare(
    scenario: Scenario,
    replications: int | None = None,
    confidence: float = CONFIDENCE,
    workers: int | None = None,
) -> Comparison:
    """The three set-ups' figures (each seed's). ``workers``: processes running the days
    side by side, each set-up's day and each separate line's (None: one per CPU; 1: here)."""
    seeds = (scenario.seed,) if replications is None else seeds_from(scenario.seed, replications)
    runs = _runs([scenario.with_seed(seed) for seed in seeds], workers)
    same = all(same_people for _, same_people in runs)
    split = split_agents(scenario)
    if replications is None:
        return Comparison(scenario, split, runs[0][0], same, specialists(scenario))
    replicated = {key: combine(seeds, [run[key] for run, _ in runs], confidence) for key in SETUPS}
    return Comparison(scenario, split, runs[0][0], same, specialists(scenario), replicated)


def specialists(scenario: Scenario) -> list[str]:
    """The agents on the scenario's shifts who do not take every topic in every language."""
    settings = scenario.settings
    topics, languages = set(settings.file.topics), set(languages_of(settings))
    return [
        agent.id
        for agent in settings.file.agents
        if agent.id in scenario.shifts and (set(agent.topics) < topics or set(agent.languages) < languages)
    ]


# One day to play: a set-up's whole day ("one_queue", "unified"; line None), or one line's
# day alone (set-up "separate_lines", its line named).
Task = tuple[int, Scenario, str, str | None]  # (which scenario, it, set-up, line)
Played = tuple[Summary, list[tuple[float, str, str, bool]]] | Day


def _runs(scenarios: Sequence[Scenario], workers: int | None) -> list[tuple[dict[str, Summary], bool]]:
    """Each scenario's set-ups' figures, and whether their people made the same first calls."""
    tasks: list[Task] = []
    for i, s in enumerate(scenarios):  # the whole days first: the longest, the lines fill in around them
        tasks += [(i, s, "unified", None), (i, s, "one_queue", None)]
    for i, s in enumerate(scenarios):
        tasks += [(i, s, "separate_lines", line) for line in split_agents(s)]
    workers = min(len(tasks), os.cpu_count() or 1) if workers is None else min(workers, len(tasks))
    if workers <= 1:
        played = [_play(task) for task in tasks]
    else:
        with workers_.pool(workers) as pool:
            played = list(pool.map(_play, tasks))  # in the order given
    results: dict[tuple[int, str], Played] = {}
    lines: dict[int, dict[str, Day]] = {i: {} for i in range(len(scenarios))}
    for (i, _, setup, line), outcome in zip(tasks, played, strict=True):
        if line is not None:
            assert isinstance(outcome, Day)
            lines[i][line] = outcome
        else:
            results[i, setup] = outcome
    runs = []
    for i, s in enumerate(scenarios):
        separate = merged(plain(s), lines[i])
        results[i, "separate_lines"] = (figures.summary(separate), first_calls_of(separate))
        summaries, first = {}, {}
        for key in SETUPS:
            outcome = results[i, key]
            assert not isinstance(outcome, Day)
            summaries[key], first[key] = outcome
        runs.append((summaries, all(calls == first["unified"] for calls in first.values())))
    return runs


def _play(task: Task) -> Played:
    """One task's day (what a worker process runs): a set-up's figures and first calls,
    or a separate line's whole day (merged with the other lines' where it was asked)."""
    _, scenario, setup, line = task
    if line is not None:
        return line_day(scenario, line)
    day = simulate(plain(scenario) if setup == "one_queue" else scenario)
    return figures.summary(day), first_calls_of(day)


def first_calls_of(day: Day) -> list[tuple[float, str, str, bool]]:
    """Who first called when, on which line, and whether they withhold their number."""
    return sorted((p.first_at, p.number, p.stream.line, p.withheld) for p in day.people)
