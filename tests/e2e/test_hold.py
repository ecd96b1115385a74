"""Waiting callers spread over several holding bridges (queue.hold_bridges),
and music per channel (queue.hold = "channel"), on the real Asterisk."""

from __future__ import annotations

import asyncio
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from devstack import sipp
from devstack.configs import with_hold
from devstack.stack import StackInfo
from tests.e2e.conftest import CONFIG, AriObserver, start_router


def config_with(tmp_path: Path, lines: str) -> Path:
    path = tmp_path / "callrouter.toml"
    path.write_text(with_hold(CONFIG.read_text(), lines))
    return path


def wait_in_queue(stack: StackInfo, callers: list[str]) -> None:
    def place(caller: str) -> sipp.SippResult:
        return sipp.call(stack.sip_port, [(caller, "+78162700101")], hold_ms=12000, keys=[(1200, "0")])

    with ThreadPoolExecutor(len(callers)) as pool:
        results = list(pool.map(place, callers))
    assert all(r.ok for r in results), [r.output[-800:] for r in results if not r.ok]


async def test_waiting_callers_are_spread_over_the_holding_bridges(stack: StackInfo, tmp_path: Path):
    config = config_with(tmp_path, 'hold = "bridge"\nhold_bridges = 2')
    router = start_router(stack, tmp_path, config)
    callers = [f"+7904{random.randint(1_000_000, 9_999_999)}" for _ in range(4)]
    try:
        async with AriObserver(stack) as observer:
            await asyncio.to_thread(wait_in_queue, stack, callers)
            entered = [
                (e["channel"]["caller"]["number"], e["bridge"]["id"], e["bridge"]["bridge_type"])
                for e in observer.of_type("ChannelEnteredBridge")
            ]
    finally:
        assert router.stop() == 0, router.log()[-2000:]
    held = {number: bridge for number, bridge, kind in entered if kind == "holding"}
    assert set(held) == set(callers), entered
    bridges = sorted(set(held.values()))
    assert bridges == ["callrouter-hold-asterisk-1-1", "callrouter-hold-asterisk-1-2"]
    assert sorted(list(held.values()).count(b) for b in bridges) == [2, 2], "in turn: two each"


def hold_starts(metrics: str) -> float:
    for line in metrics.splitlines():
        if line.startswith("callrouter_hold_start_seconds_count "):
            return float(line.split()[1])
    raise AssertionError("no hold-start histogram")


async def test_music_per_channel_puts_nobody_in_a_holding_bridge(stack: StackInfo, tmp_path: Path):
    config = config_with(tmp_path, 'hold = "channel"')
    router = start_router(stack, tmp_path, config)
    caller = f"+7904{random.randint(1_000_000, 9_999_999)}"
    try:
        async with AriObserver(stack) as observer:
            await asyncio.to_thread(wait_in_queue, stack, [caller])
            seen = [
                e
                for e in observer.events
                if (e.get("channel") or {}).get("caller", {}).get("number") == caller
            ]
        starts = hold_starts(router.metrics())
    finally:
        assert router.stop() == 0, router.log()[-2000:]
    assert seen, "the observer saw the call"
    assert not [e for e in seen if e["type"] == "ChannelEnteredBridge"], "music on the channel, no bridge"
    assert starts >= 1, "the router put the caller on hold (and timed it)"
