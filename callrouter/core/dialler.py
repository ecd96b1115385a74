"""The switchboard's side of callbacks: booking one in a waiting caller's place,
reserving an agent when it reaches the head of the queue, the lease, the
agent's phone first, then the person; and what every outcome does.

The life cycle and its rules are ``callbacks``'; this module only wires them
into a switchboard step (``board._Step``; the centre's part through
``board_centre``), so the inbound call flow knows nothing of outbound
dialling beyond "this place is a callback". ``board_centre`` imports this module
back: each uses the other's names at call time only. The board's callbacks as
every part of it keeps them (saved, logged, found, cancelled) are ``callback_board``'s.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from callrouter.core import board_calls, board_centre, callback_fit, repeat
from callrouter.core import board_commands as bcmd
from callrouter.core import board_events as bev
from callrouter.core import call_events as ev
from callrouter.core import callback_board as cb
from callrouter.core import callbacks as cbs
from callrouter.core import centre as cc
from callrouter.core.board import Leg, _place, _remember, _Step
from callrouter.core.callbacks import Callback, Stage
from callrouter.core.queue import QueueEntry
from callrouter.core.records import CallbackRecord, CallbackState, PlaceState, callback_key


# ---- booking -------------------------------------------------------------------------------
def request(s: _Step, channel_id: str, number: str) -> None:
    """A waiting caller asked for a callback on ``number``: it takes their place."""
    call = s.board.calls[channel_id]
    entry = s.board.centre.queue.entries.get(call.entry_id or "")
    reason = _refusal(s, number, entry)
    if reason is not None or entry is None:
        s.pending.append((channel_id, ev.CallbackRefused(reason or "no place")))
        return
    callback = cbs.booked(entry.entry_id, number, entry, call.record.call_id, s.now)
    virtual = replace(entry, channel_id=None, call_id=None)
    s.drop("entries", entry.entry_id)
    s.put("calls", channel_id, replace(call, entry_id=None))  # the callback's place now, whatever comes next
    s.set(centre=cc.forget_ended(s.board.centre, [entry.entry_id]))  # how an earlier stint of it ended
    s.deadline(("entry", entry.entry_id), None)  # a callback never overflows
    cb._save(s, callback)
    _place(s, entry, PlaceState.LEFT)  # the call left; the callback holds the place now
    s.pending.append((channel_id, ev.CallbackTaken(callback.callback_id)))
    board_centre._centre(s, cc.retake(s.board.centre, virtual, s.now))


def _refusal(s: _Step, number: str, entry: QueueEntry | None) -> str | None:
    if s.board.rules.callback is None:
        return "callbacks are off"
    if entry is None:
        return "not waiting"
    if entry.offered_to is not None:
        return "an agent is being rung"
    if s.board.rules.repeat.excluded(number):
        return "excluded number"
    if s.board.rules.lines.owns(number):
        return callback_fit.OWN_NUMBER
    if cb.open_for_number(s.board, number) is not None:
        return "a callback to this number is pending"
    if s.board.callbacks_unknown:
        return STORED_UNKNOWN
    return None


STORED_UNKNOWN = "the callbacks stored before the start are not known yet"


def _restore(s: _Step, records: tuple[CallbackRecord, ...], complete: bool) -> None:
    """Each open one not on the board already (its id however spelt: PostgreSQL's has
    dashes), nor a second for a number one is open for, takes its place."""
    s.set(callbacks_unknown=not complete)
    known = {callback_key(callback_id) for callback_id in s.board.callbacks}
    for record in sorted(records, key=lambda r: (r.joined_at, r.callback_id)):
        key = callback_key(record.callback_id)
        taken = cb.open_for_number(s.board, record.number) is not None
        if key in known or record.state not in cbs.OPEN or taken:
            continue
        known.add(key)
        schedule(s, cbs.scheduled(record, s.now))


def schedule(s: _Step, callback: Callback) -> None:
    """A pending callback takes its virtual place now, or when it falls due; one the
    config no longer fits (``callback_fit``), or whose person waits on the line
    now, is cancelled instead."""
    invalid = callback_fit.no_longer_valid(s.board.rules, callback.record)
    if invalid is not None:
        s.put("callbacks", callback.callback_id, callback)
        cb.cancel(s, callback.callback_id, invalid)
        return
    if callback.stage is Stage.SCHEDULED and callback.due_at is not None and callback.due_at > s.now:
        _wait(s, callback)
        return
    if not cb._hours_open(s, callback):
        _wait(s, cbs.later(callback, s.now, cb._until_open(s, callback)))
        return
    if _gives_way(s, callback):
        return
    waiting = replace(callback, stage=Stage.WAITING, due_at=None, agent=None, person_leg=None)
    s.put("callbacks", waiting.callback_id, waiting)
    entry = cbs.entry_of(waiting)
    board_centre._centre(s, cc.join(s.board.centre, entry, s.now))
    if entry.entry_id not in s.board.centre.queue:  # nobody logged in serves its topic: later
        _not_now(s, waiting, cbs.CLOSED_RECHECK, "no agent for its topic")


def _gives_way(s: _Step, callback: Callback) -> bool:
    """The person holds a live place (they called in while it was dialled, or a
    restored call of theirs waits): that place takes the callback's, and the
    callback is cancelled (True). A person never holds two places."""
    person = callback.record.person
    held = s.board.centre.queue.by_caller(person) if person is not None else None
    if held is None:
        return False
    if held.entry_id == callback.callback_id:
        if held.entry_id not in s.board.entries:  # the callback's own place, not a call's
            return False
        # A call of theirs holds the callback's very place (taken up after a restart): it
        # stays theirs (``cancel`` leaves a call's place in the queue).
        s.put("callbacks", callback.callback_id, callback)
        cb.cancel(s, callback.callback_id, "the person is on the line in its place")
        return True
    board_calls.take_callbacks_place(s, held, callback.record)
    if cbs.final(callback):  # its last attempt failed: recorded so, the caller's place kept
        return False
    s.put("callbacks", callback.callback_id, callback)
    cb.cancel(s, callback.callback_id, "the person called in")
    return True


# ---- dialling ------------------------------------------------------------------------------
def reserved(s: _Step, agent_id: str, callback_id: str) -> None:
    """The callback reached the head of the queue for this agent (reserved: ringing
    state, not yet rung). Nothing is dialled before the lease is ours."""
    callback = replace(s.board.callbacks[callback_id], stage=Stage.LEASING, agent=agent_id)
    s.put("callbacks", callback_id, callback)
    if not cb._hours_open(s, callback) or callback_fit.no_longer_valid(s.board.rules, callback.record):
        # Handled at once, outside the centre's step that reserved the agent.
        s.deadline(("closed", callback_id), s.now)
        return
    s.out.append(bcmd.LeaseCallback(callback_id))
    s.deadline(("lease", callback_id), s.now + cb._rules(s).lease_guard)


def leased(s: _Step, callback_id: str, lease: bev.Lease) -> None:
    callback = s.board.callbacks.get(callback_id)
    if callback is None or callback.stage is not Stage.LEASING or callback.agent is None:
        return
    s.deadline(("lease", callback_id), None)
    if lease is bev.Lease.WAIT:  # database away, or another router's: callers first
        _not_now(s, callback, cb._rules(s).lease_retry, "no lease")
        return
    if lease is not bev.Lease.TAKEN:
        # Never leased: asking again every lease_retry would reserve an agent forever.
        _never_leased(s, callback, lease)
        return
    s.put("callbacks", callback_id, replace(callback, stage=Stage.RINGING_AGENT))
    cb._log(s, callback, "callback_agent_rung", callback.agent)
    board_centre.ring_leg(
        s, callback.agent, callback_id, f"callback {callback.record.topic} {callback.record.language}"
    )


def _never_leased(s: _Step, callback: Callback, refused: bev.Lease) -> None:
    """The database has no open row for it. Absent (its record was refused, e.g. a
    second open callback for the number): cancelled, and so recorded. Ended there
    (another router finished it): forgotten here, the database's final word kept."""
    _release_reserved(s, callback)
    if refused is bev.Lease.ABSENT:
        cb.cancel(
            s, callback.callback_id, "no lease: the database has no such callback (its record was refused)"
        )
        return
    cb._no_deadlines(s, callback.callback_id)
    s.drop("callbacks", callback.callback_id)
    cb._log(s, callback, "callback_dropped", "no lease: the database says it ended")
    cb._out_of_queue(s, callback.callback_id)


