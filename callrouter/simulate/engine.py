"""The simulation's clock and its model of Asterisk and of the people around the
production switchboard (``core.switchboard.step``): a heap of timestamped
events, each fed to ``step`` as the shell would feed it, and each command
``step`` returns carried out as Asterisk, a caller or an agent would.

What the model does (the switchboard decides everything else):
- a person calls the line's first DID from their own number (answered in the
  dialplan, as ``dialplans/`` does), keys the menu path to their topic, one key
  every ``timing.key_seconds``, while they are in the menu;
- a playback ends ``timing.prompt_seconds`` per sound after it starts (a stopped
  one never ends); a hang-up the router asks for is done at once;
- a caller waits in the queue for their patience, drawn when the call joins it,
  then hangs up (the agent's phone may be ringing); once bridged to an agent
  they talk for a drawn handle time (their stream's) and hang up;
- a share of people (``callers.withheld``, drawn with the people) withhold their
  number; a share of the calls that go through the menu (``callers.menu_hangup``)
  hang up in it before its last key (they do not call again);
- an agent's phone is answered ``timing.agent_answer_seconds`` after it rings,
  or with ``misses.probability`` rings out (the router's ring timeout): the
  router auto-pauses the agent, who resumes ``misses.resume_seconds`` after the
  pause; agents log in and out per shift (one still on a call logs out after it);
- a caller whose call ended unserved (abandoned, overflowed, told to call back)
  calls again with ``redial.probability`` after a drawn delay, up to
  ``redial.max_attempts`` calls, that day only;
- callbacks: the first offer is taken with ``callback.accept_probability`` (the
  number read back confirmed); every lease is granted; the person answers the
  callback's call with ``callback.answer_probability`` after
  ``callback.answer_seconds``, then talks for a drawn handle time.
The records the switchboard writes are the outcome (``Day``). The clock and the
commands carried out are ``model``'s; the people's side of the day is here.
"""

from __future__ import annotations

import gc
import heapq
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from callrouter.core import call_events as ev
from callrouter.core import switchboard as sb
from callrouter.core.admission import AdmissionRules
from callrouter.core.agents import AgentState, AgentStateError
from callrouter.core.call_state import Phase
from callrouter.simulate import day as d
from callrouter.simulate.ahead import Ahead
from callrouter.simulate.day import Channel, Day, Observer, Progress
from callrouter.simulate.model import Model
from callrouter.simulate.people import Draws, Person, draw, first_calls
from callrouter.simulate.scenario import DAY_SECONDS, Distribution, Scenario

GC_EVERY = 50_000  # allocations between the collector's youngest runs during a day (Python's: 700)
AHEAD_EVERY = 32  # calls: how often what was worked out ahead (``ahead``) is taken in


