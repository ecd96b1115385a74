"""One call's task: feed its events to the core, carry out the commands.

No business rule lives here; the session translates (ARI event -> core event,
core command -> REST call or centre call) and records.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from callrouter.ari.client import AriClient, AriError, AriNotFound
from callrouter.core import call as core
from callrouter.core import call_events as ev
from callrouter.core.call_plan import CallPlan
from callrouter.core.call_state import Call
from callrouter.core.commands import (
    Answer,
    Bridge,
    Command,
    ContinueInDialplan,
    Hangup,
    JoinQueue,
    LeaveQueue,
    LogEvent,
    Play,
    RequestAnnouncement,
    SaveCall,
    SetLanguage,
    SetVariable,
    StartMoh,
    StartTimer,
    StopMoh,
    StopPlayback,
)
from callrouter.metrics import Metrics
from callrouter.store.writer import RecordWriter

if TYPE_CHECKING:
    from callrouter.calls.centre import CentreRunner

log = logging.getLogger(__name__)

# Commands whose target may already be gone: a 404 means done.
STOPPING = (Hangup, StopPlayback, StopMoh)
# Commands whose failure the call survives (logged and counted, not fatal).
BEST_EFFORT = (*STOPPING, SetVariable)


def utcnow() -> datetime:
    return datetime.now(UTC)


class CallSession:
    def __init__(
        self,
        call: Call,
        ari: AriClient,
        writer: RecordWriter,
        metrics: Metrics,
        plan: CallPlan,
        centre: CentreRunner,
        max_call_seconds: float,
        clock: Callable[[], datetime] = utcnow,
        hold_bridge: str | None = None,
        up: bool = False,
        bridged: bool = False,
    ) -> None:
        self.call = call
        self._ari = ari
        self._writer = writer
        self._metrics = metrics
        self._plan = plan
        self._centre = centre
        self._max_call_seconds = max_call_seconds
        self._started = time.monotonic()
        self._told_overdue = False
        self._detached = False
        self._clock = clock
        self._inbox: asyncio.Queue[ev.CallEvent] = asyncio.Queue()
        self._timers: list[asyncio.TimerHandle] = []
        # An adopted call already in its bridge: the bridge is ours to destroy at the end.
        self._bridge_id: str | None = f"call-{call.record.call_id}" if bridged else None
        # With a shared holding bridge, "music" means being in it; an
        # announcement plays to the channel there, over the music.
        self._hold_bridge = hold_bridge
        self._held = False
        # Answered in the dialplan (ARI-NOTES 16): the core's Answer costs no REST call.
        self._up = up
        self._language = ""

    @property
    def channel_id(self) -> str:
        return self.call.record.channel_id

    def feed(self, event: ev.CallEvent) -> None:
        self._inbox.put_nowait(event)

    def detach(self) -> None:
        """The router is stopping: whatever ends this session now must leave the
        call in Asterisk as it is (bridge, agent leg, place) for the next router."""
        self._detached = True

    def check_duration(self, now: float) -> None:
        """Told once when the call has lasted the maximum (the dispatcher asks
        every few seconds: a timer per call would sit hours in the loop's heap)."""
        if not self._told_overdue and now - self._started >= self._max_call_seconds:
            self._told_overdue = True
            self.feed(ev.MaxDurationReached())

    async def run(self, first: list[Command]) -> None:
        await self._execute(first)
        try:
            while not self.call.ended:
                event = await self._inbox.get()
                self.call, commands = core.decide(self.call, event, self._clock(), self._plan)
                await self._execute(commands)
        finally:
            for timer in self._timers:
                timer.cancel()
            # A router that stops leaves the call as it is, for the next router to adopt.
            if not self._detached:
                await self._close()

    async def _close(self) -> None:
        if self._bridge_id is not None or self._centre.bridge_made(self.call.record.call_id):
            with contextlib.suppress(AriError, OSError, TimeoutError):
                await self._ari.destroy_bridge(f"call-{self.call.record.call_id}")
        self._centre.call_over(self.call.record.call_id)
        self._count_outcome()

    def _count_outcome(self) -> None:
        record = self.call.record
        if not self.call.ended:
            return
        outcome = record.outcome.value if record.outcome else "failed"
        with contextlib.suppress(ValueError):
            self._metrics.calls.labels(line=record.line or "none", outcome=outcome).inc()
        log.info(
            "call ended",
            extra={
                "call_id": record.call_id,
                "line": record.line,
                "outcome": outcome,
                "caller": record.caller_number,
            },
        )

    async def _execute(self, commands: list[Command]) -> None:
        for command in commands:
            if self._local(command):
                continue
            try:
                await self._rest(command)
            except AriNotFound:
                if not isinstance(command, STOPPING):
                    self.feed(ev.ChannelGone("vanished"))
            except (AriError, OSError, TimeoutError) as exc:
                name = type(command).__name__.lower()
                with contextlib.suppress(ValueError):
                    self._metrics.ari_errors.labels(command=name).inc()
                log.warning("ARI %s failed for call %s: %s", name, self.call.record.call_id, exc)
                if isinstance(command, BEST_EFFORT):
                    continue  # the reconcile check clears what lingers
                self.feed(ev.CommandFailed(name, str(exc)[:200]))
                return

    def _local(self, command: Command) -> bool:
        """Carry out what needs no REST call; False for the rest."""
        match command:
            case SaveCall(record):
                self._writer.submit(record)
            case LogEvent(event):
                self._writer.submit(event)
            case StartTimer(token, seconds):
                loop = asyncio.get_running_loop()
                self._timers.append(loop.call_later(seconds, self.feed, ev.TimerFired(token)))
            case JoinQueue(entry):
                self._centre.join(entry, self)
            case LeaveQueue(entry_id):
                self._centre.leave(entry_id)
            case SetLanguage(language):
                self._language = language
            case RequestAnnouncement(entry_id):
                announcement = self._centre.announcement(entry_id)
                if announcement is not None:
                    self.feed(announcement)
            case _:
                return False
        return True

    async def _hold(self, command: StartMoh | StopMoh) -> None:
        """Music: in a shared holding bridge, or on the channel itself."""
        channel = self.channel_id
        started = time.monotonic()
        match command:
            case StartMoh() if self._hold_bridge is not None:
                if self._held:
                    return
                await self._ari.add_to_bridge(self._hold_bridge, [channel])
                self._held = True
            case StopMoh() if self._hold_bridge is not None:
                return  # stays in the holding bridge; the next sound plays over the music
            case StartMoh():
                await self._ari.start_moh(channel)
            case StopMoh():
                await self._ari.stop_moh(channel)
                return
        self._metrics.hold_start.observe(time.monotonic() - started)

    async def _rest(self, command: Command) -> None:
        channel = self.channel_id
        match command:
            case Answer():
                if not self._up:
                    await self._ari.answer(channel)
                    self._up = True
                self.feed(ev.Answered())
            case Play(media, playback_id):
                await self._ari.play(channel, media, playback_id, self._language)
            case StopPlayback(playback_id):
                await self._ari.stop_playback(playback_id)
            case StartMoh() | StopMoh():
                await self._hold(command)
            case Bridge(agent_channel):
                self._bridge_id = f"call-{self.call.record.call_id}"
                if not await self._centre.bridge_ready(self.call.record.call_id):
                    await self._ari.create_bridge(self._bridge_id)
                await self._ari.add_to_bridge(self._bridge_id, [channel, agent_channel])
                self._held = False  # joining the call's bridge left the holding bridge
            case Hangup(reason):
                await self._ari.hangup(channel, reason)
            case SetVariable(name, value):
                await self._ari.set_variable(channel, name, value)
            case ContinueInDialplan(context, extension):
                await self._ari.continue_in_dialplan(channel, context, extension)
