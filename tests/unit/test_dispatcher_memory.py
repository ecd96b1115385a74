"""The dispatcher gives back what a call held once the call is over: 10,000
calls come and go (half of them never hang up, and only the periodic check
against Asterisk clears them) and the router's Python memory stays where it
was after the first hundred. What the switchboard remembers of each person
(for repeat callers) is kept for its configured windows by design: set to
nothing here, it must be given back too (its own test: ``test_repeat_callers``)."""

from __future__ import annotations

import asyncio
import gc
import heapq
import logging
import sys
import tracemalloc
from pathlib import Path

import pytest

from tests.unit.switchboard import Switchboard

BATCH = 100
BATCHES = 100


def allocated() -> int:
    """Python's allocated bytes, less garbage, the interpreter's attribute cache
    (4096 entries at most: each ``case Command(...)`` leaves one there) and the
    cancelled timer handles asyncio leaves in its heap until they fall due or it
    purges them (when over half the heap is cancelled): bounded, but as many as
    a few hundred at any moment, which made the figure swing by 10%."""
    loop = asyncio.get_running_loop()
    live = [h for h in loop._scheduled if not h.cancelled()]  # type: ignore[attr-defined]
    heapq.heapify(live)
    loop._scheduled, loop._timer_cancelled_count = live, 0  # type: ignore[attr-defined]
    gc.collect()
    sys._clear_type_cache()
    return tracemalloc.get_traced_memory()[0]


async def warm_up(tmp_path: Path) -> None:
    """The interpreter's own caches (code specialisation, regular expressions,
    phone number metadata) are paid once: warmed on a throwaway router."""
    board = Switchboard(tmp_path, remember=False)
    writing = await board.start()
    await board.batch(BATCH)
    await board.quiet()
    await board.writer.close(writing)


@pytest.mark.timeout(300)
async def test_memory_comes_back_after_ten_thousand_calls(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # What is measured is the router's memory, not the log records a test run keeps.
    caplog.set_level(logging.WARNING)
    await warm_up(tmp_path / "warm")
    tracing = tracemalloc.is_tracing()
    tracemalloc.start()
    try:
        board = Switchboard(tmp_path / "router", remember=False)
        writing = await board.start()
        await board.batch(BATCH)
        await board.quiet()
        first = allocated()
        for _ in range(BATCHES - 1):
            cleared = await board.batch(BATCH)
        await board.quiet()
        after = allocated()
        await board.writer.close(writing)
    finally:
        if not tracing:
            tracemalloc.stop()

    state = board.dispatcher.board
    assert board.calls == BATCH * BATCHES and state.centre.agents["agent1"].calls_taken >= BATCHES
    assert after <= first * 1.1, f"{first} bytes after the first {BATCH} calls, {after} after {board.calls}"
    assert cleared and all(ref() is None for ref in cleared), "an executor of a cleared call is still alive"
    assert not state.legs, f"{len(state.legs)} agents' channels still held"
    assert not state.centre.ended, f"{len(state.centre.ended)} queue outcomes still held"
    assert not state.entries and not state.bridges and not state.leg_of, "a call's traces are still held"
    # The periodic ones only: the maximum call duration's check, the look for due results.
    periodic = {("duration", ""), ("results", "poll")}
    assert set(state.deadlines) <= periodic, f"deadlines left: {list(state.deadlines)[:5]}"