def _not_now(s: _Step, callback: Callback, wait: timedelta, why: str) -> None:
    """Release the reserved agent (not paused: they did nothing wrong) and take the
    callback out of the queue until ``wait`` has passed."""
    cb._log(s, callback, "callback_postponed", why)
    _wait(s, cbs.later(callback, s.now, wait))
    cb._out_of_queue(s, callback.callback_id)


def _wait(s: _Step, callback: Callback) -> None:
    """Kept on the board, out of the queue, until its due time wakes it."""
    s.put("callbacks", callback.callback_id, callback)
    s.deadline(("callback", callback.callback_id), callback.due_at)


def agent_answered(s: _Step, callback_id: str) -> None:
    """The reserved agent took the call: now the person is called."""
    callback = s.board.callbacks[callback_id]
    s.set(centre=cc.forget_ended(s.board.centre, [callback_id]))  # out of the queue: connected
    channel_id = s.board.rules.originated(f"callback-{callback_id}-{callback.dials + 1}")
    dialling = cbs.dialling(callback, s.now, channel_id)
    cb._save(s, dialling)
    s.put("dials", channel_id, callback_id)
    ring = cb._rules(s).ring_seconds + board_centre.RING_GRACE_SECONDS  # a guard, as for agents' phones
    s.deadline(("dial", callback_id), s.now + timedelta(seconds=ring))
    cb._log(s, callback, "callback_dialled", callback.agent or "")
    line = cb._line(s, callback.record.line)
    label = line.name if line else "callrouter"
    args = f"callback,{callback_id}"
    s.out.append(bcmd.Dial(channel_id, callback.record.number, args, cb._rules(s).ring_seconds, label))


