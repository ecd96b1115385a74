"""A fake ARI playing a small Asterisk, and a driver that runs the real
Dispatcher (the shell around the pure switchboard, with its channel executors)
through it the way Asterisk would: calls arrive, press keys, agents' phones
ring and answer, callers hang up or vanish without a word."""

from __future__ import annotations

import asyncio
import weakref
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from callrouter import config
from callrouter.app import build_dispatcher, build_metrics
from callrouter.ari import models as ari
from callrouter.ari.fake import FakeAriClient, fake_channel
from callrouter.calls.executor import ChannelExecutor
from callrouter.core import switchboard as sb
from callrouter.core.records import Record
from callrouter.store.writer import RecordWriter

EXAMPLE = Path(__file__).resolve().parents[2] / "callrouter.example.toml"
CLINIC = "+78162700101"  # clinic-central: greeting and menu, "0" for an operator
R = TypeVar("R", bound=Record)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # Monday 10:00 in Moscow: the clinics are open

    def __call__(self) -> datetime:
        return self.now


class NullStore:
    async def write(self, records: Any) -> list[Any]:
        return []


class Asterisk(FakeAriClient):
    """The channels in the application, and the agents' phones being rung."""

    def __init__(self) -> None:
        super().__init__(history=20)  # 10,000 calls: the fake must not be what grows
        self.ringing: dict[str, str] = {}  # agent channel -> its application args "agent,<entry>,<agent>"
        self.hung_up: list[str] = []

    async def originate(
        self, channel_id: str, endpoint: str, app: str, app_args: str, ring_seconds: float, caller_id: str
    ) -> None:
        await super().originate(channel_id, endpoint, app, app_args, ring_seconds, caller_id)
        self.ringing[channel_id] = app_args

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await super().hangup(channel_id, reason)
        if self.ringing.pop(channel_id, None) is not None or channel_id in self.channels:
            self.hung_up.append(channel_id)  # a vanished channel says nothing


def up(channel_id: str) -> ari.Channel:
    return fake_channel(channel_id, exten=CLINIC).model_copy(update={"state": "Up"})


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


