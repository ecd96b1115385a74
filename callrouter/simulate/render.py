"""A simulated day's figures written out: a plain-text table (the day, then each
hour with calls or agents) or JSON (every hour)."""

from __future__ import annotations

import json
from typing import Any

from callrouter.report_render import DASH, goal, percent, seconds
from callrouter.simulate.figures import Figures, Summary, as_dict
from callrouter.simulate.scenario import Scenario

FORMATS = ("table", "json")
COLUMNS = (
    ("hour", 5), ("offered", 8), ("people", 7), ("answered", 9), ("abandoned", 10), ("ASA", 7), ("wait", 7),
    ("SL1", 7), ("SL2", 7), ("never", 6), ("calls/p", 8), ("agents", 7), ("occup.", 7), ("callbacks", 10),
)  # fmt: skip


def definitions(summary: Summary) -> dict[str, str]:
    t = f"{summary.scope.service_level_seconds:g} s"
    return {
        "offered": "calls that reached a line (redials included), by the hour they started",
        "people": "distinct callers (each simulated person calls from a number of their own)",
        "answered": "queued calls an agent answered",
        "abandoned": "calls that hung up while waiting in the queue (short abandons included)",
        "abandonment": "abandoned / calls that waited in the queue (the KPI report's abandonment)",
        "asa_seconds": "mean wait of answered calls, joining the queue (a resumed place: its first join) "
        "to the agent's answer",
        "mean_wait_seconds": "mean wait of every call that waited in the queue, however it ended "
        "(answered, abandoned, overflowed, callback booked)",
        "sl1": f"answered within {t} / answered",
        "sl2": f"answered within {t} / (answered + abandoned after {t})",
        "never_served": "people none of whose calls was answered nor a callback completed "
        "(in the hour of their first call)",
        "calls_per_person": "offered / people",
        "agents": "agents logged in, on average",
        "occupancy": "agents' time rung, talking or wrapping up / their logged-in time",
        "callbacks_made": "calls the dialler made to people who had asked for a callback (every attempt)",
        "callbacks_completed": "callbacks whose person answered",
    }


def _about(scenario: Scenario, summary: Summary) -> dict[str, Any]:
    return {
        "scenario": scenario.source,
        "config": scenario.settings.source,
        "date": scenario.file.date.isoformat(),
        "zone": summary.scope.zone,
    }


def _service_level(summary: Summary) -> dict[str, float]:
    return {"seconds": summary.scope.service_level_seconds, "target": summary.scope.service_level_target}


def as_json(scenario: Scenario, summary: Summary) -> dict[str, Any]:
    return {
        **_about(scenario, summary),
        "seed": scenario.seed,
        "service_level": _service_level(summary),
        "definitions": definitions(summary),
        "day": as_dict(summary.day),
        "hours": [{"hour": hour, **as_dict(figures)} for hour, figures in enumerate(summary.hours)],
        "callbacks_open": summary.callbacks_open,
        "steps": summary.steps,
    }


def as_json_text(scenario: Scenario, summary: Summary) -> str:
    return json.dumps(as_json(scenario, summary), indent=2, ensure_ascii=False) + "\n"


def _row(label: str, f: Figures) -> list[str]:
    callbacks = f"{f.callbacks_completed}/{f.callbacks_made}" if f.callbacks_made else DASH
    per_person = DASH if f.calls_per_person is None else f"{f.calls_per_person:.2f}"
    return [
        label, str(f.offered), str(f.people), str(f.answered), str(f.abandoned), seconds(f.asa_seconds),
        seconds(f.mean_wait_seconds), percent(f.sl1), percent(f.sl2), str(f.never_served), per_person,
        f"{f.agents:.1f}", percent(f.occupancy), callbacks,
    ]  # fmt: skip


def _line(cells: list[str]) -> str:
    return "  ".join(cell.rjust(width) for cell, (_, width) in zip(cells, COLUMNS, strict=True)).rstrip()


def as_table(scenario: Scenario, summary: Summary) -> str:
    scope = summary.scope
    t = f"{scope.service_level_seconds:g} s"
    lines = [
        f"callrouter simulate: {scenario.source} on {scenario.file.date.isoformat()} ({scope.zone}), "
        f"seed {scenario.seed}",
        f"config {scenario.settings.source}; service level: answered within {t}, "
        f"target {goal(scope.service_level_target)}",
        "",
        _line([name for name, _ in COLUMNS]),
        _line(_row("day", summary.day)),
    ]
    for hour, figures in enumerate(summary.hours):
        if figures.offered or figures.agents:
            lines.append(_line(_row(f"{hour:02d}", figures)))
    outcomes = ", ".join(f"{name} {count}" for name, count in summary.day.outcomes.items()) or DASH
    lines += [
        "",
        f"outcomes: {outcomes}",
        f"SL1: answered within {t} / answered; SL2: answered within {t} / (answered + abandoned after {t})",
        "wait: mean wait of every call that waited (abandoned too); never: people never served;",
        "calls/p: calls per person; agents: logged in on average;",
        "occup.: agents' busy time / logged-in time; callbacks: completed/made",
    ]
    if summary.callbacks_open:
        lines.append(f"callbacks still open at the end: {summary.callbacks_open}")
    return "\n".join(lines) + "\n"


def render(scenario: Scenario, summary: Summary, fmt: str) -> str:
    return as_json_text(scenario, summary) if fmt == "json" else as_table(scenario, summary)
