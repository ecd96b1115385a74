"""The KPI page's charts as inline SVG, drawn here (no script, no library, no URL):
the load by weekday and hour (a 7 x 24 heat map with its legend), the waits'
distribution (one stacked bar per bin) and the service level by hour of the day
(24 marks against the target). Every element a reader counts carries a data-
attribute a test can count too: ``data-cell``, ``data-bar``, ``data-mark``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from callrouter.core.hours import DAYS
from callrouter.core.kpi import HOURS, GroupFigures, WaitBin
from callrouter.report_render import bin_label, goal, percent

FONT = 'font-family="system-ui, sans-serif" font-size="11" fill="#374151"'
OUTCOME_COLOURS = {
    "answered": "#16a34a",
    "abandoned": "#dc2626",
    "overflow": "#f59e0b",
    "callback": "#6366f1",
}
EMPTY = "#f3f4f6"
LOW, HIGH = (219, 234, 254), (30, 58, 138)  # the heat map's palest and darkest blue
GOOD, SHORT = "#16a34a", "#f59e0b"  # service level at or above the target, below it


def _svg(width: int, height: int, body: list[str], label: str) -> str:
    return (
        f'<svg viewBox="0 0 {width} {height}" width="100%"'
        f' style="max-width:{width}px" role="img" aria-label="{escape(label)}">' + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, anchor: str = "middle", extra: str = "") -> str:
    return f'<text x="{x:g}" y="{y:g}" text-anchor="{anchor}" {FONT}{extra}>{escape(text)}</text>'


def shade(count: int, most: int) -> str:
    """The heat map's colour for ``count`` calls when the busiest cell has ``most``."""
    if count <= 0 or most <= 0:
        return EMPTY
    share = count / most
    r, g, b = (round(lo + (hi - lo) * share) for lo, hi in zip(LOW, HIGH, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


# ---- load: weekday x hour ---------------------------------------------------------
CELL_W, CELL_H, LEFT, TOP = 30, 24, 40, 20


def heatmap(load: Sequence[Sequence[int]], zone: str) -> str:
    most = max((count for row in load for count in row), default=0)
    body = [_text(LEFT + hour * CELL_W + CELL_W / 2, TOP - 6, f"{hour:02d}") for hour in range(HOURS)]
    for day_index, (day, row) in enumerate(zip(DAYS, load, strict=True)):
        y = TOP + day_index * CELL_H
        body.append(_text(LEFT - 8, y + CELL_H / 2 + 4, day.capitalize(), "end"))
        for hour, count in enumerate(row):
            x = LEFT + hour * CELL_W
            title = f"{day.capitalize()} {hour:02d}:00-{hour:02d}:59 ({zone}): {count} offered"
            body.append(
                f'<rect data-cell data-day="{day}" data-hour="{hour}" data-count="{count}" x="{x}" y="{y}"'
                f' width="{CELL_W - 2}" height="{CELL_H - 2}" rx="3" fill="{shade(count, most)}">'
                f"<title>{escape(title)}</title></rect>"
            )
            if count:
                colour = ' fill="#ffffff"' if count / most > 0.5 else ' fill="#1f2937"'
                body.append(_text(x + CELL_W / 2 - 1, y + CELL_H / 2 + 3, str(count), extra=colour))
    legend_y = TOP + len(DAYS) * CELL_H + 14
    body.append(_heat_legend(legend_y, most))
    width = LEFT + HOURS * CELL_W + 10
    return _svg(width, legend_y + 34, body, f"offered calls by weekday and hour, {zone}")


def _heat_legend(y: int, most: int) -> str:
    steps = sorted({0, *(round(most * k / 4) for k in range(1, 5))}) if most else [0]
    parts = [_text(LEFT, y + 12, "offered calls:", "start")]
    x = LEFT + 90
    for count in steps:
        parts.append(
            f'<rect data-legend-step x="{x}" y="{y}" width="22" height="16" rx="3"'
            f' fill="{shade(count, most)}" stroke="#d1d5db"/>'
        )
        parts.append(_text(x + 28, y + 12, str(count), "start"))
        x += 28 + 8 * len(str(count)) + 14
    return f'<g data-legend="heatmap">{"".join(parts)}</g>'


# ---- waits: one stacked bar per bin ----------------------------------------------
BAR_W, GAP, PLOT_H, BASE = 34, 6, 170, 200


def wait_bars(waits: Sequence[WaitBin], threshold: float) -> str:
    most = max((w.total for w in waits), default=0) or 1
    body: list[str] = [_axis(len(waits) * (BAR_W + GAP), most, "calls")]
    previous: float | None = None
    for index, wait in enumerate(waits):
        x = 40 + index * (BAR_W + GAP)
        label = bin_label(wait.upto, previous)
        parts: list[str] = []
        top = float(BASE)
        for outcome, count in wait.counts.items():
            if count:
                height = PLOT_H * count / most
                top -= height
                parts.append(
                    f'<rect x="{x}" y="{top:.1f}" width="{BAR_W}" height="{height:.1f}"'
                    f' fill="{OUTCOME_COLOURS[outcome]}"/>'
                )
        split = ", ".join(f"{outcome} {n}" for outcome, n in wait.counts.items() if n) or "none"
        upto = "" if wait.upto is None else f"{wait.upto:g}"
        body.append(
            f'<g data-bar data-upto="{upto}" data-count="{wait.total}"><title>{escape(label)}: {wait.total}'
            f" ({escape(split)})</title>{''.join(parts)}"
            + (_text(x + BAR_W / 2, top - 4, str(wait.total)) if wait.total else "")
            + _text(x + BAR_W / 2, BASE + 14, label.replace(" s", ""))
            + "</g>"
        )
        if wait.upto == threshold:
            line_x = x + BAR_W + GAP / 2
            body.append(
                f'<line x1="{line_x}" y1="{BASE - PLOT_H - 10}" x2="{line_x}" y2="{BASE}" stroke="#111827"'
                ' stroke-dasharray="4 3"/>'
                + _text(line_x + 4, BASE - PLOT_H - 2, f"T = {threshold:g} s", "start")
            )
        previous = wait.upto
    body.append(_outcome_legend(BASE + 34))
    return _svg(40 + len(waits) * (BAR_W + GAP) + 10, BASE + 56, body, "distribution of waits in the queue")


def _axis(width: int, most: int, unit: str) -> str:
    return (
        f'<line x1="36" y1="{BASE}" x2="{36 + width}" y2="{BASE}" stroke="#9ca3af"/>'
        + _text(32, BASE + 4, "0", "end")
        + _text(32, BASE - PLOT_H + 4, str(most), "end")
        + _text(4, BASE - PLOT_H - 12, unit, "start")
    )


def _outcome_legend(y: int) -> str:
    parts, x = [], 40
    for outcome, colour in OUTCOME_COLOURS.items():
        parts.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{colour}"/>')
        parts.append(_text(x + 16, y, outcome, "start"))
        x += 24 + 7 * len(outcome)
    return f'<g data-legend="waits">{"".join(parts)}</g>'


# ---- service level by hour ---------------------------------------------------------
HOUR_W = 28


def sl_by_hour(by_hour: Sequence[GroupFigures], target: float) -> str:
    body = [_text(32, BASE + 4, "0%", "end"), _text(32, BASE - PLOT_H + 4, "100%", "end")]
    body.append(f'<line x1="36" y1="{BASE}" x2="{40 + HOURS * HOUR_W}" y2="{BASE}" stroke="#9ca3af"/>')
    for hour, g in enumerate(by_hour):
        x = 40 + hour * HOUR_W
        body.append(_hour_mark(hour, x, g, target))
    target_y = BASE - PLOT_H * target
    body.append(
        f'<line data-target x1="36" y1="{target_y:.1f}" x2="{40 + HOURS * HOUR_W}" y2="{target_y:.1f}"'
        f' stroke="#111827" stroke-dasharray="5 4"/>'
        + _text(40 + HOURS * HOUR_W, target_y - 4, f"target {goal(target)}", "end")
    )
    legend = (
        f'<g data-legend="sl-by-hour"><rect x="40" y="{BASE + 24}" width="12" height="12" fill="{GOOD}"/>'
        + _text(56, BASE + 34, "SL1 (answered within T / answered)", "start")
        + f'<circle cx="300" cy="{BASE + 30}" r="4" fill="#111827"/>'
        + _text(308, BASE + 34, "SL2 (answered within T / (answered + abandoned after T))", "start")
        + "</g>"
    )
    body.append(legend)
    return _svg(50 + HOURS * HOUR_W, BASE + 46, body, "service level by hour of the day")


def _hour_mark(hour: int, x: int, g: GroupFigures, target: float) -> str:
    data = f'data-mark data-hour="{hour}" data-sl1="{_data(g.sl1)}" data-sl2="{_data(g.sl2)}"'
    title = (
        f"{hour:02d}:00-{hour:02d}:59: SL1 {percent(g.sl1)}, SL2 {percent(g.sl2)}"
        f" ({g.answered} answered, {g.answered_within} within T, {g.abandoned_after} abandoned after T)"
    )
    parts = [f"<title>{escape(title)}</title>"]
    if g.sl1 is None:
        parts.append(
            f'<rect x="{x + 3}" y="{BASE - 4}" width="{HOUR_W - 6}" height="4" fill="none" stroke="#d1d5db"/>'
        )
    else:
        height = max(PLOT_H * g.sl1, 1.0)
        colour = GOOD if g.sl1 >= target else SHORT
        parts.append(
            f'<rect x="{x + 3}" y="{BASE - height:.1f}" width="{HOUR_W - 6}" height="{height:.1f}"'
            f' fill="{colour}"/>'
        )
    if g.sl2 is not None:
        parts.append(
            f'<circle cx="{x + HOUR_W / 2:g}" cy="{BASE - PLOT_H * g.sl2:.1f}" r="3.5" fill="#111827"/>'
        )
    parts.append(_text(x + HOUR_W / 2, BASE + 14, f"{hour:02d}"))
    return f"<g {data}>{''.join(parts)}</g>"


def _data(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


# ---- by hour: two counts side by side; agents and their occupancy -------------------
PAIR_COLOURS = ("#94a3b8", GOOD)  # the first count (offered), the second (answered)
OCCUPANCY = "#6366f1"


def pairs_by_hour(pairs: Sequence[tuple[int, int]], names: tuple[str, str]) -> str:
    """Two counts of each hour side by side (offered and answered): 24 marks, each
    ``data-mark data-hour`` with the counts as ``data-first`` and ``data-second``."""
    most = max((max(pair) for pair in pairs), default=0) or 1
    body = [_axis(HOURS * HOUR_W, most, "calls")]
    half = (HOUR_W - 6) / 2
    for hour, pair in enumerate(pairs):
        x = 40 + hour * HOUR_W
        title = f"{hour:02d}:00-{hour:02d}:59: {names[0]} {pair[0]}, {names[1]} {pair[1]}"
        parts = [f"<title>{escape(title)}</title>"]
        for i, (count, colour) in enumerate(zip(pair, PAIR_COLOURS, strict=True)):
            height = PLOT_H * count / most
            parts.append(
                f'<rect x="{x + 3 + i * half:g}" y="{BASE - height:.1f}" width="{half:g}"'
                f' height="{height:.1f}" fill="{colour}"/>'
            )
        parts.append(_text(x + HOUR_W / 2, BASE + 14, f"{hour:02d}"))
        body.append(
            f'<g data-mark data-hour="{hour}" data-first="{pair[0]}" data-second="{pair[1]}">'
            + "".join(parts)
            + "</g>"
        )
    legend = ['<g data-legend="pairs-by-hour">']
    for i, (name, colour) in enumerate(zip(names, PAIR_COLOURS, strict=True)):
        legend.append(f'<rect x="{40 + i * 120}" y="{BASE + 24}" width="12" height="12" fill="{colour}"/>')
        legend.append(_text(56 + i * 120, BASE + 34, name, "start"))
    body.append("".join(legend) + "</g>")
    return _svg(50 + HOURS * HOUR_W, BASE + 46, body, f"{names[0]} and {names[1]} by hour of the day")


def agents_by_hour(agents: Sequence[float], occupancy: Sequence[float | None]) -> str:
    """Agents logged in each hour (bars, on the left scale) and their occupancy (dots,
    0-100% on the right): 24 marks, ``data-mark data-hour data-agents data-occupancy``."""
    most = max(max(agents, default=0.0), 1.0)
    right = 44 + HOURS * HOUR_W
    body = [
        _axis(HOURS * HOUR_W, math.ceil(most), "agents"),
        _text(right + 4, BASE + 4, "0%", "start"),
        _text(right + 4, BASE - PLOT_H + 4, "100%", "start"),
    ]
    for hour, (count, busy) in enumerate(zip(agents, occupancy, strict=True)):
        x = 40 + hour * HOUR_W
        title = f"{hour:02d}:00-{hour:02d}:59: {count:.1f} agents logged in, occupancy {percent(busy)}"
        height = PLOT_H * count / math.ceil(most)
        parts = [
            f"<title>{escape(title)}</title>",
            f'<rect x="{x + 3}" y="{BASE - height:.1f}" width="{HOUR_W - 6}" height="{height:.1f}"'
            ' fill="#93c5fd"/>',
        ]
        if busy is not None:
            parts.append(
                f'<circle cx="{x + HOUR_W / 2:g}" cy="{BASE - PLOT_H * busy:.1f}" r="3.5"'
                f' fill="{OCCUPANCY}"/>'
            )
        parts.append(_text(x + HOUR_W / 2, BASE + 14, f"{hour:02d}"))
        body.append(
            f'<g data-mark data-hour="{hour}" data-agents="{count:.2f}" data-occupancy="{_data(busy)}">'
            f"{''.join(parts)}</g>"
        )
    body.append(
        '<g data-legend="agents-by-hour">'
        + f'<rect x="40" y="{BASE + 24}" width="12" height="12" fill="#93c5fd"/>'
        + _text(56, BASE + 34, "agents logged in (left)", "start")
        + f'<circle cx="230" cy="{BASE + 30}" r="4" fill="{OCCUPANCY}"/>'
        + _text(238, BASE + 34, "occupancy: busy / logged-in time (right)", "start")
        + "</g>"
    )
    return _svg(right + 40, BASE + 46, body, "agents logged in and their occupancy by hour of the day")
