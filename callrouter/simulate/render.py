"""A simulated day's figures written out: a plain-text table (the day, then each
hour with calls or agents) or JSON (every hour); and, for ``--replications``,
each figure's mean over the days with its confidence interval, the same two ways."""

from __future__ import annotations

import json
from typing import Any

from callrouter.report_render import DASH, goal, percent, seconds
from callrouter.simulate.figures import Figures, Summary, as_dict
from callrouter.simulate.replications import FIGURES, Interval, Replicated
from callrouter.simulate.scenario import Scenario

FORMATS = ("table", "json", "html")
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


def about(scenario: Scenario, summary: Summary) -> dict[str, Any]:
    return {
        "scenario": scenario.source,
        "config": scenario.settings.source,
        "date": scenario.file.date.isoformat(),
        "zone": summary.scope.zone,
    }


def service_level(summary: Summary) -> dict[str, float]:
    return {"seconds": summary.scope.service_level_seconds, "target": summary.scope.service_level_target}


def as_json(scenario: Scenario, summary: Summary) -> dict[str, Any]:
    return {
        **about(scenario, summary),
        "seed": scenario.seed,
        "service_level": service_level(summary),
        "definitions": definitions(summary),
        "day": as_dict(summary.day),
        "hours": [{"hour": hour, **as_dict(figures)} for hour, figures in enumerate(summary.hours)],
        "callbacks_open": summary.callbacks_open,
        "steps": summary.steps,
    }


def as_json_text(scenario: Scenario, summary: Summary) -> str:
    return json.dumps(as_json(scenario, summary), indent=2, ensure_ascii=False) + "\n"


# The figures of a table row, in COLUMNS' order after the hour.
ROW = (
    "offered", "people", "answered", "abandoned", "asa_seconds", "mean_wait_seconds", "sl1", "sl2",
    "never_served", "calls_per_person", "agents", "occupancy", "callbacks",
)  # fmt: skip


def cell(name: str, f: Figures) -> str:
    """One figure of a day as a table shows it (``agent_hours``: 24 times agents, the
    logged-in mean; ``callbacks``: completed/made)."""
    if name == "callbacks":
        return f"{f.callbacks_completed}/{f.callbacks_made}" if f.callbacks_made else DASH
    if name == "agent_hours":
        return f"{24 * f.agents:.1f}"
    value = getattr(f, name)
    if name in SECONDS:
        return seconds(value)
    if name in SHARES:
        return percent(value)
    if name == "calls_per_person":
        return DASH if value is None else f"{value:.2f}"
    return f"{value:.1f}" if name == "agents" else str(value)


def row(label: str, f: Figures) -> list[str]:
    return [label, *(cell(name, f) for name in ROW)]


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
        _line(row("day", summary.day)),
    ]
    for hour, figures in enumerate(summary.hours):
        if figures.offered or figures.agents:
            lines.append(_line(row(f"{hour:02d}", figures)))
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


# ---- replications ----------------------------------------------------------------------------
SHARES = frozenset({"abandonment", "sl1", "sl2", "occupancy"})
SECONDS = frozenset({"asa_seconds", "mean_wait_seconds"})
DAY_LABELS = {
    "offered": "offered", "people": "people", "answered": "answered", "abandoned": "abandoned",
    "abandonment": "abandoned share", "asa_seconds": "ASA (s)", "mean_wait_seconds": "mean wait, all (s)",
    "sl1": "SL1", "sl2": "SL2", "never_served": "never served", "calls_per_person": "calls per person",
    "agents": "agents logged in", "occupancy": "occupancy", "callbacks_made": "callbacks made",
    "callbacks_completed": "callbacks completed",
}  # fmt: skip
# Each hour: these figures, each as mean±half-width.
HOUR_COLUMNS = (
    ("offered", "offered"), ("answered", "answered"), ("abandonment", "aband."), ("asa_seconds", "ASA s"),
    ("mean_wait_seconds", "wait s"), ("sl1", "SL1"), ("sl2", "SL2"), ("never_served", "never"),
    ("occupancy", "occup."),
)  # fmt: skip
HOUR_WIDTH = 13


def _value(name: str, value: float) -> str:
    if name in SHARES:
        return f"{100 * value:.1f}%"
    return f"{value:.2f}" if name == "calls_per_person" else f"{value:.1f}"


def _half(name: str, iv: Interval) -> str:
    return (
        f"{100 * iv.half_width:.1f}"
        if name in SHARES
        else f"{iv.half_width:.{2 if name == 'calls_per_person' else 1}f}"
    )


