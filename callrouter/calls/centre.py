"""The shell around the core ``Centre``: one owner of the queue and the agents.

It applies the centre's transitions in order (all on the event loop, so no
locks), and carries out their commands: originate to an agent's softphone
(with an id we choose, so its events match at once), cancel a ring, hand the
answered agent to the caller's session, overflow, and record agent states.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from callrouter.ari.client import AriClient, AriError, AriNotFound
from callrouter.core import call_events as ev
from callrouter.core import centre as cc
from callrouter.core.agents import Agent, AgentState
from callrouter.core.estimate import estimate_minutes
from callrouter.core.queue import QueueEntry
from callrouter.core.records import AgentStateRecord
from callrouter.metrics import Metrics
from callrouter.store.writer import RecordWriter

log = logging.getLogger(__name__)

AGENT_COMMANDS = frozenset({"login", "logout", "pause", "resume"})


class CallFeed(Protocol):
    """What the runner needs of a caller's session."""

    def feed(self, event: ev.CallEvent) -> None: ...


@dataclass
class Leg:
    """An agent's channel, originated for one queue entry."""

    channel_id: str
    agent_id: str
    entry_id: str
    answered: bool = False
    # The caller is gone and the router is hanging this phone up: kept until
    # Asterisk has done so (or no longer knows it), so reconcile can try again.
    ending: bool = False
    # Hangs up a phone still ringing after the ring timeout, in case Asterisk
    # never reports the end of the ring; cancelled once it answers or ends.
    guard: asyncio.TimerHandle | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class RingSettings:
    app: str
    ring_seconds: float
    estimate_window: int = 20


