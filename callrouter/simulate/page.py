"""``callrouter simulate --format html``: a simulated day as one self-contained page,
made like the KPI report's (``report_html``: its styles, cards and sections;
``report_charts``: inline SVG, no script, no URL): the headline figures, offered
and answered by hour, the service level by hour against the target, the waits,
agents and their occupancy by hour, the day's and the hours' table, and what
each figure means. With ``--compare``, the three set-ups side by side: their
day's figures in one table, each chart once per set-up, each set-up's hours.

Marks for tests and tools: ``data-headline`` cards with ``data-value``;
``data-chart`` (``offered-answered``, ``sl-by-hour``, ``waits``,
``agents-by-hour``), with ``--compare`` holding one ``data-setup`` figure per
set-up; ``data-table`` (``day``, ``hours``, ``compare``, ``agents-by-line``)
with a ``data-row`` per row. Everything taken from the scenario or the config
is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from callrouter import report_charts, report_html
from callrouter.report_render import goal, percent, seconds
from callrouter.simulate import compare, compare_render, render
from callrouter.simulate.compare import Comparison
from callrouter.simulate.figures import Summary
from callrouter.simulate.scenario import Scenario

STYLE = """
.setups{display:grid;grid-template-columns:repeat(auto-fit,minmax(330px,1fr));gap:12px}
figure{margin:0}figcaption{font-size:13px;font-weight:600;color:#374151;margin:0 0 4px}
details summary{cursor:pointer;font-weight:600;margin:8px 0}
"""
CHARTS = {
    "offered-answered": (
        "Offered and answered by hour",
        "Calls that started in each hour (redials too): offered, and those an agent answered.",
    ),
    "sl-by-hour": (
        "Service level by hour of the day",
        "Bars: SL1; dots: SL2; the dashed line: the target. An empty hour had no answered call.",
    ),
    "waits": (
        "How long callers waited",
        "Waits of queued calls, from joining the queue to an agent's answer or to leaving it; "
        "each bar counts waits up to and including its bound, coloured by how they ended.",
    ),
    "agents-by-hour": (
        "Agents and their occupancy by hour",
        "Agents logged in (on average over the hour) and the share of their time rung, talking or "
        "wrapping up.",
    ),
}


def charts(summary: Summary) -> dict[str, str]:
    """Each chart of the day, by its ``CHARTS`` key."""
    hours, scope = summary.hours, summary.scope
    return {
        "offered-answered": report_charts.pairs_by_hour(
            [(f.offered, f.answered) for f in hours], ("offered", "answered")
        ),
        "sl-by-hour": report_charts.sl_by_hour(summary.kpi.by_hour, scope.service_level_target),
        "waits": report_charts.wait_bars(summary.kpi.waits, scope.service_level_seconds),
        "agents-by-hour": report_charts.agents_by_hour(
            [f.agents for f in hours], [f.occupancy for f in hours]
        ),
    }


def table(key: str, head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table: the first cell of each row names it (``data-row``); every cell escaped."""
    cells = "".join(f"<th>{escape(name)}</th>" for name in head)
    body = "".join(
        f'<tr data-row="{escape(row[0])}">' + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return f'<table data-table="{key}"><tr>{cells}</tr>{body}</table>'


def _hours_table(summary: Summary) -> str:
    rows = [render.row(f"{h:02d}", f) for h, f in enumerate(summary.hours) if f.offered or f.agents]
    return table("hours", [name for name, _ in render.COLUMNS], rows)


def _subtitle(scenario: Scenario, summary: Summary, runs: str) -> str:
    scope = summary.scope
    return (
        f'<p class="sub">{escape(scenario.source)} · {scenario.file.date.isoformat()} '
        f"({escape(scope.zone)}) · {escape(runs)} · config {escape(scenario.settings.source)} · "
        f"service level: answered within {scope.service_level_seconds:g} s, target "
        f"{goal(scope.service_level_target)}</p>"
    )


def _headlines(summary: Summary) -> str:
    f, target = summary.day, summary.scope.service_level_target
    callbacks = f"{f.callbacks_completed} of {f.callbacks_made} made"
    cards = [
        report_html.card("offered", "Offered", str(f.offered), f.offered, "calls, redials included"),
        report_html.card("people", "People", str(f.people), f.people, f"{f.never_served} never served"),
        report_html.card("answered", "Answered", str(f.answered), f.answered, f"{f.abandoned} abandoned"),
        report_html.card(
            "abandonment", "Abandoned", percent(f.abandonment), f.abandonment, "of those who waited"
        ),
        report_html.card(
            "asa", "Avg speed of answer", seconds(f.asa_seconds), f.asa_seconds, "answered calls"
        ),
        report_html.card(
            "sl1",
            "Service level SL1",
            percent(f.sl1),
            f.sl1,
            f"target {goal(target)}",
            report_html.grade(f.sl1, target),
        ),
        report_html.card(
            "sl2",
            "Service level SL2",
            percent(f.sl2),
            f.sl2,
            f"target {goal(target)}",
            report_html.grade(f.sl2, target),
        ),
        report_html.card(
            "occupancy", "Occupancy", percent(f.occupancy), f.occupancy, f"{f.agents:.1f} agents"
        ),
        report_html.card(
            "callbacks", "Callbacks completed", str(f.callbacks_completed), f.callbacks_completed, callbacks
        ),
    ]
    return f'<div class="cards">{"".join(cards)}</div>'


def _definitions(summary: Summary) -> str:
    items = "".join(
        f"<dt>{escape(name)}</dt><dd>{escape(text)}</dd>"
        for name, text in render.definitions(summary).items()
    )
    return f"<section><h2>What the figures count</h2><dl>{items}</dl></section>"


def page(scenario: Scenario, summary: Summary) -> str:
    drawn = charts(summary)
    day = table("day", [name for name, _ in render.COLUMNS], [render.row("day", summary.day)])
    body = [
        "<h1>Simulated day</h1>",
        _subtitle(scenario, summary, f"seed {scenario.seed}"),
        _headlines(summary),
        *(report_html.section(key, title, text, drawn[key]) for key, (title, text) in CHARTS.items()),
        f"<section><h2>The day</h2>{day}</section>",
        f"<section><h2>Each hour</h2>{_hours_table(summary)}</section>",
        _definitions(summary),
    ]
    return report_html.document(
        f"Simulated day {scenario.file.date.isoformat()} {scenario.source}", body, STYLE
    )


# ---- --compare separate-lines ---------------------------------------------------------------
def compare_page(comparison: Comparison) -> str:
    scenario, summaries = comparison.scenario, comparison.summaries
    unified = summaries["unified"]
    drawn = {key: charts(summaries[key]) for key in compare.SETUPS}
    setups = "".join(
        f"<li><b>{escape(compare.LABELS[key])}</b>: {escape(compare_render.DESCRIPTIONS[key])}</li>"
        for key in compare.SETUPS
    )
    people = "The same people (the same first calls)" if comparison.same_people else "NOT the same people"
    notes = [f"{people} and {compare_render.agent_hours(comparison)}."]
    notes += compare_render.specialists_note(comparison)
    off = "; ".join(f"{key} = {value}" for key, value in compare.SWITCHED_OFF.items())
    notes.append(f"Off in separate lines and one queue: {off}.")
    body = [
        "<h1>Separate lines or one queue: a simulated day</h1>",
        _subtitle(scenario, unified, f"seed {scenario.seed}"),
        f"<section><h2>The three set-ups</h2><ol>{setups}</ol>"
        + "".join(f"<p>{escape(note)}</p>" for note in notes)
        + f"{_compare_table(comparison)}</section>",
        *(_side_by_side(key, title, text, drawn) for key, (title, text) in CHARTS.items()),
        _agents_by_line(comparison),
        *(
            f"<section><details><summary>Each hour: {escape(compare.LABELS[key])}</summary>"
            f"{_hours_table(summaries[key])}</details></section>"
            for key in compare.SETUPS
        ),
        _definitions(unified),
    ]
    title = f"Separate lines or one queue {scenario.file.date.isoformat()} {scenario.source}"
    return report_html.document(title, body, STYLE)


def _compare_table(comparison: Comparison) -> str:
    rows = [
        [label, *(render.cell(name, comparison.summaries[key].day) for key in compare.SETUPS)]
        for name, label in compare_render.ROWS
    ]
    return table("compare", ["the day", *(compare.LABELS[key] for key in compare.SETUPS)], rows)


def _side_by_side(chart: str, title: str, text: str, drawn: dict[str, dict[str, str]]) -> str:
    figures = "".join(
        f'<figure data-setup="{key}"><figcaption>{escape(compare.LABELS[key])}</figcaption>'
        f"{drawn[key][chart]}</figure>"
        for key in compare.SETUPS
    )
    return report_html.section(chart, title, text, f'<div class="setups">{figures}</div>')


def _agents_by_line(comparison: Comparison) -> str:
    split = comparison.agents_by_line
    hours = [h for h in range(24) if any(agents[h] for agents in split.values())]
    rows = [[line, *(str(agents[h]) for h in hours)] for line, agents in split.items()]
    head = ["line", *(f"{h:02d}" for h in hours)]
    return (
        "<section><h2>Separate lines: each line's agents by the hour</h2>"
        "<p>The agents logged in each hour, split over the lines in proportion to the calls expected on each "
        f"(largest remainder; at least one for a line with calls while there are enough).</p>"
        f"{table('agents-by-line', head, rows)}</section>"
    )
