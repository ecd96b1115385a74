"""What staffing's formula is fed: the first calls each hour of a scenario's day
brings (``first_calls_by_hour``), those of them that can reach the queue
(``queue_calls_by_hour``) and their talk (``talk_by_hour``).

A call reaches the queue when its line is open as it arrives (a closed line's
caller hears the after-hours message and is gone) and, on a line with a menu,
when the caller does not hang up in it (``callers.menu_hangup``). Erlang A is
given only those: the ones that end before the queue never load an agent, and
counting them advised agents who would sit idle through the hours a line is
closed. Each line's opening is read a minute at a time (the middle of each
minute of the day, on the scenario's date), against the arrivals' rates.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from callrouter import compiled
from callrouter.simulate.scenario import Scenario, Stream
from callrouter.simulate.staffing_search import HOURS

MINUTES = 24 * 60


def first_calls_by_hour(scenario: Scenario) -> list[float]:
    """The first calls each hour of the day is expected to bring, every line together."""
    return _summed(stream.calls_by_hour() for stream in scenario.streams)


def queue_calls_by_hour(scenario: Scenario) -> list[float]:
    """Of those, the ones that can reach the queue (the module's docstring)."""
    return _summed(reaching_by_stream(scenario))


def reaching_by_stream(scenario: Scenario) -> list[list[float]]:
    """Each stream's first calls by hour that can reach the queue, in the scenario's order."""
    rules = compiled.rules(scenario.settings)
    menu_hangup = scenario.file.callers.menu_hangup
    opening: dict[str, list[bool]] = {}  # line -> open at each minute of the day
    reaching = []
    for stream in scenario.streams:
        line = rules.line_for(stream.did)
        if line is None or line.hours is None:
            calls = stream.calls_by_hour()
        else:
            hours = line.hours
            if line.name not in opening:
                opening[line.name] = [hours.is_open(scenario.at(60 * m + 30)) for m in range(MINUTES)]
            calls = _open_calls(stream, opening[line.name])
        kept = 1 - menu_hangup if stream.keys else 1.0
        reaching.append([n * kept for n in calls])
    return reaching


def _open_calls(stream: Stream, open_at: list[bool]) -> list[float]:
    """The stream's first calls by hour that arrive in a minute its line is open (an hour
    open throughout: its calls as ``calls_by_hour`` counts them, to the last digit)."""
    calls = [0.0] * HOURS
    for start, end, rate in stream.intervals:
        for minute in range(int(start // 60), min(MINUTES, math.ceil(end / 60))):
            if open_at[minute]:
                covered = min(end, 60 * minute + 60) - max(start, 60 * minute)
                calls[minute // 60] += rate * max(0, covered)
    whole = stream.calls_by_hour()
    return [whole[h] if all(open_at[60 * h : 60 * h + 60]) else calls[h] for h in range(HOURS)]


def _summed(by_stream: Iterable[list[float]]) -> list[float]:
    counts = [0.0] * HOURS
    for calls in by_stream:
        for hour, n in enumerate(calls):
            counts[hour] += n
    return counts


def talk_by_hour(scenario: Scenario) -> tuple[float, list[float]]:
    """The mean talk time of the day's calls that reach the queue, and of each hour's:
    each stream's own mean (its ``handle``) weighted by its calls, so an hour of long
    home-visit calls needs more agents than one of short results calls. An hour
    without such calls has the day's."""
    talks = {stream.handle.mean_seconds for stream in scenario.streams}
    if len(talks) <= 1:  # one talk time for every stream: it, exactly
        talk = talks.pop() if talks else scenario.file.handle.mean_seconds
        return talk, [talk] * HOURS
    calls = [
        (stream.handle.mean_seconds, by_hour)
        for stream, by_hour in zip(scenario.streams, reaching_by_stream(scenario), strict=True)
    ]
    total = math.fsum(sum(by_hour) for _, by_hour in calls)
    day = (
        math.fsum(talk * sum(by_hour) for talk, by_hour in calls) / total
        if total > 0
        else scenario.file.handle.mean_seconds
    )
    hours = []
    for hour in range(HOURS):
        weight = math.fsum(by_hour[hour] for _, by_hour in calls)
        talk = math.fsum(t * by_hour[hour] for t, by_hour in calls) / weight if weight > 0 else day
        hours.append(talk)
    return day, hours
