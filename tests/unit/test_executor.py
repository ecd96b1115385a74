"""A call's channel commands are carried out in order, but a channel variable
(Asterisk sets one only once the channel's playback is over) holds nothing up:
a redialler's place, set while their greeting plays, kept their agent's answer
waiting to be bridged until the greeting ended (seen end to end)."""

from __future__ import annotations

import asyncio

from callrouter.app import build_metrics
from callrouter.ari.fake import FakeAriClient
from callrouter.calls.executor import ChannelExecutor
from callrouter.core import call_events as ev
from callrouter.core import commands as cmd
from callrouter.core.switchboard import JoinBridge, MakeBridge


class VariablesAfterPlayback(FakeAriClient):
    """As Asterisk does it: a variable is set once the playing prompt is over."""

    def __init__(self) -> None:
        super().__init__()
        self.prompt_over = asyncio.Event()

    async def set_variable(self, channel_id: str, name: str, value: str) -> None:
        await self.prompt_over.wait()
        await super().set_variable(channel_id, name, value)


async def settled() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_variable_set_while_a_prompt_plays_does_not_hold_up_the_bridge() -> None:
    ari = VariablesAfterPlayback()
    reported: list[ev.CallEvent] = []
    executor = ChannelExecutor("c1", ari, build_metrics(["clinic"]), lambda _, event: reported.append(event))
    for command in (
        cmd.Play(("sound:greeting",), "p1"),
        cmd.SetVariable("CALLROUTER_PLACE", "joined now"),
        cmd.SetVariable("CALLROUTER_PLACE", "the earlier place"),
        MakeBridge("bridge-1"),
        cmd.StopPlayback("p1"),
        JoinBridge("bridge-1", "agent-1"),
    ):
        executor.put(command)
    await settled()
    assert ari.called("add_to_bridge") == [("bridge-1", ("c1", "agent-1"))], "bridged at once"
    assert ari.called("set_variable") == []
    ari.prompt_over.set()
    await settled()
    assert ari.variables == {("c1", "CALLROUTER_PLACE"): "the earlier place"}, "in the order given"
    assert [args[2] for args in ari.called("set_variable")] == ["joined now", "the earlier place"]
    assert reported == []


async def test_a_variable_that_cannot_be_set_is_only_counted() -> None:
    ari = FakeAriClient()
    ari.failing.add("set_variable")
    metrics = build_metrics(["clinic"])
    reported: list[ev.CallEvent] = []
    executor = ChannelExecutor("c1", ari, metrics, lambda _, event: reported.append(event))
    executor.put(cmd.SetVariable("CALLROUTER_PLACE", "x"))
    executor.put(cmd.Hangup())
    await settled()
    assert ari.called("hangup") == [("c1", "normal")] and reported == []
    errors = metrics.registry.get_sample_value(
        "callrouter_ari_command_errors_total", {"command": "setvariable"}
    )
    assert errors == 1
