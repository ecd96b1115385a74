"""The switchboard's side of the centre and agents' phones: a centre transition
applied to the board (``_centre``: who is rung, connected, overflowed, an agent's
change recorded), and an agent's phone (``Leg``) from ringing to answered or
gone (no answer, ring timeout, a failed originate: all treated as no answer).

``dialler`` imports this module back: each uses the other's names at call time only."""

from __future__ import annotations

from datetime import timedelta

from callrouter.core import call_events as ev
from callrouter.core import centre as cc
from callrouter.core import centre_restart, dialler, repeat
from callrouter.core.agents import Agent, AgentState
from callrouter.core.board import (
    Leg,
    _bridge_id,
    _max_wait_from,
    _place,
    _remember,
    _Step,
)
from callrouter.core.board_commands import (
    ANONYMOUS,
    DestroyBridge,
    HangupLeg,
    MakeBridge,
    Originate,
    ToChannel,
)
from callrouter.core.board_events import AGENT_COMMANDS
from callrouter.core.call_state import Phase
from callrouter.core.evolve import evolve
from callrouter.core.queue import GIVEN_BACK_GRACE, QueueEntry
from callrouter.core.records import DROPPED_AT_ANSWER, AgentStateRecord, PersonRecord, PlaceState

# A phone still ringing this long after its ring timeout is hung up by the router
# (Asterisk may never report the end of a ring).
RING_GRACE_SECONDS = 5.0
# A ring whose end the router lost with its own connection to Asterisk (answered while the
# application was away, it never came to the router): not the agent's doing, never a pause.
RING_LOST = "its end lost while the router's connection to Asterisk was away"


def _centre(s: _Step, result: cc.Result) -> None:
    """Apply a centre transition; its commands become call events and I/O (a place
    connected or overflowed comes with itself as it was, for its record)."""
    centre, commands = result
    s.set(centre=centre)
    for command in commands:
        match command:  # the most frequent first
            case cc.AgentChanged(agent, reason):
                _agent_changed(s, agent, reason)
            case cc.RingAgent(agent_id, entry_id):
                _ring(s, agent_id, entry_id)
            case cc.Connect(agent_id, entry_id, entry):
                _connected(s, entry, entry_id, agent_id)
            case cc.CancelRing(_, entry_id):
                leg_channel = s.board.leg_of.get(entry_id)
                if leg_channel is not None:
                    s.out.append(HangupLeg(leg_channel, "caller left"))
            case cc.OverflowEntry(entry_id, reason, entry):
                if entry is not None and entry_id not in s.board.callbacks:
                    _place(s, entry, PlaceState.OVERFLOWED)
                s.deadline(("entry", entry_id), None)
                channel_id = s.board.entries.get(entry_id)
                if channel_id is not None:
                    s.pending.append((channel_id, ev.Overflowed(reason)))


def _connected(s: _Step, entry: QueueEntry | None, entry_id: str, agent_id: str) -> None:
    """An agent answered for this place: the caller is bridged to them, and it is
    recorded and remembered of the person (a later call of theirs is a repeat
    contact, this agent preferred). A callback's agent answered: the person is called."""
    if entry_id in s.board.callbacks:  # recorded once the person answers
        dialler.agent_answered(s, entry_id)
        return
    if entry is not None:
        _place(s, entry, PlaceState.CONNECTED)
        if (person := entry.caller_key) is not None and s.board.rules.repeat.contact > timedelta(0):
            memory = s.board.people.get(person)
            _remember(s, repeat.answered(memory, person, agent_id, entry.call_id, s.now))
    leg_channel = s.board.leg_of.get(entry_id)
    channel_id = s.board.entries.get(entry_id)
    if leg_channel is not None and channel_id is not None:
        s.put("talk_started", agent_id, s.now)
        s.pending.append((channel_id, ev.AgentAnswered(agent_id, leg_channel)))


