"""Repeat callers and callbacks as a hypothesis state machine over the real
switchboard: a few people call (so they call again), on several lines, key the
menu, hang up while waiting and redial, call a second line while the first call
waits, take a callback; agents log in and out, answer and hang up; callbacks are
leased or not, and the person answers, does not, or is busy; time passes to the
board's deadlines. The model of Asterisk and its checks after every step are the
random days' (``test_switchboard_properties``); the issue's four promises are
the invariants here, read off every step the rules made:

1. one person, at most one live place (a caller's place and an open callback
   counted together);
2. a resumed place keeps its original join time, and no agent is offered a place
   while a waiting place of the same priority that joined earlier is passed over;
3. a callback's person is dialled only with its lease and an agent reserved for it
   whose phone answered;
4. every callback ends in exactly one final state, nothing written after it (the
   teardown drives the day to its end first)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from callrouter.core import call_events as ev
from callrouter.core import switchboard as sb
from callrouter.core.agents import AgentState, AgentStateError
from callrouter.core.call_state import Phase
from callrouter.core.callbacks import Stage
from callrouter.core.queue import QueueEntry
from callrouter.core.records import CallbackState
from tests.unit.test_switchboard_properties import AGENTS, BOARD, FINAL, RULES, T0, Asterisk, Day

# Three people: they call again, on two clinics and the two hotlines (no opening hours).
NUMBERS = ["+79161230001", "+79161230002", "+79161230003"]
LINES = ["+78162700101", "+78162700102", "+78162700200", "+78162700300"]
TOPIC_KEYS = "0123"  # the operator and the clinics' first topics
RESUME = RULES.repeat.resume
# What the runs did, so a run shows the promises were put to the test: hypothesis ``event``s
# (pytest --hypothesis-show-statistics), and counted here (printed under pytest -s).
SEEN: Counter[str] = Counter()


@pytest.fixture(autouse=True, scope="module")
def counted() -> Iterator[None]:
    yield
    print("\nrepeat callers' machine:", dict(sorted(SEEN.items())))
    # The runs reached each promise (else a change of strategy could make them hold trivially);
    # with the default number of examples (a few, set by hand to debug, may reach fewer).
    promised = ("a second call took over the place", "a redial resumed its place", "a callback dialled")
    if int(os.environ.get("MACHINE_EXAMPLES", 100)) >= 100:
        assert all(SEEN[what] for what in promised), dict(SEEN)


def seen(what: str) -> None:
    SEEN[what] += 1
    event(what)


@dataclass
class Stepped:
    """One switchboard step as the invariants read it."""

    event: sb.Event
    now: datetime
    before: sb.Board
    after: sb.Board
    commands: list[sb.Command]


@dataclass
class Recorded(Asterisk):
    """The random days' Asterisk, keeping every step for the invariants."""

    steps: list[Stepped] = field(default_factory=list)
    numbers: dict[str, str] = field(default_factory=dict)  # caller channel -> the number it showed
    last: list[sb.Command] = field(default_factory=list)

    def step(self, event: sb.Event) -> None:
        before = self.board
        super().step(event)
        self.steps.append(Stepped(event, self.now, before, self.board, self.last))

    def carry_out(self, commands: list[sb.Command]) -> None:
        self.last = commands
        super().carry_out(commands)


@dataclass(frozen=True)
class Abandoned:
    """What the machine itself remembers of a person who hung up while waiting."""

    number: str
    joined_at: datetime
    left_at: datetime


def live_places(board: sb.Board) -> Counter[str]:
    """Per person: the places of callers on the line and their callbacks waiting to be
    dialled. A callback whose person's phone is being rung (DIALLING) is out of the queue,
    and a person may call in meanwhile (their line is then busy to the dial): once that
    dial ends unanswered the call on the line keeps the callback's place and the callback
    is cancelled, never retried beside it (counted again here as soon as it is pending)."""
    places: Counter[str] = Counter()
    for entry in board.centre.queue.entries.values():
        if entry.channel_id is not None and entry.caller_key is not None:
            places[entry.caller_key] += 1
    for callback in board.callbacks.values():
        if callback.record.state is CallbackState.PENDING and callback.record.person is not None:
            places[callback.record.person] += 1
    return places