class Switchboard:
    """Drives a Dispatcher the way Asterisk would, a batch of calls at a time."""

    def __init__(self, tmp_path: Path, asterisk: Asterisk | None = None, remember: bool = True) -> None:
        text = EXAMPLE.read_text().replace("wrap_up_seconds = 10", "wrap_up_seconds = 0")
        if not remember:  # repeat callers are remembered for a day (by design): not here
            text = text.replace("resume_seconds = 600", "resume_seconds = 0")
            text = text.replace("contact_seconds = 86400", "contact_seconds = 0")
        settings = config.parse(text, str(EXAMPLE), environ={})
        metrics = self.metrics = build_metrics((line.name for line in settings.lines), settings)
        self.clock = Clock()
        self.asterisk = asterisk or Asterisk()
        self.writer = RecordWriter(NullStore(), tmp_path, metrics)
        self.dispatcher = build_dispatcher(settings, self.asterisk, self.writer, metrics, self.clock)
        self.calls = 0

    def recording(self, kind: type[R]) -> list[R]:
        """The records of ``kind`` this router submits to its writer, from now on."""
        written: list[R] = []
        submit = self.writer.submit

        def record(record: Record, urgent: bool = False) -> None:
            if isinstance(record, kind):
                written.append(record)
            submit(record, urgent)

        self.writer.submit = record  # type: ignore[method-assign]
        return written

    async def start(self) -> asyncio.Task[None]:
        """Connect, with every agent logged in; returns the record writer's task."""
        writing = asyncio.create_task(self.writer.run())
        await self.dispatcher.on_connect()
        for agent in self.dispatcher.board.centre.agents:
            self.dispatcher.step(sb.AgentCommand(agent, "login"))
        return writing

    def event(self, kind: type[ari.Event], **fields: Any) -> ari.Event:
        return kind.model_validate(
            {"type": kind.__name__, "application": "callrouter", "timestamp": self.clock(), **fields}
        )

    def arrive(self, channel_id: str) -> None:
        channel = self.asterisk.channels[channel_id] = up(channel_id)
        self.dispatcher.handle(self.event(ari.StasisStart, args=["inbound", CLINIC], channel=channel))

    def press(self, channel_id: str, digit: str) -> None:
        channel = self.asterisk.channels[channel_id]
        self.dispatcher.handle(
            self.event(ari.ChannelDtmfReceived, digit=digit, duration_ms=80, channel=channel)
        )

    def hang_up(self, channel_id: str) -> None:
        channel = self.asterisk.channels.pop(channel_id)
        self.dispatcher.handle(self.event(ari.ChannelHangupRequest, channel=channel, cause=16))
        self.dispatcher.handle(self.event(ari.StasisEnd, channel=channel))
        self.dispatcher.handle(
            self.event(ari.ChannelDestroyed, channel=channel, cause=16, cause_txt="Normal Clearing")
        )

    async def wait_for_operator(self, channel_id: str) -> None:
        """A call arrives and its caller presses 0 (the operator): queued."""
        self.arrive(channel_id)
        await settle()
        self.press(channel_id, "0")
        await settle()

    async def talk_to_an_agent(self, channel_id: str) -> tuple[str, str]:
        """A call the (one) free agent answers; its entry id and the agent's channel."""
        await self.wait_for_operator(channel_id)
        ((entry_id, agent_channel),) = self.answer_agents().items()
        await settle()
        return entry_id, agent_channel

    def answer_agents(self) -> dict[str, str]:
        """Every ringing agent answers; returns entry id -> agent channel."""
        answered = {}
        for channel_id, app_args in list(self.asterisk.ringing.items()):
            del self.asterisk.ringing[channel_id]
            entry_id = app_args.split(",")[1]
            channel = up(channel_id)  # in the application as Asterisk lists it: "<app>,agent,<entry>,<agent>"
            dialplan = channel.dialplan.model_copy(update={"app_data": f"callrouter,{app_args}"})
            channel = self.asterisk.channels[channel_id] = channel.model_copy(update={"dialplan": dialplan})
            self.dispatcher.handle(self.event(ari.StasisStart, args=app_args.split(","), channel=channel))
            answered[entry_id] = channel_id
        return answered

    def report_hang_ups(self) -> None:
        """Asterisk's events for the agents' phones the router hung up."""
        for channel_id in self.asterisk.hung_up:
            channel = self.asterisk.channels.pop(channel_id, None) or up(channel_id)
            self.dispatcher.handle(self.event(ari.StasisEnd, channel=channel))
            self.dispatcher.handle(
                self.event(ari.ChannelDestroyed, channel=channel, cause=16, cause_txt="Normal Clearing")
            )
        self.asterisk.hung_up.clear()

    async def batch(self, size: int = 100) -> list[weakref.ref[ChannelExecutor]]:
        """``size`` calls: half ask for an operator and are connected or wait,
        half stay in the menu. Half of all hang up; the other half vanish from
        Asterisk without a word (with their agent's phone, when they had one)
        and only the periodic check clears them. Returns weak references to
        the executors of the calls the check cleared."""
        callers = [f"caller-{self.calls + n}" for n in range(size)]
        self.calls += size
        for channel_id in callers:
            self.arrive(channel_id)
        await settle()
        for channel_id in callers[::2]:
            self.press(channel_id, "0")
        await settle()
        agents = self.answer_agents()
        await settle()
        cleared = []
        for n, channel_id in enumerate(callers):
            if n % 4 < 2:
                call = self.dispatcher.board.calls[channel_id]
                cleared.append(weakref.ref(self.dispatcher.executors[channel_id]))
                del self.asterisk.channels[channel_id]
                self.asterisk.channels.pop(agents.get(call.entry_id or "", ""), None)
            else:
                self.hang_up(channel_id)
        await settle()
        await self.dispatcher.reconcile(adopt=False)
        await settle()
        self.report_hang_ups()
        await settle()
        self.clock.now += timedelta(seconds=1)
        return cleared

    async def close(self, writing: asyncio.Task[None], *hanging_up: str) -> None:
        """The test's end: these callers hang up, Asterisk reports the phones the router
        hung up, every call is over and every record written; then the writer closed."""
        for channel_id in hanging_up:
            self.hang_up(channel_id)
        self.report_hang_ups()
        await self.quiet()
        await self.writer.close(writing)

    async def quiet(self) -> None:
        """Every call is over and every record written."""
        for _ in range(200):
            if not self.dispatcher.board.calls and not self.dispatcher.executors and not self.writer.backlog:
                return
            await asyncio.sleep(0.01)
        calls = len(self.dispatcher.board.calls)
        raise AssertionError(f"{calls} calls still up, {self.writer.backlog} records")
