"""The shell around the switchboard: ARI events in, the switchboard's commands out.

Every ARI event becomes one switchboard event and one ``step``; the step's
commands are carried out here (a caller's channel commands by its executor, in
order; an agent's phone rung or hung up; records written; one timer for the
next deadline). What the switchboard learns of the calls Asterisk has, at
every (re)connect and periodically, ``calls.reconcile`` finds out. No business
rule lives here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from callrouter.ari import models as ari
from callrouter.ari.client import AriClient, AriError, AriNotFound, sent_once_more
from callrouter.calls import features, tally
from callrouter.calls.executor import ChannelExecutor
from callrouter.calls.outbound import Leases, Outbound, Route
from callrouter.calls.reconcile import Reconciler
from callrouter.calls.results_io import ResultsIO, Verifier
from callrouter.core import call_events as ev
from callrouter.core import switchboard as sb
from callrouter.core.callbacks import final
from callrouter.core.records import CallbackRecord, CallRecord, PlaceRecord
from callrouter.metrics import Metrics
from callrouter.store.results_dialler import ResultsDialler
from callrouter.store.writer import RecordWriter

log = logging.getLogger(__name__)
NORMAL_CLEARING = 16  # the Q.850 cause of a hang-up that gives none


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_place_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Shell:
    """What the shell itself needs to know (the switchboard's rules are in the board)."""

    app: str  # the Stasis application
    node: str
    agents: tuple[str, ...]  # whose softphones' endpoints are followed
    reconcile_seconds: float = 30.0
    hold: str = "channel"  # music: "channel" (its own) or "bridge" (shared holding bridges)
    hold_bridges: int = 1
    route: Route = field(default_factory=Route)  # where callbacks are dialled


class Dispatcher:
    def __init__(
        self,
        board: sb.Board,
        shell: Shell,
        ari_client: AriClient,
        writer: RecordWriter,
        metrics: Metrics,
        clock: Callable[[], datetime] = utcnow,
        leases: Leases | None = None,
    ) -> None:
        self._app = shell.app
        self._node = shell.node
        self._reconcile_seconds = shell.reconcile_seconds
        self._ari = ari_client
        self._writer = writer
        self._metrics = metrics
        self._clock = clock
        self.board = board
        self.executors: dict[str, ChannelExecutor] = {}
        self._calls_started = 0
        self.hold_bridge_ids = _hold_bridge_ids(shell.hold, shell.hold_bridges, shell.node)
        self._wake: asyncio.TimerHandle | None = None
        self._wake_at: datetime | None = None
        self._detached = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._outbound = Outbound(
            ari_client, shell.app, shell.node, shell.route, leases, self._step_safely, lambda: writer.backlog
        )
        self._results = ResultsIO(self._step_safely, clock)
        self._reconciler = Reconciler(
            ari_client, shell.app, shell.node, shell.agents, self.hold_bridge_ids, metrics,
            lambda: self.board, self._step_safely, self._hangup_leg, self._spawn, self._gone, self._idle,
        )  # fmt: skip

    def _idle(self, channel_id: str) -> bool:
        executor = self.executors.get(channel_id)
        return executor is None or executor.idle

    def use_results(self, store: ResultsDialler, verify: Verifier, lease_seconds: float) -> None:
        """Results calls: due notifications taken from ``store``, secrets checked with ``verify``."""
        # This process's own name as a lease holder: a restarted router (same node) takes its
        # predecessor's calls back at once, never its own finished ones before their records land.
        holder = f"{self._node}/{uuid.uuid4().hex[:12]}"
        self._results = ResultsIO(self._step_safely, self._clock, store, verify, holder, lease_seconds)

    def restore_places(self, places: Iterable[PlaceRecord]) -> None:
        """At start, before connecting: the places recorded waiting (PostgreSQL, then
        the spool). The first adoption hands them to the switchboard, which resumes
        the callers whose channels lost theirs and closes those whose calls are gone."""
        self._reconciler.restore_places(places)

    def read_callbacks_with(self, read: Callable[[list[str]], Awaitable[list[CallbackRecord]]]) -> None:
        """How a restart reads the callbacks whose conversations it finds (any state)."""
        self._reconciler.read_callbacks_with(read)

    def restore_callbacks(self, callbacks: Iterable[CallbackRecord], complete: bool = True) -> None:
        """The open callbacks stored before this start (PostgreSQL, then the spool), handed
        to the switchboard once connected (they may be dialled at once), at once after."""
        self._reconciler.restore_callbacks(callbacks, complete)

    @property
    def active_calls(self) -> int:
        return len(self.board.calls)

    @property
    def callbacks_pending(self) -> int:
        """Open callbacks: waiting for their turn or being dialled (not one talking)."""
        return sum(1 for callback in self.board.callbacks.values() if not final(callback))

    # -- the switchboard -----------------------------------------------------------
    def step(self, event: sb.Event) -> None:
        """One switchboard step, its commands carried out. A refused admin command
        raises (AgentStateError, KeyError, QueueError) and changes nothing."""
        self.board, commands = sb.step(self.board, event, self._clock())
        self._carry_out(commands)

    def _step_safely(self, event: sb.Event) -> None:
        try:
            self.step(event)
        except Exception:  # one bad event must never end the router
            log.exception("switchboard step failed for %s; event skipped", type(event).__name__)

    def _carry_out(self, commands: list[sb.Command]) -> None:
        for command in commands:
            tally.count(self._metrics, command)
            match command:
                case sb.ToChannel(channel_id, channel_command):
                    self._executor(channel_id).put(channel_command)
                case sb.Write(record, urgent):
                    self._writer.submit(record, urgent=urgent)
                case sb.WakeAt(at):
                    self._schedule_wake(at)
                case sb.Originate():
                    self._spawn(self._originate(command))
                case sb.HangupLeg(channel_id, reason):
                    self._spawn(self._hangup_leg(channel_id, reason))
                case sb.DestroyBridge(channel_id, _):
                    executor = self.executors.get(channel_id)
                    if executor is not None:
                        executor.put(command)
                    else:
                        self._spawn(self._destroy_bridge(command.bridge_id))
                case sb.CallOver(channel_id, record):
                    self._call_over(channel_id, record)
                case sb.LeaseCallback(callback_id):
                    self._spawn(self._outbound.lease(callback_id))
                case sb.Dial():
                    self._spawn(self._outbound.dial(command))
                case sb.TakeResults() | sb.ForResults():
                    self._spawn(self._results.carry_out(command, set(self.board.results)))

    def _executor(self, channel_id: str) -> ChannelExecutor:
        executor = self.executors.get(channel_id)
        if executor is None:
            executor = self.executors[channel_id] = ChannelExecutor(
                channel_id, self._ari, self._metrics, self._report, self._next_hold_bridge(), self._retired
            )
        return executor

    def _next_hold_bridge(self) -> str | None:
        bridges = self.hold_bridge_ids
        if not bridges:
            return None
        self._calls_started += 1
        return bridges[self._calls_started % len(bridges)]

    def _report(self, channel_id: str, event: ev.CallEvent) -> None:
        if not self._detached:
            self._step_safely(sb.OnCall(channel_id, event))

    def _call_over(self, channel_id: str, record: CallRecord) -> None:
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
        executor = self.executors.get(channel_id)
        if executor is not None:
            executor.close()

    def _retired(self, executor: ChannelExecutor) -> None:
        """A finished call's executor has carried out its last commands: forgotten."""
        if self.executors.get(executor.channel_id) is executor:
            del self.executors[executor.channel_id]

    # -- time -------------------------------------------------------------------------
    def _schedule_wake(self, at: datetime) -> None:
        if self._detached or (self._wake is not None and self._wake_at is not None and self._wake_at <= at):
            return
        if self._wake is not None:
            self._wake.cancel()
        delay = max(0.0, (at - self._clock()).total_seconds())
        self._wake_at = at
        self._wake = asyncio.get_running_loop().call_later(delay, self._woken)

    def _woken(self) -> None:
        self._wake = self._wake_at = None
        self._step_safely(sb.Wake())
        following = self.board.next_wake()
        if following is not None:
            self._schedule_wake(following)

    # -- agents' phones and bridges -------------------------------------------------------
    async def _originate(self, command: sb.Originate) -> None:
        """The agent's phone rung; once more when the router's connection broke (the agent
        is paused for a ring that fails, and that one is no doing of theirs). Sent again,
        a 409 (the id taken) says the first one went through."""
        try:
            await sent_once_more(
                lambda: self._ari.originate(
                    command.channel_id,
                    f"PJSIP/{command.agent_id}",
                    self._app,
                    command.app_args,
                    command.ring_seconds,
                    f'"{command.label}" <{command.number}>',
                ),
                f"ring of {command.agent_id}",
                taken=HTTPStatus.CONFLICT,
            )
        except (AriError, OSError, TimeoutError) as exc:
            log.warning("ringing %s failed: %s", command.agent_id, exc)
            self._step_safely(sb.LegGone(command.channel_id, "originate failed"))

    async def _hangup_leg(self, channel_id: str, reason: str) -> None:
        """Gone once Asterisk has hung it up or does not know it; a failed hangup
        keeps the leg (and its agent) for the reconcile check to try again."""
        try:
            await self._ari.hangup(channel_id)
        except AriNotFound:
            pass
        except (AriError, OSError, TimeoutError) as exc:
            log.warning("hanging up agent channel %s failed: %s", channel_id, exc)
            return
        self._step_safely(sb.LegGone(channel_id, reason))

    async def _destroy_bridge(self, bridge_id: str) -> None:
        with contextlib.suppress(AriError, OSError, TimeoutError):
            await self._ari.destroy_bridge(bridge_id)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- events -------------------------------------------------------------------------
    def handle(self, event: ari.Event) -> None:
        match event:
            case ari.StasisStart(args=args, channel=channel):
                self._stasis_start(args, channel, event.timestamp)
            case ari.ChannelDtmfReceived(channel=channel, digit=digit):
                self._on_call(channel.id, ev.Digit(digit))
            case ari.PlaybackFinished(playback=playback):
                channel_id = playback.target_uri.removeprefix("channel:")
                executor = self.executors.get(channel_id)
                if executor is not None:
                    executor.finished(playback.id)
                self._on_call(channel_id, ev.PlaybackFinished(playback.id))
            case ari.ChannelHangupRequest(channel=channel):
                # No cause (a plain BYE): Asterisk's ChannelDestroyed says 16, Normal Clearing.
                self._on_call(channel.id, ev.CallerHungUp(str(event.cause or NORMAL_CLEARING)))
            case ari.StasisEnd(channel=channel):
                self._gone(channel.id, "left the application")
            case ari.ChannelDestroyed(channel=channel, cause_txt=cause):
                self._gone(channel.id, cause)
            case ari.EndpointStateChange(endpoint=endpoint) if endpoint.technology == "PJSIP":
                if endpoint.resource in self.board.centre.agents:
                    self._step_safely(sb.Reachable(endpoint.resource, endpoint.state != "offline"))

    def _on_call(self, channel_id: str, event: ev.CallEvent) -> None:
        if channel_id in self.board.calls:
            self._step_safely(sb.OnCall(channel_id, event))

    def _gone(self, channel_id: str, cause: str) -> None:
        if channel_id in self.board.calls:
            self._step_safely(sb.OnCall(channel_id, ev.ChannelGone(cause)))
        elif channel_id in self.board.legs:
            self._step_safely(sb.LegGone(channel_id, cause))
        elif channel_id in self.board.result_dials:  # a results call's patient, before answering
            self._step_safely(sb.DialGone(channel_id, cause))
        elif channel_id in self.board.dials:  # a callback's person
            self._step_safely(sb.DialGone(channel_id, cause))
            executor = self.executors.get(channel_id)
            if executor is not None:
                executor.close()

    def _stasis_start(self, args: list[str], channel: ari.Channel, at: datetime) -> None:
        kind = args[0] if args else ""
        if kind == "inbound" and channel.id not in self.board.calls:
            did = args[1] if len(args) > 1 else channel.dialplan.exten
            presentation = args[2] if len(args) > 2 else ""  # CALLERID(pres) (dialplans/callrouter.conf)
            self._arrive(channel, did, presentation, at)
        elif kind == "agent" and channel.id in self.board.legs:
            self._step_safely(sb.LegAnswered(channel.id))
        elif kind == "agent":  # rung by a router before a restart: nobody waits on it now
            log.info("hanging up agent channel %s that no call of this router rang", channel.id)
            self._spawn(self._hangup_leg(channel.id, "stray"))
        elif kind == "callback" and channel.id in self.board.dials:
            self._step_safely(sb.DialAnswered(channel.id))
        elif kind == "callback":  # dialled by a router before a restart: nobody waits on it now
            self._spawn(self._hangup_leg(channel.id, "stray"))
        elif kind == "results" and channel.id in self.board.result_dials:
            self._step_safely(sb.DialAnswered(channel.id))
        elif kind == "results":  # dialled by a router before a restart: its attempt is over
            self._spawn(self._hangup_leg(channel.id, "stray"))
        elif kind == "feature" and len(args) >= 3:
            self._spawn(features.run(self._ari, self.step, channel.id, args[1], args[2]))

    def _arrive(self, channel: ari.Channel, did: str, presentation: str, at: datetime) -> None:
        # Behind: the call's own event came late, or Asterisk answers most requests slowly.
        lag = max((self._clock() - at).total_seconds(), self._ari.round_trip)
        up = channel.state == "Up"
        was = self.board.admission
        number = channel.caller.number
        self._step_safely(sb.Arrived(channel.id, did, number, at, new_place_id(), up, lag, presentation))
        now = self.board.admission
        if now is not None and now.limiting != (was is not None and was.limiting):
            if now.limiting:
                log.warning(
                    "router overloaded (%.2f s behind): admitting %.0f new calls/s", lag, now.rate or 0
                )
            else:
                log.info("router keeping up again: admitting every new call")

    # -- (re)connect and reconcile (calls.reconcile) ----------------------------------------
    async def on_connect(self) -> None:
        await self._reconciler.on_connect()

    async def reconcile(self, adopt: bool) -> None:
        """Tell the switchboard which of its calls (and answered agents' phones) left
        Asterisk; retry hanging up phones whose caller left; adopt unknown channels."""
        await self._reconciler.reconcile(adopt)

    async def reconcile_loop(self) -> None:
        while True:
            await asyncio.sleep(self._reconcile_seconds)
            try:
                await self.reconcile(adopt=False)
            except Exception:  # never the end of the checks: said, and the next one comes
                log.exception("the check against Asterisk failed")

    def detach(self) -> None:
        """Stop following calls without touching them (a stop, not a hang-up): the
        next router adopts them where they are."""
        self._detached = True
        if self._wake is not None:
            self._wake.cancel()
        for executor in self.executors.values():
            executor.cancel()
        for task in self._tasks:
            task.cancel()

    async def drain(self, within: float) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=within)


def _hold_bridge_ids(hold: str, count: int, node: str) -> list[str]:
    """The shared holding bridges, named after the node so a restarted router finds them again."""
    if hold != "bridge":
        return []
    name = f"callrouter-hold-{node}"
    return [name] if count == 1 else [f"{name}-{n}" for n in range(1, count + 1)]