class CentreRunner:
    def __init__(
        self,
        centre: cc.Centre,
        ari: AriClient,
        writer: RecordWriter,
        metrics: Metrics,
        ring: RingSettings,
        clock: Callable[[], datetime],
    ) -> None:
        self.centre = centre
        self._ari = ari
        self._writer = writer
        self._metrics = metrics
        self._ring = ring
        self._clock = clock
        self._callers: dict[str, CallFeed] = {}
        self.legs: dict[str, Leg] = {}
        self._leg_of: dict[str, str] = {}  # entry_id -> agent channel id
        self._legs_made = 0
        self._handle_seconds: deque[float] = deque(maxlen=ring.estimate_window)
        self._talk_started: dict[str, datetime] = {}  # agent_id -> when the call was bridged
        self._tasks: set[asyncio.Task[object]] = set()
        # Each caller's mixing bridge, created while their first agent rings
        # (ARI-NOTES 16), so the answer needs one REST call fewer.
        self._bridges: dict[str, asyncio.Task[bool]] = {}

    # -- calls' side ------------------------------------------------------------
    def join(self, entry: QueueEntry, caller: CallFeed) -> None:
        self._callers[entry.entry_id] = caller
        if entry.caller_key is not None and self.centre.queue.by_caller(entry.caller_key) is not None:
            # The same number on a second line while already waiting. Merging the
            # two into one place is the repeat-callers work; until then both wait.
            log.info(
                "a caller already waiting called again; queued separately", extra={"caller": entry.caller_key}
            )
            entry = replace(entry, caller_key=None)
        self._apply(cc.join(self.centre, entry, self._clock()))

    def leave(self, entry_id: str) -> None:
        self._apply(cc.leave(self.centre, entry_id, self._clock()))

    def announcement(self, entry_id: str) -> ev.Announce | ev.BeingOffered | None:
        """The caller's place and estimate; BeingOffered while their agent rings;
        None when they are not queued."""
        entry = self.centre.queue.entries.get(entry_id)
        if entry is None:
            return None
        if entry.offered_to is not None:
            return ev.BeingOffered()
        position = self.centre.queue.position(entry_id)
        serving = sum(
            1
            for a in self.centre.agents.values()
            if a.state is not AgentState.LOGGED_OUT and a.can_serve(entry.topic, entry.language)
        )
        return ev.Announce(position, estimate_minutes(position, serving, list(self._handle_seconds)))

    def call_over(self, entry_id: str) -> None:
        """The caller's session ended: release the agent (and their channel) if
        connected, and forget the call: nothing of it stays once it is over."""
        if entry_id in self.centre.queue:
            self.leave(entry_id)  # a session that ended abnormally never keeps a place
        self._callers.pop(entry_id, None)
        self._bridges.pop(entry_id, None)
        self.centre = cc.forget_ended(self.centre, [entry_id])
        channel_id = self._leg_of.get(entry_id)
        leg = self.legs.get(channel_id) if channel_id is not None else None
        if leg is not None and leg.answered and not leg.ending:
            leg.ending = True
            self._spawn(self.end_leg(leg.channel_id))

    def ending_legs(self) -> list[str]:
        """Answered agents' phones the router hangs up and Asterisk has not yet let go."""
        return [channel_id for channel_id, leg in self.legs.items() if leg.ending]

    async def end_leg(self, channel_id: str) -> None:
        """Hang up an answered agent's phone whose caller is gone. The leg (and the
        agent's call) ends once Asterisk has hung it up or does not know it: its
        end event may never come (a lost BYE, a channel gone with the caller's).
        A failed hangup keeps the leg, and the agent on the call, for reconcile."""
        if channel_id in self.legs and await self._hangup_leg(channel_id):
            self.leg_gone(channel_id, "hung up by the router")

    # -- agents' channels --------------------------------------------------------
    def leg_answered(self, channel_id: str) -> None:
        leg = self.legs.get(channel_id)
        if leg is None:
            return
        leg.answered = True
        if leg.guard is not None:
            leg.guard.cancel()
        self._apply(cc.agent_answered(self.centre, leg.agent_id, leg.entry_id, self._clock()))

    def leg_gone(self, channel_id: str, cause: str) -> None:
        leg = self.legs.pop(channel_id, None)
        if leg is None:
            return
        if leg.guard is not None:
            leg.guard.cancel()
        if self._leg_of.get(leg.entry_id) == channel_id:
            del self._leg_of[leg.entry_id]
        if leg.answered:
            caller = self._callers.get(leg.entry_id)
            if caller is not None:
                caller.feed(ev.AgentLeft())
            self._call_ended(leg)
            return
        caller = self._callers.get(leg.entry_id)
        if caller is not None:
            caller.feed(ev.AgentMissed(leg.agent_id, cause))
        self._apply(cc.agent_not_answered(self.centre, leg.agent_id, leg.entry_id, self._clock(), cause))

    def _call_ended(self, leg: Leg) -> None:
        now = self._clock()
        started = self._talk_started.pop(leg.agent_id, None)
        if started is not None:
            self._handle_seconds.append((now - started).total_seconds() + self.centre.wrap_up.total_seconds())
        self._apply(cc.call_ended(self.centre, leg.agent_id, leg.entry_id, now))

    # -- agents' commands ----------------------------------------------------------
    def agent_command(self, agent_id: str, command: str, reason: str = "") -> Agent:
        """login / logout / pause / resume; raises AgentStateError when not allowed now."""
        self._apply(cc.agent_command(self.centre, agent_id, command, self._clock(), reason))
        return self.centre.agents[agent_id]

    def set_reachable(self, agent_id: str, reachable: bool) -> None:
        if agent_id in self.centre.agents:
            self._apply(cc.set_reachable(self.centre, agent_id, reachable, self._clock()))

    def reprioritise(self, entry_id: str, priority: int) -> QueueEntry:
        """Change a waiting caller's priority; the queue reorders at once.
        Raises QueueError when the caller is not queued."""
        self._apply(cc.reprioritise(self.centre, entry_id, priority, self._clock()))
        return self.centre.queue.entries[entry_id]

    async def tick_loop(self, every: float = 1.0) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                self._apply(cc.tick(self.centre, self._clock()))
            except Exception:  # one bad tick must not end wrap-ups and overflows for good
                log.exception("centre tick failed")
            if len(self.centre.ended) > 1000:
                self.centre = cc.forget_ended(self.centre, list(self.centre.ended))

    # -- carrying out the centre's commands ---------------------------------------
    def _apply(self, result: cc.Result) -> None:
        self.centre, commands = result
        for command in commands:
            match command:
                case cc.RingAgent(agent_id, entry_id):
                    self._ring_agent(agent_id, entry_id)
                case cc.CancelRing(_, entry_id):
                    channel_id = self._leg_of.get(entry_id)
                    if channel_id is not None:
                        self._spawn(self._hangup_leg(channel_id))
                case cc.Connect(agent_id, entry_id):
                    self._connect(agent_id, entry_id)
                case cc.OverflowEntry(entry_id, reason):
                    caller = self._callers.get(entry_id)
                    if caller is not None:
                        caller.feed(ev.Overflowed(reason))
                case cc.AgentChanged(agent, reason):
                    self._record_agent(agent, reason)

    def _record_agent(self, agent: Agent, reason: str) -> None:
        # A pause is recorded with its own reason ("lunch", "auto-pause: no answer"),
        # which a restarted router gives back to the agent.
        paused = agent.state is AgentState.PAUSED
        said = (agent.pause_reason or reason) if paused else reason
        record = AgentStateRecord(agent.agent_id, self._clock(), agent.state.value, said, agent.entry_id)
        # Changes a restart must keep (log in/out, pause, resume) are written at once.
        self._writer.submit(record, urgent=paused or reason in AGENT_COMMANDS)

    def restore_agents(self, last: dict[str, AgentStateRecord]) -> None:
        """Give agents the states the previous process left them in (at start)."""
        self._apply(cc.restore_agents(self.centre, last, self._clock()))
        log.info(
            "agents restored: %s",
            ", ".join(f"{a.agent_id} {a.state.value}" for a in self.centre.agents.values()) or "none",
        )

    def adopt_connected(self, entry_id: str, caller: CallFeed, channel_id: str, agent_id: str) -> bool:
        """After a restart: a caller still talking to an agent. The agent is on that
        call (never rung for another) and each side's end reaches the other."""
        if agent_id not in self.centre.agents:
            return False
        now = self._clock()
        self.legs[channel_id] = Leg(channel_id, agent_id, entry_id, answered=True)
        self._leg_of[entry_id] = channel_id
        self._callers[entry_id] = caller
        self._talk_started[agent_id] = now
        self._apply(cc.resume_call(self.centre, agent_id, entry_id, now))
        return True

    def _connect(self, agent_id: str, entry_id: str) -> None:
        channel_id = self._leg_of.get(entry_id)
        caller = self._callers.get(entry_id)
        if channel_id is None or caller is None:
            return
        self._talk_started[agent_id] = self._clock()
        caller.feed(ev.AgentAnswered(agent_id, channel_id))

    def _ring_agent(self, agent_id: str, entry_id: str) -> None:
        self._legs_made += 1
        channel_id = f"agent-{entry_id}-{self._legs_made}"
        leg = Leg(channel_id, agent_id, entry_id)
        self.legs[channel_id] = leg
        self._leg_of[entry_id] = channel_id
        caller = self._callers.get(entry_id)
        if caller is not None:
            caller.feed(ev.AgentRinging(agent_id))
        entry = self.centre.queue.entries.get(entry_id)
        label = f"{entry.line} {entry.topic} {entry.language}" if entry else "callrouter"
        self._spawn(self._originate(leg, label))
        if entry_id not in self._bridges:
            self._bridges[entry_id] = asyncio.create_task(self._create_bridge(entry_id))

    async def _create_bridge(self, entry_id: str) -> bool:
        try:
            await self._ari.create_bridge(f"call-{entry_id}")
        except (AriError, OSError, TimeoutError) as exc:
            log.warning("creating the bridge for %s failed: %s", entry_id, exc)
            return False
        return True

    async def bridge_ready(self, entry_id: str) -> bool:
        """Wait for the caller's pre-made bridge; False when there is none (or it failed)."""
        task = self._bridges.get(entry_id)
        return await task if task is not None else False

    def bridge_made(self, entry_id: str) -> bool:
        return entry_id in self._bridges

    async def _originate(self, leg: Leg, label: str) -> None:
        try:
            await self._ari.originate(
                leg.channel_id,
                f"PJSIP/{leg.agent_id}",
                self._ring.app,
                f"agent,{leg.entry_id},{leg.agent_id}",
                self._ring.ring_seconds,
                f'"{label}" <{leg.agent_id}>',
            )
        except (AriError, OSError, TimeoutError) as exc:
            log.warning("ringing %s failed: %s", leg.agent_id, exc)
            self.leg_gone(leg.channel_id, "originate failed")
            return
        if leg.channel_id in self.legs and not leg.answered:
            # A timer, not a sleeping task: a phone that answers or ends leaves nothing behind.
            leg.guard = asyncio.get_running_loop().call_later(
                self._ring.ring_seconds + 5, self._ring_expired, leg.channel_id
            )

    def _ring_expired(self, channel_id: str) -> None:
        leg = self.legs.get(channel_id)
        if leg is not None and not leg.answered:
            self._spawn(self._give_up_ring(channel_id))

    async def _give_up_ring(self, channel_id: str) -> None:
        await self._hangup_leg(channel_id)
        self.leg_gone(channel_id, "ring timeout")

    async def end_stray_leg(self, channel_id: str) -> None:
        await self._hangup_leg(channel_id)

    async def _hangup_leg(self, channel_id: str) -> bool:
        """True once the channel is hung up or Asterisk does not know it."""
        try:
            await self._ari.hangup(channel_id)
        except AriNotFound:
            pass
        except (AriError, OSError, TimeoutError) as exc:
            log.warning("hanging up agent channel %s failed: %s", channel_id, exc)
            return False
        return True

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
