"""The calls a restart (or a WebSocket drop) leaves in the application that the
switchboard does not know, taken up from what each channel kept on itself: a
caller's place (or that they were told their last message), menu level, a results
call's patient, the agent's phone and the bridge a talking pair shares, and a
callback's conversation. ``reconcile.Reconciler`` decides when; this reads Asterisk
and hands the switchboard one ``Adopt``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from callrouter.ari import models as ari
from callrouter.ari.client import AriClient, AriError
from callrouter.core import switchboard as sb
from callrouter.core.call import call_id_for
from callrouter.core.place import (
    MENU_VARIABLE,
    PATIENT_VARIABLE,
    Ended,
    MenuLevel,
    Patient,
    Place,
    place_id_of,
)
from callrouter.core.place import VARIABLE as PLACE_VARIABLE
from callrouter.core.records import CallbackRecord, CallbackState, PlaceRecord, callback_key
from callrouter.core.results_call import RESULTS_DID
from callrouter.metrics import Metrics

log = logging.getLogger(__name__)


class Unreadable(Exception):
    """A channel's variable Asterisk would not tell (an error, not "not set")."""


# A caller's channel to adopt: its DID, CALLERID(pres), and for a results call's patient
# waiting for a consultant, what their channel kept of them.
Caller = tuple[ari.Channel, str, str, Patient | None]


