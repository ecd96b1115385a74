"""The switchboard's side of one call: its arrival (the line, overload
admission, who the caller is), its commands carried out and its events decided
(``_settle``), its place taken (a repeat caller's earlier place, or another call
of theirs taken over), given up, announced, and the call's end."""

from __future__ import annotations

from datetime import timedelta
from typing import assert_never, cast

from callrouter.core import admission, board_results, callback_board, dialler, repeat
from callrouter.core import call as calls
from callrouter.core import call_events as ev
from callrouter.core import centre as cc
from callrouter.core import commands as cmd
from callrouter.core.board import (
    Board,
    _bridge_id,
    _max_wait_from,
    _place,
    _remember,
    _Step,
)
from callrouter.core.board_centre import _centre
from callrouter.core.board_commands import (
    CallOver,
    ChannelCommand,
    DestroyBridge,
    ForResults,
    HangupLeg,
    JoinBridge,
    ToChannel,
    Write,
)
from callrouter.core.board_events import Arrived
from callrouter.core.call_state import Call, Phase
from callrouter.core.callbacks import Callback
from callrouter.core.estimate import estimate_minutes
from callrouter.core.evolve import evolve
from callrouter.core.numbers import is_restricted, normalise
from callrouter.core.place import Place
from callrouter.core.queue import GIVEN_BACK_GRACE, QueueEntry
from callrouter.core.records import CallbackRecord, PlaceState, RepeatKind


# ---- arrival and what a call says ---------------------------------------------------------
def _arrived(s: _Step, event: Arrived) -> None:
    rules = s.board.rules
    line = rules.line_for(event.did)
    taken = line is None or _admit(s, event.lag)
    caller = normalise(
        event.number, line.country if line else "US", restricted=is_restricted(event.presentation)
    )
    call, first = calls.arrive(
        call_id=calls.call_id_for(rules.node, event.channel_id),
        node=rules.node,
        channel_id=event.channel_id,
        did=event.did,
        line=line,
        caller=caller,
        now=event.at,
        overloaded=not taken,
        place_id=event.place_id,
        began=event.began,
        live=rules.journal,  # a board that writes no journal is a simulated day's
    )
    call = _recognise(s, call, rules.repeat.person(caller))
    if event.up and cmd.Answer() in first:
        # Answered in the dialplan (ARI-NOTES 16): no REST call, the call goes on now.
        first = [c for c in first if not isinstance(c, cmd.Answer)]
        s.pending.append((event.channel_id, ev.Answered()))
    _start_call(s, call, first)


def _recognise(s: _Step, call: Call, person: str | None) -> Call:
    """Who the caller is; one who gave up a place in time and had chosen a topic
    skips the menu (the place itself is decided when they join)."""
    call = evolve(call, person=person)
    if person is None:
        return call
    rules = s.board.rules.repeat
    kept = repeat.resumable(rules, s.board.people.get(person), s.now)
    pending = callback_board.of_person(s.board, person)
    if pending is not None and callback_board.cancellable(pending):  # keep it, or wait in its place
        call = evolve(
            call, known_topic=pending.record.topic, language=pending.record.language, callback_pending=True
        )
    elif kept is not None and rules.skip_menu:
        call = evolve(call, known_topic=kept.topic, language=kept.language or call.language)
    return call


def _admit(s: _Step, lag: float) -> bool:
    """Overload admission (``core.admission``): past what the box sustains, a new
    caller is told to call back at once. An urgent line's caller refused here is
    never told that: they ring its fallback desk (``call.arrive``), which is why
    they are not simply let in to wait on an overloaded router."""
    at = s.now.timestamp()
    state = s.board.admission or admission.Admission.start(s.board.rules.admission, at)
    state, taken = admission.admit(admission.observe(state, at, lag), at, urgent=False)
    s.set(admission=state)
    return taken


def _start_call(s: _Step, call: Call, first: list[cmd.Command]) -> None:
    channel_id = call.record.channel_id
    s.put("calls", channel_id, call)
    if ("duration", "") not in s.board.deadlines:
        s.deadline(("duration", ""), s.now + s.board.rules.duration_check)
    _carry_out(s, channel_id, first)
    if call.ended:
        _call_over(s, channel_id)


