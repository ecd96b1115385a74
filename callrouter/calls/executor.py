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
from functools import partial
from http import HTTPStatus

from callrouter.ari.client import AriClient, AriError, AriNotFound, sent_once_more
from callrouter.core import call_events as ev
from callrouter.core import commands as cmd
from callrouter.core.switchboard import ChannelCommand, DestroyBridge, JoinBridge, MakeBridge
from callrouter.metrics import Metrics

log = logging.getLogger(__name__)

# Commands whose target may already be gone: a 404 means done.
STOPPING = (cmd.Hangup, cmd.StopPlayback, cmd.StopMoh, DestroyBridge)
# Commands whose failure the call survives (logged and counted, not fatal).
BEST_EFFORT = (*STOPPING, cmd.SetVariable, MakeBridge)
# The call's end: never dropped with the commands queued behind a failed one (a hang-up
# sent while a failing bridge join was on its way left the caller alone, up, until
# they hung up themselves).
ENDING = (cmd.Hangup, cmd.ContinueInDialplan, DestroyBridge)

Work = ChannelCommand | DestroyBridge

# A stopped playback Asterisk still plays is stopped again this often, this many times at most.
STOP_AGAIN_SECONDS = 0.3
STOP_AGAIN_TIMES = 20


# A bridge join refused for a channel gone (400 "Channel not found") or leaving the
# application on its way out (422 "Channel not in Stasis application").
GONE_AT_JOIN = (HTTPStatus.BAD_REQUEST, HTTPStatus.UNPROCESSABLE_ENTITY)


def _agent_gone(command: Work, exc: BaseException) -> bool:
    """A bridge join Asterisk refused because a channel is not there (or on its way out):
    the agent's phone went as it answered. Its end (``LegGone``) decides the caller's
    call (back to their place, ``board_centre._dropped``); failed, the join ended the
    call at once."""
    refused = isinstance(exc, AriError) and exc.status in GONE_AT_JOIN
    return isinstance(command, JoinBridge) and refused


