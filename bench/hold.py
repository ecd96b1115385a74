"""Callers waiting on hold at once: what each holding strategy costs Asterisk.

    python -m bench.hold [--sizes 250,500,750] [--rate 25] [--window 20]

For each strategy the router offers (one shared holding bridge, several
smaller holding bridges, music on hold per channel) and each size N: N sipp
callers dial the router's DID, key the menu, and wait (no agent is logged in,
so everybody waits, hearing music and the position announcement every 20 s).
Once all N are queued, the Asterisk and router CPU are read over a window;
the join latency (the router asks Asterisk to put a caller on hold -> Asterisk
confirms) comes from the router's own histogram. Any failed call is counted.
The reference, ``app_queue``: the same callers key the same menu in the
dialplan and wait in Queue() on a queue with no members (music on hold, the
place every 20 s); its join latency is not observable over ARI.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.figures import cell, counters, histogram, histogram_quantile
from bench.run import ROUTER_DID, BenchStack, bench_stack, cpu_ms, fresh_numbers, save
from devstack import sipp
from devstack.configs import with_hold
from devstack.util import log

# name -> the [queue] lines of the router's config
STRATEGIES = {
    "bridge": 'hold = "bridge"\nhold_bridges = 1',
    "bridges-5": 'hold = "bridge"\nhold_bridges = 5',
    "channel": 'hold = "channel"',
}
QUEUE_HOLD_DID = "999200"  # bench.conf: the same prompts, Read(), Queue(bench-hold) with no members


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


@dataclass
class Waited:
    held: int  # most waiting at once
    placed: sipp.SippResult
    asterisk_ms: float  # CPU over the window
    router_ms: float
    seconds: float  # the window as measured


async def wait_and_measure(
    bs: BenchStack, did: str, n: int, rate: float, window: float, waiting: Callable[[], int], pid: int | None
) -> Waited:
    """N callers dial ``did`` and key the menu; once ``waiting()`` says all of
    them wait (or the count stands still: some never will), Asterisk's CPU
    and that of process ``pid`` are read over the window."""
    arrive = n / rate
    hold_ms = int((arrive + window + 20) * 1000)  # every caller still waits through the window
    callers = [(number, did) for number in fresh_numbers(n)]  # no repeat callers
    placing = asyncio.create_task(
        asyncio.to_thread(
            sipp.call, bs.info.sip_port, callers, hold_ms, [(1200, "0")], False, rate, int(arrive) + 240
        )
    )
    held, grew_at = 0, time.monotonic()
    arrived_by = time.monotonic() + arrive + 10
    while held < n and not placing.done():
        now_held = waiting()
        if now_held > held:
            held, grew_at = now_held, time.monotonic()
        elif time.monotonic() > arrived_by and time.monotonic() - grew_at > 5:
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(5)  # the last "please hold" prompts end
    ast0, other0, t0 = cpu_ms(bs.info.asterisk_pid), cpu_ms(pid) if pid else 0.0, time.monotonic()
    await asyncio.sleep(window)
    ast1, other1, t1 = cpu_ms(bs.info.asterisk_pid), cpu_ms(pid) if pid else 0.0, time.monotonic()
    held = max(held, waiting())
    return Waited(held, await placing, ast1 - ast0, other1 - other0, t1 - t0)


def hold_result(
    strategy: str,
    n: int,
    w: Waited,
    sent_back: int = 0,
    join_mean_ms: float | None = None,
    join_p99_ms: float | None = None,
) -> HoldResult:
    """The figures of one step; the router's own (callers sent back, join latency) when there is one."""
    return HoldResult(
        strategy=strategy,
        waiting=n,
        held=w.held,
        failed=w.placed.failed + max(0, n - w.placed.successful - w.placed.failed),
        asterisk_cpu_pct=w.asterisk_ms / w.seconds / 10,
        router_cpu_pct=w.router_ms / w.seconds / 10,
        asterisk_us_per_caller_s=w.asterisk_ms * 1000 / w.seconds / max(w.held, 1),
        sent_back=sent_back,
        join_mean_ms=join_mean_ms,
        join_p99_ms=join_p99_ms,
    )


async def hold_step(bs: BenchStack, strategy: str, n: int, rate: float, window: float) -> HoldResult:
    if strategy == "app_queue":
        return await queue_hold_step(bs, n, rate, window)
    router = bs.router(strategy_config(bs, strategy))
    try:
        before = router.metrics()
        waited = await wait_and_measure(
            bs, ROUTER_DID, n, rate, window, lambda: int(router.health()["queued"]), router.proc.pid
        )
        after = router.metrics()
    finally:
        router.stop()
    name = "callrouter_hold_start_seconds"
    return hold_result(
        strategy,
        n,
        waited,
        sent_back=int(busy(after) - busy(before)),
        join_mean_ms=mean_from(before, after, name),
        join_p99_ms=histogram_quantile(histogram(before, name), histogram(after, name), 0.99),
    )


def queue_waiting(bs: BenchStack) -> int:
    """Callers in the reference hold queue, from ``queue show``."""
    found = re.search(r"bench-hold has (\d+) calls", bs.stack.asterisk_cli("queue show bench-hold"))
    return int(found.group(1)) if found else 0


async def queue_hold_step(bs: BenchStack, n: int, rate: float, window: float) -> HoldResult:
    """The app_queue reference: Queue() with no members, music on hold and the
    place every 20 s. No router; its join latency is not observable over ARI."""
    waited = await wait_and_measure(bs, QUEUE_HOLD_DID, n, rate, window, lambda: queue_waiting(bs), None)
    return hold_result("app_queue", n, waited)


def table(results: list[HoldResult]) -> str:
    head = (f"{'strategy':<10} {'waiting':>7} {'held':>5} {'failed':>6} {'sent back':>9} {'ast %cpu':>8} "
            f"{'us/caller/s':>11} {'rtr %cpu':>8} {'join ms':>7} {'join p99':>8}")  # fmt: skip
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r.strategy:<10} {r.waiting:>7} {r.held:>5} {r.failed:>6} {r.sent_back:>9} "
            f"{r.asterisk_cpu_pct:>8.1f} "
            f"{r.asterisk_us_per_caller_s:>11.1f} {r.router_cpu_pct:>8.1f} {cell(r.join_mean_ms):>7} "
            f"{cell(r.join_p99_ms):>8}"
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
    parser.add_argument("--strategies", default=",".join([*STRATEGIES, "app_queue"]),
                        help="the router's holding strategies, and app_queue (the reference)")  # fmt: skip
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