def _settle(s: _Step) -> None:
    """Decide every call event this step produced, in order."""
    plan = s.board.rules.plan
    while s.pending:
        channel_id, event = s.pending.popleft()
        call = s.board.calls.get(channel_id)
        if call is None:
            continue
        if isinstance(event, cmd.RequestAnnouncement):
            # Read after what came before it in this step (every caller a restart
            # resumes has joined, every overflow has rejoined): the place is the
            # caller's place now, not the one they had halfway through the step.
            # The call's place now: a repeat caller may have taken over another.
            heard = _announcement(s.board, call.entry_id or event.entry_id)
            if heard is None:
                continue
            event = heard
        after, commands = calls.decide(call, event, s.now, plan)
        s.put("calls", channel_id, after)
        _carry_out(s, channel_id, commands)
        if after.phase is Phase.ENDED and channel_id in s.board.calls:  # ``ended``, without a call
            _call_over(s, channel_id)


# Most of a call's commands are records or for its channel: told apart by their type at
# once (``_carry_out``), rather than tried against every case of what the board does.
_FOR_THE_CHANNEL = (
    cmd.Answer, cmd.Play, cmd.SetLanguage, cmd.StopPlayback, cmd.StartMoh, cmd.StopMoh, cmd.SetVariable,
    cmd.Hangup, cmd.ContinueInDialplan,
)  # fmt: skip


_CHANNELS_TYPES = frozenset(_FOR_THE_CHANNEL)  # by exact type: none of them is subclassed


def _carry_out(s: _Step, channel_id: str, commands: list[cmd.Command]) -> None:
    """A call's commands: the centre's part is done here, the rest is I/O."""
    out, journal = s.out, s.board.rules.journal
    for command in commands:  # told apart by exact type (an isinstance tries a class's whole line)
        if type(command) is cmd.LogEvent:
            if journal:
                out.append(Write(command.event))
        elif type(command) is cmd.SaveCall:
            out.append(Write(command.record))
        elif type(command) in _CHANNELS_TYPES:
            out.append(ToChannel(channel_id, cast("ChannelCommand", command)))
        else:
            _for_the_board(s, channel_id, cast("BoardsPart", command))


BoardsPart = (
    cmd.StartTimer | cmd.JoinQueue | cmd.VerifySecret | cmd.AuditDisclosure | cmd.LeaveQueue
    | cmd.RequestAnnouncement | cmd.RequestCallback | cmd.Bridge
)  # fmt: skip


def _for_the_board(s: _Step, channel_id: str, command: BoardsPart) -> None:
    match command:
        case cmd.StartTimer(_, seconds):
            s.deadline(("call", channel_id), s.now + timedelta(seconds=seconds))
        case cmd.JoinQueue(entry):
            _join(s, channel_id, entry)
            if s.board.calls[channel_id].results is not None:  # a patient asked for a consultant
                board_results.joined(s, channel_id)
        case cmd.VerifySecret() | cmd.AuditDisclosure():
            s.out.append(ForResults(channel_id, s.board.calls[channel_id].record.call_id, command))
        case cmd.LeaveQueue(entry_id):
            _leave(s, entry_id)
        case cmd.RequestAnnouncement():
            s.pending.append((channel_id, command))
        case cmd.RequestCallback(number):
            dialler.request(s, channel_id, number)
        case cmd.Bridge(agent_channel):
            bridge_id = s.board.bridges.get(channel_id) or _bridge_id(s.board.calls[channel_id])
            s.put("bridges", channel_id, bridge_id)
            s.out.append(ToChannel(channel_id, JoinBridge(bridge_id, agent_channel)))
        case _:
            assert_never(command)


# ---- a place in the queue -----------------------------------------------------------------
def _join(s: _Step, channel_id: str, entry: QueueEntry) -> None:
    person = entry.caller_key
    pending = callback_board.of_person(s.board, person) if person is not None else None
    if pending is not None and callback_board.cancellable(pending):
        # Waits on the line in the callback's place instead: never both.
        callback_board.cancel(s, pending.callback_id, "the person called in")
    else:
        pending = None
    held = s.board.centre.queue.by_caller(person) if person is not None else None
    if held is not None:
        _take_over(s, channel_id, entry, held)
        return
    entry, recognised = _recall(s, entry, pending)
    if recognised is not None:
        s.pending.append((channel_id, recognised))
    _take(s, channel_id, entry)


