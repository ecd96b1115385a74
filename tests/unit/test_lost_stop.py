"""A playback stop Asterisk loses (one that comes while a ``number:`` of a list is
said: Asterisk 22 answers 204, or 500 when the number comes first, and plays
on) is sent again until Asterisk says the playback ended, at once, not behind
the channel's queue, where a bridge join waits for the playback to end. A stop
that works is not sent again: its PlaybackFinished ends the resends."""

from __future__ import annotations

import asyncio
from pathlib import Path

from callrouter.app import build_metrics
from callrouter.ari.fake_asterisk import FakeAsterisk
from callrouter.calls import executor as ex
from callrouter.calls.executor import ChannelExecutor
from callrouter.core import commands as cmd
from tests.unit.test_shell import CLINIC, Router

AGAIN = ex.STOP_AGAIN_SECONDS


def stops(fake: FakeAsterisk, playback_id: str) -> int:
    return fake.called("stop_playback").count((playback_id,))


def executor_on(fake: FakeAsterisk) -> ChannelExecutor:
    fake.call("c1", CLINIC)
    return ChannelExecutor("c1", fake, build_metrics(["x"]), lambda channel, event: None)


async def test_a_stop_that_works_is_sent_once() -> None:
    fake = FakeAsterisk(play_seconds=60)
    executor = executor_on(fake)
    executor.put(cmd.Play(("sound:a", "number:3", "sound:b"), "p1"))
    executor.put(cmd.StopPlayback("p1"))
    await fake.settle()
    executor.finished("p1")  # the dispatcher passes on the PlaybackFinished
    await asyncio.sleep(2.5 * AGAIN)
    assert stops(fake, "p1") == 1


async def test_a_lost_stop_is_sent_again_until_the_playback_ends() -> None:
    fake = FakeAsterisk(play_seconds=60)
    executor = executor_on(fake)
    executor.put(cmd.Play(("number:3", "sound:b"), "p1"))
    await fake.settle()
    fake.fail("stop_playback", 500, times=2)  # said during the number: refused, plays on
    executor.put(cmd.StopPlayback("p1"))
    await asyncio.sleep(1.5 * AGAIN)
    assert stops(fake, "p1") == 2, "sent again while it plays"
    await asyncio.sleep(AGAIN)
    assert stops(fake, "p1") == 3, "and again: this one stops it"
    await fake.settle()
    executor.finished("p1")
    await asyncio.sleep(2 * AGAIN)
    assert stops(fake, "p1") == 3, "not after it ended"


async def test_the_resend_is_not_held_up_behind_the_channels_queue() -> None:
    fake = FakeAsterisk(play_seconds=60)
    executor = executor_on(fake)
    executor.put(cmd.Play(("sound:a",), "p1"))
    executor.put(cmd.StopPlayback("p1"))  # nobody passes its PlaybackFinished on: sent again
    await fake.settle()
    fake.reply_seconds = 5.0  # the next command waits (as a bridge join waits behind a playback)
    executor.put(cmd.SetVariable("X", "1"))
    await asyncio.sleep(0.05)
    fake.reply_seconds = 0.0
    await asyncio.sleep(AGAIN)
    assert stops(fake, "p1") >= 2, "sent again, not queued behind the held-up command"
    executor.cancel()
    await asyncio.sleep(0)
    assert executor._stopping == {}, "cancelled with the channel's work"


async def test_the_dispatcher_passes_the_playbacks_end_to_its_channels_executor(tmp_path: Path) -> None:
    fake = FakeAsterisk(play_seconds=60)
    router = Router(fake, tmp_path)
    await router.start()
    fake.call("c1", CLINIC)
    await fake.settle()
    (playback_id,) = [args[2] for args in fake.called("play") if args[0] == "c1"][:1]
    router.dispatcher.executors["c1"].put(cmd.StopPlayback(playback_id))
    await fake.settle()  # the fake stops it and says so
    await asyncio.sleep(2 * AGAIN)
    assert stops(fake, playback_id) == 1
    assert router.dispatcher.executors["c1"]._stopping == {}
    await router.close()


async def test_a_call_that_ends_stops_its_resends() -> None:
    fake = FakeAsterisk(play_seconds=60)
    executor = executor_on(fake)
    executor.put(cmd.Play(("number:3",), "p1"))
    await fake.settle()
    fake.fail("stop_playback", 500, times=5)
    executor.put(cmd.StopPlayback("p1"))
    await fake.settle()
    executor.close()  # the call is over: its playbacks with it
    await asyncio.sleep(2 * AGAIN)
    assert stops(fake, "p1") == 1 and executor._stopping == {}
