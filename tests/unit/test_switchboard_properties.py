"""The switchboard as a whole, under random days: calls arrive on the example's
numbers, press keys, hear their prompts out, wait, are rung for, talk and hang
up; agents' phones answer, fail or go; agents log in, pause and resume; time
passes. A small model of what Asterisk would do answers the switchboard's
commands (a playback finishes later, a rung phone later answers or goes, a
hang-up is later reported), and after every step the board must be whole."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from callrouter import compiled, config
from callrouter.core import call_events as ev
from callrouter.core import commands as cmd
from callrouter.core import switchboard as sb
from callrouter.core.agents import AgentState, AgentStateError
from callrouter.core.call_state import Phase
from callrouter.core.callbacks import CallbackRules, Stage
from callrouter.core.records import CallbackRecord, CallbackState

EXAMPLE = Path(__file__).resolve().parents[2] / "callrouter.example.toml"
SETTINGS = config.parse(EXAMPLE.read_text(), str(EXAMPLE), environ={})
BOARD = compiled.board(SETTINGS)
# A shorter maximum call so random days reach it too; callbacks offered as soon as
# the estimate is honest, and a short retry, so random days book and dial them.
RULES = replace(
    BOARD.rules,
    max_call=timedelta(hours=1),
    plan=replace(BOARD.rules.plan, callback_offer_after=timedelta(0)),
    callback=CallbackRules(retry=timedelta(seconds=60), max_attempts=2),
)
T0 = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # Monday 10:00 in Moscow
STARTS = [T0, T0 + timedelta(hours=9, minutes=58)]  # the clinics open, or about to close
DIDS = [did for line in SETTINGS.lines for did in line.dids if not did.startswith("_")] + ["+78162700399"]
NUMBERS = ["+79161230001", "+79161230002", "+79161230003", None, "8162700777"]
AGENTS = sorted(BOARD.centre.agents)
KEYS = "0011222333449*"  # the menu's topics more often than the rest
T = TypeVar("T")


@dataclass
class Asterisk:
    """What Asterisk has and will report, and what the switchboard was told."""

    board: sb.Board
    now: datetime = T0
    callers: set[str] = field(default_factory=set)  # caller channels up in Asterisk
    answering: set[str] = field(default_factory=set)  # asked to answer
    playing: set[tuple[str, str]] = field(default_factory=set)  # (channel, playback id)
    dying: set[str] = field(default_factory=set)  # asked to hang up (or back to the dialplan)
    legs: dict[str, str] = field(default_factory=dict)  # agent channel -> "ringing" | "up"
    hanging: list[tuple[str, str]] = field(default_factory=list)  # HangupLeg asked, not yet reported
    bridges: dict[str, str] = field(default_factory=dict)  # bridge made -> the caller channel it was made for
    over: dict[str, int] = field(default_factory=dict)  # CallOver commands per channel
    arrived: list[str] = field(default_factory=list)
    woken_at: set[datetime] = field(default_factory=set)  # every WakeAt asked for
    made: int = 0
    leasing: set[str] = field(default_factory=set)  # callbacks whose lease was asked for
    leased: set[str] = field(default_factory=set)  # ... and granted
    persons: dict[str, str] = field(default_factory=dict)  # a callback's person channel -> "ringing" | "up"
    callbacks: dict[str, list[str]] = field(default_factory=dict)  # callback id -> the states written

    # -- one switchboard step, its commands carried out, the board checked ------------------
    def step(self, event: sb.Event) -> None:
        before = self.board
        self.board, commands = sb.step(self.board, event, self.now)
        self.carry_out(commands)
        check(before, self.board, commands, self)

    def carry_out(self, commands: list[sb.Command]) -> None:
        for command in commands:
            match command:
                case sb.ToChannel(channel_id, what):
                    assert channel_id not in self.over, f"{what} for {channel_id} after its CallOver"
                    self.to_channel(channel_id, what)
                case sb.Originate(channel_id):
                    assert channel_id not in self.legs, "a leg's channel id is never reused"
                    self.legs[channel_id] = "ringing"
                case sb.HangupLeg(channel_id, reason):
                    self.hanging.append((channel_id, reason))
                case sb.CallOver(channel_id, record):
                    assert record.outcome is not None and record.ended_at is not None, record
                    self.over[channel_id] = self.over.get(channel_id, 0) + 1
                case sb.WakeAt(at):
                    self.woken_at.add(at)
                case sb.DestroyBridge(channel_id, bridge_id):
                    assert self.bridges.pop(bridge_id, None) is not None, "a bridge made, destroyed once"
                case sb.LeaseCallback(callback_id):
                    self.leasing.add(callback_id)
                case sb.Dial(channel_id, _, app_args):
                    self.dialled(channel_id, app_args.split(",")[1])
                case sb.Write(CallbackRecord() as record):
                    states = self.callbacks.setdefault(record.callback_id, [])
                    assert not states or states[-1] not in FINAL, (
                        f"{record.callback_id} written after {states}"
                    )
                    states.append(record.state)
                    event(f"a callback {record.state.value}")

    def to_channel(self, channel_id: str, what: sb.ChannelCommand) -> None:
        match what:
            case cmd.Answer():
                self.answering.add(channel_id)
            case cmd.Play(_, playback_id):
                self.playing.add((channel_id, playback_id))
            case cmd.Hangup() | cmd.ContinueInDialplan():
                self.dying.add(channel_id)
            case sb.MakeBridge(bridge_id):
                assert channel_id not in self.bridges.values(), "one bridge per caller"
                assert bridge_id not in self.bridges, "a bridge id is made once"
                self.bridges[bridge_id] = channel_id
            case sb.JoinBridge(bridge_id, agent_channel):
                # The bridge made for the place (a repeat caller takes over the place and its bridge).
                assert bridge_id in self.bridges, "joined a bridge that was made"
                assert self.legs.get(agent_channel) == "up", "only an answered phone is bridged"

    def dialled(self, channel_id: str, callback_id: str) -> None:
        """A callback's person is called only with its lease, and only once an agent
        reserved for it answered its phone."""
        assert callback_id in self.leased, "dialled without its lease"
        callback = self.board.callbacks[callback_id]
        agent = self.board.centre.agents[callback.agent or ""]
        assert agent.state is AgentState.ON_CALL and agent.entry_id == callback_id, agent
        leg = self.board.legs[self.board.leg_of[callback_id]]
        assert leg.answered and leg.agent_id == agent.agent_id and self.legs.get(leg.channel_id) == "up"
        assert channel_id not in self.persons, "a person's channel id is never reused"
        self.persons[channel_id] = "ringing"

    # -- what Asterisk reports (as the dispatcher passes it on) ----------------------------------
    def on_call(self, channel_id: str, event: ev.CallEvent) -> None:
        if channel_id in self.board.calls:
            self.step(sb.OnCall(channel_id, event))

    def gone(self, channel_id: str, cause: str) -> None:
        self.callers.discard(channel_id)
        self.dying.discard(channel_id)
        self.answering.discard(channel_id)
        self.playing = {(c, p) for c, p in self.playing if c != channel_id}
        self.on_call(channel_id, ev.ChannelGone(cause))

    def leg_gone(self, channel_id: str, cause: str) -> None:
        self.legs.pop(channel_id, None)
        if channel_id in self.board.legs:
            self.step(sb.LegGone(channel_id, cause))

    def arrive(self, did: str, number: str | None, up: bool, lag: float) -> None:
        self.made += 1
        channel_id = f"c{self.made}"
        self.callers.add(channel_id)
        self.arrived.append(channel_id)
        self.step(sb.Arrived(channel_id, did, number, self.now, f"p{self.made}", up, lag))

    def finish(self) -> None:
        """Every caller hangs up, every phone goes, time passes: nothing may stay but
        callbacks still to make (each open once, or ended in exactly one final state)."""
        for channel_id in sorted(self.persons):
            if channel_id in self.board.dials:
                self.step(sb.DialGone(channel_id, "Normal Clearing"))
        self.persons.clear()
        for callback_id in sorted(self.leasing):
            self.step(sb.CallbackLeased(callback_id, sb.Lease.WAIT))
        self.leasing.clear()
        for channel_id in sorted(self.callers):
            self.on_call(channel_id, ev.CallerHungUp("16"))
            self.gone(channel_id, "Normal Clearing")
        for _ in range(10):
            for channel_id, reason in self.hanging:
                self.leg_gone(channel_id, reason)
            self.hanging = []
            for channel_id, leg in sorted(self.legs.items()):
                self.leg_gone(channel_id, "No answer" if leg == "ringing" else "Normal Clearing")
            if not self.hanging and not self.legs:
                break
        for _ in range(5):
            self.now += timedelta(hours=1)
            self.step(sb.Wake())
        board = self.board
        assert board.calls == {} and board.entries == {} and board.legs == {} and board.leg_of == {}
        assert board.bridges == {} and board.talk_started == {} and board.overdue == frozenset()
        assert board.dials == {} and board.centre.ended == {}
        # Only open callbacks stay: in the queue (a virtual place) or due later.
        assert set(board.centre.queue.entries) <= set(board.callbacks)
        callback_kinds = (
            "callback",
            "lease",
            "closed",
            "dial",
        )  # an open callback's: due, its lease, a closed line
        assert {k for k in board.deadlines if k[0] not in callback_kinds} <= {("duration", "")}, (
            board.deadlines
        )
        assert {name for kind, name in board.deadlines if kind in callback_kinds} <= set(board.callbacks)
        for callback_id, states in self.callbacks.items():
            finals = [state for state in states if state in FINAL]
            assert len(finals) <= 1, states
            assert (callback_id in board.callbacks) == (not finals), (callback_id, states)
        for agent in board.centre.agents.values():
            callback = board.callbacks.get(agent.entry_id or "")
            if callback is not None and callback.stage is Stage.LEASING:  # reserved for an open callback
                continue
            assert agent.state not in (AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP), agent
            assert agent.entry_id is None, agent
        assert self.bridges == {}, "every bridge made is destroyed"
        assert sorted(self.over) == sorted(self.arrived) and set(self.over.values()) <= {1}, (
            "every call ends with exactly one CallOver"
        )


def check(before: sb.Board, board: sb.Board, commands: list[sb.Command], asterisk: Asterisk) -> None:
    queue = board.centre.queue
    # No queue entry lost or duplicated: each belongs to one live, queued call.
    for entry_id, entry in queue.entries.items():
        if entry.channel_id is None:  # a callback's virtual place
            assert entry_id in board.callbacks and entry_id not in board.entries, entry
            continue
        channel_id = board.entries.get(entry_id)
        assert channel_id is not None and entry.channel_id == channel_id, f"{entry_id} has no call"
        call = board.calls[channel_id]
        assert call.entry_id == entry_id and call.phase is Phase.QUEUED, (entry_id, call.phase)
    for channel_id, call in board.calls.items():
        if call.phase is Phase.QUEUED:
            assert call.entry_id in queue, f"{channel_id} is queued without a place"
    assert len(set(board.entries.values())) == len(board.entries), "one place per call"
    people = [e.caller_key for e in queue.entries.values() if e.caller_key is not None]
    assert len(people) == len(set(people)), "one person, one place"
    for entry_id, channel_id in board.entries.items():
        assert board.calls[channel_id].entry_id == entry_id
    check_agents(board)
    check_order(before, board, commands)
    # Every deadline was asked for with a WakeAt; no call outlives its CallOver.
    assert set(board.deadlines.values()) <= asterisk.woken_at
    for channel_id in board.calls:
        assert channel_id not in asterisk.over


def check_agents(board: sb.Board) -> None:
    """No agent on two calls; a rung or talking agent's place has exactly one phone;
    nobody waits whom a free agent could take."""
    queue, agents = board.centre.queue, board.centre.agents
    busy = [a for a in agents.values() if a.state in (AgentState.RINGING, AgentState.ON_CALL)]
    assert len({a.entry_id for a in busy}) == len(busy), "two agents on one place"
    for agent in busy:
        # (not a released phone of an earlier attempt at a callback, being hung up)
        legs = [
            leg
            for leg in board.legs.values()
            if leg.entry_id == agent.entry_id
            and (board.leg_of.get(leg.entry_id) == leg.channel_id or not leg.ending)
        ]
        callback = board.callbacks.get(agent.entry_id or "")
        if callback is not None and callback.stage is Stage.LEASING:  # reserved: rung once the lease is ours
            assert not legs and agent.state is AgentState.RINGING and callback.agent == agent.agent_id
            continue
        assert len(legs) == 1 and legs[0].agent_id == agent.agent_id, (agent, legs)
        assert legs[0].answered == (agent.state is AgentState.ON_CALL)
        assert board.leg_of.get(legs[0].entry_id) == legs[0].channel_id
        if agent.state is AgentState.RINGING:
            assert queue.entries[agent.entry_id or ""].offered_to == agent.agent_id
            assert ("leg", legs[0].channel_id) in board.deadlines, "a ringing phone has its guard"
    for entry in queue.entries.values():
        if entry.offered_to is not None:
            agent = agents[entry.offered_to]
            assert agent.state is AgentState.RINGING and agent.entry_id == entry.entry_id
        else:  # nobody free who could take them (the centre offers at every change)
            assert not [
                a for a in agents.values() if a.available and a.can_serve(entry.topic, entry.language)
            ]
    for agent in agents.values():
        if agent.state is AgentState.WRAP_UP:
            assert board.deadlines.get(("agent", agent.agent_id)) == agent.wrap_up_until


def check_order(before: sb.Board, board: sb.Board, commands: list[sb.Command]) -> None:
    """Priority, then join time: an agent rung now was not owed to a better place
    that was waiting already before this step and still is."""
    queue, agents = board.centre.queue, board.centre.agents
    for ring in (c for c in commands if isinstance(c, sb.Originate)):
        rung = queue.entries.get(ring.app_args.split(",")[1])
        if rung is None:  # its caller went later in the same step: the phone is hung up again
            assert sb.HangupLeg(ring.channel_id, "caller left") in commands
            continue
        offered = before.centre.queue.entries.get(rung.entry_id)
        if offered is not None and offered.offered_to == ring.agent_id:
            continue  # a callback's agent, reserved in an earlier step (the order decided then), now rung
        for other in queue.entries.values():
            was = before.centre.queue.entries.get(other.entry_id)
            if (
                other.offered_to is None
                and was is not None
                and was.offered_to is None
                and (was.topic, was.language)
                == (other.topic, other.language)  # not overflowed here meanwhile
                and agents[ring.agent_id].can_serve(other.topic, other.language)
            ):
                assert other.order > rung.order, f"{ring.agent_id} rung for {rung} before {other}"


class Day:
    """Random acts drawn against the model (an act with nothing to act on does nothing)."""

    def __init__(self, data: st.DataObject, asterisk: Asterisk) -> None:
        self.data, self.asterisk = data, asterisk

    def pick(self, items: Iterable[T]) -> T:
        return self.data.draw(st.sampled_from(sorted(items, key=repr)))

    def legs(self, state: str) -> list[str]:
        return [c for c, leg in self.asterisk.legs.items() if leg == state]

    def act(self) -> None:
        name = self.data.draw(st.sampled_from(ACTS))
        getattr(self, name)()

    def arrive(self) -> None:
        did, number = self.pick(DIDS), self.data.draw(st.sampled_from(NUMBERS))
        lag = self.pick([0.0] * 9 + [2.0])  # now and then a late event: admission may shed it
        self.asterisk.arrive(did, number, self.data.draw(st.booleans()), lag)

    def answer(self) -> None:
        if self.asterisk.answering:
            channel_id = self.pick(self.asterisk.answering)
            self.asterisk.answering.discard(channel_id)
            self.asterisk.on_call(channel_id, ev.Answered())

    def playback(self) -> None:
        if self.asterisk.playing:
            channel_id, playback_id = self.pick(self.asterisk.playing)
            self.asterisk.playing.discard((channel_id, playback_id))
            self.asterisk.on_call(channel_id, ev.PlaybackFinished(playback_id))

    def key(self) -> None:
        if self.asterisk.callers:
            self.asterisk.on_call(self.pick(self.asterisk.callers), ev.Digit(self.pick(KEYS)))

    def leg_answers(self) -> None:
        if ringing := self.legs("ringing"):
            channel_id = self.pick(ringing)
            self.asterisk.legs[channel_id] = "up"
            if channel_id in self.asterisk.board.legs:
                self.asterisk.step(sb.LegAnswered(channel_id))
            else:  # the dispatcher hangs up a phone nobody waits on
                self.asterisk.legs.pop(channel_id)

    def leg_fails(self) -> None:
        if ringing := self.legs("ringing"):
            self.asterisk.leg_gone(self.pick(ringing), self.pick(["No answer", "Busy", "originate failed"]))

    def agent_hangs_up(self) -> None:
        if answered := self.legs("up"):
            self.asterisk.leg_gone(self.pick(answered), "Normal Clearing")

    def hangup_done(self) -> None:
        if self.asterisk.hanging:
            at = self.data.draw(st.integers(0, len(self.asterisk.hanging) - 1))
            channel_id, reason = self.asterisk.hanging.pop(at)
            self.asterisk.legs.pop(channel_id, None)
            self.asterisk.step(sb.LegGone(channel_id, reason))  # reported whatever the phone was

    def caller_hangs_up(self) -> None:
        if self.asterisk.callers:
            channel_id = self.pick(self.asterisk.callers)
            self.asterisk.on_call(channel_id, ev.CallerHungUp("16"))
            self.asterisk.gone(channel_id, "Normal Clearing")

    def router_hangup_done(self) -> None:
        if self.asterisk.dying:
            self.asterisk.gone(self.pick(self.asterisk.dying), "left the application")

    def command_failed(self) -> None:
        if self.asterisk.callers:
            self.asterisk.on_call(self.pick(self.asterisk.callers), ev.CommandFailed("play", "500"))

    def agent_command(self) -> None:
        agent_id, command = self.pick(AGENTS), self.pick(["login", "login", "logout", "pause", "resume"])
        board = self.asterisk.board
        try:
            self.asterisk.step(sb.AgentCommand(agent_id, command, "break"))
        except AgentStateError:
            assert self.asterisk.board is board, "a refused command changes nothing"

    def wake(self) -> None:
        asterisk = self.asterisk
        jumps = [0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0]
        following = asterisk.board.next_wake()
        if following is not None and following > asterisk.now:
            jumps.append((following - asterisk.now).total_seconds())
        asterisk.now += timedelta(seconds=self.pick(jumps))
        asterisk.step(sb.Wake())

    def reprioritise(self) -> None:
        if entries := self.asterisk.board.centre.queue.entries:
            self.asterisk.step(sb.Reprioritise(self.pick(entries), self.pick([0, 5, 50, 100])))

    def reachable(self) -> None:
        self.asterisk.step(sb.Reachable(self.pick(AGENTS), self.data.draw(st.booleans())))

    def accept_callback(self) -> None:
        """A caller offered a callback presses 1 (to take it, then to confirm their number)."""
        offered = [
            c
            for c in self.asterisk.callers
            if (call := self.asterisk.board.calls.get(c)) and call.callback_offered
        ]
        if offered:
            self.asterisk.on_call(self.pick(offered), ev.Digit("1"))

    def lease_answer(self) -> None:
        if self.asterisk.leasing:
            callback_id = self.pick(self.asterisk.leasing)
            self.asterisk.leasing.discard(callback_id)
            taken = self.data.draw(st.sampled_from([True, True, True, False]))
            if taken:
                self.asterisk.leased.add(callback_id)
            self.asterisk.step(sb.CallbackLeased(callback_id, sb.Lease.TAKEN if taken else sb.Lease.WAIT))

    def person_answers(self) -> None:
        if ringing := [c for c, state in self.asterisk.persons.items() if state == "ringing"]:
            channel_id = self.pick(ringing)
            self.asterisk.persons[channel_id] = "up"
            self.asterisk.step(sb.DialAnswered(channel_id))

    def person_gone(self) -> None:
        if self.asterisk.persons:
            channel_id = self.pick(self.asterisk.persons)
            state = self.asterisk.persons.pop(channel_id)
            cause = (
                "Normal Clearing" if state == "up" else self.pick(["No answer", "Busy", "originate failed"])
            )
            if channel_id in self.asterisk.board.dials:
                self.asterisk.step(sb.DialGone(channel_id, cause))


# Weighted towards calls that get somewhere (answered, prompts heard out, keys
# pressed, phones answered); failures and hang-ups less often.
ACTS = [
    *["arrive"] * 3,
    *["answer"] * 3,
    *["playback"] * 4,
    *["key"] * 4,
    *["leg_answers"] * 3,
    "leg_fails",
    *["agent_hangs_up"] * 2,
    *["hangup_done"] * 3,
    "caller_hangs_up",
    *["router_hangup_done"] * 3,
    "command_failed",
    *["agent_command"] * 2,
    *["wake"] * 3,
    "reprioritise",
    "reachable",
    *["accept_callback"] * 2,
    *["lease_answer"] * 2,
    *["person_answers"] * 2,
    "person_gone",
]
FINAL = (CallbackState.COMPLETED, CallbackState.FAILED, CallbackState.CANCELLED)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_the_switchboard_stays_whole_through_random_days(data: st.DataObject) -> None:
    # Half the days start with calls handled already: estimates are honest, callbacks offered.
    handled = data.draw(st.sampled_from([(), (120.0,) * 5]))
    asterisk = Asterisk(replace(BOARD, rules=RULES, handled=handled), data.draw(st.sampled_from(STARTS)))
    for agent_id in data.draw(st.lists(st.sampled_from(AGENTS), unique=True, min_size=1)):
        asterisk.step(sb.AgentCommand(agent_id, "login"))
    day = Day(data, asterisk)
    for _ in range(data.draw(st.integers(20, 120))):
        day.act()
    asterisk.finish()
