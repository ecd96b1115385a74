"""The maximum call duration, enforced by one deadline for every call rather than
a timer per call (a 4-hour timer per call sat in the event loop's heap)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from callrouter.core import switchboard as sb
from tests.unit.switchboard import Switchboard, settle


async def test_a_call_past_the_maximum_is_ended_at_the_next_check(tmp_path: Path) -> None:
    board = Switchboard(tmp_path)
    writing = await board.start()
    board.arrive("c1")
    await settle()
    dispatcher = board.dispatcher
    check = dispatcher.board.deadlines[("duration", "")]
    assert check - board.clock.now <= timedelta(seconds=30), "checked at least every reconcile period"
    board.clock.now = check
    dispatcher.step(sb.Wake())  # well within the maximum: nothing happens
    await settle()
    assert "c1" in dispatcher.board.calls and "c1" not in board.asterisk.hung_up
    board.clock.now += timedelta(hours=4)
    dispatcher.step(sb.Wake())
    await settle()
    assert "c1" in board.asterisk.hung_up, "the call outlived its maximum duration"
    assert dispatcher.board.calls["c1"].record.end_reason == "maximum call duration"
    board.hang_up("c1")
    await settle()
    assert "c1" not in dispatcher.board.calls
    loop = asyncio.get_running_loop()
    far = [h for h in loop._scheduled if h.when() - loop.time() > 60]  # type: ignore[attr-defined]
    assert not far, "no call keeps a timer for hours in the loop"
    await board.writer.close(writing)
