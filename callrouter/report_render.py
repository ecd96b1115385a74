"""The KPI report written out: a plain-text table, CSV (one figure a row) or JSON
(``report_html`` writes the page). Counts only: no phone number is ever in a
report (the core's figures hold none)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from callrouter.core.cover import Cover, HourCover
from callrouter.core.hours import DAYS
from callrouter.core.kpi import HOURS, GroupFigures, Report, Scope, WaitBin

FORMATS = ("table", "csv", "json", "html")
DASH = "—"  # a figure with nothing to divide by
# The scalar figures of a group, in the order tables and CSV give them.
GROUP_FIELDS = (
    "offered", "unique_callers", "queued", "answered", "answered_within", "abandoned", "abandoned_after",
    "short_abandoned", "asa_seconds", "aht_seconds", "sl1", "sl2", "sl_perf2", "abandonment",
    "short_abandonment", "repeat_calls", "repeat_rate", "fcr_answered", "fcr_called_again", "fcr",
)  # fmt: skip


def definitions(scope: Scope) -> dict[str, str]:
    """What each figure counts, said in every format (and in ``callrouter report --help``)."""
    t = f"{scope.service_level_seconds:g} s"
    return {
        "offered": "inbound calls that reached a line, whatever became of them (menu, after hours, queue); "
        "results calls are counted apart",
        "unique_callers": "distinct caller numbers; each withheld call counts as one caller",
        "queued": "calls whose wait in the queue ended: answered, abandoned (short too), overflow or "
        "callback; a place a later call of the same person took over is counted once, with the later call",
        "answered": "queued calls an agent answered",
        "asa_seconds": "average speed of answer: mean wait of answered calls, from joining the queue "
        "(a resumed place: its first join) to the agent's answer",
        "sl1": f"answered within {t} / answered (Asterisk's ServicelevelPerf)",
        "sl2": f"answered within {t} / (answered + abandoned after {t}); abandons within {t} are left out",
        "sl_perf2": f"(answered within {t} + abandoned within {t}) / (answered + abandoned): Asterisk's "
        "ServicelevelPerf2, for comparison with app_queue (abandons within the threshold count as served)",
        "abandonment": "abandoned in the queue (short abandons included) / queued",
        "short_abandonment": "short abandons ([queue] short_abandon_seconds) / queued",
        "aht_seconds": "average handling time: mean talk of answered calls, agent's answer to the end",
        "repeat_rate": "offered calls recognised as a person calling again (any kind) / offered",
        "fcr": "first-contact resolution: 1 - answered calls the person called again about / answered calls "
        "from a caller number (withheld ones left out); called again: a later call recognised as a recent "
        "contact ([repeat] contact_seconds), counted with the answered call's line, topic and hour; one "
        "after the period's end is not seen, so a period that ended less than contact_seconds ago may "
        "still fall",
        "load": f"offered calls by the weekday and hour they started ({scope.zone})",
        "waits": "waits of queued calls, each bin up to and including its bound "
        "(the buckets of callrouter_queue_wait_seconds)",
        "callbacks": "callbacks requested in the period, by their state now",
        "results": "results calls the router made in the period; results received in the period "
        "by their state now",
        "planned": f"agents logged in (any state but logged_out), on average over the hour ({scope.zone}; "
        "the period's days of that hour together); agents serve every line, whatever --line selects",
        "offered_load": "the hour's queued calls per hour x handle time, in erlangs; handle time: mean talk "
        "of the hour's answered calls (the period's when it had none) + [queue] wrap_up_seconds",
        "patience": "mean patience, one estimate for the period (patience is the callers', not the hour's): "
        "exponential patience by maximum likelihood, abandoned / seconds waited by every queued caller "
        "(an answered caller's wait says only that their patience was longer); nobody abandoned: infinite",
        "needed": f"the fewest agents whose SL2 reaches {goal(scope.service_level_target)} within {t} by "
        "Erlang A (Erlang C with infinite patience), at the hour's arrival rate, handle time and the "
        "patience; SL2, as SL1 would be met by too few agents while callers leave; 0: no queued call",
    }


# ---- numbers as people read them ------------------------------------------------
def percent(value: float | None) -> str:
    return DASH if value is None else f"{100 * value:.1f}%"


def goal(target: float) -> str:
    """The service-level target as set: 0.8 is ``80%``."""
    return f"{100 * target:g}%"


def seconds(value: float | None) -> str:
    """Under a minute in seconds (``33.3 s``), longer as minutes:seconds (``2:38``)."""
    if value is None:
        return DASH
    if round(value, 1) < 60:
        return f"{value:.1f} s"
    whole = int(value + 0.5)
    return f"{whole // 60}:{whole % 60:02d}"


def bin_label(upto: float | None, previous: float | None) -> str:
    if upto is None:
        return f">{previous:g} s"
    return f"≤{upto:g} s"


def period(scope: Scope) -> str:
    return f"{scope.start.isoformat()} to {scope.end.isoformat()} (exclusive), {scope.zone}"


def figures(group: GroupFigures) -> dict[str, Any]:
    """A group's figures, shares and seconds to 6 decimals (enough for anyone, and readable)."""
    return {name: round(v, 6) if isinstance(v, float) else v for name, v in asdict(group).items()}