Recalled = tuple[QueueEntry, ev.Recognised | None]


def _recall(s: _Step, entry: QueueEntry, pending: Callback | None) -> Recalled:
    """A person's earlier call decides this one's place: their cancelled callback's,
    or the one they gave up in time (ahead of everyone who joined after it); or,
    answered recently, their last agent is preferred."""
    person = entry.caller_key
    memory = s.board.people.get(person) if person is not None else None
    rules = s.board.rules.repeat
    priority: int | None
    if pending is not None:
        booked = pending.record
        kind, repeat_of, joined_at, priority = (
            RepeatKind.CALLBACK_PENDING,
            booked.call_id,
            booked.joined_at,
            booked.priority,
        )
    elif (kept := repeat.resumable(rules, memory, s.now)) is not None:
        assert kept.joined_at is not None
        kind, repeat_of, joined_at, priority = (
            RepeatKind.RESUMED,
            kept.left_call_id,
            kept.joined_at,
            kept.priority,
        )
        _remember(s, repeat.resumed(kept, s.now))
    elif (contact := repeat.recent_contact(rules, memory, s.now)) is not None:
        entry = evolve(entry, preferred_agent=contact.contact_agent)
        return entry, ev.Recognised(RepeatKind.RECENT_CONTACT, contact.contact_call_id)
    else:
        return entry, None
    priority = max(entry.priority, priority or 0)
    grace = s.now + GIVEN_BACK_GRACE  # their time off the line counts as waited: not overflowed at once
    entry = evolve(entry, joined_at=joined_at, priority=priority, overflow_not_before=grace)
    return entry, ev.Recognised(kind, repeat_of, _place_of(entry))


def _place_of(entry: QueueEntry) -> Place:
    """The place a recognised call is told it has: the entry's topic, priority, join
    time and language (its menu path is the call's own)."""
    return Place(entry.topic, entry.priority, entry.joined_at, entry.language, None, entry.entry_id)


def _take(s: _Step, channel_id: str, entry: QueueEntry) -> None:
    s.put("entries", entry.entry_id, channel_id)
    _centre(s, cc.join(s.board.centre, entry, s.now))
    taken = s.board.centre.queue.entries.get(entry.entry_id)
    if taken is not None:
        _place(s, taken, PlaceState.WAITING)
        _max_wait_from(s, taken)


def take_callbacks_place(s: _Step, held: QueueEntry, booked: CallbackRecord) -> None:
    """The person waits on the line while their callback is pending (they called in
    while it was being dialled): their place takes the callback's join time and the
    higher priority of the two, so they keep the place the callback held. The
    callback itself is the dialler's to cancel: never both."""
    joined_at, priority = min(held.joined_at, booked.joined_at), max(held.priority, booked.priority)
    grace = s.now + GIVEN_BACK_GRACE if joined_at < held.joined_at else held.overflow_not_before
    taken = evolve(held, joined_at=joined_at, priority=priority, overflow_not_before=grace)
    _centre(s, cc.retake(s.board.centre, taken, s.now))
    _place(s, taken, PlaceState.WAITING)
    _max_wait_from(s, taken)
    channel_id = s.board.entries.get(held.entry_id)
    if channel_id is not None:  # its call says so, and takes the place up
        recognised = ev.Recognised(RepeatKind.CALLBACK_PENDING, booked.call_id, _place_of(taken))
        s.pending.append((channel_id, recognised))


