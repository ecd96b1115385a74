"""ARI sessions that close while Asterisk is busy leave its ARI answering.

Asterisk 22.10 deadlocks its ARI when an application subscribed to every
device state (``subscribeAll``) closes its WebSocket while a device state
change is being delivered to it (asterisk/asterisk#2170): no WebSocket
handshake is answered after that, so no router can connect until Asterisk
restarts. The router and the benchmark's observer subscribe by source and
never to device states. Here a device state flips as fast as ARI takes it
while observers and a router come and go; a new WebSocket must still open.
With ``subscribeAll=true`` in the observer this hangs within a few rounds."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from bench.observer import Observer
from callrouter.ari.events import events_url
from devstack.stack import StackInfo
from tests.e2e.conftest import start_router

DEVICE = "Stasis:churn"


async def flip(session: aiohttp.ClientSession, url: str, stop: asyncio.Event) -> int:
    """Change the device's state until told to stop; how many times it changed."""
    flips = 0
    while not stop.is_set():
        state = "INUSE" if flips % 2 else "NOT_INUSE"
        async with session.put(f"{url}/ari/deviceStates/{DEVICE}", params={"deviceState": state}) as response:
            assert response.status == 204, await response.text()
        flips += 1
    return flips


def start_and_stop_router(stack: StackInfo, tmp_path: Path) -> None:
    router = start_router(stack, tmp_path)
    assert router.stop() == 0, router.log()[-2000:]


async def test_sessions_closing_under_device_state_changes_leave_ari_answering(
    stack: StackInfo, tmp_path: Path
):
    headers = {"Authorization": aiohttp.encode_basic_auth(stack.ari_user, stack.ari_password)}
    async with aiohttp.ClientSession(headers=headers) as session:
        stop = asyncio.Event()
        flipper = asyncio.create_task(flip(session, stack.ari_url, stop))
        try:
            for n in range(60):
                # Each its own application: a name used again at once may meet its last
                # session still being taken down, a race of the names, not of the sessions.
                app = f"churn-observer-{n}"
                observer = Observer(stack.ari_url, stack.ari_user, stack.ari_password, app, None)
                async with observer:
                    await asyncio.sleep(0.02)
            for n in range(2):
                await asyncio.to_thread(start_and_stop_router, stack, tmp_path / f"router-{n}")
        finally:
            stop.set()
            flips = await flipper
        assert flips > 200, f"only {flips} device state changes: the test proved nothing"
        async with asyncio.timeout(5):
            ws = await session.ws_connect(events_url(stack.ari_url), params={"app": "after-churn"})
        await ws.close()
        async with session.delete(f"{stack.ari_url}/ari/deviceStates/{DEVICE}") as response:
            assert response.status == 204
