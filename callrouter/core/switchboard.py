"""The switchboard: every call, the one queue, the agents and their phones, as
one pure state machine.

    step(board, event, now) -> (board, commands)

``event`` is something that happened outside (a call arrived, a key, a
playback ended, an agent's phone answered or went away, an admin command, a
restart's findings, or just time passing: ``Wake``); ``commands`` are only
I/O for the shell to carry out (say to a channel, ring a phone, hang one up,
make or destroy a bridge, write a record, wake me at). Nothing here reads a
clock, a socket or a file, so ``simulate`` can run a day through it in
simulated time, and a test can run it a million steps.

This module owns ``step`` and time (``_wake``: every deadline that falls due, the
maximum wait and call duration, calls still there after their hangup), and is
the switchboard's one public face: every name in ``__all__`` is importable from
here. The events are ``board_events``', the commands ``board_commands``', the
state (``Rules``, ``Board``, ``Leg``, one step's ``_Step``) ``board``'s.

Where each rule lives (one call, followed through):
- the DID decides the line, the line the greeting, hours and menu: ``Rules``
  (compiled once from the config by ``compiled.py``) and ``call.arrive``, from
  ``board_calls._arrived``;
- what the caller hears and presses: ``call.decide`` with ``menu``, in
  ``board_calls._settle``;
- overload admission (who is told to call back): ``admission``, fed each
  arrival's lag (``board_calls._admit``);
- the place in the queue (its own id, not the call's), order, position and
  the wait estimate: ``queue``, ``estimate`` and ``board_calls._join`` /
  ``_announcement``; a repeat caller's place (``_recall``, ``_take_over``):
  ``repeat``;
- who is rung for whom, auto-pause, wrap-up, max wait: ``centre`` and ``agents``,
  applied by ``board_centre._centre``;
- an agent's phone (ringing, answered, given up after the ring timeout, failed
  to ring: treated as no answer): ``Leg`` and ``board_centre``'s ``ring_leg`` and
  ``_leg_*`` steps;
- a call's end (its place given up, its agent's phone hung up, its bridge
  destroyed): ``board_calls._call_over``;
- a restart (places, menu levels and talking calls taken up again):
  ``board_restart._adopt`` with ``place``;
- callbacks: ``callbacks``, wired into a step by ``dialler`` (the board's callbacks
  kept, found and cancelled: ``callback_board``);
- the call and the centre talk inside one step (``board_calls._settle``), never
  through the shell; a caller's timers, ring guards, wrap-ups, maximum waits and
  the maximum call duration are deadlines in ``Board.deadlines``, and every new
  deadline is a ``WakeAt`` command: no polling tick (``_wake`` here).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from callrouter.core import board_results, dialler, repeat
from callrouter.core import call_events as ev
from callrouter.core import centre as cc
from callrouter.core import commands as cmd
from callrouter.core.agents import AgentStateError
from callrouter.core.board import (
    Board,
    Key,
    Leg,
    Result,
    Rules,
    _forget_expired,
    _forget_later,
    _place,
    _remember,
    _Step,
)
from callrouter.core.board_calls import _arrived, _place_of, _settle
from callrouter.core.board_centre import RING_GRACE_SECONDS, _centre, _leg_answered, _leg_gone, ring_leg
from callrouter.core.board_commands import (
    ANONYMOUS,
    CallOver,
    ChannelCommand,
    Command,
    DestroyBridge,
    Dial,
    ForResults,
    HangupLeg,
    JoinBridge,
    LeaseCallback,
    MakeBridge,
    Originate,
    TakeResults,
    ToChannel,
    WakeAt,
    Write,
)
from callrouter.core.board_events import (
    AGENT_COMMANDS,
    Adopt,
    AgentCommand,
    Arrived,
    CallbackError,
    CallbackLeased,
    CancelCallback,
    CancelNotification,
    DialAnswered,
    DialGone,
    Event,
    Found,
    FoundCallback,
    Lease,
    LegAnswered,
    LegGone,
    OnCall,
    PollResults,
    Reachable,
    Remember,
    Reprioritise,
    RestoreAgents,
    RestoreCallbacks,
    ResultsTaken,
    ScheduleCallback,
    StillThere,
    Wake,
)
from callrouter.core.board_restart import _adopt, _restore_agents
from callrouter.core.call_state import Phase
from callrouter.core.evolve import evolve
from callrouter.core.place import VARIABLE as PLACE_VARIABLE
from callrouter.core.records import CallEventRecord, PlaceState

# The public face: what the shell and the tests import from here, the step helpers included.
__all__ = [
    "AGENT_COMMANDS",
    "ANONYMOUS",
    "RING_GRACE_SECONDS",
    "Adopt",
    "AgentCommand",
    "Arrived",
    "Board",
    "CallOver",
    "CallbackError",
    "CallbackLeased",
    "CancelCallback",
    "CancelNotification",
    "ChannelCommand",
    "Command",
    "DestroyBridge",
    "Dial",
    "DialAnswered",
    "DialGone",
    "Event",
    "ForResults",
    "Found",
    "FoundCallback",
    "HangupLeg",
    "JoinBridge",
    "Key",
    "Lease",
    "LeaseCallback",
    "Leg",
    "LegAnswered",
    "LegGone",
    "MakeBridge",
    "OnCall",
    "Originate",
    "PollResults",
    "Reachable",
    "Remember",
    "Reprioritise",
    "RestoreAgents",
    "RestoreCallbacks",
    "Result",
    "ResultsTaken",
    "Rules",
    "ScheduleCallback",
    "StillThere",
    "TakeResults",
    "ToChannel",
    "Wake",
    "WakeAt",
    "Write",
    "_Step",
    "_centre",
    "_place",
    "_remember",
    "ring_leg",
    "step",
]


def step(board: Board, event: Event, now: datetime, *, in_place: bool = False) -> Result:
    """The board after ``event`` at ``now``, and the commands for the shell. The board
    given is never changed, unless ``in_place``: then it and its mappings are changed
    where they are (no copy of them) and it must not be used again (``_Step``). A refused
    admin event raises before anything is changed, in place or not."""
    s = _Step(board, now, in_place)
    if type(event) is OnCall and type(event.event) is not ev.CommandFailed:  # most events: at once
        s.pending.append((event.channel_id, event.event))
    else:
        _event(s, event)
    _settle(s)
    return s.board, s.out


def _event(s: _Step, event: Event) -> None:
    board, now = s.board, s.now
    match event:  # the most frequent first (a call's own events are ``step``'s)
        case Wake():
            _wake(s)
        case Arrived():
            _arrived(s, event)
        case LegAnswered(channel_id):
            _leg_answered(s, channel_id)
        case LegGone(channel_id, cause):
            _leg_gone(s, channel_id, cause)
        case OnCall(channel_id, ev.CommandFailed() as failed) if channel_id in board.dials:
            dialler.not_bridged(s, channel_id, failed)  # a callback's person's channel
        case OnCall(channel_id, call_event):
            s.pending.append((channel_id, call_event))
        case AgentCommand():
            _agent_command(s, event)
        case Reachable() | Reprioritise() | RestoreAgents():
            _centre_event(s, event)
        case StillThere(channel_ids):
            _hang_up_lingering(s, channel_ids)
        case Adopt(found, stray, stored, talking, complete):
            _adopt(s, found, stray, stored, talking, complete)
        case Remember(people):
            loaded = repeat.loaded(board.rules.repeat, list(people), now)
            s.set(people={**board.people, **loaded})
            _forget_later(s, loaded.values())
        case _:  # the results calls' events, else the callbacks'
            if not board_results.on_event(s, event):
                dialler.on_event(s, event)


def _centre_event(s: _Step, event: Reachable | Reprioritise | RestoreAgents) -> None:
    centre = s.board.centre
    match event:
        case Reachable(agent_id, reachable):
            _centre(s, cc.set_reachable(centre, agent_id, reachable, s.now))
        case Reprioritise(entry_id, priority):
            was = centre.queue.entries[entry_id].priority if entry_id in centre.queue else None
            _centre(s, cc.reprioritise(centre, entry_id, priority, s.now))
            _place(s, s.board.centre.queue.entries[entry_id], PlaceState.WAITING)
            call = s.board.call_of_entry(entry_id)
            if call is not None:  # on the call's timeline: why a later caller went ahead of earlier ones
                detail = f"{was} -> {priority}"
                s.write(
                    CallEventRecord(call.record.call_id, s.board.rules.node, s.now, "reprioritised", detail)
                )
                # and in its row: the priority it waits at now (its join's no longer holds), and
                # on its channel, for a router that takes the call up after a restart
                channel_id, entry = s.board.entries[entry_id], s.board.centre.queue.entries[entry_id]
                record = evolve(call.record, priority=priority)
                s.put("calls", channel_id, evolve(call, record=record))
                s.write(record)
                place = replace(_place_of(entry), menu_path=record.menu_path)
                s.out.append(ToChannel(channel_id, cmd.SetVariable(PLACE_VARIABLE, place.to_variable())))
        case RestoreAgents(last, taken):
            _restore_agents(s, last, taken)


def _agent_command(s: _Step, event: AgentCommand) -> None:
    if event.agent_id not in s.board.centre.agents:
        raise KeyError(event.agent_id)
    if event.command not in AGENT_COMMANDS:
        raise AgentStateError(f"unknown agent command {event.command!r}")
    _centre(s, cc.agent_command(s.board.centre, event.agent_id, event.command, s.now, event.reason))


# ---- time --------------------------------------------------------------------------------
def _wake(s: _Step) -> None:
    for _, key in s.due():
        s.deadline(key, None)
        kind, name = key
        if kind == "call":
            call = s.board.calls.get(name)
            if call is not None and call.timer is not None:
                s.pending.append((name, ev.TimerFired(call.timer)))
        elif kind == "leg":
            leg = s.board.legs.get(name)
            if leg is not None and not leg.answered:
                # Asterisk never said the ring ended: hang up, and treat it as no answer.
                s.out.append(HangupLeg(name, "ring timeout"))
                _leg_gone(s, name, "ring timeout")
        elif kind == "agent":
            _centre(s, cc.wrap_up_over(s.board.centre, name, s.now))
        elif kind == "entry":
            _max_wait(s, name)
        elif kind == "duration":
            _check_durations(s)
        elif kind in ("callback", "lease", "closed", "dial"):
            dialler.due(s, kind, name)
        elif kind == "results":
            board_results.poll(s)
        elif kind == "results_dial":
            board_results.ring_timeout(s, name)
        elif kind == "consult":
            board_results.consult_due(s, name)


def _max_wait(s: _Step, entry_id: str) -> None:
    entry = s.board.centre.queue.entries.get(entry_id)
    if entry is None:
        return
    if entry.offered_to is not None:  # an agent is ringing: decided once the ring ends
        s.deadline(("entry", entry_id), s.now + timedelta(seconds=1))
        return
    due = cc.max_wait_due(s.board.centre, entry)
    if due is None or due > s.now:  # its topic changed, or a drop's grace: not yet (or never)
        s.deadline(("entry", entry_id), due)
        return
    _centre(s, cc.overflow(s.board.centre, entry_id, "max_wait"))


def _check_durations(s: _Step) -> None:
    """The maximum call duration, for every call, by one periodic deadline."""
    began_by = s.now - s.board.rules.max_call  # a call begun by then has lasted the maximum
    # Every call read at every check (a few hundred at a busy hour): those begun by then, first.
    due = [channel_id for channel_id, call in s.board.calls.items() if call.record.started_at <= began_by]
    if due:
        told = set(s.board.overdue)
        for channel_id in due:
            if channel_id not in told:
                told.add(channel_id)
                s.pending.append((channel_id, ev.MaxDurationReached()))
        s.set(overdue=frozenset(told))
    _forget_expired(s)
    if s.board.calls:
        s.deadline(("duration", ""), s.now + s.board.rules.duration_check)


def _hang_up_lingering(s: _Step, listed: frozenset[str]) -> None:
    """A call the router hung up that is still there at two checks in a row (its
    hangup failed) is hung up again; one check is not enough, as a hangup or a
    hand-back to the dialplan may still be on its way."""
    ending = frozenset(
        channel_id
        for channel_id in listed
        if (call := s.board.calls.get(channel_id)) is not None and call.phase is Phase.ENDING
    )
    for channel_id in sorted(ending & s.board.lingering):
        s.out.append(ToChannel(channel_id, cmd.Hangup()))
    s.set(lingering=ending)