def _take_over(s: _Step, channel_id: str, entry: QueueEntry, held: QueueEntry) -> None:
    """The person already holds a place (another call of theirs waits, through any
    line): this call takes it over, with its join time and the higher priority of
    the two, and the older call is told and released. One person, one place."""
    old_channel = s.board.entries.get(held.entry_id)
    old_call = s.board.calls.get(old_channel) if old_channel is not None else None
    priority = max(entry.priority, held.priority)
    changes: dict[str, object] = {
        "channel_id": entry.channel_id,
        "call_id": entry.call_id,
        "priority": priority,
    }
    if held.offered_to is None:  # what they asked for this time (an agent ringing keeps the old)
        changes |= {"topic": entry.topic, "language": entry.language, "line": entry.line}
    taken = evolve(held, **changes)
    if s.board.entries.get(entry.entry_id) == channel_id:  # its own earlier place (overflowed): gone
        s.drop("entries", entry.entry_id)
        s.set(centre=cc.forget_ended(s.board.centre, [entry.entry_id]))
    s.put("entries", held.entry_id, channel_id)
    # Both calls change hands at once (what they hear follows below): any event of
    # theirs already waiting in this step sees the place where it is now.
    s.put("calls", channel_id, evolve(s.board.calls[channel_id], entry_id=held.entry_id))
    if old_call is not None and old_channel is not None:
        s.put("calls", old_channel, evolve(old_call, entry_id=None))
    if old_channel is not None:
        bridge_id = s.board.bridges.get(old_channel)
        if bridge_id is not None:  # made while an agent rings for the place: the new call's now
            s.drop("bridges", old_channel)
            s.put("bridges", channel_id, bridge_id)
        s.pending.append((old_channel, ev.Replaced()))
    _centre(s, cc.retake(s.board.centre, taken, s.now))
    _place(s, taken, PlaceState.WAITING)
    _max_wait_from(s, taken)  # its topic's now (its join time kept)
    repeat_of = old_call.record.call_id if old_call is not None else held.call_id
    s.pending.append((channel_id, ev.Recognised(RepeatKind.ALREADY_WAITING, repeat_of, _place_of(taken))))


def _leave(s: _Step, entry_id: str) -> None:
    """The caller hung up, or their call ended, while their place waited: the place
    leaves the queue now, and is remembered for a redial."""
    entry = s.board.centre.queue.entries.get(entry_id)
    _centre(s, cc.leave(s.board.centre, entry_id, s.now))
    if entry is not None:
        _place(s, entry, PlaceState.LEFT)
        if entry.caller_key is not None and s.board.rules.repeat.resume > timedelta(0):
            person = s.board.people.get(entry.caller_key)
            _remember(s, repeat.left(person, entry, entry.call_id, s.now))


def _announcement(board: Board, entry_id: str) -> ev.Announce | ev.BeingOffered | None:
    """The caller's place and estimate; BeingOffered while their agent rings."""
    centre = board.centre
    entry = centre.queue.entries.get(entry_id)
    if entry is None:
        return None
    if entry.offered_to is not None:
        return ev.BeingOffered()
    position = centre.queue.position(entry_id)
    serving = centre.serving.get((entry.topic, entry.language), 0)  # logged in, able to take it
    return ev.Announce(position, estimate_minutes(position, serving, board.handled))


# ---- the call's end -----------------------------------------------------------------------
def _call_over(s: _Step, channel_id: str) -> None:
    """The call ended: its place (if any) is given up, its agent's phone hung up,
    its bridge destroyed; nothing of it stays."""
    board = s.board
    call = board.calls[channel_id]
    entry_id = call.entry_id
    if entry_id is not None and entry_id in board.centre.queue:
        _leave(s, entry_id)  # an abnormal end never keeps a place
    s.drop("calls", channel_id)
    if entry_id is not None and s.board.entries.get(entry_id) == channel_id:
        s.drop("entries", entry_id)
    bridge_id = s.board.bridges.get(channel_id)
    if bridge_id is not None:
        s.out.append(DestroyBridge(channel_id, bridge_id))
        s.drop("bridges", channel_id)
    if channel_id in s.board.overdue:
        s.set(overdue=s.board.overdue - {channel_id})
    if entry_id is not None:
        s.set(centre=cc.forget_ended(s.board.centre, [entry_id]))
    s.deadline(("call", channel_id), None)
    s.deadline(("consult", channel_id), None)
    if call.results is not None:
        board_results.call_over(s, call)
    if entry_id is not None:
        s.deadline(("entry", entry_id), None)
        leg_channel = s.board.leg_of.get(entry_id)
        leg = s.board.legs.get(leg_channel) if leg_channel is not None else None
        if leg is not None and leg.answered and not leg.ending:
            s.put("legs", leg.channel_id, evolve(leg, ending=True))
            s.out.append(HangupLeg(leg.channel_id, "caller gone"))
    s.out.append(CallOver(channel_id, call.record))
