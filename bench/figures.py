"""The benchmark's figures: one step's result on one path, what is read off the
router's Prometheus scrapes and sipp's output, and the tables ``bench.run`` prints
(router against app_queue at each rate, and the spread of repeated steps)."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families


@dataclass
class PathResult:
    path: str
    rate: float
    offered: int
    connected: int
    failed: int
    retransmissions: int
    answer_mean_ms: float | None
    answer_p99_ms: float | None
    bridged_mean_ms: float | None
    bridged_p99_ms: float | None
    asterisk_cpu_ms_per_call: float
    router_cpu_ms_per_call: float | None
    router_handling_p99_ms: float | None = None  # its own histogram
    router_event_lag_p99_ms: float | None = None  # event timestamp -> read, its own histogram
    router_events: dict[str, float] | None = None  # ARI events the router received per call, by type
    router_rest_p99_ms: float | None = None  # REST round trip, its own histogram
    steal_pct: float | None = None  # CPU time the hypervisor took from this machine during the step


def retransmissions(output: str) -> int:
    return sum(int(m) for m in re.findall(r"-{6,}>\s+\d+\s+(\d+)", output))


Buckets = dict[float, float]  # upper bound -> cumulative count


def histogram(metrics_text: str, name: str) -> Buckets:
    out: Buckets = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == f"{name}_bucket":
                out[float(sample.labels["le"])] = sample.value
    return out


def counters(metrics_text: str, name: str, label: str) -> dict[str, float]:
    """A labelled counter's values from a scrape: label value -> count, summed
    over the counter's other labels."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == f"{name}_total" or (sample.name == name and label in sample.labels):
                key = sample.labels[label]
                out[key] = out.get(key, 0.0) + sample.value
    return out


def per_call(before: dict[str, float], after: dict[str, float], calls: int) -> dict[str, float]:
    """What rose between two scrapes, per call (zeros left out)."""
    rose = {k: (v - before.get(k, 0.0)) / calls for k, v in after.items()}
    return {k: round(v, 2) for k, v in sorted(rose.items(), key=lambda kv: -kv[1]) if v > 0}


def histogram_quantile(before: Buckets, after: Buckets, q: float) -> float | None:
    """The q-quantile (ms) of what a histogram observed between two scrapes:
    the upper bound of the first bucket holding it (as Prometheus, without interpolation)."""
    delta = {le: after.get(le, 0.0) - before.get(le, 0.0) for le in after}
    total = delta.get(float("inf"), 0.0)
    if total <= 0:
        return None
    for le in sorted(delta):
        if delta[le] >= q * total:
            return le * 1000 if le != float("inf") else None
    return None


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def mean_ms(values: list[float]) -> float | None:
    return sum(values) / len(values) * 1000 if values else None


def cell(v: float | None) -> str:
    """A table's figure: one decimal, "-" for none."""
    return "-" if v is None else f"{v:.1f}"


def table(results: list[PathResult]) -> str:
    head = (f"{'rate':>5} {'path':<9} {'offered':>7} {'conn':>5} {'failed':>6} {'retrans':>7} {'ans ms':>7} "
            f"{'ans p99':>7} {'bridge':>7} {'br p99':>7} {'ast ms/c':>8} {'rtr ms/c':>8} {'hdl p99':>7} "
            f"{'lag p99':>7} {'rest p99':>8} {'steal%':>6}")  # fmt: skip
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r.rate:>5.0f} {r.path:<9} {r.offered:>7} {r.connected:>5} {r.failed:>6} "
            f"{r.retransmissions:>7} "
            f"{cell(r.answer_mean_ms):>7} {cell(r.answer_p99_ms):>7} "
            f"{cell(r.bridged_mean_ms):>7} {cell(r.bridged_p99_ms):>7} "
            f"{r.asterisk_cpu_ms_per_call:>8.1f} {cell(r.router_cpu_ms_per_call):>8} "
            f"{cell(r.router_handling_p99_ms):>7} {cell(r.router_event_lag_p99_ms):>7} "
            f"{cell(r.router_rest_p99_ms):>8} {cell(r.steal_pct):>6}"
        )
    lines.append("")
    lines.append(
        "router / app_queue at each rate: connected share, Asterisk CPU per call, total CPU per call"
    )
    for router, queue in pairs(results):
        share, ast, total = ratios(router, queue)
        lines.append(
            f"{router.rate:>5.0f} calls/s: connected x{share:.2f}, Asterisk CPU x{ast:.2f},"
            f" total CPU x{total:.2f}"
        )
    for r in results:
        if r.router_events:
            kinds = ", ".join(f"{k} {v:g}" for k, v in r.router_events.items())
            total_events = sum(r.router_events.values())
            lines.append(f"{r.rate:>5.0f} calls/s: {total_events:.1f} ARI events per call ({kinds})")
    return "\n".join(lines)


