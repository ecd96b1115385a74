"""Carries out one caller channel's commands, in order, over ARI.

No rule lives here: it turns the switchboard's channel commands into REST
calls and reports back only what Asterisk said (an answer done, a command
failed, the channel gone). Music is either the channel's own or a place in a
shared holding bridge (``hold_bridge``); that choice is the shell's, made once
per call, and invisible to the core.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable

from callrouter.ari.client import AriClient, AriError, AriNotFound
from callrouter.core import call_events as ev
from callrouter.core import commands as cmd
from callrouter.core.switchboard import ChannelCommand, DestroyBridge, JoinBridge, MakeBridge
from callrouter.metrics import Metrics

log = logging.getLogger(__name__)

# Commands whose target may already be gone: a 404 means done.
STOPPING = (cmd.Hangup, cmd.StopPlayback, cmd.StopMoh, DestroyBridge)
# Commands whose failure the call survives (logged and counted, not fatal).
BEST_EFFORT = (*STOPPING, cmd.SetVariable, MakeBridge)

Work = ChannelCommand | DestroyBridge


class ChannelExecutor:
    def __init__(
        self,
        channel_id: str,
        ari: AriClient,
        metrics: Metrics,
        report: Callable[[str, ev.CallEvent], None],
        hold_bridge: str | None = None,
        retired: Callable[[ChannelExecutor], None] = lambda executor: None,
    ) -> None:
        self.channel_id = channel_id
        self._ari = ari
        self._metrics = metrics
        self._report = report
        self._hold_bridge = hold_bridge
        self._held = False
        self._language = ""
        self._bridges: set[str] = set()  # made by this channel's MakeBridge
        self._work: deque[Work] = deque()
        self._task: asyncio.Task[None] | None = None
        self._retired = retired
        self._closing = False
        self._stopped: set[str] = set()  # playbacks this channel was told to stop
        self._again: set[asyncio.Task[None]] = set()  # stops sent again, until done

    def close(self) -> None:
        """The call is over: retired once its last commands are carried out."""
        self._closing = True
        if self.idle:
            self._retired(self)

    @property
    def idle(self) -> bool:
        return self._task is None or self._task.done()

    def put(self, command: Work) -> None:
        self._work.append(command)
        if self.idle:
            self._task = asyncio.create_task(self._run())

    def cancel(self) -> None:
        self._work.clear()
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        try:
            await self._work_through()
        finally:
            if self._closing and not self._work:
                self._retired(self)

    async def _work_through(self) -> None:
        while self._work:
            command = self._work.popleft()
            try:
                await self._do(command)
            except AriNotFound:
                if not isinstance(command, STOPPING):
                    self._work.clear()
                    self._report(self.channel_id, ev.ChannelGone("vanished"))
            except (AriError, OSError, TimeoutError) as exc:
                name = type(command).__name__.lower()
                with contextlib.suppress(ValueError):
                    self._metrics.ari_errors.labels(command=name).inc()
                log.warning("ARI %s failed on channel %s: %s", name, self.channel_id, exc)
                if isinstance(command, BEST_EFFORT):
                    continue  # the reconcile check clears what lingers
                self._work.clear()
                self._report(self.channel_id, ev.CommandFailed(name, str(exc)[:200]))

    async def _do(self, command: Work) -> None:
        ari, channel = self._ari, self.channel_id
        match command:
            case cmd.Answer():
                await ari.answer(channel)
                self._report(channel, ev.Answered())
            case cmd.SetLanguage(language):
                self._language = language  # passed with each playback: no REST call
            case cmd.Play(media, playback_id):
                await ari.play(channel, media, playback_id, self._language)
            case cmd.StopPlayback(playback_id):
                self._stopped.add(playback_id)
                await ari.stop_playback(playback_id)
            case cmd.StartMoh() | cmd.StopMoh():
                await self._hold(command)
            case MakeBridge(bridge_id):
                await ari.create_bridge(bridge_id)
                self._bridges.add(bridge_id)
            case JoinBridge(bridge_id, agent_channel):
                if bridge_id not in self._bridges:  # its early creation failed (or never ran)
                    await ari.create_bridge(bridge_id)
                    self._bridges.add(bridge_id)
                await ari.add_to_bridge(bridge_id, [channel, agent_channel])
                self._held = False  # joining the call's bridge left the holding bridge
            case DestroyBridge(_, bridge_id):
                await ari.destroy_bridge(bridge_id)
            case cmd.Hangup(reason):
                await ari.hangup(channel, reason)
            case cmd.SetVariable(name, value):
                await ari.set_variable(channel, name, value)
            case cmd.ContinueInDialplan(context, extension):
                await ari.continue_in_dialplan(channel, context, extension)

    def still_playing(self, playback_id: str) -> None:
        """A playback told to stop moved on to its next sound: Asterisk lost the stop
        (one that comes while a ``number:`` of a list is said: res_stasis_playback does not
        listen for a stop then, and goes on to the next sound). Stopped again at
        once, not behind this channel's queue: a bridge join waits there until the
        playback ends, and the caller would hear the rest of it while the agent waits."""
        if playback_id in self._stopped:
            log.info("playback %s on %s went on after its stop: stopped again", playback_id, self.channel_id)
            task = asyncio.create_task(self._stop_again(playback_id))
            self._again.add(task)
            task.add_done_callback(self._again.discard)

    async def _stop_again(self, playback_id: str) -> None:
        try:
            await self._ari.stop_playback(playback_id)
        except (AriError, OSError, TimeoutError) as exc:  # gone by now (404), or a number again
            log.info("stopping playback %s again: %s", playback_id, exc)

    async def _hold(self, command: cmd.StartMoh | cmd.StopMoh) -> None:
        """Music: in a shared holding bridge, or on the channel itself."""
        channel = self.channel_id
        started = time.monotonic()
        match command:
            case cmd.StartMoh() if self._hold_bridge is not None:
                if self._held:
                    return
                await self._ari.add_to_bridge(self._hold_bridge, [channel])
                self._held = True
            case cmd.StopMoh() if self._hold_bridge is not None:
                return  # stays in the holding bridge; the next sound plays over the music
            case cmd.StartMoh():
                await self._ari.start_moh(channel)
            case cmd.StopMoh():
                await self._ari.stop_moh(channel)
                return
        self._metrics.hold_start.observe(time.monotonic() - started)