def interval_cell(name: str, iv: Interval | None) -> str:
    if iv is None:
        return DASH
    if not iv.spread:  # one day had a value: that value, said to be one day's
        return f"{_value(name, iv.mean)}{ONE_DAY}"
    return f"{_value(name, iv.mean)}±{_half(name, iv)}"


INTERVAL_TEXT = (
    "mean ± t(n - 1)·s/√n over the replications (Student's t); n: the replications with a value "
    "for the figure (1: that day's value, low, high and half_width null)"
)
ONE_DAY = "*"  # after a value one day alone had (no interval); the table's legend says so


def interval_dict(iv: Interval | None) -> dict[str, float | int | None] | None:
    if iv is None:
        return None
    if not iv.spread:
        return {"mean": round(iv.mean, 6), "low": None, "high": None, "half_width": None, "n": iv.n}
    return {"mean": round(iv.mean, 6), "low": round(iv.low, 6), "high": round(iv.high, 6),
            "half_width": round(iv.half_width, 6), "n": iv.n}  # fmt: skip


def replicated_json(scenario: Scenario, summary: Summary, replicated: Replicated) -> dict[str, Any]:
    return {
        **about(scenario, summary),
        "seeds": list(replicated.seeds),
        "replications": len(replicated.seeds),
        "confidence": replicated.confidence,
        "interval": INTERVAL_TEXT,
        "service_level": service_level(summary),
        "definitions": {name: text for name, text in definitions(summary).items() if name in FIGURES},
        "day": {name: interval_dict(replicated.day[name]) for name in FIGURES},
        "hours": [
            {"hour": hour, **{name: interval_dict(figures[name]) for name in FIGURES}}
            for hour, figures in enumerate(replicated.hours)
        ],
    }


def replicated_table(scenario: Scenario, summary: Summary, replicated: Replicated) -> str:
    scope = summary.scope
    seeds = replicated.seeds
    level = f"{100 * replicated.confidence:g}%"
    lines = [
        f"callrouter simulate: {scenario.source} on {scenario.file.date.isoformat()} ({scope.zone}), "
        f"{len(seeds)} replications, seeds {seeds[0]}..{seeds[-1]}",
        f"config {scenario.settings.source}; service level: answered within "
        f"{scope.service_level_seconds:g} s, target {goal(scope.service_level_target)}",
        f"each figure: its mean over the days, and the {level} confidence interval of that mean "
        f"(Student's t, {len(seeds) - 1} degree{'s' if len(seeds) > 2 else ''} of freedom; cut at 0,"
        " and a share at 100%)",
        "",
        f"{'the day':<20}  {'mean':>10}  {level + ' interval':>22}",
    ]
    for name in FIGURES:
        iv = replicated.day[name]
        span = (
            DASH
            if iv is None
            else f"{_value(name, iv.low)} to {_value(name, iv.high)}"
            if iv.spread
            else f"none: one day{ONE_DAY}"
        )
        mean = DASH if iv is None else _value(name, iv.mean)
        lines.append(f"{DAY_LABELS[name]:<20}  {mean:>10}  {span:>22}".rstrip())
    lines += [
        "",
        f"each hour: mean±half-width of its {level} interval",
        _hour_line("hour", [c for _, c in HOUR_COLUMNS]),
    ]
    for hour, figures in enumerate(replicated.hours):
        offered, agents = figures["offered"], figures["agents"]
        if (offered is not None and offered.mean) or (agents is not None and agents.mean):
            lines.append(
                _hour_line(f"{hour:02d}", [interval_cell(name, figures[name]) for name, _ in HOUR_COLUMNS])
            )
    lines += [
        "",
        "aband.: abandoned share (abandoned / waited);",
        "wait: mean wait of every call that waited (abandoned too);",
        f"SL1: answered within {scope.service_level_seconds:g} s / answered; SL2: answered within "
        f"{scope.service_level_seconds:g} s / (answered + abandoned after it); never: people never served;",
        "occup.: agents' busy time / logged-in time;",
        f"{ONE_DAY}: one day alone had a value for it (none answered on the others: no ASA), no interval",
    ]
    return "\n".join(lines) + "\n"


def _hour_line(label: str, cells: list[str]) -> str:
    return (label.rjust(4) + "".join(cell.rjust(HOUR_WIDTH) for cell in cells)).rstrip()


def render_replicated(scenario: Scenario, summary: Summary, replicated: Replicated, fmt: str) -> str:
    """``summary``: one of the runs (for the scope and the definitions)."""
    if fmt == "json":
        return json.dumps(replicated_json(scenario, summary, replicated), indent=2, ensure_ascii=False) + "\n"
    return replicated_table(scenario, summary, replicated)