class Simulation(Model):
    def __init__(
        self,
        scenario: Scenario,
        observe: Observer | None = None,
        people: list[Person] | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.progress = progress
        self.scenario = scenario
        self.timing = scenario.file.timing
        # The records the day reads, and no others (``Rules.journal``); and no overload guard
        # (``core.admission``): a simulated switchboard is never behind (every event's lag
        # is 0, so the guard would never shed: its state would only be counted).
        board = scenario.board()
        self.board = replace(board, rules=replace(board.rules, journal=False, admission=AdmissionRules(0.0)))
        self.draws = Draws(scenario.seed)
        self.patience = scenario.file.patience.finite()
        self.now = scenario.start
        self.end_of_day = scenario.at(DAY_SECONDS)
        self.heap: list[tuple[datetime, int, int, Any, Any]] = []
        self.seq = 0
        self.people_events = 0  # events in the heap other than wakes
        self.wakes: set[datetime] = set()
        self.channels: dict[str, Channel] = {}  # callers' channels up
        self.legs: dict[str, bool] = {}  # agents' phones: ringing (False) or answered (True)
        self.dials: dict[str, str] = {}  # a callback's call to its person -> the callback
        self.leaving: set[str] = set()  # agents whose shift ended while they were on a call
        self.made = 0
        self.observe = observe
        self.commands = self._commands()
        self.records = self._records()
        # The first stream of each line and topic: its talk times are a callback's for them.
        self.streams = {(stream.line, stream.topic): stream for stream in reversed(scenario.streams)}
        # The day's callers: drawn from the scenario's arrivals, unless given.
        self.day = Day(scenario, people if people is not None else first_calls(scenario, self.draws.arrivals))
        self.callers = scenario.file.callers
        self.ahead: Ahead | None = None  # the arrivals' numbers, keys and ids worked out by another process

    def run(self) -> Day:
        people, rules = self.day.people, self.board.rules
        # The calls' channels as ``arrive`` names them: the first calls, and a share of redials.
        channels = [f"c{n}" for n in range(1, len(people) * 3 // 2 + 1)]
        self.ahead = Ahead.start(
            [(p.number, p.stream.country) for p in people], rules.repeat, rules.node, channels
        )
        try:
            return self._run()
        finally:
            if self.ahead is not None:
                self.ahead.close()

    def _run(self) -> Day:
        for person in self.day.people:
            self.push(self.scenario.at(person.first_at), d.ARRIVE, person)
        for agent_id, spans in self.scenario.shifts.items():
            for start, end in spans:
                self.push(self.scenario.at(start), d.LOGIN, agent_id)
                self.push(self.scenario.at(end), d.LOGOUT, agent_id)
        # The day's first calls and shifts, known from the start, wait in order outside the
        # heap (which then holds only what happens on the way, a few hundred events, not
        # the tens of thousands), and each next event is the earlier of the two.
        planned, self.heap = sorted(self.heap, reverse=True), []
        heap, pop, wake = self.heap, heapq.heappop, d.WAKE
        handlers = self._handlers()
        limit = self.end_of_day + d.HORIZON
        hour, told = timedelta(hours=1), self.progress or (lambda _: None)
        report = self.now + hour if self.progress is not None else limit + hour  # the next hour told
        while (heap or planned) and (self.people_events or not self._quiet()):
            if planned and (not heap or planned[-1] < heap[0]):  # (at, seq): never equal
                at, _, kind, subject, detail = planned.pop()
            else:
                at, _, kind, subject, detail = pop(heap)
            if at > limit:
                break
            if at >= report:
                report += hour * ((at - report) // hour + 1)
                told(report - hour)
            self.now = at
            if kind != wake:
                self.people_events -= 1
            handlers[kind](subject, detail)
        self._close()
        self.day.ended_at = self.now
        return self.day

    def _quiet(self) -> bool:
        """Nothing left that could happen: no person or agent will act, and only the
        switchboard's own timers remain (a callback with nobody logged in to dial it)."""
        return (
            self.people_events == 0
            and not self.channels
            and not self.legs
            and not self.dials
            and not any(a.state != "logged_out" for a in self.board.centre.agents.values())
        )

    def _close(self) -> None:
        """The horizon: every call still up hangs up, so each has its final record."""
        for channel_id in sorted(self.channels):
            if channel_id in self.board.calls:
                self.step(sb.OnCall(channel_id, ev.CallerHungUp("simulation over")))

    def step(self, event: sb.Event) -> None:
        # In place: nobody keeps the board before a step, so no step copies its mappings.
        self.board, commands = sb.step(self.board, event, self.now, in_place=True)
        self.day.steps += 1
        handlers, records = self.commands, self.records
        for command in commands:
            if type(command) is sb.Write:  # the most of them: told apart by the record's type at once
                recorded = records.get(type(command.record))
                if recorded is not None:  # the rest is nothing to the model (a call's event)
                    recorded(command.record)
            elif type(command) is not sb.ToChannel or type(command.command) in d.HEARD:
                handler = handlers.get(type(command))
                if handler is not None:  # the rest is nothing to the model (a bridge destroyed)
                    handler(command)
        if self.observe is not None:
            self.observe(self.board, commands)

    def _handlers(self) -> dict[int, Callable[[Any, Any], None]]:
        return {
            d.ARRIVE: self.arrive, d.KEY: self.key, d.PLAYED: self.played, d.ABANDON: self.abandon,
            d.TALK_END: self.talk_end, d.GONE: self.gone, d.LEG_ANSWERS: self.leg_answers,
            d.LEG_GONE: self.leg_gone, d.WAKE: self.wake, d.LOGIN: self.login, d.LOGOUT: self.logout,
            d.OFFER_KEY: self.offer_key, d.LEASED: self.leased, d.DIAL_ANSWERS: self.dial_answers,
            d.DIAL_GONE: self.dial_gone, d.MENU_HANGUP: self.menu_hangup, d.RESUME: self.resume,
        }  # fmt: skip

    # ---- what happens: people, phones, shifts, time ---------------------------------------------
    def arrive(self, person: Person, _: Any) -> None:
        self.made += 1
        if self.ahead is not None and self.made % AHEAD_EVERY == 1:
            self.ahead.take()
        channel_id = f"c{self.made}"
        person.calls.append(channel_id)
        self.channels[channel_id] = Channel(person)
        stream = person.stream
        shown = d.WITHHELD if person.withheld else d.PRESENTED
        self.step(
            sb.Arrived(
                channel_id, stream.did, person.number, self.now, f"p{self.made}", True, presentation=shown
            )
        )
        if stream.keys:
            self.after(self.timing.key_seconds, d.KEY, channel_id)
            share = self.callers.menu_hangup
            if share and self.draws.callers.random() < share:  # before the last key
                menu = self.timing.key_seconds * len(stream.keys)
                self.after(menu * self.draws.callers.random(), d.MENU_HANGUP, channel_id)

    def key(self, channel_id: str, _: Any) -> None:
        channel = self.channels.get(channel_id)
        call = self.board.calls.get(channel_id)
        if channel is None or call is None or call.phase is not Phase.MENU:
            return  # gone, or past the menu (a redial back in its kept place)
        keys = channel.person.stream.keys
        channel.key += 1
        self.step(sb.OnCall(channel_id, ev.Digit(keys[channel.key - 1])))
        if channel.key < len(keys):
            self.after(self.timing.key_seconds, d.KEY, channel_id)

    def menu_hangup(self, channel_id: str, _: Any) -> None:
        call = self.board.calls.get(channel_id)
        if channel_id in self.channels and call is not None and call.phase is Phase.MENU:
            self.step(sb.OnCall(channel_id, ev.CallerHungUp("16")))

    def resume(self, agent_id: str, paused_at: datetime) -> None:
        """An agent auto-paused for a ring they let go comes back, unless that pause is
        over already (they logged out, or were paused again since: that one has its own)."""
        agent = self.board.centre.agents.get(agent_id)
        if agent is not None and agent.state is AgentState.PAUSED and agent.since == paused_at:
            self.step(sb.AgentCommand(agent_id, "resume"))

    def played(self, channel_id: str, playback_id: str) -> None:
        channel = self.channels.get(channel_id)
        if channel is not None and channel.playing == playback_id:
            channel.playing = None
            self.step(sb.OnCall(channel_id, ev.PlaybackFinished(playback_id)))

    def abandon(self, channel_id: str, _: Any) -> None:
        channel = self.channels.get(channel_id)
        if channel is not None and not channel.talking and channel_id in self.board.calls:
            self.step(sb.OnCall(channel_id, ev.CallerHungUp("16")))

    def talk_end(self, channel_id: str, _: Any) -> None:
        if channel_id in self.channels and channel_id in self.board.calls:
            self.step(sb.OnCall(channel_id, ev.CallerHungUp("16")))

    def gone(self, channel_id: str, cause: str) -> None:
        if channel_id in self.board.calls:
            self.step(sb.OnCall(channel_id, ev.ChannelGone(cause)))
        self.channels.pop(channel_id, None)

    def offer_key(self, channel_id: str, _: Any) -> None:
        """The caller takes the callback offered (1), then confirms the number read back (1)."""
        call = self.board.calls.get(channel_id)
        if channel_id in self.channels and call is not None and call.phase is Phase.QUEUED:
            self.step(sb.OnCall(channel_id, ev.Digit("1")))

    def leg_answers(self, leg: str, _: Any) -> None:
        if self.legs.get(leg) is False:
            self.legs[leg] = True
            if leg in self.board.legs:
                self.step(sb.LegAnswered(leg))
            else:  # nobody waits on it any more: the dispatcher hangs it up
                del self.legs[leg]

    def leg_gone(self, leg: str, cause: str) -> None:
        self.legs.pop(leg, None)
        if leg in self.board.legs:
            self.step(sb.LegGone(leg, cause))

    def wake(self, _: Any, __: Any) -> None:
        self.wakes.discard(self.now)
        # As the dispatcher wakes only for the board's next deadline: one changed or
        # dropped since its WakeAt leaves nothing to do (a step that would change nothing).
        if self.board.due_by(self.now):
            self.step(sb.Wake())

    def login(self, agent_id: str, _: Any) -> None:
        if agent_id in self.leaving:  # the next shift began before the last call of the one before ended
            self.leaving.discard(agent_id)
            return
        self.step(sb.AgentCommand(agent_id, "login"))

    def logout(self, agent_id: str, _: Any) -> None:
        try:
            self.step(sb.AgentCommand(agent_id, "logout"))
        except AgentStateError:  # rung or talking: after the call (nothing changed)
            self.leaving.add(agent_id)

    def leased(self, callback_id: str, _: Any) -> None:
        self.step(sb.CallbackLeased(callback_id, sb.Lease.TAKEN))

    def dial_answers(self, channel_id: str, _: Any) -> None:
        if channel_id in self.dials and channel_id in self.board.dials:
            self.step(sb.DialAnswered(channel_id))
            self.after(
                draw(self.draws.handle, self._callback_handle(channel_id)), d.DIAL_GONE, channel_id, "16"
            )

    def _callback_handle(self, channel_id: str) -> Distribution:
        """A callback's talk: as long as a call of its line and topic, else the scenario's."""
        record = self.day.callbacks.get(self.dials[channel_id])
        stream = self.streams.get((record.line, record.topic)) if record is not None else None
        return stream.handle if stream is not None else self.scenario.file.handle

    def dial_gone(self, channel_id: str, cause: str) -> None:
        if self.dials.pop(channel_id, None) is not None and channel_id in self.board.dials:
            self.step(sb.DialGone(channel_id, cause))


def simulate(
    scenario: Scenario,
    observe: Observer | None = None,
    people: list[Person] | None = None,
    progress: Progress | None = None,
) -> Day:
    """A day of the scenario through the production switchboard. ``observe`` sees every
    step (the board after it, and its commands); ``people``: these callers instead
    of the ones the scenario's arrivals draw; ``progress`` is told each simulated hour
    the day has reached (the hour's start), as it is reached."""
    # What exists now (the config, the scenario) lives through the day: the collector is
    # told to skip it (``freeze``), and runs far less often than it would (the day's own
    # objects are mostly records kept to its end, or gone within a step): a 5,000-call
    # day's collections found no garbage but the simulation itself, whose handlers hold it
    # (a cycle): it is taken apart after the day, so nothing of it waits for a collection
    # (a later day's freeze would keep it for that day: days run one after another).
    # A caller that froze objects of its own keeps them frozen: the day freezes nothing
    # then (``unfreeze`` would let go of the caller's too).
    freezes = gc.get_freeze_count() == 0
    if freezes:
        gc.freeze()
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], GC_EVERY), *threshold[1:])
    simulation = Simulation(scenario, observe, people, progress)
    try:
        return simulation.run()
    finally:
        simulation.__dict__.clear()
        gc.set_threshold(*threshold)
        if freezes:
            gc.unfreeze()