# ---- JSON -----------------------------------------------------------------------
def as_json_text(report: Report) -> str:
    return json.dumps(as_json(report), indent=2, ensure_ascii=False) + "\n"


def as_json(report: Report) -> dict[str, Any]:
    scope = report.scope
    return {
        "period": {"from": scope.start.isoformat(), "to": scope.end.isoformat(), "zone": scope.zone},
        "service_level": {"seconds": scope.service_level_seconds, "target": scope.service_level_target},
        "lines_selected": list(scope.lines),
        "definitions": definitions(scope),
        "overall": figures(report.overall),
        "lines": {name: figures(group) for name, group in report.lines.items()},
        "topics": {name: figures(group) for name, group in report.topics.items()},
        "by_hour": [{"hour": hour, **figures(group)} for hour, group in enumerate(report.by_hour)],
        "load": {
            "weekdays": list(DAYS),
            "hours": list(range(HOURS)),
            "offered": [list(r) for r in report.load],
        },
        "waits": [{"upto": b.upto, **b.counts, "total": b.total} for b in report.waits],
        "callbacks": asdict(report.callbacks),
        "results": asdict(report.results),
        **({} if report.cover is None else {"cover": cover_json(report.cover)}),
    }


def cover_json(cover: Cover) -> dict[str, Any]:
    """Staff cover: the patience behind it, then the 24 hours of the day."""
    values = {name: round(v, 6) if isinstance(v, float) else v for name, v in asdict(cover).items()}
    values["model"] = model(cover)
    values["hours"] = [
        {name: round(v, 6) if isinstance(v, float) else v for name, v in asdict(hour).items()}
        for hour in cover.hours
    ]
    return values


# ---- CSV: section, name, figure, value (last, what each figure counts) ---------------
def as_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("section", "name", "figure", "value"))
    writer.writerows(_csv_rows(report))
    return out.getvalue()


def _csv_rows(report: Report) -> Iterator[tuple[str, str, str, object]]:
    scope = report.scope
    yield from (
        ("scope", "", "from", scope.start.isoformat()),
        ("scope", "", "to", scope.end.isoformat()),
        ("scope", "", "zone", scope.zone),
        ("scope", "", "service_level_seconds", scope.service_level_seconds),
        ("scope", "", "service_level_target", scope.service_level_target),
        ("scope", "", "lines", " ".join(scope.lines)),
    )
    yield from _group_rows("overall", "", report.overall)
    for name, group in report.lines.items():
        yield from _group_rows("line", name, group)
    for name, group in report.topics.items():
        yield from _group_rows("topic", name, group)
    for hour, group in enumerate(report.by_hour):
        yield from _group_rows("hour", f"{hour:02d}", group)
    for day, row in zip(DAYS, report.load, strict=True):
        yield from (("load", day, f"{hour:02d}", count) for hour, count in enumerate(row))
    for previous, wait in _with_previous(report.waits):
        label = bin_label(wait.upto, previous)
        yield from (("waits", label, outcome, count) for outcome, count in wait.counts.items())
    yield from (("callbacks", "", key, value) for key, value in asdict(report.callbacks).items())
    results = asdict(report.results)
    states = results.pop("states")
    yield from (("results", "", key, value) for key, value in results.items())
    yield from (("results", "state", state, count) for state, count in states.items())
    if report.cover is not None:
        yield from _cover_rows(report.cover)
    yield from (("definition", "", name, text) for name, text in definitions(scope).items())


