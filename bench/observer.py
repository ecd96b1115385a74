"""One passive observer for both paths: an ARI application subscribed to every
channel, bridge and endpoint, with an event filter, so the router path and the
app_queue path are measured the same way, from Asterisk's own event
timestamps.

It subscribes to those three sources by name, never with ``subscribeAll``:
that also subscribes to every device state, and Asterisk 22.10 deadlocks its
ARI (no WebSocket handshake is answered again until a restart) when such an
application's WebSocket closes while a device state change is being delivered
to it (asterisk/asterisk#2170; tests/e2e/test_ari_sessions.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

from callrouter.ari.events import events_url

SOURCES = "channel:,bridge:,endpoint:"  # every channel, bridge and endpoint; no device states
EVENTS = ["ChannelCreated", "ChannelStateChange", "ChannelEnteredBridge", "ChannelDestroyed"]


class Observer:
    def __init__(
        self,
        ari_url: str,
        user: str,
        password: str,
        app: str = "bench-observer",
        allowed: list[str] | None = EVENTS,
    ) -> None:
        """``allowed``: the event types to receive; None for all of them."""
        self.ari_url = ari_url
        self.url = ari_url.rstrip("/") + "/ari"
        self.headers = {"Authorization": aiohttp.encode_basic_auth(user, password)}
        self.app = app
        self.allowed = allowed
        self.events: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def __aenter__(self) -> Observer:
        self._task = asyncio.create_task(self._run())
        ready = asyncio.create_task(self._ready.wait())
        await asyncio.wait({ready, self._task}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            if self._task.done():  # it failed before it was ready: say why, not "timed out"
                self._task.result()
            self._task.cancel()
            raise TimeoutError(f"ARI observer {self.app}: not subscribed within 10 s")
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        ws_url = events_url(self.ari_url)
        async with (
            aiohttp.ClientSession(headers=self.headers) as session,
            session.ws_connect(ws_url, params={"app": self.app, "subscribeAll": "false"}) as ws,
        ):
            subscribe = f"{self.url}/applications/{self.app}/subscription"
            async with session.post(subscribe, params={"eventSource": SOURCES}) as response:
                response.raise_for_status()
            if self.allowed is not None:
                body = {"allowed": [{"type": t} for t in self.allowed], "disallowed": []}
                async with session.put(f"{self.url}/applications/{self.app}/eventFilter", json=body):
                    pass
            self._ready.set()
            async for message in ws:
                if message.type is aiohttp.WSMsgType.TEXT:
                    self.events.append(json.loads(message.data))

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind]

    def take(self) -> list[dict[str, Any]]:
        events, self.events = self.events, []
        return events


@dataclass
class CallTimes:
    created: datetime | None = None
    answered: datetime | None = None
    bridges: dict[str, datetime] = field(default_factory=dict)  # bridge id -> entered (non-holding)


def _ts(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(event["timestamp"]).replace("+0000", "+00:00"))


def analyse(events: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Per connected caller: answer latency, and agent answer -> both in one bridge."""
    callers: dict[str, CallTimes] = {}
    agents: dict[str, CallTimes] = {}
    for event in events:
        channel = event.get("channel") or {}
        name = str(channel.get("name", ""))
        table = (
            callers if name.startswith("PJSIP/trunk-") else agents if name.startswith("PJSIP/agent") else None
        )
        if table is None:
            continue
        times = table.setdefault(str(channel["id"]), CallTimes())
        kind = event["type"]
        if kind == "ChannelCreated":
            times.created = _ts(event)
        elif kind == "ChannelStateChange" and channel.get("state") == "Up" and times.answered is None:
            times.answered = _ts(event)
        elif kind == "ChannelEnteredBridge" and event["bridge"].get("bridge_type") != "holding":
            times.bridges.setdefault(str(event["bridge"]["id"]), _ts(event))
    answer = [(t.answered - t.created).total_seconds() for t in callers.values() if t.created and t.answered]
    connect: list[float] = []
    connected = 0
    for caller in callers.values():
        for bridge_id, caller_in in caller.bridges.items():
            agent = next((a for a in agents.values() if bridge_id in a.bridges), None)
            if agent is None or agent.answered is None:
                continue
            connected += 1
            both_in = max(caller_in, agent.bridges[bridge_id])
            connect.append((both_in - agent.answered).total_seconds())
            break
    return {"answer": answer, "agent_to_bridged": connect, "callers": [float(len(callers))],
            "connected": [float(connected)]}  # fmt: skip