def dial_answered(s: _Step, channel_id: str) -> None:
    callback = _dialled(s, channel_id)
    if callback is None or callback.stage is not Stage.DIALLING:
        return
    s.deadline(("dial", callback.callback_id), None)
    done = cbs.completed(callback, s.now)
    s.put("callbacks", done.callback_id, done)
    s.write(done.record, urgent=True)
    cb._log(s, callback, "callback_answered", callback.agent or "")
    leg_channel = s.board.leg_of.get(callback.callback_id)
    # This dial's own: the caller who booked the callback may still hold "bridge-<place>".
    bridge_id = f"bridge-{channel_id}"
    s.put("bridges", channel_id, bridge_id)
    s.out.append(bcmd.ToChannel(channel_id, bcmd.MakeBridge(bridge_id)))
    if leg_channel is not None:
        s.out.append(bcmd.ToChannel(channel_id, bcmd.JoinBridge(bridge_id, leg_channel)))
    if callback.agent is not None:
        s.put("talk_started", callback.agent, s.now)
        person = callback.record.person or s.board.rules.repeat.key_of(callback.record.number)
        memory = s.board.people.get(person)
        _remember(s, repeat.answered(memory, person, callback.agent, callback.record.call_id, s.now))


def not_bridged(s: _Step, channel_id: str, failed: ev.CommandFailed) -> None:
    """A command on the person's answered channel failed (making their bridge with the
    agent, or joining it, refused twice): no conversation. The answer it recorded is
    taken back, and it is an attempt failed ("not_bridged"): retried or failed by its
    rules, both phones hung up, the agent released. Asterisk's word that the person's
    channel is gone (``DialGone``) then finds it no longer talking."""
    callback = _dialled(s, channel_id)
    if callback is None or callback.stage is not Stage.TALKING or callback.person_leg != channel_id:
        return
    cb._log(s, callback, "callback_not_bridged", f"{failed.command}: {failed.detail}")
    s.out.append(bcmd.HangupLeg(channel_id, "not bridged"))
    if callback.agent is not None:
        s.drop("talk_started", callback.agent)
    answered = replace(
        callback.record, state=CallbackState.DIALLING, attempts=callback.record.attempts[:-1]
    )  # as it was before the answer
    _attempt_failed(s, replace(callback, record=answered, stage=Stage.DIALLING), "not_bridged")
    leg_channel = s.board.leg_of.get(callback.callback_id)
    if leg_channel is not None:
        _let_go(s, callback.callback_id, leg_channel, "callback not bridged")


def dial_gone(s: _Step, channel_id: str, cause: str) -> None:
    """The person's call ended: unanswered (an attempt failed) or after talking. A dial
    its callback has left (not bridged, then dialled again) ends nothing of it."""
    callback = _dialled(s, channel_id)
    s.drop("dials", channel_id)
    bridge_id = s.board.bridges.get(channel_id)
    if bridge_id is not None:
        s.out.append(bcmd.DestroyBridge(channel_id, bridge_id))
        s.drop("bridges", channel_id)
    if callback is None or callback.person_leg != channel_id:
        return
    leg_channel = s.board.leg_of.get(callback.callback_id)
    if callback.stage is Stage.TALKING:
        s.drop("callbacks", callback.callback_id)
        if leg_channel is not None:
            s.out.append(bcmd.HangupLeg(leg_channel, "person hung up"))
        return
    if callback.stage is Stage.DIALLING:
        s.deadline(("dial", callback.callback_id), None)
        _attempt_failed(s, callback, cbs.outcome_of(cause))
        if leg_channel is not None:
            _let_go(s, callback.callback_id, leg_channel, "callback not answered")