def pairs(results: list[PathResult]) -> list[tuple[PathResult, PathResult]]:
    """Each router run with the app_queue run that followed it at the same rate."""
    waiting: dict[float, PathResult] = {}
    found: list[tuple[PathResult, PathResult]] = []
    for r in results:
        if r.path == "router":
            waiting[r.rate] = r
        elif r.rate in waiting:
            found.append((waiting.pop(r.rate), r))
    return found


def ratios(router: PathResult, queue: PathResult) -> tuple[float, float, float]:
    """Router / app_queue: connected share, Asterisk CPU per call, total CPU per call."""
    share = (router.connected / router.offered) / max(queue.connected / queue.offered, 1e-9)
    reference = max(queue.asterisk_cpu_ms_per_call, 1e-9)
    total = router.asterisk_cpu_ms_per_call + (router.router_cpu_ms_per_call or 0)
    return share, router.asterisk_cpu_ms_per_call / reference, total / reference


def clean(r: PathResult) -> bool:
    """The README's clean step: no call failed, no SIP retransmission, answer p99 within 50 ms."""
    return r.failed == 0 and r.retransmissions == 0 and (r.answer_p99_ms or 0.0) <= 50


def spread(results: list[PathResult]) -> str:
    """For steps run more than once: how many runs were clean, and the median
    (lowest-highest) of the figures that vary between runs."""
    runs: dict[tuple[float, str], list[PathResult]] = {}
    for r in results:
        runs.setdefault((r.rate, r.path), []).append(r)
    if all(len(group) < 2 for group in runs.values()):
        return ""

    def m(values: list[float | None], digits: int = 1) -> str:
        known = sorted(v for v in values if v is not None)
        if not known:
            return "-"
        return f"{statistics.median(known):.{digits}f} ({known[0]:.{digits}f}-{known[-1]:.{digits}f})"

    lines = ["", "repeated steps: clean runs, then median (lowest-highest) over the runs"]
    for (rate, path), group in sorted(runs.items(), key=lambda item: (item[0][0], item[0][1] != "router")):
        lines.append(
            f"{rate:>5.0f} {path:<9} clean {sum(clean(r) for r in group)}/{len(group)}"
            f"  connected {m([r.connected for r in group], 0)}"
            f"  retrans {m([r.retransmissions for r in group], 0)}"
            f"  br p99 {m([r.bridged_p99_ms for r in group], 0)}"
            f"  ast ms/c {m([r.asterisk_cpu_ms_per_call for r in group])}"
            f"  rtr ms/c {m([r.router_cpu_ms_per_call for r in group])}"
            f"  steal% {m([r.steal_pct for r in group])}"
        )
    by_rate: dict[float, list[tuple[float, float, float]]] = {}
    for router, queue in pairs(results):
        by_rate.setdefault(router.rate, []).append(ratios(router, queue))
    for rate, found in sorted(by_rate.items()):
        if len(found) > 1:
            share, ast, total = (m([f[i] for f in found], 2) for i in range(3))
            lines.append(f"{rate:>5.0f} calls/s over {len(found)} pairs: connected x{share},"
                         f" Asterisk CPU x{ast}, total CPU x{total}")  # fmt: skip
    return "\n".join(lines)
