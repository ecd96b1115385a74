"""The maximum call duration, enforced by one periodic check rather than a timer
per call (a 4-hour timer per call sat in the event loop's heap, cancelled or not)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.unit.switchboard import Switchboard, settle


async def test_a_call_past_the_maximum_is_ended_by_the_periodic_check(tmp_path: Path) -> None:
    board = Switchboard(tmp_path)
    writing = await board.start()
    board.arrive("c1")
    await settle()
    session = board.dispatcher.sessions["c1"]
    session.check_duration(time.monotonic())  # well within the maximum: nothing happens
    await settle()
    assert "c1" in board.dispatcher.sessions
    checking = asyncio.create_task(board.dispatcher.duration_loop(every=0.05))
    try:
        session._max_call_seconds = 0.0  # as if four hours had passed
        for _ in range(300):
            if "c1" in board.asterisk.hung_up:
                break
            await asyncio.sleep(0.01)
    finally:
        checking.cancel()
    assert "c1" in board.asterisk.hung_up, "the call outlived its maximum duration"
    assert session.call.record.end_reason == "maximum call duration"
    board.hang_up("c1")
    await settle()
    assert not asyncio.get_running_loop()._scheduled or all(  # type: ignore[attr-defined]
        h.when() - asyncio.get_running_loop().time() < 60
        for h in asyncio.get_running_loop()._scheduled  # type: ignore[attr-defined]
    ), "no call keeps a timer for hours in the loop"
    await board.writer.close(writing)
