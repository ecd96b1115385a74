"""A scenario from a recorded day (``callrouter simulate --from --to``): what the
records say (first calls per line, topic and quarter hour, talk times, the
callers' patience, agents' logins) put into a scenario's data, over a base
scenario's or the defaults, for ``scenario.build`` to check like any file.

- arrivals: per line, topic and language, ``per_quarter`` from the first
  quarter with a first call to the last (Poisson at each quarter's recorded
  count); the language the calls ended in (chosen in the menu, else the line's).
- handle: ``empirical``, the recorded talk times of answered calls; an arrival
  whose topic has ``MIN_TOPIC_TALKS`` answered calls or more draws from that
  topic's own (a results call is shorter than a home visit's).
- patience (unless the base gives it): exponential with the mean the records'
  abandons give (``core.cover.patience_estimate``), infinite when nobody
  abandoned.
- shifts (unless the base gives them): each agent's recorded logins, to the
  nearest minute; agents the config does not know are left out. Several days
  averaged: ``[staff]`` instead (unless the base gives shifts or staff), the
  agents logged in each hour on average, rounded.
- redials, callbacks, timing, seed: the base's, else the scenario's defaults.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from callrouter.simulate.scenario import DAY_SECONDS, ScenarioError

QUARTER = 900
# A topic's own talk times are drawn from once it has this many answered calls; a
# topic with fewer draws from every topic's (a few calls are no distribution).
MIN_TOPIC_TALKS = 30
DAY_QUARTERS = DAY_SECONDS // QUARTER


@dataclass(frozen=True)
class Recorded:
    """A day's records, in seconds of the day (elapsed from its midnight, as the simulator counts)."""

    source: str  # said in errors: which records
    # (line, topic, language or None) -> quarter -> first calls
    first_calls: Mapping[tuple[str, str, str | None], Mapping[int, float]]
    talk_seconds: Sequence[float]
    patience_seconds: float | None  # None: infinite
    logins: Mapping[str, Sequence[tuple[float, float]]]  # agent -> logged in (from, to)
    talk_by_topic: Mapping[str, Sequence[float]] = field(default_factory=dict)  # the same talks, by topic
    # Several days averaged: the agents logged in each hour (mean), for ``[staff]``; None: one day
    staff_per_hour: Sequence[float] | None = None


def clock(seconds: float) -> str:
    """Seconds of the day as ``HH:MM`` (24:00 at the end of the day)."""
    minutes = int(min(seconds, DAY_SECONDS) // 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def scenario_data(
    recorded: Recorded, base: Mapping[str, Any], config: str, day: date, agents: frozenset[str]
) -> dict[str, Any]:
    """The scenario's data: ``base``'s (a scenario file's, or empty) with the
    records' arrivals and handle times, and their patience and shifts where the
    base has none. ScenarioError: the records hold nothing to simulate."""
    streams = sorted(
        recorded.first_calls.items(), key=lambda item: (item[0][0], item[0][1], item[0][2] or "")
    )
    made = [_arrival(line, topic, language, counts) for (line, topic, language), counts in streams]
    arrivals = [arrival for arrival in made if arrival is not None]
    for arrival in arrivals:  # a topic with talks enough to draw from has its own
        talks = recorded.talk_by_topic.get(arrival["topic"], ())
        if len(talks) >= MIN_TOPIC_TALKS:
            arrival["handle"] = {"distribution": "empirical", "samples": _samples(talks)}
    if not arrivals:
        raise ScenarioError(recorded.source, ["arrivals: no first call that chose a topic was recorded"])
    data: dict[str, Any] = {**base, "config": config, "date": day, "arrivals": arrivals}
    if recorded.talk_seconds:
        data["handle"] = {"distribution": "empirical", "samples": _samples(recorded.talk_seconds)}
    elif "handle" not in base:
        raise ScenarioError(
            recorded.source, ["handle: no answered call was recorded to draw talk times from (give --base)"]
        )
    if "patience" not in base:
        data["patience"] = _patience(recorded.patience_seconds)
    if recorded.staff_per_hour is not None:
        if "shifts" not in base and "staff" not in base and any(n >= 0.5 for n in recorded.staff_per_hour):
            data["staff"] = {
                "start": "00:00",
                "per_hour": [math.floor(n + 0.5) for n in recorded.staff_per_hour],
            }
    elif "shifts" not in base:
        data["shifts"] = _shifts(recorded.logins, agents)
    return data


def _samples(talks: Sequence[float]) -> list[float]:
    return [min(max(talk, 0.0), float(DAY_SECONDS)) for talk in talks]


def _arrival(
    line: str, topic: str, language: str | None, counts: Mapping[int, float]
) -> dict[str, Any] | None:
    quarters = sorted(q for q, n in counts.items() if n > 0 and 0 <= q < DAY_QUARTERS)
    if not quarters:
        return None
    first, last = quarters[0], quarters[-1]
    per_quarter = [counts.get(q, 0) for q in range(first, last + 1)]
    arrival = {"line": line, "topic": topic, "start": clock(first * QUARTER), "per_quarter": per_quarter}
    return arrival if language is None else {**arrival, "language": language}


def _patience(mean: float | None) -> dict[str, Any]:
    if mean is None:
        return {"distribution": "infinite"}
    return {"distribution": "exponential", "mean_seconds": min(mean, float(DAY_SECONDS))}


def _shifts(
    logins: Mapping[str, Sequence[tuple[float, float]]], agents: frozenset[str]
) -> list[dict[str, Any]]:
    """One shift per recorded login, to the nearest minute (the order stays: no overlap)."""
    shifts = []
    for agent, spans in sorted(logins.items()):
        if agent not in agents:
            continue
        for since, until in spans:
            start, end = (clock(round(min(max(s, 0.0), DAY_SECONDS) / 60) * 60) for s in (since, until))
            if start < end:
                shifts.append({"agents": [agent], "start": start, "end": end})
    return shifts