class Adopter:
    def __init__(
        self,
        ari_client: AriClient,
        node: str,
        hold_bridge_ids: list[str],
        metrics: Metrics,
        step: Callable[[sb.Event], None],
        hangup_leg: Callable[[str, str], Coroutine[Any, Any, None]],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        self._ari = ari_client
        self._node = node
        self._hold_bridge_ids = hold_bridge_ids
        self._metrics = metrics
        self._step = step
        self._hangup_leg = hangup_leg
        self._spawn = spawn
        # The places recorded waiting before a restart (PostgreSQL, then the spool), until
        # an adoption hands them to the switchboard.
        self.stored_places: tuple[PlaceRecord, ...] = ()
        # The callbacks named, in any state (a conversation's, found at a restart).
        self.read_callbacks: Callable[[list[str]], Awaitable[list[CallbackRecord]]] | None = None

    async def adopt(self, channel_ids: set[str]) -> bool:
        """Channels in the application that the switchboard does not know (a router
        before a restart, or before a WebSocket drop, had them): what each kept on
        itself goes to the switchboard, all in one step. False: a channel could not be
        read (taken up at the next check; an agent's phone no call was found for is
        left up till then: it may be that channel's)."""
        legs: dict[str, tuple[str, str]] = {}  # entry id -> (agent channel, agent id)
        callers: list[Caller] = []
        patients: list[ari.Channel] = []  # results calls' patients (dialled by the router)
        dialled: dict[str, ari.Channel] = {}  # callback id -> the person's channel
        unread: set[str] = set()  # the call ids of channels Asterisk listed but would not describe
        for channel_id in sorted(channel_ids):  # sorted: the same every time
            try:
                channel = await self._ari.get_channel(channel_id)
            except (AriError, OSError, TimeoutError):
                unread.add(call_id_for(self._node, channel_id))
                continue
            parts = channel.dialplan.app_data.split(",")
            if len(parts) >= 4 and parts[1] == "agent":
                legs[parts[2]] = (channel_id, parts[3])
            elif len(parts) >= 3 and parts[1] == "callback":
                dialled[parts[2]] = channel
            elif len(parts) >= 2 and parts[1] == "results":
                patients.append(channel)
            elif len(parts) >= 3 and parts[1] == "inbound":
                callers.append((channel, parts[2], parts[3] if len(parts) >= 4 else "", None))
        found = []
        # A channel that lost its place still has it among the stored ones; an agent's
        # leg names the place it was rung for.
        stored_ids = {p.call_id: p.place_id for p in self.stored_places if p.call_id is not None}
        callers += await self._patients(patients, unread)
        listed = await self._listed_bridges() if legs else []  # None: Asterisk would not say
        # Each channel in a bridge of two or more (a talking pair's): the bridge's id.
        pairs = [b for b in listed or () if len(b.channels) > 1]
        bridges = None if listed is None else {c: b.id for b in pairs for c in b.channels}
        for caller in callers:
            channel = caller[0]
            call_id = call_id_for(self._node, channel.id)
            try:
                kept = await self._variable(channel.id, PLACE_VARIABLE)  # a place, or ["ended", ...]
                place = Place.from_variable(kept)
                place_id = place_id_of(place, stored_ids.get(call_id, call_id))
                agent_channel, agent_id = legs.pop(place_id, (None, None))
                found.append(await self._found(caller, place, kept, agent_id, agent_channel, bridges))
            except Unreadable:  # what it kept is not known now: at the next check
                unread.add(call_id)
                continue
            log.info("adopting call on channel %s after reconnect", channel.id)
            self._metrics.calls_reconciled.labels(action="adopted").inc()
        talking = await self._talking_callbacks(dialled, legs)
        if unread:  # an agent's phone left may be talking to a caller not read: both at the next check
            legs = {}
        for channel_id, _ in legs.values():
            log.info("hanging up agent channel %s: no adopted call waits on it", channel_id)
        # A stored place whose channel could not be read waits for the next adoption.
        stored = tuple(p for p in self.stored_places if p.call_id not in unread)
        self.stored_places = tuple(p for p in self.stored_places if p.call_id in unread)
        # Told when complete even if nothing was found: agents a restart found on no call are so.
        if found or legs or stored or talking or not unread:
            stray = tuple(channel_id for channel_id, _ in legs.values())
            self._step(sb.Adopt(tuple(found), stray, stored, tuple(talking), complete=not unread))
            await self._end_lone_bridges(listed or [], set(stray))
        return not unread

    async def _end_lone_bridges(self, listed: list[ari.Bridge], stray: set[str]) -> None:
        """Of the bridges listed, those that hold only agents' phones hung up as strays: a
        pair whose caller or person left while no router ran. Destroyed: nobody else
        would, and each stayed in Asterisk, empty, for good."""
        for bridge in listed:
            if bridge.channels and set(bridge.channels) <= stray:
                try:
                    await self._ari.destroy_bridge(bridge.id)
                except (AriError, OSError, TimeoutError) as exc:
                    log.warning("bridge %s of a stray agent's phone not destroyed: %s", bridge.id, exc)

    async def _talking_callbacks(
        self, dialled: dict[str, ari.Channel], legs: dict[str, tuple[str, str]]
    ) -> list[sb.FoundCallback]:
        """Callbacks' people dialled by a router before: one who answered (up, with the
        agent's phone the router rang for the callback) talks on, with the callback as
        stored (one that cannot be read, PostgreSQL away: as answered, from what its
        channel says); any other attempt is over, and hung up."""
        answered = {i: c for i, c in dialled.items() if c.state == "Up" and i in legs}
        records = await self._callbacks_named(list(answered)) if answered else {}
        found = []
        for callback_id, channel in dialled.items():
            if callback_id not in answered:
                log.info("hanging up outbound channel %s of a router before", channel.id)
                self._spawn(self._hangup_leg(channel.id, "stray"))
                continue
            record = records.get(callback_key(callback_id)) or _unread(callback_id, channel)
            agent_channel, agent_id = legs.pop(callback_id)
            log.info(
                "following callback %s's conversation on channel %s after a restart", callback_id, channel.id
            )
            self._metrics.calls_reconciled.labels(action="adopted").inc()
            found.append(sb.FoundCallback(channel.id, callback_id, record, agent_id, agent_channel))
        return found

    async def _callbacks_named(self, callback_ids: list[str]) -> dict[str, CallbackRecord]:
        """The callbacks as stored (PostgreSQL, then the spool), by ``callback_key``; none when
        they cannot be read (their conversations are followed as answered: ``_unread``)."""
        if self.read_callbacks is None:
            return {}
        try:
            records = await self.read_callbacks(callback_ids)
        except Exception as exc:
            log.warning("callbacks %s not read (%s): followed as answered", callback_ids, exc)
            return {}
        return {callback_key(r.callback_id): r for r in records}

    async def _listed_bridges(self) -> list[ari.Bridge] | None:
        """The bridges in Asterisk but the holding ones; None: Asterisk would not say."""
        try:
            listed = await self._ari.list_bridges()
        except (AriError, OSError, TimeoutError) as exc:
            log.warning("the bridges not looked at: %s", exc)
            return None
        holding = set(self._hold_bridge_ids)
        return [b for b in listed if b.id not in holding]

    async def _found(
        self,
        caller: Caller,
        place: Place | None,
        kept: str | None,
        agent_id: str | None,
        agent_channel: str | None,
        bridges: dict[str, str] | None,
    ) -> sb.Found:
        """A caller's channel as the switchboard takes it up: what it kept of its place
        (``kept``, as read: the place, or that it was told its last message), else of the
        menu; talking, the bridge it shares with the agent's phone, or none (``bridges``
        None: not known)."""
        channel, did, presentation, patient = caller
        ended = None if place else Ended.from_variable(kept)
        menu = None
        if place is None and ended is None:
            menu = MenuLevel.from_variable(await self._variable(channel.id, MENU_VARIABLE))
        number, line = channel.caller.number, None
        if patient is not None:  # waiting for a consultant, or talking to one
            number, line = patient.number, patient.line
        shared = bridges.get(channel.id) if bridges is not None else None
        if agent_channel is None or bridges is None or shared != bridges.get(agent_channel):
            shared = None
        unbridged = agent_channel is not None and bridges is not None and shared is None
        return sb.Found(
            channel.id, did, number, channel.creationtime, place, menu, agent_id, agent_channel, presentation,
            line, ended, shared, unbridged,
        )  # fmt: skip

    async def _patients(self, channels: list[ari.Channel], unread: set[str]) -> list[Caller]:
        """Results calls dialled by a router before: a patient who had asked for a
        consultant (their line and number, and a place, kept on the channel) is adopted
        as a caller waiting for one, or talking to one; any other attempt is over (a
        results call is taken again once its lease is free, never told twice). One whose
        channel could not be read is left to the next check (``unread``)."""
        adopted: list[Caller] = []
        for channel in channels:
            try:
                patient = Patient.from_variable(await self._variable(channel.id, PATIENT_VARIABLE))
                placed = patient is not None and await self._variable(channel.id, PLACE_VARIABLE)
            except Unreadable:
                unread.add(call_id_for(self._node, channel.id))
                continue
            if patient is not None and placed:
                adopted.append((channel, RESULTS_DID, "", patient))
                continue
            log.info("hanging up outbound channel %s of a router before", channel.id)
            self._spawn(self._hangup_leg(channel.id, "stray"))
        return adopted

    async def _variable(self, channel_id: str, name: str) -> str | None:
        """The channel variable (None: not set); ``Unreadable`` when Asterisk would not say:
        taken for "not set", a waiting caller would start afresh and a patient be hung up."""
        try:
            return await self._ari.get_variable(channel_id, name)
        except (AriError, OSError, TimeoutError) as exc:
            raise Unreadable(channel_id) from exc


def _unread(callback_id: str, channel: ari.Channel) -> CallbackRecord:
    """A callback talking whose record cannot be read: answered (its conversation is
    followed to its end; nothing of it is written, as answered it was recorded so)."""
    at = channel.creationtime
    number = channel.connected.number or channel.caller.number or ""
    return CallbackRecord(
        callback_id, at, CallbackState.COMPLETED, number, at, at, "", "", "", 0,
        reason="taken up after a restart; its record could not be read",
    )  # fmt: skip