def _agent_changed(s: _Step, agent: Agent, reason: str) -> None:
    held = s.board.unsettled.get(agent.agent_id)  # idle since a restart: so first, unless found talking
    if held is not None:
        s.drop("unsettled", agent.agent_id)
        if reason != centre_restart.RESUMED:
            s.write(held)
    # A pause is recorded with its own reason ("lunch", "auto-pause: no answer"),
    # which a restarted router gives back to the agent.
    paused = agent.state is AgentState.PAUSED
    said = (agent.pause_reason or reason) if paused else reason
    call = s.board.call_of_entry(agent.entry_id) if agent.entry_id else None
    call_id = call.record.call_id if call is not None else agent.entry_id
    # Changes a restart must keep (log in/out, pause, resume) are written at once.
    s.write(
        AgentStateRecord(agent.agent_id, s.now, agent.state._value_, said, call_id),  # .value, sooner
        urgent=paused or reason in AGENT_COMMANDS,
    )
    wrap_up = agent.wrap_up_until if agent.state is AgentState.WRAP_UP else None
    s.deadline(("agent", agent.agent_id), wrap_up)


def _ring(s: _Step, agent_id: str, entry_id: str) -> None:
    if entry_id in s.board.callbacks:  # a callback's place: the lease first, then its agent's phone
        dialler.reserved(s, agent_id, entry_id)
        return
    ring_leg(s, agent_id, entry_id, None)


def ring_leg(s: _Step, agent_id: str, entry_id: str, label: str | None) -> None:
    board = s.board
    made = board.legs_made + 1
    leg_channel = board.rules.originated(f"agent-{entry_id}-{made}")
    leg = Leg(leg_channel, agent_id, entry_id)
    s.put("legs", leg_channel, leg)
    s.put("leg_of", entry_id, leg_channel)
    s.set(legs_made=made)
    entry = board.centre.queue.entries.get(entry_id)
    label = label or (f"{entry.line} {entry.topic} {entry.language}" if entry else "callrouter")
    channel_id = board.entries.get(entry_id)
    call = board.calls.get(channel_id) if channel_id is not None else None
    # The number the caller showed (never one they withheld, nor the asserted one).
    callback = board.callbacks.get(entry_id)  # a callback: the number the agent will talk to
    number = (
        call.record.caller_number if call else callback.record.number if callback else None
    ) or ANONYMOUS
    rules = board.rules
    args = f"agent,{entry_id},{agent_id}"
    s.out.append(Originate(leg_channel, agent_id, args, rules.ring_seconds, label, number))
    s.deadline(("leg", leg_channel), s.now + timedelta(seconds=rules.ring_seconds + RING_GRACE_SECONDS))
    if channel_id is None or call is None:
        return
    s.pending.append((channel_id, ev.AgentRinging(agent_id)))
    if channel_id not in s.board.bridges:
        bridge_id = _bridge_id(call)
        s.put("bridges", channel_id, bridge_id)
        s.out.append(ToChannel(channel_id, MakeBridge(bridge_id)))


def _leg_answered(s: _Step, leg_channel: str) -> None:
    leg = s.board.legs.get(leg_channel)
    if leg is None or leg.answered:
        return
    taken = s.board.centre.queue.entries.get(leg.entry_id)
    person = taken.caller_key if taken is not None else None
    remembered = s.board.people.get(person) if person is not None else None
    answered = evolve(leg, answered=True, answered_at=s.now, taken=taken, remembered=remembered)
    s.put("legs", leg_channel, answered)
    s.deadline(("leg", leg_channel), None)
    _centre(s, cc.agent_answered(s.board.centre, leg.agent_id, leg.entry_id, s.now))


