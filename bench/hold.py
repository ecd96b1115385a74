"""Callers waiting on hold at once: what each holding strategy costs Asterisk.

    python -m bench.hold [--sizes 250,500,750] [--rate 25] [--window 20]

For each strategy the router offers (one shared holding bridge, several
smaller holding bridges, music on hold per channel) and each size N: N sipp
callers dial the router's DID, key the menu, and wait (no agent is logged in,
so everybody waits, hearing music and the position announcement every 20 s).
Once all N are queued, the Asterisk and router CPU are read over a window;
the join latency (the router asks Asterisk to put a caller on hold -> Asterisk
confirms) comes from the router's own histogram. Any failed call is counted.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.run import (
    ROUTER_DID,
    BenchStack,
    bench_stack,
    counters,
    cpu_ms,
    histogram,
    histogram_quantile,
    save,
)
from devstack import sipp
from devstack.configs import with_hold
from devstack.util import log

# name -> the [queue] lines of the router's config
STRATEGIES = {
    "bridge": 'hold = "bridge"\nhold_bridges = 1',
    "bridges-5": 'hold = "bridge"\nhold_bridges = 5',
    "channel": 'hold = "channel"',
}


@dataclass
class HoldResult:
    strategy: str
    waiting: int  # callers placed
    held: int  # most queued at once, as the router saw it
    failed: int
    sent_back: int  # shed by the router as overloaded ("please call back")
    asterisk_cpu_pct: float  # of one core, during the window
    router_cpu_pct: float
    asterisk_us_per_caller_s: float  # CPU microseconds per waiting caller per second
    join_mean_ms: float | None
    join_p99_ms: float | None


def strategy_config(bs: BenchStack, name: str) -> Path:
    path = bs.run_dir / f"callrouter.hold-{name}.toml"
    path.write_text(with_hold(bs.config.read_text(), STRATEGIES[name]))
    return path


def busy(metrics: str) -> float:
    """Calls the router sent back as overloaded, over all lines."""
    return counters(metrics, "callrouter_calls_total", "outcome").get("busy", 0.0)


def mean_from(before: str, after: str, name: str) -> float | None:
    def total(text: str, suffix: str) -> float:
        for line in text.splitlines():
            if line.startswith(f"{name}_{suffix} "):
                return float(line.split()[1])
        return 0.0

    count = total(after, "count") - total(before, "count")
    return (total(after, "sum") - total(before, "sum")) / count * 1000 if count > 0 else None


async def hold_step(bs: BenchStack, strategy: str, n: int, rate: float, window: float) -> HoldResult:
    router = bs.router(strategy_config(bs, strategy))
    try:
        arrive = n / rate
        hold_ms = int((arrive + window + 20) * 1000)  # every caller still waits through the window
        callers = [(f"+7917{2_000_000 + i:07d}", ROUTER_DID) for i in range(n)]
        before = router.metrics()
        placing = asyncio.create_task(
            asyncio.to_thread(
                sipp.call, bs.info.sip_port, callers, hold_ms, [(1200, "0")], False, rate, int(arrive) + 240
            )
        )
        # Until all N wait, or (some never will: refused, shed) the count stands still.
        held, grew_at = 0, time.monotonic()
        arrived_by = time.monotonic() + arrive + 10
        while held < n and not placing.done():
            now_held = int(router.health()["queued"])
            if now_held > held:
                held, grew_at = now_held, time.monotonic()
            elif time.monotonic() > arrived_by and time.monotonic() - grew_at > 5:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(5)  # the last "please hold" prompts end
        ast0, rtr0, t0 = cpu_ms(bs.info.asterisk_pid), cpu_ms(router.proc.pid), time.monotonic()
        await asyncio.sleep(window)
        ast1, rtr1, t1 = cpu_ms(bs.info.asterisk_pid), cpu_ms(router.proc.pid), time.monotonic()
        held = max(held, int(router.health()["queued"]))
        result = await placing
        after = router.metrics()
    finally:
        router.stop()
    seconds = t1 - t0
    name = "callrouter_hold_start_seconds"
    return HoldResult(
        strategy=strategy,
        waiting=n,
        held=held,
        failed=result.failed + max(0, n - result.successful - result.failed),
        sent_back=int(busy(after) - busy(before)),
        asterisk_cpu_pct=(ast1 - ast0) / seconds / 10,
        router_cpu_pct=(rtr1 - rtr0) / seconds / 10,
        asterisk_us_per_caller_s=(ast1 - ast0) * 1000 / seconds / max(held, 1),
        join_mean_ms=mean_from(before, after, name),
        join_p99_ms=histogram_quantile(histogram(before, name), histogram(after, name), 0.99),
    )


def table(results: list[HoldResult]) -> str:
    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f}"

    head = (f"{'strategy':<10} {'waiting':>7} {'held':>5} {'failed':>6} {'sent back':>9} {'ast %cpu':>8} "
            f"{'us/caller/s':>11} {'rtr %cpu':>8} {'join ms':>7} {'join p99':>8}")  # fmt: skip
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r.strategy:<10} {r.waiting:>7} {r.held:>5} {r.failed:>6} {r.sent_back:>9} "
            f"{r.asterisk_cpu_pct:>8.1f} "
            f"{r.asterisk_us_per_caller_s:>11.1f} {r.router_cpu_pct:>8.1f} {f(r.join_mean_ms):>7} "
            f"{f(r.join_p99_ms):>8}"
        )
    return "\n".join(lines)


async def hold_bench(
    sizes: list[int], rate: float, window: float, strategies: list[str], name: str = "bench"
) -> list[HoldResult]:
    results: list[HoldResult] = []
    with bench_stack(name, agents=10) as bs:  # nobody logs in: every caller waits
        for n in sizes:
            for strategy in strategies:
                results.append(await hold_step(bs, strategy, n, rate, window))
                log(f"{n} waiting, {strategy}: done")
                await asyncio.sleep(5)  # the stack idle between runs
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hold", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--sizes", default="250,500,750", help="callers waiting at once, comma-separated")
    parser.add_argument("--rate", type=float, default=25, help="callers arriving per second")
    parser.add_argument("--window", type=float, default=20, help="seconds of measurement with all waiting")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.sizes.split(",")]
    strategies = args.strategies.split(",")
    results = asyncio.run(hold_bench(sizes, args.rate, args.window, strategies))
    print(table(results))
    path = save("hold", {"sizes": sizes, "rate": args.rate, "window": args.window,
                         "results": [asdict(r) for r in results]})  # fmt: skip
    print(f"raw results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
