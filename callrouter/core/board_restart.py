"""The switchboard's side of a restart: every call a restarted router found in
Asterisk taken up again (``Adopt``): talking callers first, then waiting places
(the channel's, else the stored one), menu levels, and the rest afresh; stray
agents' phones hung up, and stored places no call holds any more closed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from callrouter.core import call as calls
from callrouter.core import call_events as ev
from callrouter.core import call_menu, centre_restart
from callrouter.core import callback_board as cb
from callrouter.core import callbacks as cbs
from callrouter.core import centre as cc
from callrouter.core.board import Leg, _bridge_id, _Step
from callrouter.core.board_calls import _arrived, _start_call
from callrouter.core.board_centre import _centre
from callrouter.core.board_commands import HangupLeg, JoinBridge, ToChannel
from callrouter.core.board_events import Arrived, Found, FoundCallback
from callrouter.core.callbacks import Callback, Stage
from callrouter.core.centre_restart import CALL_OVER
from callrouter.core.commands import StopPlayback
from callrouter.core.numbers import is_restricted, normalise
from callrouter.core.place import (
    RESUMED_PLAYS,
    Adopted,
    Place,
    place_id_of,
    resume,
    resume_connected,
    resume_ended,
)
from callrouter.core.records import AgentStateRecord, PlaceRecord, PlaceState


def _restore_agents(s: _Step, last: Mapping[str, AgentStateRecord], taken: Mapping[str, int]) -> None:
    """Agents back in their last states. One last recorded on a call (rung, talking,
    wrapping up) is idle, offered calls at once, but their idle row is held until the
    calls found in Asterisk are taken up (``_settle_restored``) or they change
    (``board_centre._agent_changed``): an agent still talking would otherwise get an
    idle row for a state they never were in, and at once an on_call one."""
    centre, commands = centre_restart.restore_agents(s.board.centre, last, s.now, taken)
    held = () if s.board.adopted else CALL_OVER.values()  # adopted: read late, their calls known gone
    written: list[cc.CentreCommand] = []
    for command in commands:
        if isinstance(command, cc.AgentChanged) and command.reason in held:
            agent = command.agent
            s.put(
                "unsettled",
                agent.agent_id,
                AgentStateRecord(agent.agent_id, s.now, agent.state.value, command.reason),
            )
        else:
            written.append(command)
    _centre(s, (centre, written))


def _settle_restored(s: _Step) -> None:
    """The calls found in Asterisk all taken up: an agent restored from a call's state
    whom none of them put back on a call was idle from their restore: the row held says so."""
    s.set(adopted=True)
    for _, held in sorted(s.board.unsettled.items()):
        s.write(held)
    s.set(unsettled={})


def _adopt(
    s: _Step,
    found: tuple[Found, ...],
    stray: tuple[str, ...],
    stored: tuple[PlaceRecord, ...],
    talking_callbacks: tuple[FoundCallback, ...] = (),
    complete: bool = True,
) -> None:
    for conversation in talking_callbacks:  # first: their agents are on a call
        _resume_callback(s, conversation)
    rules = s.board.rules
    waiting = {
        p.call_id: p
        for p in stored
        if p.node == rules.node and p.state is PlaceState.WAITING and p.call_id is not None
        and p.place_id not in s.board.entries
    }  # fmt: skip
    talking = [f for f in found if f.agent_id is not None]
    for f in talking + [f for f in found if f.agent_id is None]:
        kept = waiting.pop(calls.call_id_for(rules.node, f.channel_id), None)
        if f.channel_id not in s.board.calls:  # else its own event came first
            _take_up(s, f, kept)
    for leg_channel in stray:
        s.out.append(HangupLeg(leg_channel, "no call waits on it"))
    known = {call.record.call_id for call in s.board.calls.values()}
    for kept in waiting.values():
        if kept.call_id not in known:  # its call is not in Asterisk any more
            _stored_place_ended(s, kept, PlaceState.LEFT)
    if complete:
        _settle_restored(s)


def _take_up(s: _Step, f: Found, kept: PlaceRecord | None) -> None:
    """One call found: where it was (talking, waiting, in the menu, told its last
    message), with the place stored for it (``kept``) if its channel lost its own."""
    rules = s.board.rules
    line = rules.line_for(f.did) if f.line is None else rules.line_named(f.line)
    if line is None or f.ended is not None:  # a line gone: left alone; told its last message: over
        if kept is not None:
            _stored_place_ended(s, kept, PlaceState.LEFT)
        if line is None:
            return
    caller = normalise(f.number, line.country, restricted=is_restricted(f.presentation))
    person = rules.repeat.person(caller)
    direction = "inbound" if f.line is None else "results"
    call_id = calls.call_id_for(rules.node, f.channel_id)
    adopted = Adopted(call_id, rules.node, f.channel_id, f.did, line, caller, f.started_at, person, direction)
    if f.ended is not None:
        _start_call(s, *resume_ended(adopted, f.ended, s.now))
        return
    place = f.place if kept is None else _stored_place(s, f, kept)
    if f.agent_id is not None and f.agent_channel is not None:
        _resume_talking(s, adopted, place_id_of(place, adopted.call_id), f)
    elif place is not None:
        _start_call(s, *resume(adopted, place, s.now))
    elif f.menu is not None and (resumed := call_menu.resume_menu(adopted, f.menu, s.now, rules.plan)):
        _stop_old_prompts(s, f.channel_id, call_id)
        _start_call(s, *resumed)
    else:  # at the menu's top level (or before it): starts afresh
        _stop_old_prompts(s, f.channel_id, call_id)
        again = Arrived(
            f.channel_id, f.did, f.number, s.now, adopted.call_id, up=True, presentation=f.presentation,
            began=f.started_at,
        )  # fmt: skip
        _arrived(s, again)


# The prompts a router before may have left playing (or queued) on a caller in the menu:
# its greeting and menu, and those after each silence or wrong key, numbered from 1 (or from
# RESUMED_PLAYS, a call it had taken up itself). Asterisk lists no channel's playbacks, so each
# is stopped by its id (one not there is no error): left going, a menu of 20 s played on over
# the new router's, which queued behind it and whose next requests on the channel timed out.
OLD_MENU_PLAYS = 8


def _stop_old_prompts(s: _Step, channel_id: str, call_id: str) -> None:
    for first in (0, RESUMED_PLAYS):
        for n in range(first + 1, first + OLD_MENU_PLAYS + 1):
            s.out.append(ToChannel(channel_id, StopPlayback(f"{call_id}-p{n}")))


def _stored_place(s: _Step, f: Found, kept: PlaceRecord) -> Place | None:
    """The place a found call resumes, given the one stored for it: the channel's
    word wins; a stored place no longer held is closed."""
    stored = Place(kept.topic, kept.priority, kept.joined_at, kept.language, None, kept.place_id)
    if f.agent_id is not None:  # connected (the record of it was lost): the agent's leg names this place
        _stored_place_ended(s, kept, PlaceState.CONNECTED)
        return f.place or stored
    if f.place is None:  # the channel lost its place (or never got it written)
        return stored
    if f.place.place_id != kept.place_id:  # the channel holds another place
        _stored_place_ended(s, kept, PlaceState.LEFT)
    return f.place


def _stored_place_ended(s: _Step, kept: PlaceRecord, state: PlaceState) -> None:
    s.write(replace(kept, at=s.now, state=state))


def _resume_talking(s: _Step, adopted: Adopted, entry_id: str, f: Found) -> None:
    """A caller still talking to an agent: left as it is, followed to its end (in the
    bridge they share, its name whatever drops made it; one not bridged yet is joined)."""
    agent_id, leg_channel = f.agent_id, f.agent_channel
    assert agent_id is not None and leg_channel is not None
    call, first = resume_connected(adopted, entry_id, agent_id, s.now)
    _start_call(s, call, first)
    channel_id = adopted.channel_id
    if agent_id not in s.board.centre.agents:  # an agent this config does not know: end it cleanly
        s.pending.append((channel_id, ev.AgentLeft()))
        s.out.append(HangupLeg(leg_channel, "unknown agent"))
        return
    s.put("legs", leg_channel, Leg(leg_channel, agent_id, entry_id, answered=True))
    s.put("leg_of", entry_id, leg_channel)
    s.put("entries", entry_id, channel_id)
    bridge_id = f.bridge_id or _bridge_id(call)
    s.put("bridges", channel_id, bridge_id)
    if f.unbridged:
        s.out.append(ToChannel(channel_id, JoinBridge(bridge_id, leg_channel)))
    s.put("talk_started", agent_id, s.now)
    _centre(s, centre_restart.resume_call(s.board.centre, agent_id, entry_id, s.now))


def _resume_callback(s: _Step, found: FoundCallback) -> None:
    """A callback's person still talking to its agent: left as it is, followed to its
    end as a callback answered by this router would be (either side's hang-up ends
    both, and the agent wraps up). One whose agent this config does not know, or
    that is on the board already, is hung up."""
    callback_id, agent_id = found.callback_id, found.agent_id
    if agent_id not in s.board.centre.agents or callback_id in s.board.callbacks:
        s.out.append(HangupLeg(found.channel_id, "no such callback or agent"))
        s.out.append(HangupLeg(found.agent_channel, "no such callback or agent"))
        return
    record = replace(found.record, callback_id=callback_id)
    talking = Callback(record, Stage.DIALLING, agent=agent_id, person_leg=found.channel_id, dials=1)
    if record.state in cbs.OPEN:  # its answer was never recorded: it is now
        talking = cbs.completed(talking, s.now)
        s.write(talking.record, urgent=True)
    else:
        talking = replace(talking, stage=Stage.TALKING)
    s.put("callbacks", callback_id, talking)
    s.put("dials", found.channel_id, callback_id)
    s.put("bridges", found.channel_id, f"bridge-{found.channel_id}")
    s.put("legs", found.agent_channel, Leg(found.agent_channel, agent_id, callback_id, answered=True))
    s.put("leg_of", callback_id, found.agent_channel)
    s.put("talk_started", agent_id, s.now)
    cb._log(s, talking, "callback_resumed", f"connected to {agent_id}")
    _centre(s, centre_restart.resume_call(s.board.centre, agent_id, callback_id, s.now))