def _let_go(s: _Step, callback_id: str, leg_channel: str, reason: str) -> None:
    """Hang up the released agent's phone. It is no longer the callback's: a retry may
    ring an agent (even the same one) before Asterisk says this phone is gone."""
    leg = s.board.legs.get(leg_channel)
    if leg is not None:
        s.put("legs", leg_channel, replace(leg, ending=True))
    s.drop("leg_of", callback_id)
    s.out.append(bcmd.HangupLeg(leg_channel, reason))


def _attempt_failed(s: _Step, callback: Callback, outcome: str) -> None:
    """The agent is released at once (no wrap-up); the callback retries later, or fails."""
    agent = callback.agent
    line = cb._line(s, callback.record.line)
    after = cbs.attempt_failed(callback, cb._rules(s), outcome, s.now, line.hours if line else None)
    cb._log(s, callback, "callback_attempt", outcome)
    if not _gives_way(s, after):  # not retried while the person waits on the line
        cb._save(s, after)
        if after.due_at is not None:
            s.deadline(("callback", after.callback_id), after.due_at)
    if agent is not None:
        board_centre._centre(s, cc.release(s.board.centre, agent, callback.callback_id, s.now))


def _dialled(s: _Step, channel_id: str) -> Callback | None:
    callback_id = s.board.dials.get(channel_id)
    return s.board.callbacks.get(callback_id) if callback_id is not None else None


def agent_leg_gone(s: _Step, leg: Leg) -> None:
    """The reserved agent's phone went: unanswered (the next agent is tried, as for
    any caller), or the agent hung up while the person rang or talked."""
    callback = s.board.callbacks.get(leg.entry_id)
    if callback is None:
        return
    if not leg.answered:
        s.put("callbacks", callback.callback_id, replace(callback, stage=Stage.WAITING, agent=None))
        return
    person_leg = callback.person_leg
    if callback.stage is Stage.DIALLING:
        s.drop("dials", person_leg or "")
        s.deadline(("dial", callback.callback_id), None)
        _attempt_failed(s, callback, "agent_left")
    elif callback.stage is Stage.TALKING:
        s.drop("callbacks", callback.callback_id)
    if person_leg is not None:
        s.out.append(bcmd.HangupLeg(person_leg, "agent hung up"))


# ---- time and restarts ---------------------------------------------------------
def due(s: _Step, kind: str, callback_id: str) -> None:
    callback = s.board.callbacks.get(callback_id)
    if callback is None:
        return
    if kind == "lease":  # the shell never answered about the lease: as good as refused
        leased(s, callback_id, bev.Lease.WAIT)
    elif kind == "closed" and callback.stage is Stage.LEASING:
        invalid = callback_fit.no_longer_valid(s.board.rules, callback.record)
        if invalid is not None:  # the config changed since it was booked
            _release_reserved(s, callback)
            cb.cancel(s, callback_id, invalid)
        else:
            _not_now(s, callback, cb._until_open(s, callback), "line closed")
    elif kind == "dial" and callback.stage is Stage.DIALLING and callback.person_leg is not None:
        # Asterisk never said the person's phone stopped ringing: hang up, no answer.
        s.out.append(bcmd.HangupLeg(callback.person_leg, "ring timeout"))
        dial_gone(s, callback.person_leg, "ring timeout: no answer")
    elif callback.stage is Stage.SCHEDULED:
        schedule(s, replace(callback, due_at=None))


def _release_reserved(s: _Step, callback: Callback) -> None:
    s.put("callbacks", callback.callback_id, replace(callback, stage=Stage.WAITING, agent=None))


def on_event(s: _Step, event: bev.Event) -> None:
    match event:
        case bev.CallbackLeased(callback_id, lease):
            leased(s, callback_id, lease)
        case bev.DialAnswered(channel_id):
            dial_answered(s, channel_id)
        case bev.DialGone(channel_id, cause):
            dial_gone(s, channel_id, cause)
        case bev.RestoreCallbacks(records, complete):
            _restore(s, records, complete)
        case bev.ScheduleCallback(record):
            if s.board.rules.callback is None:  # nothing would ever dial it
                raise bev.CallbackError("callbacks are off (no callback.offer_after_seconds in the config)")
            if s.board.callbacks_unknown:
                raise bev.CallbackError(STORED_UNKNOWN)
            if cb.open_for_number(s.board, record.number) is not None:
                raise bev.CallbackError("a callback to this number is already pending")
            if record.callback_id in s.board.callbacks:
                raise bev.CallbackError("this callback exists already")
            callback = cbs.scheduled(record, s.now)
            s.write(callback.record, urgent=True)
            schedule(s, callback)
        case bev.CancelCallback(callback_id, reason):
            cb.cancel(s, callback_id, reason)
