"""``--compare separate-lines`` written out: the three set-ups side by side, a
plain-text table (the day's figures, a row each, then the hours' abandonment and
SL1) or JSON (the day and every hour of each set-up); with ``--replications``,
each figure as its mean with its confidence interval."""

from __future__ import annotations

import json
import textwrap
from typing import Any

from callrouter.report_render import DASH, goal, percent
from callrouter.simulate.compare import LABELS, SETUPS, SWITCHED_OFF, Comparison
from callrouter.simulate.figures import as_dict
from callrouter.simulate.render import (
    INTERVAL_TEXT,
    ONE_DAY,
    about,
    cell,
    definitions,
    interval_cell,
    interval_dict,
    service_level,
)
from callrouter.simulate.replications import FIGURES

# The day's rows: the figure, as ``Figures`` names it (``callbacks``: completed/made).
ROWS = (
    ("offered", "offered"), ("people", "people"), ("answered", "answered"), ("abandoned", "abandoned"),
    ("abandonment", "abandonment"), ("asa_seconds", "ASA"), ("mean_wait_seconds", "mean wait"),
    ("sl1", "SL1"), ("sl2", "SL2"), ("never_served", "never served"),
    ("calls_per_person", "calls per person"), ("agent_hours", "agent-hours"), ("occupancy", "occupancy"),
    ("callbacks", "callbacks"),
)  # fmt: skip
LABEL_WIDTH = 17
WRAP = 100
DESCRIPTIONS = {
    "separate_lines": "each line its own queue and its own share of the agents (all-round), "
    "keep-your-place and callbacks off; the lines' days merged",
    "one_queue": "every line into the one queue, the scenario's own agents and shifts, "
    "keep-your-place and callbacks off",
    "unified": "the scenario as configured: one queue, keep-your-place and callbacks",
}


def replicated_cell(name: str, comparison: Comparison, key: str) -> str:
    assert comparison.replicated is not None
    day = comparison.replicated[key].day
    if name == "agent_hours":
        iv = day["agents"]
        if iv is None:
            return DASH
        return f"{24 * iv.mean:.1f}±{24 * iv.half_width:.1f}" if iv.spread else f"{24 * iv.mean:.1f}{ONE_DAY}"
    if name == "callbacks":
        name = "callbacks_made"
    return interval_cell(name, day[name])


def _header(comparison: Comparison) -> list[str]:
    scenario, summary = comparison.scenario, comparison.summaries["unified"]
    scope = summary.scope
    replicated = comparison.replicated
    runs = (
        f"seed {scenario.seed}"
        if replicated is None
        else f"{len(replicated['unified'].seeds)} replications, seeds {scenario.seed}.."
        f"{replicated['unified'].seeds[-1]}"
    )
    people = "the same people (the same first calls)" if comparison.same_people else "NOT the same people"
    return [
        f"callrouter simulate --compare separate-lines: {scenario.source} on "
        f"{scenario.file.date.isoformat()} ({scope.zone}), {runs}",
        f"config {scenario.settings.source}; service level: answered within "
        f"{scope.service_level_seconds:g} s, target {goal(scope.service_level_target)}",
        f"{people} and {agent_hours(comparison)}",
        "",
        *(
            textwrap.fill(
                f"{i}. {LABELS[key]}: {DESCRIPTIONS[key]}",
                WRAP,
                subsequent_indent="   ",
                break_on_hyphens=False,
            )
            for i, key in enumerate(SETUPS, 1)
        ),
        *_specialists(comparison),
        "",
    ]


def agent_hours(comparison: Comparison) -> str:
    """The agent-hours planned for the set-ups: the same, unless the scenario's shifts
    have parts of hours (separate lines have whole agents by the hour)."""
    separate = sum(sum(agents) for agents in comparison.agents_by_line.values())
    own = sum(comparison.scenario.agents_by_hour())
    if abs(own - separate) < 0.01:
        return f"{separate} agent-hours in each set-up"
    return f"{own:.1f} agent-hours in one queue, {separate} in separate lines (whole agents by the hour)"


def specialists_note(comparison: Comparison) -> list[str]:
    """A warning when one queue's agents are less flexible than separate lines' all-round ones."""
    if not comparison.specialists:
        return []
    return [
        f"note: the scenario's agents {', '.join(comparison.specialists)} do not take every topic in every "
        "language, as separate lines' all-round agents do: one queue is compared with less flexible agents"
    ]


def _specialists(comparison: Comparison) -> list[str]:
    return [textwrap.fill(note, WRAP, break_on_hyphens=False) for note in specialists_note(comparison)]