def passed_over(step: Stepped, rung: QueueEntry) -> list[QueueEntry]:
    """Places of ``rung``'s priority, waiting before this step and still, that the agent
    offered ``rung`` could serve and that joined before it."""
    before, after = step.before.centre.queue.entries, step.after.centre.queue.entries
    agent = step.after.centre.agents[rung.offered_to or ""]
    skipped = []
    for other in after.values():
        was = before.get(other.entry_id)
        if (
            other.entry_id != rung.entry_id
            and other.offered_to is None
            and was is not None
            and was.offered_to is None
            and (was.topic, was.language, was.priority) == (other.topic, other.language, other.priority)
            and other.priority == rung.priority
            and agent.can_serve(other.topic, other.language)
            and other.joined_at < rung.joined_at  # the time itself, not the queue's idea of order
        ):
            skipped.append(other)
    return skipped


class RepeatCallers(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # Calls handled already: the estimate is honest, so waiting callers are offered a callback.
        board = replace(BOARD, rules=RULES, handled=(120.0,) * 5)
        self.asterisk = Recorded(board, T0)
        self.abandoned: dict[str, Abandoned] = {}  # person -> their place given up
        self.read: dict[str, int] = {}  # invariant -> how many steps it has read
        self.leases: dict[str, bool] = {}  # callback -> its lease granted since last asked

    def unread(self, invariant_name: str) -> list[Stepped]:
        start = self.read.get(invariant_name, 0)
        self.read[invariant_name] = len(self.asterisk.steps)
        return self.asterisk.steps[start:]

    # -- the people ---------------------------------------------------------------------------
    @initialize(agents=st.lists(st.sampled_from(AGENTS), unique=True, min_size=1, max_size=2))
    def open_the_day(self, agents: list[str]) -> None:
        for agent_id in agents:
            self.asterisk.step(sb.AgentCommand(agent_id, "login"))

    def call(self, did: str, number: str, key: str | None) -> None:
        """A call arrives, is answered and hears its greeting; keys the menu if ``key``."""
        asterisk = self.asterisk
        asterisk.arrive(did, number, up=True, lag=0.0)
        channel_id = asterisk.arrived[-1]
        asterisk.numbers[channel_id] = number
        self.hear_out(channel_id)
        if key is not None and channel_id in asterisk.callers:
            asterisk.on_call(channel_id, ev.Digit(key))
            self.hear_out(channel_id)

    def hear_out(self, channel_id: str) -> None:
        """Asterisk answers the call and plays its prompts to their end (a few rounds)."""
        asterisk = self.asterisk
        for _ in range(4):
            if channel_id in asterisk.answering:
                asterisk.answering.discard(channel_id)
                asterisk.on_call(channel_id, ev.Answered())
            playing = sorted(p for p in asterisk.playing if p[0] == channel_id)
            if not playing:
                return
            for played in playing:
                asterisk.playing.discard(played)
                asterisk.on_call(channel_id, ev.PlaybackFinished(played[1]))

    @rule(
        did=st.sampled_from(LINES),
        number=st.sampled_from(NUMBERS),
        key=st.none() | st.sampled_from(TOPIC_KEYS),
    )
    def arrive(self, did: str, number: str, key: str | None) -> None:
        self.call(did, number, key)

    @precondition(lambda self: self.asterisk.callers)
    @rule(data=st.data())
    def key(self, data: st.DataObject) -> None:
        Day(data, self.asterisk).key()

    @precondition(lambda self: self.asterisk.playing)
    @rule(data=st.data())
    def playback(self, data: st.DataObject) -> None:
        Day(data, self.asterisk).playback()

    def waiting(self) -> list[str]:
        """Callers on the line who hold a place now."""
        board = self.asterisk.board
        return sorted(
            c for c in self.asterisk.callers if (call := board.calls.get(c)) and call.phase is Phase.QUEUED
        )

    def offered(self) -> list[str]:
        """Callers on the line who were offered a callback."""
        board = self.asterisk.board
        return sorted(
            c for c in self.asterisk.callers if (call := board.calls.get(c)) and call.callback_offered
        )

    @precondition(lambda self: self.waiting())
    @rule(data=st.data())
    def abandon(self, data: st.DataObject) -> None:
        """A waiting caller hangs up: the machine remembers their original join time."""
        asterisk = self.asterisk
        channel_id = data.draw(st.sampled_from(self.waiting()))
        entry = asterisk.board.centre.queue.entries[asterisk.board.calls[channel_id].entry_id or ""]
        asterisk.on_call(channel_id, ev.CallerHungUp("16"))
        asterisk.gone(channel_id, "Normal Clearing")
        if entry.caller_key is not None and entry.entry_id not in asterisk.board.centre.queue:
            number = asterisk.numbers[channel_id]
            self.abandoned[entry.caller_key] = Abandoned(number, entry.joined_at, asterisk.now)

    @precondition(lambda self: self.abandoned)
    @rule(data=st.data(), did=st.sampled_from(LINES), key=st.sampled_from(TOPIC_KEYS))
    def redial(self, data: st.DataObject, did: str, key: str) -> None:
        person = data.draw(st.sampled_from(sorted(self.abandoned)))
        self.call(did, self.abandoned[person].number, key)

    @precondition(lambda self: self.waiting())
    @rule(data=st.data(), did=st.sampled_from(LINES), key=st.sampled_from(TOPIC_KEYS))
    def second_call(self, data: st.DataObject, did: str, key: str) -> None:
        """The same number calls another line (or the same) while its first call waits."""
        first = data.draw(st.sampled_from(self.waiting()))
        self.call(did, self.asterisk.numbers[first], key)

    @precondition(lambda self: self.asterisk.callers)
    @rule(data=st.data())
    def caller_hangs_up(self, data: st.DataObject) -> None:
        Day(data, self.asterisk).caller_hangs_up()

    @precondition(lambda self: self.offered())
    @rule(data=st.data())
    def accept_callback(self, data: st.DataObject) -> None:
        """An offered caller presses 1, hears their number read back and presses 1 again."""
        asterisk = self.asterisk
        channel_id = data.draw(st.sampled_from(self.offered()))
        for _ in range(2):
            if channel_id in asterisk.callers:
                asterisk.on_call(channel_id, ev.Digit("1"))
                self.hear_out(channel_id)

    # -- the agents and Asterisk ---------------------------------------------------------------
    @rule(agent_id=st.sampled_from(AGENTS), command=st.sampled_from(["login", "logout"]))
    def agent_logs(self, agent_id: str, command: str) -> None:
        board = self.asterisk.board
        try:
            self.asterisk.step(sb.AgentCommand(agent_id, command))
        except AgentStateError:
            assert self.asterisk.board is board, "a refused command changes nothing"

    @precondition(lambda self: "ringing" in self.asterisk.legs.values())
    @rule(data=st.data())
    def agent_answers(self, data: st.DataObject) -> None:
        Day(data, self.asterisk).leg_answers()

    @precondition(lambda self: "ringing" in self.asterisk.legs.values())
    @rule(data=st.data())
    def agent_does_not_answer(self, data: st.DataObject) -> None:
        Day(data, self.asterisk).leg_fails()

    @precondition(lambda self: "up" in self.asterisk.legs.values())
    @rule(data=st.data())
    def agent_hangs_up(self, data: st.DataObject) -> None:
        Day(data, self.asterisk).agent_hangs_up()

    @precondition(lambda self: self.asterisk.hanging or self.asterisk.dying)
    @rule(data=st.data())
    def hangups_reported(self, data: st.DataObject) -> None:
        day = Day(data, self.asterisk)
        day.hangup_done()
        day.router_hangup_done()

    @precondition(lambda self: self.asterisk.leasing)
    @rule(data=st.data(), taken=st.booleans())
    def lease_answer(self, data: st.DataObject, taken: bool) -> None:
        """The shell's answer about a callback's lease: granted, or refused (database away)."""
        asterisk = self.asterisk
        callback_id = data.draw(st.sampled_from(sorted(asterisk.leasing)))
        asterisk.leasing.discard(callback_id)
        if taken:
            asterisk.leased.add(callback_id)
        asterisk.step(sb.CallbackLeased(callback_id, sb.Lease.TAKEN if taken else sb.Lease.WAIT))

    def persons(self, state: str) -> list[str]:
        return sorted(c for c, up in self.asterisk.persons.items() if up == state)

    @precondition(lambda self: self.persons("ringing"))
    @rule(data=st.data())
    def person_answers(self, data: st.DataObject) -> None:
        """The callback's person answers: bridged to the agent."""
        Day(data, self.asterisk).person_answers()

    @precondition(lambda self: self.persons("ringing"))
    @rule(data=st.data(), cause=st.sampled_from(["No answer", "Busy", "originate failed"]))
    def person_does_not_answer(self, data: st.DataObject, cause: str) -> None:
        asterisk = self.asterisk
        channel_id = data.draw(st.sampled_from(self.persons("ringing")))
        del asterisk.persons[channel_id]
        if channel_id in asterisk.board.dials:
            asterisk.step(sb.DialGone(channel_id, cause))

    @precondition(lambda self: self.persons("up"))
    @rule(data=st.data())
    def person_hangs_up(self, data: st.DataObject) -> None:
        asterisk = self.asterisk
        channel_id = data.draw(st.sampled_from(self.persons("up")))
        del asterisk.persons[channel_id]
        if channel_id in asterisk.board.dials:
            asterisk.step(sb.DialGone(channel_id, "Normal Clearing"))

    @rule(jump=st.sampled_from([None, None, 1.0, 5.0, 30.0, 120.0, 400.0]))
    def time_passes(self, jump: float | None) -> None:
        """To the board's next deadline (None), or on by ``jump`` seconds."""
        asterisk = self.asterisk
        following = asterisk.board.next_wake()
        if jump is None and following is not None and following > asterisk.now:
            asterisk.now = following
        else:
            asterisk.now += timedelta(seconds=jump or 1.0)
        asterisk.step(sb.Wake())

    # -- the four promises ------------------------------------------------------------------
    @invariant()
    def one_person_one_place(self) -> None:
        for step in self.unread("one place"):
            for places in live_places(step.after).values():
                if places > 1:
                    raise AssertionError(f"{places} live places of one person after {step.event}")
            for entry in step.after.centre.queue.entries.values():  # who took over another's place
                was = step.before.centre.queue.entries.get(entry.entry_id)
                if (
                    was is not None
                    and was.channel_id
                    and entry.channel_id
                    and was.channel_id != entry.channel_id
                ):
                    seen("a second call took over the place")

    @invariant()
    def resumed_places_come_first(self) -> None:
        for step in self.unread("resumed"):
            before, after = step.before.centre.queue.entries, step.after.centre.queue.entries
            for entry in after.values():
                if entry.entry_id not in before and entry.channel_id is not None:
                    self.joined(step, entry)
                was = before.get(entry.entry_id)
                if entry.offered_to is not None and (was is None or was.offered_to != entry.offered_to):
                    skipped = passed_over(step, entry)
                    assert not skipped, f"{entry.offered_to} offered {entry} before {skipped}"

    def joined(self, step: Stepped, entry: QueueEntry) -> None:
        """A caller's new place: at their original join time if they gave one up in time."""
        person = entry.caller_key
        left = self.abandoned.pop(person, None) if person is not None else None
        if left is None or step.now - left.left_at > RESUME:
            return
        pending = next(
            (c for c in step.before.callbacks.values() if c.record.person == person), None
        )  # a callback they booked since: its place wins (never both)
        if pending is not None and pending.stage not in (Stage.DIALLING, Stage.TALKING):
            assert entry.joined_at == pending.record.joined_at, (entry, pending)
            return
        assert entry.joined_at == left.joined_at, f"resumed at {entry.joined_at}, not {left.joined_at}"
        seen("a redial resumed its place")

    @invariant()
    def callbacks_dialled_with_an_agent(self) -> None:
        for step in self.unread("dialled"):
            if isinstance(step.event, sb.CallbackLeased) and step.event.taken:
                self.leases[step.event.callback_id] = True
            for command in step.commands:
                if isinstance(command, sb.LeaseCallback):
                    self.leases[command.callback_id] = False  # asked again: granted again first
                if isinstance(command, sb.Dial):
                    self.dialled(step.after, command)

    def dialled(self, board: sb.Board, dial: sb.Dial) -> None:
        callback_id = dial.app_args.split(",")[1]
        assert self.leases.get(callback_id), f"{callback_id} dialled without its lease"
        callback = board.callbacks[callback_id]
        assert callback.stage is Stage.DIALLING and dial.number == callback.record.number
        agent = board.centre.agents[callback.agent or ""]
        assert agent.state is AgentState.ON_CALL and agent.entry_id == callback_id, agent
        leg = board.legs[board.leg_of[callback_id]]
        assert leg.agent_id == agent.agent_id and leg.answered and not leg.ending, leg
        seen("a callback dialled")

    @invariant()
    def callbacks_end_once(self) -> None:
        board = self.asterisk.board
        for callback_id, states in self.asterisk.callbacks.items():
            finals = [state for state in states if state in FINAL]
            assert len(finals) <= 1 and (not finals or states[-1] in FINAL), (callback_id, states)
            if callback_id not in board.callbacks:
                assert finals, f"{callback_id} gone from the board without a final state: {states}"

    def teardown(self) -> None:
        """The day's end: every call and phone goes, then each callback still open is
        made (all agents in, leases granted) until the first person answers theirs and
        the others' have failed."""
        asterisk = self.asterisk
        asterisk.finish()
        for _ in range(400):
            if not asterisk.board.callbacks:
                break
            self.drive_callbacks()
        self.one_person_one_place()  # the steps the day's end made are read too
        self.resumed_places_come_first()
        self.callbacks_dialled_with_an_agent()
        self.callbacks_end_once()
        assert asterisk.board.callbacks == {}, asterisk.board.callbacks
        for states in asterisk.callbacks.values():
            seen(f"a callback ended {states[-1]}")

    def drive_callbacks(self) -> None:
        asterisk = self.asterisk
        for agent in sorted(asterisk.board.centre.agents.values(), key=lambda a: a.agent_id):
            command = {AgentState.LOGGED_OUT: "login", AgentState.PAUSED: "resume"}.get(agent.state)
            if command is not None:
                asterisk.step(sb.AgentCommand(agent.agent_id, command))
        for callback_id in sorted(asterisk.leasing):
            asterisk.leasing.discard(callback_id)
            asterisk.leased.add(callback_id)
            asterisk.step(sb.CallbackLeased(callback_id, sb.Lease.TAKEN))
        for channel_id, leg in sorted(asterisk.legs.items()):
            if leg == "ringing" and channel_id in asterisk.board.legs:
                asterisk.legs[channel_id] = "up"
                asterisk.step(sb.LegAnswered(channel_id))
        for channel_id, state in sorted(asterisk.persons.items()):
            dialled = asterisk.board.dials.get(channel_id)
            if dialled is None:
                del asterisk.persons[channel_id]
            elif state == "ringing" and asterisk.board.callbacks[dialled].record.number == NUMBERS[0]:
                asterisk.persons[channel_id] = "up"
                asterisk.step(sb.DialAnswered(channel_id))
            else:  # the others never answer; one who talked hangs up
                del asterisk.persons[channel_id]
                asterisk.step(
                    sb.DialGone(channel_id, "No answer" if state == "ringing" else "Normal Clearing")
                )
        hanging, asterisk.hanging = asterisk.hanging, []
        for channel_id, reason in hanging:
            asterisk.leg_gone(channel_id, reason)
        following = asterisk.board.next_wake()
        if following is not None and following > asterisk.now:
            asterisk.now = following
        asterisk.step(sb.Wake())


RepeatCallers.TestCase.settings = settings(
    max_examples=int(os.environ.get("MACHINE_EXAMPLES", 100)),
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    report_multiple_bugs=False,
)
test_repeat_callers_keep_one_place = RepeatCallers.TestCase