def _bridge_gone(exc: AriNotFound) -> bool:
    """A 404 for the bridge, not the channel (a join, or music in the shared holding
    bridge: Asterisk's addChannel answers 404 "Bridge not found", 400 "Channel not
    found"): a command that failed, not a caller who vanished."""
    return "bridge not found" in exc.detail.lower()


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
        self._stopping: dict[str, asyncio.Task[None]] = {}  # playback -> its stop sent again until it ends

    def close(self) -> None:
        """The call is over: retired once its last commands are carried out. No stop
        is sent again: the channel's playbacks ended with it."""
        self._closing = True
        self._stop_resending()
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
        self._stop_resending()

    def _stop_resending(self) -> None:
        for playback_id in list(self._stopping):
            self.finished(playback_id)

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
                # Once more when the router's own connection broke: the call's failure (a
                # caller hung up as ``failed``) is Asterisk's refusal, never the router's cut.
                name = type(command).__name__.lower()
                await sent_once_more(partial(self._do, command), f"{name} on channel {self.channel_id}")
            except AriNotFound as exc:
                if isinstance(command, STOPPING):
                    continue  # gone already: done
                if _bridge_gone(exc):
                    self._failed(command, exc)
                else:
                    self._work.clear()
                    self._report(self.channel_id, ev.ChannelGone("vanished"))
            except (AriError, OSError, TimeoutError) as exc:
                self._failed(command, exc)

    def _failed(self, command: Work, exc: Exception) -> None:
        name = type(command).__name__.lower()
        with contextlib.suppress(ValueError):
            self._metrics.ari_errors.labels(command=name).inc()
        log.warning("ARI %s failed on channel %s: %s", name, self.channel_id, exc)
        if isinstance(command, BEST_EFFORT) or _agent_gone(command, exc):
            return  # the reconcile check clears what lingers; a leg's end decides the call
        self._work = deque(c for c in self._work if isinstance(c, ENDING))
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
                await self._stop(playback_id)
            case cmd.StartMoh() | cmd.StopMoh():
                await self._hold(command)
            case MakeBridge(bridge_id):
                await self._make_bridge(bridge_id)
            case JoinBridge(bridge_id, agent_channel):
                await self._join(bridge_id, agent_channel)
                self._held = False  # joining the call's bridge left the holding bridge
            case DestroyBridge(_, bridge_id):
                self._bridges.discard(bridge_id)  # a later join makes it again (an agent's phone dropped)
                await ari.destroy_bridge(bridge_id)
            case cmd.Hangup(reason):
                await ari.hangup(channel, reason)
            case cmd.SetVariable(name, value):
                await ari.set_variable(channel, name, value)
            case cmd.ContinueInDialplan(context, extension):
                await ari.continue_in_dialplan(channel, context, extension)

    async def _join(self, bridge_id: str, agent_channel: str) -> None:
        if bridge_id not in self._bridges:  # made by another channel, or its creation failed
            await self._make_bridge(bridge_id)
        try:
            await self._ari.add_to_bridge(bridge_id, [self.channel_id, agent_channel])
        except AriNotFound as exc:
            if not _bridge_gone(exc):
                raise
            # Gone between its making and the join (destroyed by whoever): made again, joined
            # once more; a second refusal is the command's failure.
            self._bridges.discard(bridge_id)
            await self._make_bridge(bridge_id)
            await self._ari.add_to_bridge(bridge_id, [self.channel_id, agent_channel])

    async def _make_bridge(self, bridge_id: str) -> None:
        """The call's bridge made, or found made already (409): a bridge's id is its place's,
        and a person's second call that took the place over while an agent rang gets the
        bridge the first call's channel made; a router started again finds the one its
        stopped predecessor made. (Refused as a failure, it hung up the call the agent
        had just answered.)"""
        try:
            await self._ari.create_bridge(bridge_id)
        except AriError as exc:
            if exc.status != HTTPStatus.CONFLICT:
                raise
        self._bridges.add(bridge_id)

    async def _stop(self, playback_id: str) -> None:
        # The resends are set going before the request: its PlaybackFinished may come first.
        if playback_id not in self._stopping:
            self._stopping[playback_id] = asyncio.create_task(self._stop_until_finished(playback_id))
        try:
            await self._ari.stop_playback(playback_id)
        except AriNotFound:
            self.finished(playback_id)  # over already
            raise

    def finished(self, playback_id: str) -> None:
        """Asterisk said the playback ended: its stop is not sent again."""
        task = self._stopping.pop(playback_id, None)
        if task is not None:
            task.cancel()

    async def _stop_until_finished(self, playback_id: str) -> None:
        """The stop sent again every STOP_AGAIN_SECONDS until Asterisk says the playback
        ended (``finished``) or no longer knows it. Asterisk 22 loses a stop that comes
        while a ``number:`` of a media list is said (204, or 500 when the number is the
        list's first sound) and plays the list on; a bridge join queued behind the
        playback would wait for its end while the agent talks to silence. Sent at once,
        not behind this channel's queue; the common stop ends before the first resend."""
        try:
            for _ in range(STOP_AGAIN_TIMES):
                await asyncio.sleep(STOP_AGAIN_SECONDS)
                try:
                    await self._ari.stop_playback(playback_id)
                except AriNotFound:
                    return
                except (AriError, OSError, TimeoutError) as exc:  # a number again: the next try
                    log.info("stopping playback %s again on %s: %s", playback_id, self.channel_id, exc)
                    continue
                log.info(
                    "playback %s on %s played on after its stop: stopped again", playback_id, self.channel_id
                )
        finally:
            if self._stopping.get(playback_id) is asyncio.current_task():
                del self._stopping[playback_id]

    async def _hold(self, command: cmd.StartMoh | cmd.StopMoh) -> None:
        """Music: in a shared holding bridge, or on the channel itself."""
        channel = self.channel_id
        started = time.monotonic()
        match command:
            case cmd.StartMoh() if self._hold_bridge is not None:
                if self._held:
                    return
                try:
                    await self._ari.add_to_bridge(self._hold_bridge, [channel])
                    self._held = True
                except AriNotFound as exc:
                    if not _bridge_gone(exc):
                        raise
                    # The shared holding bridge is gone (its making failed at the connect):
                    # this caller's music on their own channel from now on, not a hang-up.
                    log.warning("holding bridge %s gone: music on channel %s", self._hold_bridge, channel)
                    self._hold_bridge = None
                    await self._ari.start_moh(channel)
            case cmd.StopMoh() if self._hold_bridge is not None:
                return  # stays in the holding bridge; the next sound plays over the music
            case cmd.StartMoh():
                await self._ari.start_moh(channel)
            case cmd.StopMoh():
                await self._ari.stop_moh(channel)
                return
        self._metrics.hold_start.observe(time.monotonic() - started)
