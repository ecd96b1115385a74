"""A command that fails on a channel drops the commands queued behind it, but never
the call's end: a hang-up the switchboard sent while a failing bridge join was on its
way is still carried out, or the caller stays up in the application, alone, until
they hang up. A join refused because the agent's phone is gone ("Channel not found",
400) fails nothing: the phone's end decides (the caller goes back to their place). A
join refused because the bridge is gone (404 "Bridge not found") makes the bridge again
and joins once more; refused again, it is a failed command, not the caller's channel
vanishing."""

from __future__ import annotations

import asyncio
from typing import Any

from callrouter.app import build_metrics
from callrouter.ari.client import AriError, AriNotFound
from callrouter.calls.executor import ChannelExecutor
from callrouter.core import call_events as ev
from callrouter.core import commands as cmd
from callrouter.core.switchboard import JoinBridge


class SlowFailingJoin:
    """An ARI whose bridge join waits, then fails (``status``: 400 is Asterisk's answer
    for a channel gone)."""

    def __init__(self, status: int = 500) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.join_may_fail = asyncio.Event()
        self.status = status

    async def create_bridge(self, bridge_id: str, kind: str = "mixing") -> None:
        self.calls.append(("create_bridge", (bridge_id,)))

    async def add_to_bridge(self, bridge_id: str, channel_ids: list[str]) -> None:
        self.calls.append(("add_to_bridge", (bridge_id, tuple(channel_ids))))
        await self.join_may_fail.wait()
        path = f"/bridges/{bridge_id}/addChannel"
        if self.status == 404:  # as HttpAriClient raises it: the JSON body as the detail
            raise AriNotFound(404, "POST", path, '{"message":"Bridge not found"}')
        detail = "Channel not found" if self.status == 400 else "Internal Server Error"
        raise AriError(self.status, "POST", path, detail)

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.calls.append(("hangup", (channel_id, reason)))

    async def play(self, *args: Any) -> None:
        self.calls.append(("play", args))


async def joining(ari: SlowFailingJoin) -> tuple[ChannelExecutor, list[ev.CallEvent]]:
    """The caller's executor, its bridge join on its way; what it reports."""
    reported: list[ev.CallEvent] = []
    executor = ChannelExecutor("caller", ari, build_metrics(["x"]), lambda _, event: reported.append(event))  # type: ignore[arg-type]
    executor.put(JoinBridge("bridge-1", "agent-leg"))
    await asyncio.sleep(0)
    return executor, reported


async def refused(ari: SlowFailingJoin) -> None:
    """The join refused, and what the executor does after."""
    ari.join_may_fail.set()
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_hangup_queued_behind_a_failing_join_is_still_sent() -> None:
    ari = SlowFailingJoin()
    executor, reported = await joining(ari)
    executor.put(cmd.Play(("sound:after",), "p9"))  # what followed the join: dropped with it
    executor.put(cmd.Hangup("agent hung up"))  # the agent's phone went: the caller is let go
    await refused(ari)
    assert ("hangup", ("caller", "agent hung up")) in ari.calls
    assert not any(name == "play" for name, _ in ari.calls)
    assert [type(e) for e in reported] == [ev.CommandFailed]


async def test_a_join_refused_for_a_channel_gone_fails_nothing_and_what_follows_is_done() -> None:
    ari = SlowFailingJoin(status=400)
    executor, reported = await joining(ari)
    executor.put(cmd.Play(("sound:after",), "p9"))  # the caller back in their place: music, say
    await refused(ari)
    assert [name for name, _ in ari.calls] == ["create_bridge", "add_to_bridge", "play"]
    assert reported == [], "no CommandFailed: the call goes on"


async def test_a_join_refused_for_a_bridge_gone_is_a_failed_command_not_a_caller_vanished() -> None:
    ari = SlowFailingJoin(status=404)
    executor, reported = await joining(ari)
    executor.put(cmd.Play(("sound:after",), "p9"))
    executor.put(cmd.Hangup("agent hung up"))
    await refused(ari)
    (failed,) = reported
    assert isinstance(failed, ev.CommandFailed), "the caller's channel is still there"
    assert failed.command == "joinbridge" and "Bridge not found" in failed.detail
    made_again = ["create_bridge", "add_to_bridge"] * 2  # made again and joined once more, refused again
    assert [name for name, _ in ari.calls] == [*made_again, "hangup"], "the end kept"


class BridgeGoneOnce(SlowFailingJoin):
    """The call's bridge destroyed under the first join only."""

    async def add_to_bridge(self, bridge_id: str, channel_ids: list[str]) -> None:
        if any(name == "add_to_bridge" for name, _ in self.calls):
            self.calls.append(("add_to_bridge", (bridge_id, tuple(channel_ids))))
            return
        await super().add_to_bridge(bridge_id, channel_ids)


async def test_a_bridge_gone_under_the_join_is_made_again_and_the_call_goes_on() -> None:
    ari = BridgeGoneOnce(status=404)
    executor, reported = await joining(ari)
    executor.put(cmd.Play(("sound:after",), "p9"))
    await refused(ari)
    assert [name for name, _ in ari.calls] == ["create_bridge", "add_to_bridge"] * 2 + ["play"]
    assert reported == [], "joined the second time: the caller talks to the agent"


class HoldingBridgeGone(SlowFailingJoin):
    """The shared holding bridge was never made (its making failed at the connect)."""

    async def add_to_bridge(self, bridge_id: str, channel_ids: list[str]) -> None:
        self.calls.append(("add_to_bridge", (bridge_id, tuple(channel_ids))))
        raise AriNotFound(404, "POST", f"/bridges/{bridge_id}/addChannel", '{"message":"Bridge not found"}')

    async def start_moh(self, channel_id: str) -> None:
        self.calls.append(("start_moh", (channel_id,)))

    async def stop_moh(self, channel_id: str) -> None:
        self.calls.append(("stop_moh", (channel_id,)))


async def test_a_holding_bridge_gone_gives_the_caller_music_on_their_channel_not_a_hang_up() -> None:
    ari = HoldingBridgeGone()
    reported: list[ev.CallEvent] = []
    report = lambda _, event: reported.append(event)  # noqa: E731
    executor = ChannelExecutor("caller", ari, build_metrics(["x"]), report, "holding-1")  # type: ignore[arg-type]
    executor.put(cmd.StartMoh())
    executor.put(cmd.StopMoh())
    executor.put(cmd.StartMoh())
    for _ in range(20):
        await asyncio.sleep(0)
    assert [name for name, _ in ari.calls] == ["add_to_bridge", "start_moh", "stop_moh", "start_moh"]
    assert reported == [], "the caller waits on, with music"
