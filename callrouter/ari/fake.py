"""An in-memory ``AriClient`` for unit tests of the shell (never for end-to-end
tests): it records every call (or, for long runs, the last ``history``) and
can be told to fail one. ``channels`` stands for what Asterisk has: the
application lists them, and the test removes one to make it vanish."""

from __future__ import annotations

import zlib
from collections import deque
from datetime import UTC, datetime
from typing import Any

from callrouter.ari.client import AriError
from callrouter.ari.models import Application, Bridge, CallerID, Channel, DialplanCEP, Endpoint


class FakeAriClient:
    def __init__(self, app: str = "callrouter", history: int | None = None) -> None:
        self.app = app
        self.calls: deque[tuple[str, tuple[Any, ...]]] = deque(maxlen=history)
        self.failing: set[str] = set()  # method names that raise AriError
        self.channels: dict[str, Channel] = {}
        self.variables: dict[tuple[str, str], str] = {}  # (channel, name) -> value
        self.playbacks: dict[str, str] = {}  # channel -> the playback it plays (a test ends it: del)
        self.bridges: dict[str, list[str]] = {}  # bridge -> the channels joined to it
        self.round_trip = 0.0  # as slow as a test says Asterisk answers

    def _record(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        if name in self.failing:
            raise AriError(500, "POST", name, "told to fail")

    def called(self, name: str) -> list[tuple[Any, ...]]:
        return [args for method, args in self.calls if method == name]

    async def answer(self, channel_id: str) -> None:
        self._record("answer", channel_id)

    async def play(
        self, channel_id: str, media: tuple[str, ...], playback_id: str, language: str = ""
    ) -> None:
        self._record("play", channel_id, media, playback_id, language)
        self.playbacks = {c: p for c, p in self.playbacks.items() if c in self.channels}  # as variables
        self.playbacks[channel_id] = playback_id

    async def stop_playback(self, playback_id: str) -> None:
        self._record("stop_playback", playback_id)
        self.playbacks = {c: p for c, p in self.playbacks.items() if p != playback_id}

    async def playing(self, playback_id: str) -> bool:
        self._record("playing", playback_id)
        return playback_id in self.playbacks.values()

    async def start_moh(self, channel_id: str) -> None:
        self._record("start_moh", channel_id)

    async def stop_moh(self, channel_id: str) -> None:
        self._record("stop_moh", channel_id)

    async def continue_in_dialplan(self, channel_id: str, context: str, extension: str) -> None:
        self._record("continue_in_dialplan", channel_id, context, extension)

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self._record("hangup", channel_id, reason)

    async def set_variable(self, channel_id: str, name: str, value: str) -> None:
        self._record("set_variable", channel_id, name, value)
        # Variables live and die with their channel, as in Asterisk (a test's 10,000
        # calls must not make the fake what grows).
        self.variables = {k: v for k, v in self.variables.items() if k[0] in self.channels}
        self.variables[(channel_id, name)] = value

    async def get_variable(self, channel_id: str, name: str) -> str | None:
        self._record("get_variable", channel_id, name)
        return self.variables.get((channel_id, name))

    async def originate(
        self, channel_id: str, endpoint: str, app: str, app_args: str, ring_seconds: float, caller_id: str
    ) -> None:
        self._record("originate", channel_id, endpoint, app, app_args, ring_seconds, caller_id)

    async def create_bridge(self, bridge_id: str, kind: str = "mixing") -> None:
        self._record("create_bridge", bridge_id, kind)

    async def add_to_bridge(self, bridge_id: str, channel_ids: list[str]) -> None:
        self._record("add_to_bridge", bridge_id, tuple(channel_ids))
        self.bridges = {b: [c for c in cs if c in self.channels] for b, cs in self.bridges.items()}
        self.bridges[bridge_id] = list(channel_ids)

    async def destroy_bridge(self, bridge_id: str) -> None:
        self._record("destroy_bridge", bridge_id)
        self.bridges.pop(bridge_id, None)

    async def start_bridge_moh(self, bridge_id: str) -> None:
        self._record("start_bridge_moh", bridge_id)

    async def get_channel(self, channel_id: str) -> Channel:
        self._record("get_channel", channel_id)
        return self.channels.get(channel_id) or fake_channel(channel_id)

    async def list_channels(self) -> list[Channel]:
        self._record("list_channels")
        return list(self.channels.values())

    async def list_bridges(self) -> list[Bridge]:
        self._record("list_bridges")
        return [Bridge(id=bridge_id, channels=channels) for bridge_id, channels in self.bridges.items()]

    async def application(self, app: str) -> Application:
        self._record("application", app)
        return Application(
            name=app, channel_ids=list(self.channels), bridge_ids=[], endpoint_ids=[], device_names=[]
        )

    async def set_event_filter(self, app: str, allowed: list[str]) -> None:
        self._record("set_event_filter", app, tuple(allowed))

    async def subscribe(self, app: str, sources: list[str]) -> None:
        self._record("subscribe", app, tuple(sources))

    async def endpoint(self, technology: str, resource: str) -> Endpoint:
        self._record("endpoint", technology, resource)
        return Endpoint(technology=technology, resource=resource, state="online", channel_ids=[])


def caller_of(channel_id: str) -> str:
    """A caller number of its own for each channel: different calls, different people
    (the same number twice is one person, whose calls share one place in line)."""
    return f"+7916{zlib.crc32(channel_id.encode()) % 10_000_000:07d}"


def fake_channel(channel_id: str, number: str | None = None, exten: str = "+78162700101") -> Channel:
    number = caller_of(channel_id) if number is None else number
    return Channel(
        id=channel_id,
        name=f"PJSIP/trunk-{channel_id}",
        state="Ring",
        caller=CallerID(name="", number=number),
        connected=CallerID(),
        dialplan=DialplanCEP(
            context="callrouter-inbound",
            exten=exten,
            priority=1,
            app_name="Stasis",
            app_data=f"callrouter,inbound,{exten}",
        ),
        creationtime=datetime.now(UTC),
    )
