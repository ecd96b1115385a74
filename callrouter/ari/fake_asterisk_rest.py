"""The fake Asterisk's REST side (unit tests of the shell only): the
``AriClient`` methods the router calls, on what Asterisk has (channels,
bridges, playbacks, variables, the agents' endpoints and phones), each sending
the events Asterisk would, later, through the event queue (``ari.fake_events``);
each recorded, and failing as Asterisk does (``ari.fake_answers``).
``FakeAsterisk`` (``ari.fake_asterisk``) adds the test's side.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from callrouter.ari import models
from callrouter.ari.client import AriNotFound
from callrouter.ari.fake_answers import CALL_REJECTED, HANGUP_REASONS, NO_ANSWER, RestLedger, rest_error
from callrouter.ari.fake_events import Due, EventQueue

_CALLER_ID = re.compile(r'^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$')


@dataclass(frozen=True)
class Phone:
    """How an agent's phone takes a call: answered after ``answer_after``
    seconds (None: never, it rings out), or rejected after ``reject_after``."""

    answer_after: float | None = 0.6
    reject: bool = False
    reject_after: float = 0.0


@dataclass
class _Playback:
    playback: models.Playback
    finish: Due


class FakeAsteriskRest:
    """What Asterisk has, and the REST calls the router makes on it (``FakeAsterisk`` is the whole fake)."""

    def __init__(
        self,
        app: str = "callrouter",
        history: int | None = None,
        play_seconds: float = 0.0,
        event_seconds: float = 0.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.app = app
        self.play_seconds = play_seconds  # how long every playback plays
        self.event_seconds = event_seconds  # added to the delivery of every event
        self.reply_seconds = 0.0  # how long a successful REST call takes to return
        self.round_trip = 0.0  # what the router reads as Asterisk's answer time
        self._ledger = RestLedger(history)
        self.calls = self._ledger.calls  # every REST call made (the last ``history``)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._events = EventQueue(app, self._clock, history)
        self.events = self._events.sent  # every event sent
        self.hung_up: list[str] = []  # channels the router hung up (the last ``history``)
        self.channels: dict[str, models.Channel] = {}  # every channel Asterisk has
        self.bridges: dict[str, set[str]] = {}
        self.variables: dict[str, dict[str, str]] = {}  # channel -> name -> value
        self.filter: list[str] = []
        self.subscriptions: list[str] = []
        self._history = history
        self._in_app: set[str] = set()  # channels in Stasis (an originated one once answered)
        self._ringing: dict[str, Due] = {}  # originated channel -> its phone's answer/reject/timeout
        self._playbacks: dict[str, _Playback] = {}
        self._phones: dict[str, Phone] = {}
        self._endpoints: dict[str, str] = {}  # PJSIP resource -> state (online unless set)
        self._endpoint_of: dict[str, str] = {}  # originated channel -> PJSIP resource
        self._channel_seq = 0

    # -- REST: channels -------------------------------------------------------------
    async def answer(self, channel_id: str) -> None:
        self._ledger.begin("answer", channel_id)
        channel = self._controlled("answer", channel_id)
        self.channels[channel_id] = channel.model_copy(update={"state": "Up"})
        await self._reply()

    async def play(
        self, channel_id: str, media: tuple[str, ...], playback_id: str, language: str = ""
    ) -> None:
        self._ledger.begin("play", channel_id, media, playback_id, language)
        self._controlled("play", channel_id)
        playback = models.Playback(
            id=playback_id, media_uri=media[0], target_uri=f"channel:{channel_id}", state="playing"
        )
        self._later(0.0, lambda: self._events.send(models.PlaybackStarted, playback=playback))
        finish = self._later(self.play_seconds, lambda: self._finish(playback_id, "done"))
        self._playbacks[playback_id] = _Playback(playback, finish)
        await self._reply()

    async def stop_playback(self, playback_id: str) -> None:
        """Stopped at once; Asterisk reports a stopped playback as ``done``."""
        self._ledger.begin("stop_playback", playback_id)
        current = self._playbacks.get(playback_id)
        if current is None:
            raise rest_error(404, "stop_playback", playback_id, "The playback cannot be found")
        current.finish.cancelled = True
        current.finish = self._later(0.0, lambda: self._finish(playback_id, "done"))
        await self._reply()

    async def playing(self, playback_id: str) -> bool:
        """Whether it still plays (an ended one is forgotten, as Asterisk does)."""
        self._ledger.begin("playing", playback_id)
        await self._reply()
        return playback_id in self._playbacks

    async def start_moh(self, channel_id: str) -> None:
        self._ledger.begin("start_moh", channel_id)
        self._controlled("start_moh", channel_id)
        await self._reply()

    async def stop_moh(self, channel_id: str) -> None:
        self._ledger.begin("stop_moh", channel_id)
        self._controlled("stop_moh", channel_id)
        await self._reply()

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        """StasisEnd and ChannelDestroyed; a ringing phone's channel only ChannelDestroyed."""
        self._ledger.begin("hangup", channel_id, reason)
        channel = self.channels.get(channel_id)
        if channel is None:
            raise rest_error(404, "hangup", channel_id, "Channel not found")
        cause = HANGUP_REASONS.get(reason)
        if cause is None:
            raise rest_error(400, "hangup", channel_id, "Invalid reason for hangup provided")
        was_in_app = channel_id in self._in_app
        del self.channels[channel_id]
        playing = self._drop(channel_id)
        self.hung_up.append(channel_id)
        if self._history is not None and len(self.hung_up) > self._history:
            del self.hung_up[0]
        self._later(0.0, lambda: self._end(channel, was_in_app, playing, "failed", cause))
        await self._reply()

    async def continue_in_dialplan(self, channel_id: str, context: str, extension: str) -> None:
        """StasisEnd: the dialplan has the channel now, and the fake forgets it."""
        self._ledger.begin("continue_in_dialplan", channel_id, context, extension)
        channel = self._controlled("continue_in_dialplan", channel_id)
        del self.channels[channel_id]
        playing = self._drop(channel_id)
        self._later(0.0, lambda: self._end(channel, True, playing, "done", None))
        await self._reply()

    async def list_channels(self) -> list[models.Channel]:
        self._ledger.begin("list_channels", "")
        await self._reply()
        return list(self.channels.values())

    async def list_bridges(self) -> list[models.Bridge]:
        self._ledger.begin("list_bridges", "")
        await self._reply()
        return [models.Bridge(id=b, channels=sorted(cs)) for b, cs in self.bridges.items()]

    async def get_channel(self, channel_id: str) -> models.Channel:
        self._ledger.begin("get_channel", channel_id)
        channel = self.channels.get(channel_id)
        if channel is None:
            raise rest_error(404, "get_channel", channel_id, "Channel not found")
        await self._reply()
        return channel

    async def set_variable(self, channel_id: str, name: str, value: str) -> None:
        self._ledger.begin("set_variable", channel_id, name, value)
        self._controlled("set_variable", channel_id)
        self.variables.setdefault(channel_id, {})[name] = value
        await self._reply()

    async def get_variable(self, channel_id: str, name: str) -> str | None:
        """None for an unknown channel or variable (the client's reading of a 404)."""
        try:
            self._ledger.begin("get_variable", channel_id, name)
            self._controlled("get_variable", channel_id)
        except AriNotFound:
            return None
        await self._reply()
        return self.variables.get(channel_id, {}).get(name) or None

    async def originate(
        self, channel_id: str, endpoint: str, app: str, app_args: str, ring_seconds: float, caller_id: str
    ) -> None:
        """Rings the agent's phone (``agent``): answered, it enters the
        application; unanswered or rejected, it is destroyed without."""
        self._ledger.begin("originate", channel_id, endpoint, app, app_args, ring_seconds, caller_id)
        technology, _, resource = endpoint.partition("/")
        if not technology or not resource:
            detail = f"Endpoint parameter '{endpoint}' does not contain tech/resource"
            raise rest_error(400, "originate", channel_id, detail)
        if channel_id in self.channels:
            raise rest_error(409, "originate", channel_id, "Channel with given unique ID already exists")
        if self._endpoints.get(resource, "online") == "offline":
            raise rest_error(500, "originate", channel_id, "Allocation failed")
        match = _CALLER_ID.match(caller_id)
        name, number = match.groups() if match else ("", caller_id)
        self.channels[channel_id] = models.Channel(
            id=channel_id,
            name=self._channel_name(resource),
            state="Ringing",
            caller=models.CallerID(name=name, number=number),
            connected=models.CallerID(),
            dialplan=models.DialplanCEP(context="default", exten="s", priority=1),
            creationtime=self._clock(),
        )
        self._endpoint_of[channel_id] = resource
        phone = self._phones.get(resource, Phone())
        if phone.reject:
            due = self._later(phone.reject_after, lambda: self._ring_out(channel_id, CALL_REJECTED))
        elif phone.answer_after is not None and phone.answer_after < ring_seconds:
            due = self._later(phone.answer_after, lambda: self._answered(channel_id, app, app_args))
        else:
            due = self._later(ring_seconds, lambda: self._ring_out(channel_id, NO_ANSWER))
        self._ringing[channel_id] = due
        await self._reply()

    # -- REST: bridges, the application, endpoints ------------------------------------
    async def create_bridge(self, bridge_id: str, kind: str = "mixing") -> None:
        self._ledger.begin("create_bridge", bridge_id, kind)
        if bridge_id in self.bridges:
            raise rest_error(409, "create_bridge", bridge_id, "Bridge with the same bridgeId already exists")
        self.bridges[bridge_id] = set()
        await self._reply()

    async def add_to_bridge(self, bridge_id: str, channel_ids: list[str]) -> None:
        """A channel in another bridge moves (ARI-NOTES 8); an unknown one is
        400, one not yet in the application 422 (ARI-NOTES 18), as Asterisk answers."""
        self._ledger.begin("add_to_bridge", bridge_id, tuple(channel_ids))
        if bridge_id not in self.bridges:
            raise rest_error(404, "add_to_bridge", bridge_id, "Bridge not found")
        for channel_id in channel_ids:
            if channel_id not in self.channels:
                raise rest_error(400, "add_to_bridge", bridge_id, "Channel not found")
            if channel_id not in self._in_app:
                raise rest_error(422, "add_to_bridge", bridge_id, "Channel not in Stasis application")
        for channel_id in channel_ids:
            self._leave_bridges(channel_id)
            self.bridges[bridge_id].add(channel_id)
        await self._reply()

    async def destroy_bridge(self, bridge_id: str) -> None:
        self._ledger.begin("destroy_bridge", bridge_id)
        if self.bridges.pop(bridge_id, None) is None:
            raise rest_error(404, "destroy_bridge", bridge_id, "Bridge not found")
        await self._reply()

    async def start_bridge_moh(self, bridge_id: str) -> None:
        self._ledger.begin("start_bridge_moh", bridge_id)
        if bridge_id not in self.bridges:
            raise rest_error(404, "start_bridge_moh", bridge_id, "Bridge not found")
        await self._reply()

    async def application(self, app: str) -> models.Application:
        """Its channels: callers in it and the agents' phones it rang (answered or not)."""
        self._ledger.begin("application", app)
        if app != self.app:
            raise rest_error(404, "application", app, "Application does not exist.")
        endpoints = [source.removeprefix("endpoint:") for source in self.subscriptions]
        await self._reply()
        return models.Application(
            name=app,
            channel_ids=list(self.channels),
            bridge_ids=list(self.bridges),
            endpoint_ids=[e for e in endpoints if "/" in e],
            device_names=[],
        )

    async def set_event_filter(self, app: str, allowed: list[str]) -> None:
        """Recorded, not applied: every event is sent."""
        self._ledger.begin("set_event_filter", app, tuple(allowed))
        self.filter = list(allowed)
        await self._reply()

    async def subscribe(self, app: str, sources: list[str]) -> None:
        self._ledger.begin("subscribe", app, tuple(sources))
        self.subscriptions.extend(s for s in sources if s not in self.subscriptions)
        await self._reply()

    async def endpoint(self, technology: str, resource: str) -> models.Endpoint:
        self._ledger.begin("endpoint", technology, resource)
        await self._reply()
        return self._endpoint(technology, resource)

    # -- inside -------------------------------------------------------------------------
    def _controlled(self, name: str, channel_id: str) -> models.Channel:
        """The channel, when the application controls it (404 unknown, 409 not in Stasis)."""
        channel = self.channels.get(channel_id)
        if channel is None:
            raise rest_error(404, name, channel_id, "Channel not found")
        if channel_id not in self._in_app:
            raise rest_error(409, name, channel_id, "Channel not in Stasis application")
        return channel

    async def _reply(self) -> None:
        if self.reply_seconds > 0:
            await asyncio.sleep(self.reply_seconds)

    def _channel_name(self, resource: str) -> str:
        self._channel_seq += 1
        return f"PJSIP/{resource}-{self._channel_seq:08x}"

    def _endpoint(self, technology: str, resource: str) -> models.Endpoint:
        state = self._endpoints.get(resource, "online") if technology == "PJSIP" else "online"
        channel_ids = [c for c, r in self._endpoint_of.items() if r == resource]
        return models.Endpoint(technology=technology, resource=resource, state=state, channel_ids=channel_ids)

    def _drop(self, channel_id: str) -> list[models.Playback]:
        """Everything of a channel that leaves; returns the playbacks it had going."""
        self._in_app.discard(channel_id)
        self.variables.pop(channel_id, None)
        self._endpoint_of.pop(channel_id, None)
        self._leave_bridges(channel_id)
        ringing = self._ringing.pop(channel_id, None)
        if ringing is not None:
            ringing.cancelled = True
        target = f"channel:{channel_id}"
        playing = [p for p in self._playbacks.values() if p.playback.target_uri == target]
        for current in playing:
            current.finish.cancelled = True
            del self._playbacks[current.playback.id]
        return [current.playback for current in playing]

    def _leave_bridges(self, channel_id: str) -> None:
        for members in self.bridges.values():
            members.discard(channel_id)

    def _end(
        self,
        channel: models.Channel,
        in_app: bool,
        playing: list[models.Playback],
        playback_state: str,
        cause: tuple[int, str] | None,
    ) -> None:
        """A channel's last events: its playbacks end, it leaves the application
        (when it was in it), it is destroyed (unless the dialplan goes on with it)."""
        for playback in playing:
            finished = playback.model_copy(update={"state": playback_state})
            self._events.send(models.PlaybackFinished, playback=finished)
        if in_app:
            self._events.send(models.StasisEnd, channel=channel)
        if cause is not None:
            self._events.send(models.ChannelDestroyed, channel=channel, cause=cause[0], cause_txt=cause[1])

    def _finish(self, playback_id: str, state: str) -> None:
        current = self._playbacks.pop(playback_id, None)
        if current is not None:
            playback = current.playback.model_copy(update={"state": state})
            self._events.send(models.PlaybackFinished, playback=playback)

    def _answered(self, channel_id: str, app: str, app_args: str) -> None:
        del self._ringing[channel_id]
        channel = self.channels[channel_id]
        dialplan = channel.dialplan.model_copy(update={"app_name": "Stasis", "app_data": f"{app},{app_args}"})
        channel = channel.model_copy(update={"state": "Up", "dialplan": dialplan})
        self.channels[channel_id] = channel
        self._in_app.add(channel_id)
        self._events.send(models.StasisStart, args=app_args.split(","), channel=channel)

    def _ring_out(self, channel_id: str, cause: tuple[int, str]) -> None:
        channel = self.channels.pop(channel_id)
        self._drop(channel_id)
        self._events.send(models.ChannelDestroyed, channel=channel, cause=cause[0], cause_txt=cause[1])

    # -- the event queue ---------------------------------------------------------------
    def _later(self, delay: float, action: Callable[[], None]) -> Due:
        """Run ``action`` (which sends events) ``delay`` + ``event_seconds`` from now,
        after everything due earlier or at the same time."""
        return self._events.later(delay, action, self.event_seconds)
