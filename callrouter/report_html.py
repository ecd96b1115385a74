"""The KPI report as one self-contained HTML page for managers: the headline
numbers, the load by weekday and hour, the waits, the service level by hour,
tables per line and per topic, callbacks and results, and what each figure
means. Styles inline, charts inline SVG (``report_charts``), no script and no
URL: the file opens anywhere, offline, as it is.

Marks for tests and tools: ``data-headline="<figure>"`` with ``data-value`` (the
figure: a count, seconds or a share 0..1; empty for none), ``data-chart``
(``heatmap``, ``waits``, ``sl-by-hour``), ``data-table`` (``cover``, ``lines``, ``topics``)
with a ``data-row`` per row."""

from __future__ import annotations

from html import escape
from zoneinfo import ZoneInfo

from callrouter import report_charts
from callrouter.core.cover import HourCover
from callrouter.core.kpi import GroupFigures, Report
from callrouter.report_render import (
    COVER_COLUMNS,
    DASH,
    cover_cells,
    definitions,
    goal,
    patience_note,
    percent,
    seconds,
    shown_hours,
)

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f8fafc;color:#111827}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}
.sub{color:#4b5563;margin:0 0 18px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(128px,1fr));gap:12px}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:10px;padding:12px 14px}
.card .label{font-size:12px;color:#6b7280;text-transform:uppercase;letter-spacing:.04em}
.card .value{font-size:28px;font-weight:650;margin:4px 0}
.card .note{font-size:12px;color:#6b7280}
.card.good{border-left:5px solid #16a34a}.card.short{border-left:5px solid #f59e0b}
section{background:#fff;border:1px solid #e5e7eb;border-radius:10px;padding:14px 16px;margin-top:16px}
section p{color:#4b5563;font-size:13px;margin:4px 0 10px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:5px 8px;border-bottom:1px solid #f1f5f9;text-align:right}
th:first-child,td:first-child{text-align:left}
[data-table=extras] td{text-align:left}
tr.short td{background:#fef3c7}
th{color:#6b7280;font-weight:600;background:#f9fafb}
dl{font-size:13px;display:grid;grid-template-columns:160px 1fr;gap:4px 12px}dt{font-weight:600}dd{margin:0}
"""


def page(report: Report) -> str:
    scope = report.scope
    lines = f" · lines: {', '.join(scope.lines)}" if scope.lines else ""
    t = f"{scope.service_level_seconds:g} s"
    body = [
        "<h1>Contact centre KPI report</h1>",
        f'<p class="sub">{escape(_period(report))} · service level: answered within {t},'
        f" target {goal(scope.service_level_target)}{escape(lines)}</p>",
        _headlines(report),
        section(
            "heatmap",
            "Load by weekday and hour",
            f"Offered calls by the weekday and hour they started ({scope.zone}).",
            report_charts.heatmap(report.load, scope.zone),
        ),
        section(
            "waits",
            "How long callers waited",
            "Waits of queued calls, from joining the queue to an agent's answer or to leaving it; "
            "each bar counts waits up to and including its bound (the dashboard's buckets), "
            "coloured by how they ended.",
            report_charts.wait_bars(report.waits, scope.service_level_seconds),
        ),
        section(
            "sl-by-hour",
            "Service level by hour of the day",
            "Calls that started in each hour (all days of the period). Bars: SL1; dots: SL2; "
            "an empty hour had no answered call.",
            report_charts.sl_by_hour(report.by_hour, scope.service_level_target),
        ),
        _cover_section(report),
        _table_section("lines", "Per line", report.lines),
        _table_section("topics", "Per topic", report.topics),
        _extras(report),
        _definitions(report),
    ]
    return document(f"KPI report {_period(report)}", body)


def document(title: str, body: list[str], style: str = "") -> str:
    """A whole page: ``title`` (escaped here), the parts of ``body`` (HTML already),
    the report's styles and ``style`` besides."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}{style}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )


def _period(report: Report) -> str:
    scope = report.scope
    start, end = (
        moment.astimezone(ZoneInfo(scope.zone)).strftime("%Y-%m-%d %H:%M")
        for moment in (scope.start, scope.end)
    )
    return f"{start} to {end} ({scope.zone}, end exclusive)"


def _headlines(report: Report) -> str:
    g, target = report.overall, report.scope.service_level_target
    cards = [
        card("offered", "Offered", str(g.offered), g.offered, "inbound calls that reached a line"),
        card(
            "unique_callers", "Unique callers", str(g.unique_callers), g.unique_callers, "withheld: one each"
        ),
        card("answered", "Answered", str(g.answered), g.answered, f"of {g.queued} queued"),
        card("asa", "Avg speed of answer", seconds(g.asa_seconds), g.asa_seconds, "mean wait, answered"),
        card(
            "sl1",
            "Service level SL1",
            percent(g.sl1),
            g.sl1,
            f"target {goal(target)}",
            grade(g.sl1, target),
        ),
        card(
            "sl2",
            "Service level SL2",
            percent(g.sl2),
            g.sl2,
            f"target {goal(target)}",
            grade(g.sl2, target),
        ),
        card(
            "abandonment", "Abandoned", percent(g.abandonment), g.abandonment, f"{g.abandoned} of {g.queued}"
        ),
    ]
    return f'<div class="cards">{"".join(cards)}</div>'


def grade(value: float | None, target: float) -> str:
    if value is None:
        return ""
    return " good" if value >= target else " short"


def card(key: str, label: str, shown: str, value: float | None, note: str, grade: str = "") -> str:
    raw = "" if value is None else (str(value) if isinstance(value, int) else f"{value:.4f}")
    return (
        f'<div class="card{grade}" data-headline="{key}" data-value="{raw}">'
        f'<div class="label">{escape(label)}</div>'
        f'<div class="value">{escape(shown)}</div><div class="note">{escape(note)}</div></div>'
    )


def section(chart: str, title: str, text: str, svg: str) -> str:
    """A chart's section: its title (HTML), what it shows (escaped here) and the chart."""
    return f'<section data-chart="{chart}"><h2>{title}</h2><p>{escape(text)}</p>{svg}</section>'


TABLE_HEAD = (
    "offered", "unique callers", "queued", "answered", "ASA", "SL1", "SL2", "abandoned", "short", "AHT",
    "repeat calls", "FCR",
)  # fmt: skip


def _table_section(key: str, title: str, groups: dict[str, GroupFigures]) -> str:
    head = "".join(f"<th>{name}</th>" for name in ("", *TABLE_HEAD))
    rows = [
        f'<tr data-row="{escape(name)}"><td>{escape(name)}</td>{_cells(g)}</tr>' for name, g in groups.items()
    ]
    if not rows:
        rows = [f'<tr><td colspan="{len(TABLE_HEAD) + 1}">no calls</td></tr>']
    return (
        f'<section><h2>{title}</h2><table data-table="{key}"><tr>{head}</tr>{"".join(rows)}</table></section>'
    )


def _cells(g: GroupFigures) -> str:
    values = (
        str(g.offered), str(g.unique_callers), str(g.queued), str(g.answered), seconds(g.asa_seconds),
        percent(g.sl1), percent(g.sl2), percent(g.abandonment), percent(g.short_abandonment),
        seconds(g.aht_seconds), percent(g.repeat_rate), percent(g.fcr),
    )  # fmt: skip
    return "".join(f"<td>{escape(v)}</td>" for v in values)


def _cover_section(report: Report) -> str:
    cover = report.cover
    if cover is None:
        return ""
    head = "".join(f"<th>{name}</th>" for name in ("hour", *COVER_COLUMNS))
    rows = [_cover_row(hour) for hour in shown_hours(cover)]
    if not rows:
        rows = [f'<tr><td colspan="{len(COVER_COLUMNS) + 1}">no calls and no agents</td></tr>']
    text = (
        f"Per hour of the day ({report.scope.zone}): agents logged in on average (planned) against the "
        f"agents Erlang A says the hour's calls needed for the service level; {patience_note(cover)}. "
        "Rows where fewer were planned than needed are marked."
    )
    return (
        f'<section><h2>Agents planned vs needed</h2><p>{escape(text)}</p><table data-table="cover">'
        f"<tr>{head}</tr>{''.join(rows)}</table></section>"
    )


def _cover_row(hour: HourCover) -> str:
    short = hour.planned is not None and hour.needed is not None and hour.planned < hour.needed
    cells = "".join(f"<td>{escape(cell)}</td>" for cell in cover_cells(hour))
    mark = ' class="short"' if short else ""
    return f'<tr data-row="{hour.hour:02d}"{mark}><td>{hour.hour:02d}:00</td>{cells}</tr>'


def _extras(report: Report) -> str:
    g, c, r = report.overall, report.callbacks, report.results
    rows = [
        ("Repeat calls", f"{g.repeat_calls} ({percent(g.repeat_rate)} of offered): "
         + ", ".join(f"{kind.replace('_', ' ')} {n}" for kind, n in g.repeats.items())),
        ("First-contact resolution", f"{percent(g.fcr)}: {g.fcr_called_again} of {g.fcr_answered} "
         "answered calls from a number called again"),
        ("Average handling time", seconds(g.aht_seconds)),
        ("Short abandons", f"{g.short_abandoned} ({percent(g.short_abandonment)} of queued)"),
        ("Callbacks requested", f"{c.requested}: completed {c.completed}, failed {c.failed}, "
         f"cancelled {c.cancelled}, open {c.open}"),
        ("Results calls", f"{r.calls} made; {r.consultations} asked for a consultant "
         f"({r.consultations_answered} answered)"),
        ("Results received", f"{r.received}: "
         + ", ".join(f"{state.replace('_', ' ')} {n}" for state, n in r.states.items()) + f", open {r.open}"),
        ("Outcomes of offered calls", ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in g.outcomes.items())
         or DASH),
    ]  # fmt: skip
    cells = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in rows)
    title = "<h2>Repeat callers, callbacks and results</h2>"
    return f'<section>{title}<table data-table="extras">{cells}</table></section>'


def _definitions(report: Report) -> str:
    items = "".join(
        f"<dt>{escape(name)}</dt><dd>{escape(text)}</dd>" for name, text in definitions(report.scope).items()
    )
    return f"<section><h2>What the figures count</h2><dl>{items}</dl></section>"
