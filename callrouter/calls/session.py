"""One call's task: feed its events to the core, carry out the commands.

No business rule lives here; the session translates (ARI event -> core event,
core command -> REST call) and records.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from callrouter.ari.client import AriClient, AriError, AriNotFound
from callrouter.core import call as core
from callrouter.core.commands import Answer, Command, Hangup, Play, SaveCall, StopPlayback
from callrouter.metrics import Metrics
from callrouter.store.writer import RecordWriter

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


class CallSession:
    def __init__(
        self,
        call: core.Call,
        ari: AriClient,
        writer: RecordWriter,
        metrics: Metrics,
        prompts_dir: str,
        max_call_seconds: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.call = call
        self._ari = ari
        self._writer = writer
        self._metrics = metrics
        self._prompts_dir = prompts_dir
        self._max_call_seconds = max_call_seconds
        self._clock = clock
        self._inbox: asyncio.Queue[core.CallEvent] = asyncio.Queue()

    @property
    def channel_id(self) -> str:
        return self.call.record.channel_id

    def feed(self, event: core.CallEvent) -> None:
        self._inbox.put_nowait(event)

    async def run(self, first: list[Command]) -> None:
        await self._execute(first)
        guard = asyncio.get_running_loop().call_later(
            self._max_call_seconds, self.feed, core.MaxDurationReached()
        )
        try:
            while not self.call.ended:
                event = await self._inbox.get()
                self.call, commands = core.decide(self.call, event, self._clock(), self._prompts_dir)
                await self._execute(commands)
        finally:
            guard.cancel()
            if self.call.ended:
                line = self.call.record.line or "none"
                outcome = self.call.record.outcome.value if self.call.record.outcome else "failed"
                with contextlib.suppress(ValueError):
                    self._metrics.calls.labels(line=line, outcome=outcome).inc()
            log.info(
                "call ended",
                extra={
                    "call_id": self.call.record.call_id,
                    "line": self.call.record.line,
                    "outcome": self.call.record.outcome,
                    "caller": self.call.record.caller_number,
                },
            )

    async def _execute(self, commands: list[Command]) -> None:
        for command in commands:
            if isinstance(command, SaveCall):
                self._writer.submit(command.record)
                continue
            try:
                await self._rest(command)
            except AriNotFound:
                # The channel or playback is already gone: for a stop or a
                # hang-up that is success, otherwise the call has vanished.
                if not isinstance(command, Hangup | StopPlayback):
                    self.feed(core.ChannelGone("vanished"))
            except (AriError, OSError, TimeoutError) as exc:
                name = type(command).__name__.lower()
                self._metrics.ari_errors.labels(command=_metric_name(command)).inc()
                log.warning("ARI %s failed for call %s: %s", name, self.call.record.call_id, exc)
                if isinstance(command, Hangup):
                    continue  # the reconcile check clears it if it lingers
                self.feed(core.CommandFailed(name, str(exc)[:200]))
                return

    async def _rest(self, command: Command) -> None:
        channel = self.channel_id
        match command:
            case Answer():
                await self._ari.answer(channel)
                self.feed(core.Answered())
            case Play(media, playback_id):
                await self._ari.play(channel, media, playback_id)
            case StopPlayback(playback_id):
                await self._ari.stop_playback(playback_id)
            case Hangup(reason):
                await self._ari.hangup(channel, reason)


def _metric_name(command: Command) -> str:
    return {Answer: "answer", Play: "play", StopPlayback: "stop_playback", Hangup: "hangup"}.get(
        type(command), "other"
    )