def _leg_gone(s: _Step, leg_channel: str, cause: str) -> None:
    board = s.board
    leg = board.legs.get(leg_channel)
    if leg is None:
        return
    if leg.ending and leg.entry_id in board.callbacks and board.leg_of.get(leg.entry_id) != leg_channel:
        # A released agent's phone of an earlier attempt at a callback: nothing to decide.
        s.drop("legs", leg_channel)
        s.deadline(("leg", leg_channel), None)
        return
    if board.leg_of.get(leg.entry_id) == leg_channel:
        s.drop("leg_of", leg.entry_id)
    s.drop("legs", leg_channel)
    s.deadline(("leg", leg_channel), None)
    channel_id = board.entries.get(leg.entry_id)
    if leg.entry_id in board.callbacks:
        dialler.agent_leg_gone(s, leg)
    if leg.answered:
        if _dropped(s, leg, channel_id):
            return
        if channel_id is not None:
            s.pending.append((channel_id, ev.AgentLeft()))
        started = board.talk_started.get(leg.agent_id)
        if started is not None:
            handled = (s.now - started).total_seconds() + board.centre.wrap_up.total_seconds()
            window = board.rules.estimate_window
            s.set(handled=(*board.handled, handled)[-window:])
            s.drop("talk_started", leg.agent_id)
        _centre(s, cc.call_ended(s.board.centre, leg.agent_id, leg.entry_id, s.now))
        return
    if channel_id is not None:
        s.pending.append((channel_id, ev.AgentMissed(leg.agent_id, cause)))
    if cause == RING_LOST:
        _centre(s, cc.offer_lost(s.board.centre, leg.agent_id, leg.entry_id, s.now, cause))
        return
    _centre(s, cc.agent_not_answered(s.board.centre, leg.agent_id, leg.entry_id, s.now, cause))


def _dropped(s: _Step, leg: Leg, channel_id: str | None) -> bool:
    """An inbound caller's agent whose phone went within ``Rules.dropped_within`` of its
    answer (a softphone answering without media, which Asterisk hangs up at once; a slip
    of the finger): the agent is auto-paused, the caller leaves the call's bridge and is
    back in their place (``True``), rather than hung up unserved. Not a callback's or a
    results call's place, nor one the caller no longer holds."""
    board = s.board
    call = board.calls.get(channel_id) if channel_id is not None else None
    entry, answered_at, within = leg.taken, leg.answered_at, board.rules.dropped_within
    if (
        call is None or entry is None or answered_at is None or not within or s.now - answered_at > within
        or call.phase is not Phase.CONNECTED or call.record.agent != leg.agent_id or call.results is not None
        or leg.entry_id in board.callbacks or call.entry_id != leg.entry_id
        or (entry.caller_key is not None and board.centre.queue.by_caller(entry.caller_key) is not None)
    ):  # fmt: skip
        return False
    assert channel_id is not None
    entry = evolve(entry, overflow_not_before=s.now + GIVEN_BACK_GRACE)  # its join time kept
    result = cc.dropped(board.centre, leg.agent_id, entry, s.now, DROPPED_AT_ANSWER)
    if not result[1]:  # the agent is not on this call (nothing changed): an ordinary end
        return False
    s.drop("talk_started", leg.agent_id)
    bridge_id = board.bridges.get(channel_id)
    if bridge_id is not None:  # the caller out of it, after what is queued on their channel
        s.out.append(DestroyBridge(channel_id, bridge_id))
        s.drop("bridges", channel_id)
    _place(s, entry, PlaceState.WAITING)
    _max_wait_from(s, entry)  # as at its join, or at the end of its grace
    _unremember_answer(s, leg, entry)
    s.pending.append((channel_id, ev.AgentDropped(leg.agent_id)))
    _centre(s, result)  # the next agent rung after the caller is back (its events in order)
    return True


def _unremember_answer(s: _Step, leg: Leg, entry: QueueEntry) -> None:
    """The person's memory as it was before the dropped answer: that agent never talked
    to them (a later call is no repeat contact of it, nor prefers that agent)."""
    person = entry.caller_key
    memory = s.board.people.get(person) if person is not None else None
    if person is None or memory is None or memory.contact_call_id != entry.call_id:
        return
    if memory.contact_agent != leg.agent_id or memory.contact_at != leg.answered_at:
        return
    _remember(s, evolve(leg.remembered or PersonRecord(person, s.now), at=s.now))
