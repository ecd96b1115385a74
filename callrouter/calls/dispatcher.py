"""Routes ARI events to call sessions, starts new ones, and keeps state honest.

On every (re)connect it sets the application's event filter and adopts calls
already in the application (a WebSocket drop leaves them there with nobody in
control). Periodically it compares its calls with Asterisk's list and clears
the ones whose channel is gone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from callrouter.ari import models as ari
from callrouter.ari.client import AriClient, AriError
from callrouter.calls import features, plan
from callrouter.calls.centre import CentreRunner, RingSettings
from callrouter.calls.session import CallSession, utcnow
from callrouter.config import Settings
from callrouter.config_router import Line
from callrouter.core import call as core
from callrouter.core import call_events as ev
from callrouter.core.call_state import Call
from callrouter.core.commands import Command
from callrouter.core.lines import DidDirectory
from callrouter.core.numbers import normalise
from callrouter.core.place import VARIABLE as PLACE_VARIABLE
from callrouter.core.place import Adopted, Place, resume, resume_connected
from callrouter.metrics import Metrics
from callrouter.store.writer import RecordWriter

log = logging.getLogger(__name__)

# The only events the application asks Asterisk for (ARI-NOTES 16: fewer events, less lag).
EVENT_FILTER = [
    "StasisStart",
    "StasisEnd",
    "ChannelDestroyed",
    "ChannelHangupRequest",
    "ChannelDtmfReceived",
    "PlaybackFinished",
    "ApplicationReplaced",
    "EndpointStateChange",
]


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        ari_client: AriClient,
        writer: RecordWriter,
        metrics: Metrics,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._settings = settings
        self._ari = ari_client
        self._writer = writer
        self._metrics = metrics
        self._clock = clock
        self._lines: DidDirectory[Line] = DidDirectory(
            (did, line) for line in settings.lines for did in line.dids
        )
        self._by_name = {line.name: line for line in settings.lines}
        self.sessions: dict[str, CallSession] = {}
        self._calls_started = 0
        self.hold_bridge_ids = self._hold_bridge_ids()
        self._plan = plan.call_plan(settings)
        self.centre = CentreRunner(
            plan.centre(settings),
            ari_client,
            writer,
            metrics,
            RingSettings(
                settings.router.app,
                settings.file.queue.ring_timeout_seconds,
                settings.file.queue.estimate_window,
            ),
            clock,
        )
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def active_calls(self) -> int:
        return len(self.sessions)

    def line_for(self, did: str) -> Line | None:
        line = self._lines.match(did)
        if line is None and self._settings.router.default_line:
            line = self._by_name[self._settings.router.default_line]
        return line

    # -- events -----------------------------------------------------------------
    def handle(self, event: ari.Event) -> None:
        match event:
            case ari.StasisStart(args=args, channel=channel):
                self._stasis_start(args, channel, event.timestamp)
            case ari.ChannelDtmfReceived(channel=channel, digit=digit):
                self._feed(channel.id, ev.Digit(digit))
            case ari.PlaybackFinished(playback=playback):
                session = self.sessions.get(playback.target_uri.removeprefix("channel:"))
                if session is not None:
                    session.feed(ev.PlaybackFinished(playback.id))
            case ari.ChannelHangupRequest(channel=channel):
                self._feed(channel.id, ev.CallerHungUp(str(event.cause or "normal")))
            case ari.StasisEnd(channel=channel):
                self._feed(channel.id, ev.ChannelGone("left the application"))
                if channel.id in self.centre.legs:
                    self.centre.leg_gone(channel.id, "left the application")
            case ari.EndpointStateChange(endpoint=endpoint) if endpoint.technology == "PJSIP":
                self.centre.set_reachable(endpoint.resource, endpoint.state != "offline")
            case ari.ChannelDestroyed(channel=channel, cause_txt=cause):
                self._feed(channel.id, ev.ChannelGone(cause))
                if channel.id in self.centre.legs:
                    self.centre.leg_gone(channel.id, cause)

    def _stasis_start(self, args: list[str], channel: ari.Channel, at: datetime) -> None:
        kind = args[0] if args else ""
        if kind == "inbound" and channel.id not in self.sessions:
            self.start_call(channel, args[1] if len(args) > 1 else channel.dialplan.exten, at)
        elif kind == "agent" and channel.id in self.centre.legs:
            self.centre.leg_answered(channel.id)
        elif kind == "agent":  # rung by a router before a restart: nobody waits on it now
            log.info("hanging up agent channel %s that no call of this router rang", channel.id)
            self._spawn(self.centre.end_stray_leg(channel.id))
        elif kind == "feature" and len(args) >= 3:
            self._spawn(features.run(self._ari, self.centre, channel.id, args[1], args[2]))

    def _feed(self, channel_id: str, event: ev.CallEvent) -> None:
        session = self.sessions.get(channel_id)
        if session is not None:
            session.feed(event)

    def start_call(self, channel: ari.Channel, did: str, now: datetime) -> None:
        line = self.line_for(did)
        country = line.country if line else "US"
        # Behind: the call's own event came late, or Asterisk answers requests slowly.
        shed_after = self._settings.router.shed_lag_seconds
        late = max((self._clock() - now).total_seconds(), self._ari.round_trip)
        overloaded = 0 < shed_after < late
        if overloaded:
            log.warning("router overloaded (%.2f s behind): a new call goes back to the dialplan", late)
        call, first = core.arrive(
            call_id=core.call_id_for(self._settings.router.node, channel.id),
            node=self._settings.router.node,
            channel_id=channel.id,
            did=did,
            line=plan.line_info(self._settings, line) if line else None,
            caller=normalise(channel.caller.number, country),
            now=now,
            overloaded=overloaded,
        )
        self._start_session(call, first, channel)

    def _start_session(
        self, call: Call, first: list[Command], channel: ari.Channel, bridged: bool = False
    ) -> CallSession:
        session = CallSession(
            call,
            self._ari,
            self._writer,
            self._metrics,
            self._plan,
            self.centre,
            self._settings.router.max_call_seconds,
            self._clock,
            hold_bridge=self._next_hold_bridge(),
            up=channel.state == "Up",
            bridged=bridged,
        )
        self.sessions[channel.id] = session
        self._spawn(self._run(session, first))
        return session

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, session: CallSession, first: list[Command]) -> None:
        try:
            await session.run(first)
        except Exception:
            log.exception("call %s crashed", session.call.record.call_id)
        finally:
            self.sessions.pop(session.channel_id, None)

    # -- (re)connect and reconcile ----------------------------------------------
    async def on_connect(self) -> None:
        app = self._settings.router.app
        try:
            await self._ari.set_event_filter(app, EVENT_FILTER)
        except AriError as exc:
            log.warning("could not set the event filter: %s", exc)
        await self._watch_agents()
        await self._hold_bridge()
        await self.reconcile(adopt=True)

    def _hold_bridge_ids(self) -> list[str]:
        """The shared holding bridges, named after the node so a restarted router finds them again."""
        queue = self._settings.file.queue
        if queue.hold != "bridge":
            return []
        name = f"callrouter-hold-{self._settings.router.node}"
        if queue.hold_bridges == 1:
            return [name]
        return [f"{name}-{n}" for n in range(1, queue.hold_bridges + 1)]

    def _next_hold_bridge(self) -> str | None:
        bridges = self.hold_bridge_ids
        if not bridges:
            return None
        self._calls_started += 1
        return bridges[self._calls_started % len(bridges)]

    async def _hold_bridge(self) -> None:
        for bridge_id in self.hold_bridge_ids:
            try:
                try:
                    await self._ari.create_bridge(bridge_id, "holding")
                except AriError as exc:
                    if exc.status != 409:  # 409: kept from before a restart, found again
                        raise
                await self._ari.start_bridge_moh(bridge_id)  # idempotent
            except (AriError, OSError, TimeoutError) as exc:
                log.warning("could not prepare the holding bridge %s: %s", bridge_id, exc)

    async def _watch_agents(self) -> None:
        """Follow each agent's softphone: an offline endpoint is offered no calls."""
        agents = [a.id for a in self._settings.file.agents]
        if not agents:
            return
        try:
            await self._ari.subscribe(self._settings.router.app, [f"endpoint:PJSIP/{a}" for a in agents])
            for agent_id in agents:
                endpoint = await self._ari.endpoint("PJSIP", agent_id)
                self.centre.set_reachable(agent_id, endpoint.state != "offline")
        except (AriError, OSError, TimeoutError) as exc:
            log.warning("could not follow the agents' endpoints: %s", exc)

    async def reconcile(self, adopt: bool) -> None:
        """Clear calls (and answered agents' phones) that left Asterisk; adopt unknown ones in our app."""
        # Only what was known before asking: a call that arrives while the
        # list is on its way is not in it, and is not gone.
        known = set(self.sessions)
        answered = [channel_id for channel_id, leg in self.centre.legs.items() if leg.answered]
        ending = self.centre.ending_legs()
        try:
            listed = set((await self._ari.application(self._settings.router.app)).channel_ids)
        except (AriError, OSError, TimeoutError) as exc:
            log.warning("reconcile skipped: %s", exc)
            return
        for channel_id in known - listed:
            session = self.sessions.get(channel_id)
            if session is not None:
                self._metrics.calls_reconciled.labels(action="cleared").inc()
                session.feed(ev.ChannelGone("not in Asterisk any more"))
        for channel_id in answered:
            if channel_id not in listed:  # its end was never reported: the caller hears it now
                self.centre.leg_gone(channel_id, "not in Asterisk any more")
        for channel_id in ending:
            if channel_id in listed:  # its caller left and an earlier hangup failed
                await self.centre.end_leg(channel_id)
        if adopt:
            await self._adopt(listed - set(self.sessions))

    async def _adopt(self, channel_ids: set[str]) -> None:
        """Calls in the application that no session of ours follows (a router before a
        restart, or before a WebSocket drop, did): talking ones stay connected, waiting
        ones take their place again, the rest start afresh. Agent legs no adopted
        caller waits on are hung up, so those agents are free."""
        legs: dict[str, tuple[str, str]] = {}  # entry id -> (agent channel, agent id)
        callers: list[tuple[ari.Channel, str]] = []
        for channel_id in sorted(channel_ids - self.centre.legs.keys()):  # sorted: the same every time
            try:
                channel = await self._ari.get_channel(channel_id)
            except (AriError, OSError, TimeoutError):
                continue
            parts = channel.dialplan.app_data.split(",")
            if len(parts) >= 4 and parts[1] == "agent":
                legs[parts[2]] = (channel_id, parts[3])
            elif len(parts) >= 3 and parts[1] == "inbound":
                callers.append((channel, parts[2]))
        node = self._settings.router.node
        # Talking callers first, with no await between: their agents are on a call
        # before any resumed waiting caller could be offered to them.
        connected = [(c, d) for c, d in callers if core.call_id_for(node, c.id) in legs]
        for channel, did in connected + [(c, d) for c, d in callers if (c, d) not in connected]:
            if channel.id not in self.sessions:
                log.info("adopting call on channel %s after reconnect", channel.id)
                self._metrics.calls_reconciled.labels(action="adopted").inc()
                await self._adopt_caller(channel, did, legs)
        for channel_id, _agent in legs.values():
            log.info("hanging up agent channel %s: no adopted call waits on it", channel_id)
            self._spawn(self.centre.end_stray_leg(channel_id))

    async def _adopt_caller(self, channel: ari.Channel, did: str, legs: dict[str, tuple[str, str]]) -> None:
        call_id = core.call_id_for(self._settings.router.node, channel.id)
        leg = legs.get(call_id)  # one left in ``legs`` is hung up with the strays
        line = self.line_for(did)
        if leg is not None and line is not None:
            del legs[call_id]
            self._resume_connected(channel, did, line, *leg)
            return
        try:
            place = Place.from_variable(await self._ari.get_variable(channel.id, PLACE_VARIABLE))
        except (AriError, OSError, TimeoutError):
            place = None
        if channel.id in self.sessions:  # its own event came while we asked
            return
        if place is None or not self._resume_call(channel, did, place):
            self.start_call(channel, did, self._clock())

    def _resume_connected(
        self, channel: ari.Channel, did: str, line: Line, agent_channel: str, agent_id: str
    ) -> None:
        """A caller still talking to an agent: left alone, followed to the end."""
        call, first = resume_connected(self._adopted(channel, did, line), agent_id, self._clock())
        session = self._start_session(call, first, channel, bridged=True)
        if not self.centre.adopt_connected(call.record.call_id, session, agent_channel, agent_id):
            session.feed(ev.AgentLeft())  # an agent this config does not know: end it cleanly

    def _resume_call(self, channel: ari.Channel, did: str, place: Place) -> bool:
        """A caller who was waiting goes back to their place: no greeting, no menu."""
        line = self.line_for(did)
        if line is None:
            return False
        call, first = resume(self._adopted(channel, did, line), place, self._clock())
        self._start_session(call, first, channel)
        return True

    def _adopted(self, channel: ari.Channel, did: str, line: Line) -> Adopted:
        node = self._settings.router.node
        return Adopted(
            core.call_id_for(node, channel.id), node, channel.id, did, plan.line_info(self._settings, line),
            normalise(channel.caller.number, line.country), channel.creationtime,
        )  # fmt: skip

    async def reconcile_loop(self) -> None:
        while True:
            await asyncio.sleep(self._settings.router.reconcile_seconds)
            await self.reconcile(adopt=False)

    async def duration_loop(self, every: float | None = None) -> None:
        """The maximum call duration, enforced for every call by one periodic check:
        at most a quarter of the maximum (and the reconcile period) late."""
        router = self._settings.router
        if every is None:
            every = min(router.reconcile_seconds, max(1.0, router.max_call_seconds / 4))
        while True:
            await asyncio.sleep(every)
            now = time.monotonic()
            for session in list(self.sessions.values()):
                session.check_duration(now)

    def detach(self) -> None:
        """Stop following calls without touching them (a stop, not a hang-up): the
        next router adopts them where they are."""
        for session in self.sessions.values():
            session.detach()
        for task in self._tasks:
            task.cancel()

    async def drain(self, within: float) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=within)