def _cover_rows(cover: Cover) -> Iterator[tuple[str, str, str, object]]:
    values = cover_json(cover)
    hours = values.pop("hours")
    yield from (("cover", "", key, "" if value is None else value) for key, value in values.items())
    for hour in hours:
        name = f"{hour.pop('hour'):02d}"
        yield from (("cover", name, key, "" if value is None else value) for key, value in hour.items())


def _group_rows(section: str, name: str, group: GroupFigures) -> Iterator[tuple[str, str, str, object]]:
    values = figures(group)
    for field in GROUP_FIELDS:
        yield section, name, field, "" if values[field] is None else values[field]
    yield from ((section, name, f"repeats_{kind}", n) for kind, n in group.repeats.items())
    yield from ((section, name, f"outcome_{outcome}", n) for outcome, n in group.outcomes.items())


def _with_previous(waits: tuple[WaitBin, ...]) -> Iterator[tuple[float | None, WaitBin]]:
    previous: float | None = None
    for wait in waits:
        yield previous, wait
        previous = wait.upto


# ---- the table ------------------------------------------------------------------
COLUMNS = "offered unique queued answered      ASA    SL1    SL2  aband  short    AHT repeat    FCR"


def as_table(report: Report) -> str:
    scope, overall = report.scope, report.overall
    t = f"{scope.service_level_seconds:g} s"
    lines = [
        f"KPI report: {period(scope)}",
        f"service level: answered within {t}, target {goal(scope.service_level_target)}"
        + (f"; lines: {', '.join(scope.lines)}" if scope.lines else ""),
        "",
        *_overall(overall, scope),
        "",
        *_groups("line", report.lines),
        "",
        *_groups("topic", report.topics),
        "",
        *_extras(report),
        "",
        *_load(report),
        "",
        *_by_hour(report),
        "",
        *_cover(report),
        *_waits(report),
        "",
        "definitions",
        *(f"  {name:<18} {text}" for name, text in definitions(scope).items()),
    ]
    return "\n".join(lines) + "\n"


def _overall(g: GroupFigures, scope: Scope) -> list[str]:
    target = goal(scope.service_level_target)
    kinds = ", ".join(f"{kind} {n}" for kind, n in g.repeats.items())
    return [
        "overall",
        f"  offered                  {g.offered}",
        f"  unique callers           {g.unique_callers}",
        f"  queued                   {g.queued}",
        f"  answered                 {g.answered} ({g.answered_within} within the service level)",
        f"  average speed of answer  {seconds(g.asa_seconds)}",
        f"  service level SL1        {percent(g.sl1)} (target {target})",
        f"  service level SL2        {percent(g.sl2)} (target {target}; {g.abandoned_after} abandoned after)",
        f"  Asterisk's perf2         {percent(g.sl_perf2)} (abandons within the threshold count as served)",
        f"  abandonment              {percent(g.abandonment)} ({g.abandoned} abandoned)",
        f"  short abandonment        {percent(g.short_abandonment)} ({g.short_abandoned})",
        f"  average handling time    {seconds(g.aht_seconds)}",
        f"  repeat calls             {percent(g.repeat_rate)} ({g.repeat_calls}: {kinds})",
        f"  first-contact resolution {percent(g.fcr)} ({g.fcr_called_again} of {g.fcr_answered} answered"
        " called again)",
        "  outcomes                 " + ", ".join(f"{name} {n}" for name, n in g.outcomes.items()),
    ]


def _groups(title: str, groups: dict[str, GroupFigures]) -> list[str]:
    head = f"{title:<22} {COLUMNS}"
    rows = [head, "-" * len(head)]
    for name, g in groups.items():
        rows.append(
            f"{name:<22} {g.offered:>7} {g.unique_callers:>6} {g.queued:>6} {g.answered:>8}"
            f" {seconds(g.asa_seconds):>8} {percent(g.sl1):>6} {percent(g.sl2):>6}"
            f" {percent(g.abandonment):>6} {percent(g.short_abandonment):>6} {seconds(g.aht_seconds):>6}"
            f" {percent(g.repeat_rate):>6} {percent(g.fcr):>6}"
        )
    return rows if groups else [*rows, "(no calls)"]


