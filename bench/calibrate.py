"""A yardstick for the VM's speed of the day: a fixed pure-Python workload of the
kind the switchboard's step is made of (frozen dataclasses made and copied, their
fields read, dicts copied and updated, small calls, a heap), timed in the same
run as what it is held against. The 2-core dev VM runs the same commit up to
twice as fast on one day as on another; a figure divided by the yardstick
measured beside it should move less (not yet measured across days), so runs of
different days can be compared by it.

    python -m bench.calibrate      # prints the yardstick's seconds (best of 3)
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, replace

ROUNDS = 50_000  # about 0.3-0.6 s a run on the dev VM


@dataclass(frozen=True)
class _Entry:
    key: str
    priority: int
    at: float
    state: str = "waiting"
    agent: str | None = None


def _step(entries: dict[str, _Entry], heap: list[tuple[float, str]], n: int) -> int:
    key = f"e{n % 100}"
    entry = entries.get(key)
    if entry is None:
        entry = _Entry(key, n % 3, float(n))
    else:
        entry = replace(entry, state="offered" if entry.state == "waiting" else "waiting", agent=f"a{n % 40}")
    held = dict(entries)
    held[key] = entry
    heapq.heappush(heap, (entry.at + n % 7, key))
    if len(heap) > 200:
        heapq.heappop(heap)
    ahead = 0
    for other in list(held.values())[:20]:
        if other.priority > entry.priority or (other.priority == entry.priority and other.at < entry.at):
            ahead += 1
    entries.clear()
    entries.update(held)
    return ahead


def workload(rounds: int = ROUNDS) -> int:
    entries: dict[str, _Entry] = {}
    heap: list[tuple[float, str]] = []
    total = 0
    for n in range(rounds):
        total += _step(entries, heap, n)
    return total


def reference_seconds(runs: int = 3) -> float:
    """The yardstick: the best of ``runs`` timings of the workload, in seconds."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        workload()
        best = min(best, time.perf_counter() - started)
    return best


if __name__ == "__main__":
    print(f"{reference_seconds():.3f} s")
