"""An overloaded router sends new callers back to the dialplan at once: a
clinic caller hears "please call back", an ambulance caller rings the
fallback desk. Forced here with a shedding threshold no call can meet: the
first two calls (core/admission.py has not yet seen two periods over the
target) are taken; from then on admission limits new calls."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import asyncpg

from devstack import sipp
from devstack.router import RouterProcess
from devstack.stack import StackInfo
from tests.e2e.conftest import CONFIG, AriObserver, start_router, wait_rows

ENDED = "SELECT * FROM calls WHERE caller_number = $1 AND ended_at IS NOT NULL"


def shedding_router(stack: StackInfo, tmp_path: Path) -> RouterProcess:
    text = CONFIG.read_text()
    line = next(x for x in text.splitlines() if x.startswith("shed_lag_seconds ="))
    config = tmp_path / "callrouter.toml"
    config.write_text(text.replace(line, "shed_lag_seconds = 0.000001"))  # every call is "late"
    router = start_router(stack, tmp_path, config)
    for _ in range(2):  # two periods over the target: admission limits from then on
        first = f"+7905{random.randint(1_000_000, 9_999_999)}"
        taken = sipp.call(stack.sip_port, [(first, "+78162700101")], 1000)  # lasts well over a period
        assert taken.ok, taken.output[-1500:]
    return router


async def test_overloaded_router_tells_a_clinic_caller_to_call_back(
    stack: StackInfo, tmp_path: Path, db: asyncpg.Connection
):
    router = shedding_router(stack, tmp_path)
    caller = f"+7905{random.randint(1_000_000, 9_999_999)}"
    try:
        async with AriObserver(stack) as observer:
            result = await asyncio.to_thread(sipp.call, stack.sip_port, [(caller, "+78162700101")], 30000)
            dialplan = [
                (e["dialplan_app"], e["channel"]["dialplan"]["context"])
                for e in observer.of_type("ChannelDialplan")
                if e["channel"]["caller"]["number"] == caller
            ]
        rows = await wait_rows(db, ENDED, caller, count=1)
    finally:
        assert router.stop() == 0, router.log()[-2000:]
    assert result.ok, result.output[-1500:]
    assert ("Playback", "callrouter-busy") in dialplan, dialplan
    assert ("Hangup", "callrouter-busy") in dialplan, "Asterisk hung up after the message, not the caller"
    assert rows and rows[0]["outcome"] == "busy"
    assert rows[0]["end_reason"] == "router overloaded: callrouter-busy"
    assert rows[0]["topic"] is None, "never queued"


async def test_overloaded_router_sends_an_ambulance_caller_to_the_fallback_desk(
    stack: StackInfo, tmp_path: Path, db: asyncpg.Connection
):
    router = shedding_router(stack, tmp_path)
    caller = f"+7905{random.randint(1_000_000, 9_999_999)}"
    desk = sipp.Agent(stack.fallback_port, calls=1, ring_ms=200)
    try:
        result = await asyncio.to_thread(sipp.call, stack.sip_port, [(caller, "103")], 6000)
        rows = await wait_rows(db, ENDED, caller, count=1)
    finally:
        desk_result = desk.wait(30)
        assert router.stop() == 0, router.log()[-2000:]
    assert result.ok, result.output[-1500:]
    assert desk_result.successful == 1, f"the fallback desk was not rung:\n{desk_result.output[-2000:]}"
    assert rows and rows[0]["outcome"] == "busy"
    assert rows[0]["end_reason"] == "router overloaded: callrouter-fallback"