def _extras(report: Report) -> list[str]:
    c, r = report.callbacks, report.results
    states = ", ".join(f"{state} {n}" for state, n in r.states.items())
    return [
        "callbacks (requested in the period, by state now)",
        f"  requested {c.requested}, completed {c.completed}, failed {c.failed}, cancelled {c.cancelled},"
        f" open {c.open}",
        "results (counted apart from offered)",
        f"  results calls {r.calls}, consultations asked {r.consultations}"
        f" (answered {r.consultations_answered})",
        f"  results received {r.received}: {states}, open {r.open}",
    ]


def _load(report: Report) -> list[str]:
    rows = [f"load: offered calls by weekday and hour ({report.scope.zone})"]
    rows.append("      " + " ".join(f"{hour:>3}" for hour in range(HOURS)))
    for day, row in zip(DAYS, report.load, strict=True):
        rows.append(f"  {day}" + "".join(f" {count:>3}" if count else "   ." for count in row))
    return rows


def _by_hour(report: Report) -> list[str]:
    rows = ["service level by hour of the day", "  hour offered answered    SL1    SL2"]
    for hour, g in enumerate(report.by_hour):
        if g.offered:
            rows.append(
                f"  {hour:02d}   {g.offered:>7} {g.answered:>8} {percent(g.sl1):>6} {percent(g.sl2):>6}"
            )
    return rows


# ---- staff cover, in the table and on the page --------------------------------------
def model(cover: Cover) -> str:
    return "erlang_c" if cover.patience_seconds is None else "erlang_a"


def patience_note(cover: Cover) -> str:
    if cover.patience_seconds is None:
        return "patience infinite (nobody abandoned): Erlang C"
    return (
        f"mean patience {seconds(cover.patience_seconds)} ({cover.abandoned} abandoned in "
        f"{seconds(cover.waited_seconds)} waited): Erlang A"
    )


def shown_hours(cover: Cover) -> list[HourCover]:
    """The hours the period covers that had a queued call or an agent logged in."""
    return [h for h in cover.hours if h.planned is not None and (h.queued or h.planned)]


def cover_cells(hour: HourCover) -> tuple[str, ...]:
    """hours, queued, per hour, handle, load, planned, needed, gap (planned - needed): as people read them."""
    needed = DASH if hour.needed is None else str(hour.needed)
    gap = DASH if hour.needed is None or hour.planned is None else f"{hour.planned - hour.needed:+.1f}"
    return (
        f"{hour.hours:.2f}", str(hour.queued), number(hour.arrivals_per_hour, 1),
        seconds(hour.handle_seconds), number(hour.load_erlangs, 2), number(hour.planned, 1), needed, gap,
    )  # fmt: skip


def number(value: float | None, places: int) -> str:
    return DASH if value is None else f"{value:.{places}f}"


COVER_COLUMNS = ("hours", "queued", "per hour", "handle", "load", "planned", "needed", "gap")


def _cover(report: Report) -> list[str]:
    cover = report.cover
    if cover is None:
        return []
    rows = [
        f"agents planned vs needed by hour of the day ({report.scope.zone}; {patience_note(cover)})",
        "  hour" + "".join(f" {name:>8}" for name in COVER_COLUMNS),
    ]
    for hour in shown_hours(cover):
        rows.append(f"  {hour.hour:02d}  " + "".join(f" {cell:>8}" for cell in cover_cells(hour)))
    return [*rows, ""]


def _waits(report: Report) -> list[str]:
    rows = ["wait distribution (queued calls)", "  wait       calls  answered abandoned overflow callback"]
    for previous, w in _with_previous(report.waits):
        c = w.counts
        rows.append(
            f"  {bin_label(w.upto, previous):<10} {w.total:>5} {c['answered']:>9} {c['abandoned']:>9}"
            f" {c['overflow']:>8} {c['callback']:>8}"
        )
    return rows
