"""A simulated day's figures, for the day and for each hour, from the records the
switchboard wrote: the calls' through the KPI report's own tally (``core.kpi``:
offered, answered, abandoned, ASA, both service levels, as ``callrouter report``
counts them), the rest here: people (each person the day drew, one who withholds
their number too; in an hour, those who called in it), those never served,
agents' occupancy from their state records, callbacks made.

- never served: people none of whose calls was answered, nor a callback they
  booked completed; counted in the hour of their first call.
- abandonment: abandoned / queued (the KPI report's); mean wait: of every call
  that waited in the queue, however its wait ended (answered, abandoned,
  overflow, callback), as ``core.waits`` measures each wait.
- calls per person: offered / people.
- occupancy: agents' busy time (rung, talking, wrapping up) / their logged-in
  time; agents: the mean number logged in.
- callbacks made: calls the dialler made to people (every attempt);
  completed: callbacks whose person answered.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from callrouter.core.kpi import GroupFigures, Report, Scope, Tally, ratio
from callrouter.core.records import CallbackState, CallRecord, Outcome
from callrouter.core.waits import wait_of
from callrouter.simulate.day import Day
from callrouter.simulate.scenario import DAY_SECONDS

HOURS = 24
BUSY = frozenset({"ringing", "on_call", "wrap_up"})
OPEN = (CallbackState.PENDING, CallbackState.DIALLING)


@dataclass(frozen=True)
class Figures:
    """The figures of the day, or of one hour of it (the calls that started in it)."""

    offered: int
    people: int
    answered: int
    abandoned: int  # short abandons included
    abandonment: float | None  # abandoned / queued
    asa_seconds: float | None
    mean_wait_seconds: float | None  # of every call that waited: answered, abandoned or otherwise
    sl1: float | None
    sl2: float | None
    never_served: int
    calls_per_person: float | None
    agents: float  # logged in, on average
    occupancy: float | None
    callbacks_made: int
    callbacks_completed: int
    outcomes: dict[str, int]  # every call by how it ended


@dataclass(frozen=True)
class Summary:
    scope: Scope
    day: Figures
    hours: tuple[Figures, ...]  # 24, midnight first
    steps: int  # switchboard steps taken
    callbacks_open: int  # still pending when the simulation ended
    kpi: Report  # the KPI report's tally of the day's calls (the page's waits and hours)


def summary(day: Day) -> Summary:
    scope = _scope(day)
    tally = Tally(scope)
    for call in day.calls:
        tally.add(call)
    report = tally.report({}, {})
    parts = _Parts.of(day)
    hours = tuple(parts.figures(report.by_hour[h], range(h, h + 1)) for h in range(HOURS))
    whole = parts.figures(report.overall, range(HOURS))
    still = sum(1 for r in day.callbacks.values() if r.state in OPEN)
    return Summary(scope, whole, hours, day.steps, still, report)


def window(day: Day, first: int, end: int) -> Figures:
    """The figures of the calls that started in hours ``first`` to ``end`` (exclusive)
    of the day, and of the agents' time in those hours: a steady stretch of a day
    without its warm-up (``bench/theory.py``)."""
    scope = _scope(day)
    zone = ZoneInfo(scope.zone)
    tally = Tally(scope)
    for call in day.calls:
        if first <= call.started_at.astimezone(zone).hour < end:
            tally.add(call)
    return _Parts.of(day).figures(tally.report({}, {}).overall, range(first, end))


def _scope(day: Day) -> Scope:
    scenario = day.scenario
    queue = scenario.settings.file.queue
    end = scenario.at(DAY_SECONDS)
    return Scope(scenario.start, end, scenario.zone, queue.service_level_seconds, queue.service_level_target)


@dataclass(frozen=True)
class _Parts:
    """What the KPI report's tally does not count, for each hour of the day."""

    never: list[int]  # people never served, by the hour of their first call
    logged: list[float]  # agents' logged-in seconds
    busy: list[float]  # and their busy seconds
    dials: list[int]  # callbacks' calls made
    completed: list[int]  # callbacks completed
    waited: list[float]  # seconds waited in the queue by the calls that started in the hour
    waits: list[int]  # and how many of them waited
    # The hours each person called in (the simulation knows who called, a withheld number too)
    called_in: list[frozenset[int]]

    @classmethod
    def of(cls, day: Day) -> _Parts:
        start = day.scenario.start
        logged, busy = _agent_seconds(day, start, day.ended_at or day.scenario.at(DAY_SECONDS))
        dials = [0] * HOURS
        for at in day.dials:
            dials[_hour(start, at)] += 1
        completed = [0] * HOURS
        for record in day.callbacks.values():
            if record.state is CallbackState.COMPLETED:
                completed[_hour(start, record.at)] += 1
        waited, waits = _waits(day)
        records = {call.channel_id: call for call in day.calls}
        never, called_in = _never_served(day, records), _called_in(day, records)
        return cls(never, logged, busy, dials, completed, waited, waits, called_in)

    def figures(self, group: GroupFigures, hours: range) -> Figures:
        logged = sum(self.logged[h] for h in hours)
        wanted = frozenset(hours)
        people = sum(1 for called in self.called_in if not called.isdisjoint(wanted))
        return Figures(
            offered=group.offered,
            people=people,
            answered=group.answered,
            abandoned=group.abandoned,
            abandonment=group.abandonment,
            asa_seconds=group.asa_seconds,
            mean_wait_seconds=ratio(sum(self.waited[h] for h in hours), sum(self.waits[h] for h in hours)),
            sl1=group.sl1,
            sl2=group.sl2,
            never_served=sum(self.never[h] for h in hours),
            calls_per_person=ratio(group.offered, people),
            agents=logged / (3600 * len(hours)),
            occupancy=ratio(sum(self.busy[h] for h in hours), logged),
            callbacks_made=sum(self.dials[h] for h in hours),
            callbacks_completed=sum(self.completed[h] for h in hours),
            outcomes=dict(group.outcomes),
        )


