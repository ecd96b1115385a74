"""A playback stop Asterisk loses (one that comes while a ``number:`` of a list is
said: Asterisk 22 answers 204, or 500 when the number comes first, and plays
on) is sent again when the playback moves on to its next sound, at once, not
behind the channel's queue, where a bridge join waits for the playback to end."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from callrouter.app import build_metrics
from callrouter.ari.fake_asterisk import FakeAsterisk
from callrouter.ari.models import PlaybackContinuing, parse_event
from callrouter.calls.executor import ChannelExecutor
from callrouter.core import commands as cmd
from tests.unit.test_shell import CLINIC, Router


def continuing(channel_id: str, playback_id: str) -> PlaybackContinuing:
    event = parse_event(
        json.dumps(
            {
                "type": "PlaybackContinuing",
                "application": "callrouter",
                "timestamp": "2026-12-01T10:00:00.000+0000",
                "playback": {
                    "id": playback_id,
                    "media_uri": "number:3",
                    "target_uri": f"channel:{channel_id}",
                    "state": "continuing",
                },
            }
        )
    )
    assert isinstance(event, PlaybackContinuing)
    return event


async def test_a_stopped_playback_that_goes_on_is_stopped_again_and_no_other() -> None:
    fake = FakeAsterisk()
    fake.call("c1", CLINIC)
    executor = ChannelExecutor("c1", fake, build_metrics(["x"]), lambda channel, event: None)
    executor.put(cmd.Play(("sound:a", "number:3", "sound:b"), "p1"))
    executor.put(cmd.Play(("sound:c",), "p2"))
    executor.put(cmd.StopPlayback("p1"))
    await fake.settle()
    assert fake.called("stop_playback") == [("p1",)]
    executor.still_playing("p2")  # never told to stop: plays on
    executor.still_playing("p1")
    await fake.settle()
    assert fake.called("stop_playback") == [("p1",), ("p1",)]


async def test_the_stop_is_sent_again_while_the_channels_queue_is_held_up() -> None:
    fake = FakeAsterisk()
    fake.call("c1", CLINIC)
    executor = ChannelExecutor("c1", fake, build_metrics(["x"]), lambda channel, event: None)
    executor.put(cmd.StopPlayback("p1"))
    await fake.settle()
    fake.reply_seconds = 5.0  # the next command waits (as a bridge join waits behind a playback)
    executor.put(cmd.SetVariable("X", "1"))
    await asyncio.sleep(0.05)
    fake.reply_seconds = 0.0
    executor.still_playing("p1")
    await asyncio.sleep(0.05)
    assert ("p1",) in fake.called("stop_playback")[1:], "sent again, not queued behind the held-up command"
    executor.cancel()


async def test_the_dispatcher_hands_the_event_to_the_channels_executor(tmp_path: Path) -> None:
    fake = FakeAsterisk()
    router = Router(fake, tmp_path)
    await router.start()
    fake.call("c1", CLINIC)
    await fake.settle()
    (playback_id,) = [args[2] for args in fake.called("play") if args[0] == "c1"][:1]
    router.dispatcher.executors["c1"].put(cmd.StopPlayback(playback_id))
    await fake.settle()
    before = len(fake.called("stop_playback"))
    router.dispatcher.handle(continuing("c1", playback_id))
    router.dispatcher.handle(continuing("nobody", playback_id))  # no such call: nothing
    await fake.settle()
    assert len(fake.called("stop_playback")) == before + 1
    await router.close()
