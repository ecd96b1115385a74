"""``callrouter staffing``'s advice written out: a plain-text table (each hour with
calls or agents: planned, Erlang A's, needed, the figures predicted with the
needed staffing; the day; agent-hours; the advised ``[staff]`` as TOML) or the
same as JSON."""

from __future__ import annotations

import json
from typing import Any

from callrouter.report_render import DASH, percent, seconds
from callrouter.simulate.scenario import Scenario
from callrouter.simulate.staffing import (
    HOURS,
    MIN_CALLS,
    OVERFLOW,
    Advice,
    Queue,
    Target,
    Trial,
    first_calls_by_hour,
    queue_calls_by_hour,
    staff_of,
)

COLUMNS = (
    ("hour", 4), ("planned", 8), ("Erlang A", 8), ("needed", 6), ("first", 6), ("offered", 7), ("SL1", 6),
    ("SL2", 6), ("abandon.", 8), ("ASA", 7), ("occup.", 6),
)  # fmt: skip
ROTA = ("rota", 5)  # with --shrinkage: the agents to put on the rota for the needed on the phones
PREDICTED = ("offered", "sl1", "sl2", "abandonment", "asa_seconds", "occupancy", "calls_per_person")


def target_text(target: Target) -> str:
    t = f"{target.seconds:g} s"
    rule = (
        f"answered within {t} / answered"
        if target.definition == "sl1"
        else f"answered within {t} / (answered + abandoned after {t})"
    )
    ceiling = "" if target.max_abandon is None else f", abandonment at most {100 * target.max_abandon:g}%"
    sure = ", met by the whole 95% interval of the days' figures (--sure)" if target.sure else ""
    return f"{100 * target.level:g}% within {t} by {target.definition.upper()} ({rule}){ceiling}{sure}"


def staff_toml(advice: Advice) -> str:
    staff = staff_of(advice.needed)
    if staff is None:
        return "[staff]  # nobody needed\nper_hour = [0]\n"
    counts = ", ".join(str(n) for n in staff.per_hour)
    return f'[staff]\nstart = "{staff.start}"\nper_hour = [{counts}]\n'


def planned_by_hour(scenario: Scenario) -> list[float] | None:
    """The scenario's own agents on shift each hour (None: it plans none)."""
    planned = scenario.agents_by_hour()
    return planned if any(planned) else None


def _hours(advice: Advice, planned: list[float] | None, first: list[float]) -> list[int]:
    return [
        h
        for h in range(HOURS)
        if first[h] or advice.needed[h] or (planned and planned[h]) or advice.trial.mean(h, "offered")
    ]