def _waits(day: Day) -> tuple[list[float], list[int]]:
    """Seconds waited, and waits, by the hour the call started on the centre's clock
    (the KPI tally's hours), of the calls the tally counts as queued."""
    zone = ZoneInfo(day.scenario.zone)
    waited, waits = [0.0] * HOURS, [0] * HOURS
    for call in day.calls:
        wait = wait_of(call) if call.direction == "inbound" else None
        if wait is not None:
            hour = call.started_at.astimezone(zone).hour
            waited[hour] += wait.seconds
            waits[hour] += 1
    return waited, waits


def _called_in(day: Day, records: dict[str, CallRecord]) -> list[frozenset[int]]:
    """For each person who called: the hours (the centre's clock, as the KPI tally's) of their calls."""
    zone = ZoneInfo(day.scenario.zone)
    found = []
    for person in day.people:
        calls = [records[c] for c in person.calls if c in records and records[c].direction == "inbound"]
        hours = frozenset(call.started_at.astimezone(zone).hour for call in calls)
        if hours:
            found.append(hours)
    return found


def _hour(start: datetime, at: datetime) -> int:
    return min(max(int((at - start).total_seconds() // 3600), 0), HOURS - 1)


def _never_served(day: Day, records: dict[str, CallRecord]) -> list[int]:
    """People never served, by the hour of their first call."""
    called_back = {
        r.call_id for r in day.callbacks.values() if r.state is CallbackState.COMPLETED and r.call_id
    }
    never = [0] * HOURS
    for person in day.people:
        calls = [records[c] for c in person.calls if c in records]
        if not calls or any(c.outcome is Outcome.ANSWERED or c.call_id in called_back for c in calls):
            continue
        never[_hour(day.scenario.start, calls[0].started_at)] += 1
    return never


def _agent_seconds(day: Day, start: datetime, end: datetime) -> tuple[list[float], list[float]]:
    """Per hour of the day: agents' logged-in seconds, and their busy seconds."""
    logged, busy = [0.0] * HOURS, [0.0] * HOURS
    timelines: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for record in day.agent_states:
        timelines[record.agent].append((record.at, record.state))
    for timeline in timelines.values():
        for (since, state), (until, _) in zip(timeline, [*timeline[1:], (end, "")], strict=True):
            if state == "logged_out":
                continue
            for hour, seconds in _by_hour(start, since, until):
                logged[hour] += seconds
                if state in BUSY:
                    busy[hour] += seconds
    return logged, busy


def _by_hour(start: datetime, since: datetime, until: datetime) -> list[tuple[int, float]]:
    """The seconds of [since, until) in each hour of the day (none outside it)."""
    first = max((since - start).total_seconds(), 0.0)
    last = min((until - start).total_seconds(), float(DAY_SECONDS))
    spans = []
    while first < last:
        hour = int(first // 3600)
        upto = min((hour + 1) * 3600.0, last)
        spans.append((hour, upto - first))
        first = upto
    return spans


def as_dict(figures: Figures) -> dict[str, Any]:
    return {
        name: round(value, 6) if isinstance(value, float) else value
        for name, value in figures.__dict__.items()
    }