def as_table(comparison: Comparison) -> str:
    widths = [max(len(LABELS[key]), 12) for key in SETUPS]
    replicated = comparison.replicated is not None

    def line(label: str, cells: list[str]) -> str:
        return (
            label.ljust(LABEL_WIDTH) + "".join(c.rjust(w + 2) for c, w in zip(cells, widths, strict=True))
        ).rstrip()

    lines = [*_header(comparison), line("the day", [LABELS[key] for key in SETUPS])]
    for name, label in ROWS:
        if replicated:
            cells = [replicated_cell(name, comparison, key) for key in SETUPS]
            label = "callbacks made" if name == "callbacks" else label
        else:
            cells = [cell(name, comparison.summaries[key].day) for key in SETUPS]
        lines.append(line(label, cells))
    if not replicated:
        lines += ["", *_hours(comparison)]
    level = (
        ""
        if not replicated
        else f" each: mean±half-width of its 95% interval ({ONE_DAY} after a mean: one day alone had "
        "a value for it, no interval);"
    )
    lines += [
        "",
        "SL1: answered within T / answered; SL2: answered within T / (answered + abandoned after T);",
        *([level.strip()] if level else []),
        "abandonment: abandoned / waited in the queue; mean wait: every call that waited (abandoned too);",
        "never served: people none of whose calls was answered nor a callback completed;",
        "agent-hours: agents' logged-in time; occupancy: their busy time / logged-in time; "
        "callbacks: completed/made",
        textwrap.fill(
            "off in set-ups 1 and 2: "
            + "; ".join(f"{key}={value.split(' (')[0]}" for key, value in SWITCHED_OFF.items()),
            WRAP,
            break_on_hyphens=False,
        ),
    ]
    return "\n".join(lines) + "\n"


def _hours(comparison: Comparison) -> list[str]:
    """Each hour with calls: offered, abandonment and SL1 in each set-up (1, 2, 3)."""
    heads = ["offered 1", "2", "3", "aband. 1", "2", "3", "SL1 1", "2", "3"]
    widths = [9, 5, 5, 9, 7, 7, 8, 7, 7]

    def line(label: str, cells: list[str]) -> str:
        return (label.rjust(4) + "".join(c.rjust(w + 1) for c, w in zip(cells, widths, strict=True))).rstrip()

    out = ["each hour, in set-ups 1, 2 and 3:", line("hour", heads)]
    for hour in range(24):
        hours = [comparison.summaries[key].hours[hour] for key in SETUPS]
        if any(f.offered for f in hours):
            cells = [str(f.offered) for f in hours]
            cells += [percent(f.abandonment) for f in hours] + [percent(f.sl1) for f in hours]
            out.append(line(f"{hour:02d}", cells))
    return out


def as_json(comparison: Comparison) -> dict[str, Any]:
    scenario, summary = comparison.scenario, comparison.summaries["unified"]
    replicated = comparison.replicated
    head: dict[str, Any] = {
        **about(scenario, summary),
        "compare": "separate-lines",
        **({"seed": scenario.seed} if replicated is None else {}),
        "service_level": service_level(summary),
        "same_people": comparison.same_people,
        "switched_off": {"setups": ["separate_lines", "one_queue"], "keys": SWITCHED_OFF},
        "agents_by_line": comparison.agents_by_line,
        "specialists": comparison.specialists,
        "definitions": definitions(summary),
    }
    if replicated is not None:
        any_run = replicated["unified"]
        head |= {
            "seeds": list(any_run.seeds),
            "replications": len(any_run.seeds),
            "confidence": any_run.confidence,
            "interval": INTERVAL_TEXT,
        }
    setups: dict[str, Any] = {}
    for key in SETUPS:
        about_setup = {"label": LABELS[key], "description": DESCRIPTIONS[key]}
        if replicated is None:
            s = comparison.summaries[key]
            setups[key] = {
                **about_setup,
                "day": as_dict(s.day),
                "hours": [{"hour": h, **as_dict(f)} for h, f in enumerate(s.hours)],
                "callbacks_open": s.callbacks_open,
                "steps": s.steps,
            }
        else:
            r = replicated[key]
            setups[key] = {
                **about_setup,
                "day": {name: interval_dict(r.day[name]) for name in FIGURES},
                "hours": [
                    {"hour": h, **{name: interval_dict(f[name]) for name in FIGURES}}
                    for h, f in enumerate(r.hours)
                ],
            }
    return {**head, "setups": setups}


def render(comparison: Comparison, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(as_json(comparison), indent=2, ensure_ascii=False) + "\n"
    return as_table(comparison)
