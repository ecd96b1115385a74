"""The model's side of a simulated day that the people do not drive: its clock (a
heap of timestamped events) and the switchboard's commands carried out as
Asterisk would (a playback that ends, an agent's phone that rings and is answered
or rings out, a hang-up), with what the model reads of the records written (a
caller who joined the queue starts to lose patience; an agent auto-paused comes
back later; a call ended unserved may be made again). ``engine.Simulation``
holds the state and feeds the people's events to the switchboard.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from callrouter.core import commands as cmd
from callrouter.core import switchboard as sb
from callrouter.core.records import AgentStateRecord, CallbackRecord, CallRecord
from callrouter.simulate import day as d
from callrouter.simulate.day import Channel, Day
from callrouter.simulate.people import Draws, draw
from callrouter.simulate.scenario import Distribution, Scenario
from callrouter.simulate.scenario_file import Timing


class Model:
    """The clock and the commands carried out; the state is ``Simulation``'s (set there)."""

    scenario: Scenario
    timing: Timing
    draws: Draws
    day: Day
    now: datetime
    end_of_day: datetime
    patience: Distribution | None
    heap: list[tuple[datetime, int, int, Any, Any]]
    seq: int
    people_events: int  # events in the heap other than wakes
    wakes: set[datetime]
    channels: dict[str, Channel]  # callers' channels up
    legs: dict[str, bool]  # agents' phones: ringing (False) or answered (True)
    dials: dict[str, str]  # a callback's call to its person -> the callback
    leaving: set[str]  # agents whose shift ended while they were on a call

    # ---- the clock ----------------------------------------------------------------------------
    def push(self, at: datetime, kind: int, subject: Any = None, detail: Any = None) -> None:
        self.seq += 1
        if kind != d.WAKE:
            self.people_events += 1
        heapq.heappush(self.heap, (self.now if self.now > at else at, self.seq, kind, subject, detail))

    def after(self, seconds: float, kind: int, subject: Any = None, detail: Any = None) -> None:
        """``push`` ``seconds`` from now (never less than 0: never before now)."""
        self.seq += 1
        if kind != d.WAKE:
            self.people_events += 1
        at = self.now + timedelta(0, seconds) if seconds > 0 else self.now  # (days, seconds): sooner
        heapq.heappush(self.heap, (at, self.seq, kind, subject, detail))

    # ---- the switchboard's commands carried out -------------------------------------------------
    def _commands(self) -> dict[type, Callable[[Any], None]]:
        return {
            sb.ToChannel: self.to_channel,
            sb.WakeAt: self.wake_at,
            sb.Originate: self.originate,
            sb.HangupLeg: self.hang_up_leg,
            sb.CallOver: self.call_over,
            sb.LeaseCallback: lambda c: self.after(0, d.LEASED, c.callback_id),
            sb.Dial: self.dialled,
        }

    def wake_at(self, command: sb.WakeAt) -> None:
        if command.at not in self.wakes:
            self.wakes.add(command.at)
            self.push(command.at, d.WAKE)

    def originate(self, command: sb.Originate) -> None:
        self.legs[command.channel_id] = False
        misses = self.scenario.file.misses
        if misses.probability and self.draws.misses.random() < misses.probability:
            # Rings out: Asterisk ends the originate at its timeout, and the router pauses the agent.
            self.after(command.ring_seconds, d.LEG_GONE, command.channel_id, "No answer")
            return
        self.after(self.timing.agent_answer_seconds, d.LEG_ANSWERS, command.channel_id)

    def hang_up_leg(self, command: sb.HangupLeg) -> None:
        leg = command.channel_id
        if leg in self.dials:  # a callback's call to its person
            self.after(0, d.DIAL_GONE, leg, command.reason)
        else:
            self.legs.pop(leg, None)
            self.after(0, d.LEG_GONE, leg, command.reason)

    def to_channel(self, command: sb.ToChannel) -> None:
        channel_id = command.channel_id
        channel = self.channels.get(channel_id)
        if channel is None:
            return  # a callback's call to its person (bridged when it answers)
        done = command.command
        if isinstance(done, cmd.Play):  # the most of them
            channel.playing = done.playback_id
            self.after(self.timing.prompt_seconds * len(done.media), d.PLAYED, channel_id, done.playback_id)
            self.heard(channel_id, channel, done.media)
        elif isinstance(done, cmd.StopPlayback):
            if channel.playing == done.playback_id:
                channel.playing = None
        elif isinstance(done, sb.JoinBridge):
            channel.talking = True
            self.after(draw(self.draws.handle, channel.person.stream.handle), d.TALK_END, channel_id)
        elif isinstance(done, cmd.Hangup | cmd.ContinueInDialplan):
            self.after(0, d.GONE, channel_id, "Normal Clearing")

    def heard(self, channel_id: str, channel: Channel, media: tuple[str, ...]) -> None:
        """A callback offered (the first time: taken or not), or the number read back (confirmed)."""
        behaviour = self.scenario.file.callback
        if behaviour.accept_probability <= 0:
            return
        if not channel.offered and _says(media, "/callback_offer"):
            channel.offered = True
            if self.draws.callback.random() < behaviour.accept_probability:
                self.after(self.timing.prompt_seconds * len(media), d.OFFER_KEY, channel_id)
        elif channel.offered and _says(media, "/callback_confirm"):
            self.after(self.timing.key_seconds, d.OFFER_KEY, channel_id)

    def _records(self) -> dict[type, Callable[[Any], None]]:
        """What the model reads of the records written (the rest is the day's outcome only)."""
        return {
            CallRecord: self.call_saved,
            AgentStateRecord: self.agent_changed,
            CallbackRecord: lambda record: self.day.callbacks.__setitem__(record.callback_id, record),
        }

    def call_saved(self, record: CallRecord) -> None:
        channel = self.channels.get(record.channel_id)
        if channel is not None and record.queued_at is not None and not channel.queued:
            channel.queued = True
            if self.patience is not None:
                self.after(draw(self.draws.patience, self.patience), d.ABANDON, record.channel_id)

    def agent_changed(self, record: AgentStateRecord) -> None:
        self.day.agent_states.append(record)
        if record.agent in self.leaving and record.state in d.FREE_STATES:
            self.leaving.discard(record.agent)
            self.after(0, d.LOGOUT, record.agent)
        elif record.state == "paused" and (record.reason or "").startswith("auto-pause"):
            # A ring let go (the router paused the agent): back ``misses.resume_seconds`` after the pause.
            self.after(self.scenario.file.misses.resume_seconds, d.RESUME, record.agent, record.at)

    def call_over(self, command: sb.CallOver) -> None:
        channel_id, record = command.channel_id, command.record
        self.day.calls.append(record)
        channel = self.channels.pop(channel_id, None)
        if channel is None or record.outcome not in d.UNSERVED:
            return
        redial = self.scenario.file.redial
        person = channel.person
        if len(person.calls) >= redial.max_attempts or self.draws.redial.random() >= redial.probability:
            return
        at = self.now + timedelta(seconds=draw(self.draws.redial, redial.delay))
        if at < self.end_of_day:  # the day's people call that day only
            self.push(at, d.ARRIVE, person)
        else:
            self.day.late_redials += 1

    def dialled(self, command: sb.Dial) -> None:
        channel_id = command.channel_id
        self.dials[channel_id] = command.app_args.split(",")[1]
        self.day.dials.append(self.now)
        behaviour = self.scenario.file.callback
        answers = self.draws.callback.random() < behaviour.answer_probability
        if answers and behaviour.answer_seconds < command.ring_seconds:
            self.after(behaviour.answer_seconds, d.DIAL_ANSWERS, channel_id)
        else:
            self.after(command.ring_seconds, d.DIAL_GONE, channel_id, "No answer")


def _says(media: tuple[str, ...], prompt: str) -> bool:
    """Whether ``prompt`` is among what is played (a loop, not ``any``: read for every prompt)."""
    for played in media:  # noqa: SIM110
        if played.endswith(prompt):
            return True
    return False