def as_json(scenario: Scenario, advice: Advice) -> dict[str, Any]:
    planned = planned_by_hour(scenario)
    first, reaching = first_calls_by_hour(scenario), queue_calls_by_hour(scenario)
    queue = Queue.of(scenario, advice.target)
    trial = advice.trial
    target = advice.target
    staff = staff_of(advice.needed)
    rostered = advice.rostered
    return {
        "scenario": scenario.source,
        "config": scenario.settings.source,
        "date": scenario.file.date.isoformat(),
        "zone": scenario.zone,
        "target": {
            "level": target.level,
            "seconds": target.seconds,
            "definition": target.definition,
            "max_abandon": target.max_abandon,
            "sure": target.sure,
        },
        "erlang": {
            "service_seconds": queue.service_seconds,
            "service_seconds_by_hour": [round(x, 3) for x in queue.hourly],
            "abandon_rate": queue.abandon_rate,
            "threshold_seconds": queue.threshold,
        },
        "met": advice.met,
        "capped": advice.capped,
        "hopeless_hours": advice.hopeless,
        # Met on the days' mean, but the target inside the 95% interval of their figures.
        "uncertain_hours": advice.uncertain,
        "iterations": advice.iterations,
        "replications": advice.replications,
        "seeds": list(trial.replicated.seeds),
        "seconds": round(advice.seconds, 3),
        "agent_hours": {
            "planned": None if planned is None else round(sum(planned), 3),
            "erlang": sum(advice.erlang),
            "needed": sum(advice.needed),
            "rota": sum(rostered),
        },
        "shrinkage": round(advice.shrinkage, 6),
        "day": {name: _rounded(trial.mean(None, name)) for name in PREDICTED},
        "hours": [
            {
                "hour": h,
                "planned": None if planned is None else round(planned[h], 3),
                "erlang": advice.erlang[h],
                "needed": advice.needed[h],
                "rota": rostered[h],
                "first_calls": round(first[h], 3),
                "queue_calls": round(reaching[h], 3),  # of them, those that can reach the queue
                "judged": trial.judged(h),
                **{name: _rounded(trial.mean(h, name)) for name in PREDICTED},
            }
            for h in range(HOURS)
        ],
        "staff": None if staff is None else {"start": staff.start, "per_hour": list(staff.per_hour)},
        "tried": [list(counts) for counts in advice.history],
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _count(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def _row(advice: Advice, hour: int, planned: list[float] | None, first: list[float]) -> list[str]:
    mark = "" if advice.trial.judged(hour) else "*"
    if hour in advice.uncertain:
        mark = "~"
    return [
        f"{hour:02d}",
        DASH if planned is None else _count(planned[hour]),
        str(advice.erlang[hour]),
        f"{advice.needed[hour]}{mark}",
        _count(round(first[hour], 1)),
        *_predicted(advice.trial, hour),
    ]


def _day_row(advice: Advice, planned: list[float] | None, first: list[float]) -> list[str]:
    return [
        "day",
        DASH if planned is None else _count(round(sum(planned), 1)),
        str(sum(advice.erlang)),
        str(sum(advice.needed)),
        _count(round(sum(first), 1)),
        *_predicted(advice.trial, None),
    ]


def _predicted(trial: Trial, hour: int | None) -> list[str]:
    """Offered, SL1, SL2, abandonment, ASA and occupancy: the days' means (hour None: the day's)."""
    offered = trial.mean(hour, "offered")
    return [
        DASH if offered is None else f"{offered:.1f}",
        percent(trial.mean(hour, "sl1")),
        percent(trial.mean(hour, "sl2")),
        percent(trial.mean(hour, "abandonment")),
        seconds(trial.mean(hour, "asa_seconds")),
        percent(trial.mean(hour, "occupancy")),
    ]


def _line(cells: list[str]) -> str:
    """The cells under ``COLUMNS``, and the rota's after the needed one when they have it (``_with_rota``)."""
    columns = COLUMNS if len(cells) == len(COLUMNS) else (*COLUMNS[:4], ROTA, *COLUMNS[4:])
    return "  ".join(cell.rjust(width) for cell, (_, width) in zip(cells, columns, strict=True)).rstrip()


def _with_rota(advice: Advice, cells: list[str], rota: str) -> list[str]:
    return [*cells[:4], rota, *cells[4:]] if advice.shrinkage else cells


def _verdict(advice: Advice) -> str:
    tried = f"{advice.iterations} staffings tried, {advice.replications} days each; {advice.seconds:.1f} s"
    close = advice.uncertain
    noisy = f" on the days' mean ({len(close)} within the noise: ~)" if close else ""
    sure = " at the pessimistic end of the days' 95% interval" if advice.target.sure else ""
    met = f"every hour meets the target{sure}{noisy}"
    if advice.met and not advice.capped:
        return f"{met} ({tried})"
    if advice.met:
        return f"{met}; the iteration cap stopped the search for fewer agents ({tried})"
    if advice.hopeless:
        hours = ", ".join(f"{h:02d}" for h in advice.hopeless)
        return (
            f"NOT MET: hours {hours} came no nearer the target as agents were added: no staffing meets"
            f" it there (callers who give up before an agent can answer? phones never answered?) ({tried})"
        )
    return f"NOT MET: the iteration cap was reached with hours still missing the target ({tried})"


def _service_text(queue: Queue, first: list[float]) -> str:
    """The service time, or its range over the hours with calls when their mix of topics differs."""
    hours = [queue.service(h) for h in range(HOURS) if first[h] > 0]
    low, high = (min(hours), max(hours)) if hours else (queue.service_seconds,) * 2
    if high - low < 0.5:
        return f"{queue.service_seconds:g} s"
    return f"{queue.service_seconds:.0f} s on the day, {low:.0f}-{high:.0f} s by the hour's mix of topics"


def _noise_text(advice: Advice) -> list[str]:
    hours = ", ".join(f"{h:02d}" for h in advice.uncertain)
    return [
        f"~: met on the mean of {advice.replications} days, but the target lies within the 95% interval",
        f"of their figures (hours {hours}): as likely short of it as not; more --replications tell",
        "(or add an agent there to be safe)",
    ]


def _left_out_text(first: list[float], reaching: list[float]) -> list[str]:
    return [
        f"of the {sum(first):,.1f} first calls, {sum(reaching):,.1f} can reach the queue: those to a line",
        "while it is closed, and those hung up in the menu, load no agent",
    ]


def _overflow_text(advice: Advice) -> list[str]:
    """Callers sent to overflow count against the target: said when there were any."""
    runs = [s.day.outcomes.get(OVERFLOW, 0) for s in advice.trial.summaries]
    if not any(runs):
        return []
    return [
        f"overflow: {sum(runs) / len(runs):g} calls a day sent to overflow (a topic's maximum wait) count,",
        "in the verdict, as not answered within T, and as lost for --max-abandon (the SL columns",
        "and abandon. are the KPI report's, which leave them out)",
    ]


def _rota_text(shrinkage: float) -> list[str]:
    return [
        f"rota: needed / (1 - shrinkage {100 * shrinkage:g}%), rounded up: the agents to put on the",
        "rota for the needed to be on the phones (breaks, training, absence take the rest)",
    ]


def as_table(scenario: Scenario, advice: Advice) -> str:
    planned = planned_by_hour(scenario)
    first, reaching = first_calls_by_hour(scenario), queue_calls_by_hour(scenario)
    queue = Queue.of(scenario, advice.target)
    seeds = advice.trial.replicated.seeds
    rota, rostered = bool(advice.shrinkage), advice.rostered
    lines = [
        f"callrouter staffing: {scenario.source} on {scenario.file.date.isoformat()} ({scenario.zone})",
        f"target: {target_text(advice.target)}",
        f"Erlang A per hour, one queue: service {_service_text(queue, reaching)} (handle + wrap-up + ring), "
        + ("patience infinite" if queue.abandon_rate == 0 else f"patience {1 / queue.abandon_rate:g} s")
        + f", within {queue.threshold:g} s of the ring",
        f"needed: simulated, seeds {seeds[0]}..{seeds[-1]}; {_verdict(advice)}",
        "",
        _line(_with_rota(advice, [name for name, _ in COLUMNS], ROTA[0])),
        _line(_with_rota(advice, _day_row(advice, planned, first), str(sum(rostered)))),
    ]
    lines += [
        _line(_with_rota(advice, _row(advice, h, planned, first), str(rostered[h])))
        for h in _hours(advice, planned, first)
    ]
    planned_hours = DASH if planned is None else f"{sum(planned):.1f}"
    lines += [
        "",
        f"agent-hours: planned {planned_hours}, Erlang A {sum(advice.erlang)}, needed {sum(advice.needed)}"
        + (f", on the rota {sum(rostered)}" if rota else ""),
        "planned: the scenario's own agents on shift (with their own topics and languages);",
        "Erlang A: the formula on the first calls that can reach the queue; needed: after simulation",
        "(all-round agents, the scenario's shifts left out); first: first calls expected; offered: calls",
        "simulated (redials included); the figures: the days' mean with the needed staffing, pooled;",
        f"*: under {MIN_CALLS:g} calls that waited an hour, too few to judge (the count stands)",
        *(_left_out_text(first, reaching) if sum(first) - sum(reaching) >= 0.05 else []),
        *_overflow_text(advice),
        *(_noise_text(advice) if advice.uncertain else []),
        *(_rota_text(advice.shrinkage) if rota else []),
        "",
        "# the advised staffing, in place of the scenario's [[shifts]] and [staff]:",
        staff_toml(advice).rstrip(),
    ]
    return "\n".join(lines) + "\n"


FORMATS = ("table", "json")


def render(scenario: Scenario, advice: Advice, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(as_json(scenario, advice), indent=2, ensure_ascii=False) + "\n"
    return as_table(scenario, advice)
