"""A request that breaks on the router's own connection to Asterisk (a reset, a
connection cut mid-answer) is sent once more on a fresh one: a caller hung up as
``failed``, or an agent paused for "originate failed", was the router's doing. What
Asterisk refuses is not sent again, nor is one that broke twice."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from callrouter.app import build_metrics
from callrouter.ari.client import AriConnectionError, AriError
from callrouter.calls.executor import ChannelExecutor
from callrouter.core import call_events as ev
from callrouter.core import commands as cmd
from tests.unit.switchboard import Switchboard, settle


class Breaking:
    """An ARI whose plays fail with ``failures``, one a try, then answer."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.plays = 0

    async def play(self, *args: Any) -> None:
        self.plays += 1
        if self.failures:
            raise self.failures.pop(0)


async def played(ari: Breaking) -> list[ev.CallEvent]:
    reported: list[ev.CallEvent] = []
    executor = ChannelExecutor("caller", ari, build_metrics(["x"]), lambda _, event: reported.append(event))  # type: ignore[arg-type]
    executor.put(cmd.Play(("sound:greeting",), "p1"))
    for _ in range(40):
        await asyncio.sleep(0.01)
    return reported


@pytest.mark.parametrize(
    "failure",
    [ConnectionResetError("Cannot write to closing transport"), AriConnectionError(0, "POST", "/p", "x")],
)
async def test_a_command_broken_on_the_connection_is_sent_again(failure: Exception) -> None:
    ari = Breaking(failure)
    assert await played(ari) == [] and ari.plays == 2


@pytest.mark.parametrize(
    "failures",
    [
        (AriError(500, "POST", "/p", "Internal Server Error"),),
        (ConnectionResetError(), ConnectionResetError()),
    ],
    ids=["asterisk-refused", "broke-twice"],
)
async def test_a_refusal_or_a_second_break_is_the_commands_failure(failures: tuple[Exception, ...]) -> None:
    ari = Breaking(*failures)
    (failed,) = await played(ari)
    assert isinstance(failed, ev.CommandFailed) and ari.plays == len(failures)


@pytest.mark.parametrize("second", [None, AriError(409, "POST", "/channels/x", "already exists")])
async def test_an_agents_ring_broken_on_the_connection_is_sent_again_and_nobody_paused(
    tmp_path: Any, second: Exception | None
) -> None:
    board = Switchboard(tmp_path)
    writing = await board.start()
    originate = board.asterisk.originate
    failures: list[Exception | None] = [
        AriConnectionError(0, "POST", "/channels/x", "ServerDisconnectedError"),
        second,
    ]

    async def breaking(*args: Any) -> None:
        failure = failures.pop(0) if failures else None
        if failure is not None:
            raise failure
        await originate(*args)

    board.asterisk.originate = breaking  # type: ignore[method-assign,assignment]
    await board.wait_for_operator("caller")
    await asyncio.sleep(0.3)
    await settle()
    paused = [a for a in board.dispatcher.board.centre.agents.values() if a.state.value == "paused"]
    assert paused == [] and len(board.dispatcher.board.legs) == 1, "rung, nobody paused"
    board.hang_up("caller")
    board.report_hang_ups()
    await board.quiet()
    await board.writer.close(writing)
