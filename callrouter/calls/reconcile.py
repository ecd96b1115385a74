"""What the router and Asterisk agree on, at each (re)connect and at each check.

On every (re)connect it tells each call that keys pressed meanwhile were lost,
sets the application's event filter, follows the agents' softphones, prepares
the shared holding bridges and hands the switchboard the calls already in the
application (a restart or a WebSocket drop leaves them there: ``adoption``),
with the places and callbacks stored before a restart; at each check it tells
the switchboard which of its calls, answered agents' phones and people dialled
Asterisk no longer has. No business rule lives here: what a found call or a
gone one means is the switchboard's.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

from callrouter.ari.client import AriClient, AriError
from callrouter.ari.models import Channel
from callrouter.calls.adoption import Adopter
from callrouter.core import call_events as ev
from callrouter.core import switchboard as sb
from callrouter.core.board_centre import RING_LOST
from callrouter.core.records import CallbackRecord, PlaceRecord
from callrouter.metrics import Metrics

log = logging.getLogger(__name__)

# The ids the switchboard gives the channels it originates (``Rules.originated``).
ORIGINATED = ("agent-", "callback-", "results-")
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


# Seconds between the looks at a connect when Asterisk answered one with an error (then at each check).
ADOPT_RETRIES = (0.5, 1.0, 2.0)
# The least time between two looks for the people dialled (gone only if missing at two).
DIALS_LOOK_SECONDS = 5.0


class Reconciler:
    def __init__(
        self,
        ari_client: AriClient,
        app: str,
        node: str,
        agents: tuple[str, ...],
        hold_bridge_ids: list[str],
        metrics: Metrics,
        board: Callable[[], sb.Board],
        step: Callable[[sb.Event], None],
        hangup_leg: Callable[[str, str], Coroutine[Any, Any, None]],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
        gone: Callable[[str, str], None],
        idle: Callable[[str], bool] = lambda _: True,
    ) -> None:
        """``board``: the switchboard as it is now; ``step``: one switchboard step,
        its commands carried out; ``hangup_leg``, ``spawn`` and ``gone`` (a channel
        Asterisk no longer has, as its ChannelDestroyed would say): the dispatcher's;
        ``idle``: whether a channel has no command of the router's on its way."""
        self._ari = ari_client
        self._app = app
        self._node = node
        self._agents = agents
        self._hold_bridge_ids = hold_bridge_ids
        self._metrics = metrics
        self._board = board
        self._step = step
        self._hangup_leg = hangup_leg
        self._spawn = spawn
        self._gone = gone
        self._idle = idle
        self._dials_unlisted: set[str] = set()  # people dialled Asterisk had not at the last check
        self._stored_callbacks: tuple[CallbackRecord, ...] = ()
        # The calls found in Asterisk are not all taken up yet (a look that failed): at the next check.
        self._adopt_pending = False
        self._lock = asyncio.Lock()
        self._dials_looked_at = -math.inf  # when the people dialled were last looked for
        self._callbacks_handed = False  # the stored callbacks went to the switchboard at a connect
        self._callbacks_complete = True  # PostgreSQL told them (not the spool's alone)
        self._adopter = Adopter(ari_client, node, hold_bridge_ids, metrics, step, hangup_leg, spawn)

    def read_callbacks_with(self, read: Callable[[list[str]], Awaitable[list[CallbackRecord]]]) -> None:
        self._adopter.read_callbacks = read

    def restore_places(self, places: Iterable[PlaceRecord]) -> None:
        self._adopter.stored_places = tuple(places)

    def restore_callbacks(self, callbacks: Iterable[CallbackRecord], complete: bool = True) -> None:
        """Handed to the switchboard at the first connect, or at once after it.
        Before it, a later read replaces an earlier one (PostgreSQL's, once every
        record written has landed, is the word on each)."""
        if self._callbacks_handed:
            self._step(sb.RestoreCallbacks(tuple(callbacks), complete))
        else:
            self._stored_callbacks, self._callbacks_complete = tuple(callbacks), complete

    async def on_connect(self) -> None:
        self._input_interrupted()
        try:
            await self._ari.set_event_filter(self._app, EVENT_FILTER)
        except AriError as exc:
            log.warning("could not set the event filter: %s", exc)
        await self._watch_agents()
        await self._hold_bridge()
        await self.reconcile(adopt=True)
        if self._adopt_pending:  # Asterisk answered a look with an error: soon again, events flowing
            self._spawn(self._adopt_again())
        if not self._callbacks_handed:  # once: later reconnects must not bring back finished ones
            callbacks, self._stored_callbacks, self._callbacks_handed = self._stored_callbacks, (), True
            # Always: the switchboard books no callback until it has them (callbacks_unknown).
            self._step(sb.RestoreCallbacks(callbacks, self._callbacks_complete))
        self._step(sb.PollResults())  # a look for due results now; the next ones on its own clock

    def _input_interrupted(self) -> None:
        """Keys pressed while the events' WebSocket was down are lost (Asterisk sends no
        event twice): each call is told, before anything else at the reconnect (its
        wait for more keys may end meanwhile), so a secret or number being keyed is
        asked again rather than taken short. None at the first connect."""
        for channel_id in sorted(self._board().calls):
            if channel_id in self._board().calls:
                self._step(sb.OnCall(channel_id, ev.InputInterrupted()))

    async def _adopt_again(self) -> None:
        """The looks after a failed one at a connect (then at each check, until done)."""
        for wait in ADOPT_RETRIES:
            await asyncio.sleep(wait)
            if not self._adopt_pending:
                return
            await self.reconcile(adopt=True)

    async def _hold_bridge(self) -> None:
        for bridge_id in self._hold_bridge_ids:
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
        if not self._agents:
            return
        try:
            await self._ari.subscribe(self._app, [f"endpoint:PJSIP/{a}" for a in self._agents])
            for agent_id in self._agents:
                endpoint = await self._ari.endpoint("PJSIP", agent_id)
                self._step(sb.Reachable(agent_id, endpoint.state != "offline"))
        except (AriError, OSError, TimeoutError) as exc:
            log.warning("could not follow the agents' endpoints: %s", exc)

    async def reconcile(self, adopt: bool) -> None:
        """Tell the switchboard which of its calls (answered agents' phones, people
        dialled) left Asterisk; retry hanging up phones whose caller left; adopt unknown
        channels (``adopt``, or an adoption a failed look left to do: every check until done).
        One at a time: two adoptions at once would each take up the same channels (a
        callback's conversation handed twice is hung up as a stray)."""
        async with self._lock:
            await self._reconcile(adopt or self._adopt_pending)

    async def _reconcile(self, adopt: bool) -> None:
        # Only what was known before asking: a call that arrives while the
        # list is on its way is not in it, and is not gone.
        known = set(self._board().calls)
        dials = set(self._board().dials) | set(self._board().result_dials)
        answered = [channel_id for channel_id, leg in self._board().legs.items() if leg.answered]
        ending = [channel_id for channel_id, leg in self._board().legs.items() if leg.ending]
        try:
            listed = set((await self._ari.application(self._app)).channel_ids)
        except (AriError, OSError, TimeoutError) as exc:
            log.warning("reconcile skipped: %s", exc)
            if adopt:  # the calls a router before left are followed by none: taken up at the next check
                self._adopt_pending = True
            return
        for channel_id in known - listed:
            if channel_id in self._board().calls:
                self._metrics.calls_reconciled.labels(action="cleared").inc()
                self._step(sb.OnCall(channel_id, ev.ChannelGone("not in Asterisk any more")))
        self._step(sb.StillThere(frozenset(known & listed)))
        for channel_id in answered:
            if channel_id not in listed:  # its end was never reported: the caller hears it now
                self._step(sb.LegGone(channel_id, "not in Asterisk any more"))
        for channel_id in ending:
            if channel_id in listed:  # its caller left and an earlier hangup failed
                await self._hangup_leg(channel_id, "caller gone")
        await self._dials_gone(dials - listed)
        if adopt:  # not a channel the switchboard follows: a call, an agent's phone, a person dialled
            board = self._board()
            dialled = (set(board.dials) | set(board.result_dials)) & listed
            # An agent's phone rung by this router is in the application once answered.
            rung = {channel_id for channel_id, leg in board.legs.items() if not leg.answered}
            channels = await self._all_channels()  # every channel, the application's or not
            await self._end_rings_before(listed, channels)  # before the adopted calls ring anyone
            self._adopt_pending = not await self._adopter.adopt(
                listed - set(board.calls) - set(board.legs) - dialled
            )
            await self._answered_meanwhile(dialled, rung & listed)
            await self._rings_lost(rung - listed, channels)
            await self._played_meanwhile(known & listed)

    async def _dials_gone(self, unlisted: set[str]) -> None:
        """People dialled (a callback's, a patient) whose channel Asterisk no longer has,
        its end never reported: gone, as if Asterisk had said so. A ringing one is not in
        the application, so all channels are asked; gone only if missing at two checks in
        a row (at the first, its originate may still be on its way), at least
        ``DIALS_LOOK_SECONDS`` apart (the looks after a failed one come quicker)."""
        now = asyncio.get_running_loop().time()
        if now - self._dials_looked_at < DIALS_LOOK_SECONDS:
            return
        self._dials_looked_at = now
        missing: set[str] = set()
        if unlisted:
            try:
                missing = unlisted - {channel.id for channel in await self._ari.list_channels()}
            except (AriError, OSError, TimeoutError) as exc:
                log.warning("the people dialled not looked for: %s", exc)
                return
        board = self._board()
        for channel_id in sorted(missing & self._dials_unlisted):
            if channel_id in board.dials or channel_id in board.result_dials:
                log.info("dialled channel %s is not in Asterisk any more", channel_id)
                self._gone(channel_id, "not in Asterisk any more")
        self._dials_unlisted = missing

    async def _all_channels(self) -> list[Channel] | None:
        """Every channel in Asterisk (a ring not yet answered is not the application's);
        None when Asterisk would not say."""
        try:
            return await self._ari.list_channels()
        except (AriError, OSError, TimeoutError) as exc:
            log.warning("the channels outside the application not looked at: %s", exc)
            return None

    async def _end_rings_before(self, listed: set[str], channels: list[Channel] | None) -> None:
        """Rings a router before originated and nobody answered yet (an agent's phone, a
        callback's person, a patient): not in the application until answered, so not
        adopted, and answered later they would be hung up at once. Ended now, before
        the calls taken up ring anyone (an agent rung twice at once may answer busy).
        This run's own (its mark) are never among them, even one rung while the list
        was on its way."""
        if channels is None:
            return
        board = self._board()
        ours = set(board.legs) | set(board.dials) | set(board.result_dials) | set(board.calls)
        mark = board.rules.originated("")  # "-<run>", or "" for a router that marks none
        for channel in channels:
            own = bool(mark) and channel.id.endswith(mark)
            if channel.id.startswith(ORIGINATED) and channel.id not in ours | listed and not own:
                log.info("hanging up %s, rung by a router before", channel.id)
                self._spawn(self._hangup_leg(channel.id, "rung by a router before"))

    async def _answered_meanwhile(self, dialled: set[str], rung: set[str]) -> None:
        """People dialled, and agents' phones rung, that answered while the events'
        WebSocket was down (their StasisStart lost): told now, or the person would hear
        silence until the ring's end and the attempt count as not answered, and the
        agent who picked up would be hung up and paused for a ring let go. Told twice,
        the switchboard ignores it."""
        for channel_id in sorted(dialled | rung):
            try:
                channel = await self._ari.get_channel(channel_id)
            except (AriError, OSError, TimeoutError):
                continue
            if channel.state == "Up":
                self._step(
                    sb.DialAnswered(channel_id) if channel_id in dialled else sb.LegAnswered(channel_id)
                )

    async def _rings_lost(self, rung: set[str], channels: list[Channel] | None) -> None:
        """Agents' phones answered while the application was away (Asterisk: "Stasis app
        not active"): up, but never to come to the router, the agent hearing silence and
        then paused at the ring's timeout, the caller never joined. Hung up, and the ring
        taken as lost, not missed (``RING_LOST``: the agent idle, the caller offered anew).
        Looked at twice: one answered between the looks enters the application."""
        up = {c.id for c in channels or () if c.id in rung and c.state == "Up"}
        if not up:
            return
        try:
            up -= set((await self._ari.application(self._app)).channel_ids)
        except (AriError, OSError, TimeoutError) as exc:
            log.warning("the agents' phones rung not looked at: %s", exc)
            return
        for channel_id in sorted(up):
            leg = self._board().legs.get(channel_id)
            if leg is not None and not leg.answered:
                log.info("agent channel %s answered while the application was away: rung again", channel_id)
                self._spawn(self._hangup_leg(channel_id, "answered while the application was away"))
                self._step(sb.LegGone(channel_id, RING_LOST))

    async def _played_meanwhile(self, calls: set[str]) -> None:
        """Prompts that ended while the events' WebSocket was down (their PlaybackFinished
        lost): told now, or the caller would hear silence with nothing to end it (a menu's
        wait for a key starts when its prompt ends; a last message's hang-up too). Only a
        channel with no command on its way (a prompt just started is not in Asterisk yet);
        told twice, the switchboard ignores it."""
        for channel_id in sorted(calls):
            call = self._board().calls.get(channel_id)
            playback = call.playback_id if call is not None else None
            if playback is None or not self._idle(channel_id):
                continue
            try:
                if await self._ari.playing(playback):
                    continue
            except (AriError, OSError, TimeoutError):
                continue
            call = self._board().calls.get(channel_id)
            if call is not None and call.playback_id == playback and self._idle(channel_id):
                log.info("playback %s ended while the events were away", playback)
                self._step(sb.OnCall(channel_id, ev.PlaybackFinished(playback)))
