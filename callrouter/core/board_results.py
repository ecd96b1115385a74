"""The switchboard's side of results calls: when to look for due notifications,
dialling them, the call once the patient answers (``results_call``), a
positive result's consultant, and each attempt's outcome (``results``).

A look (``TakeResults``) is made every ``poll`` while there is room (at most
``max_concurrent`` results calls at once), some line's calling window is open,
and the inbound queue is not too slow (its estimated wait, or its oldest
caller's wait, over ``pause_when_wait_over``): a results call never takes an
agent, but a patient who asks for a consultant joins the one queue. Imports
``board_calls`` back (a results call is a call): names are used at call time.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from callrouter.core import board_calls, dialler, results
from callrouter.core import board_commands as bcmd
from callrouter.core import board_events as bev
from callrouter.core import call as calls
from callrouter.core import callbacks as cbs
from callrouter.core import commands as cmd
from callrouter.core import results_call as rc
from callrouter.core.agents import AgentState
from callrouter.core.board import Board, ResultsCall, _Step
from callrouter.core.board_centre import RING_GRACE_SECONDS
from callrouter.core.board_events import CallbackError
from callrouter.core.call_state import Call, Phase
from callrouter.core.estimate import estimate_minutes
from callrouter.core.place import PATIENT_VARIABLE, Patient
from callrouter.core.records import CallEventRecord, NotificationRecord
from callrouter.core.results import Notification, ResultsRules

POLL = ("results", "poll")


def _rules(s: _Step) -> ResultsRules | None:
    return s.board.rules.results


def on_event(s: _Step, event: bev.Event) -> bool:
    """The results calls' events (False: not one of theirs)."""
    match event:
        case bev.DialAnswered(channel_id) if channel_id in s.board.result_dials:
            answered(s, channel_id)
        case bev.DialGone(channel_id, cause) if channel_id in s.board.result_dials:
            gone(s, channel_id, cause)
        case bev.ResultsTaken(notifications, pending):
            taken(s, notifications, pending)
        case bev.PollResults():
            poll(s)
        case bev.CancelNotification(notification_id, reason):
            cancel(s, notification_id, reason)
        case _:
            return False
    return True


def poll(s: _Step) -> None:
    rules = _rules(s)
    if rules is None:
        return
    s.deadline(POLL, s.now + rules.poll)
    room = rules.max_concurrent - len(s.board.results)
    if s.board.results_taking or room <= 0 or paused(s, rules):
        return
    lines = rules.open_lines(s.board.rules.by_name, s.now)
    if lines:
        s.set(results_taking=True)
        s.out.append(bcmd.TakeResults(lines, room, tuple(sorted(s.board.results))))


def paused(s: _Step, rules: ResultsRules) -> bool:
    """The inbound queue is slow: its estimated wait for one more caller, or its
    oldest caller's wait, is over the threshold."""
    limit = rules.pause_when_wait_over
    centre = s.board.centre
    entries = list(centre.queue.entries.values())
    if limit is None or not entries:
        return False
    oldest = min(entry.joined_at for entry in entries)
    if s.now - oldest > limit:
        return True
    serving = sum(1 for a in centre.agents.values() if a.state is not AgentState.LOGGED_OUT)
    minutes = estimate_minutes(len(entries) + 1, serving, s.board.handled)
    return minutes is not None and timedelta(minutes=minutes) > limit


def taken(s: _Step, notifications: tuple[Notification, ...], pending: int) -> None:
    s.set(results_taking=False, results_pending=pending)
    rules = _rules(s)
    assert rules is not None, "only a look asks for notifications, and only with [results]"
    for notification in notifications:
        if notification.notification_id in s.board.results:
            continue
        ended = results.taken(notification, s.now, rules)
        if ended is not None:
            s.write(ended, urgent=True)
            continue
        _dial(s, notification, rules)


def _dial(s: _Step, notification: Notification, rules: ResultsRules) -> None:
    nid = notification.notification_id
    channel_id = s.board.rules.originated(
        f"results-{nid}-{len(notification.attempts) + 1}-{int(s.now.timestamp())}"
    )
    s.put("results", nid, ResultsCall(notification, channel_id, s.now))
    s.put("result_dials", channel_id, nid)
    s.deadline(("results_dial", nid), s.now + timedelta(seconds=rules.ring_seconds + RING_GRACE_SECONDS))
    _log(s, channel_id, "results_dialled", f"{nid} attempt {len(notification.attempts) + 1}")
    args = f"results,{nid}"
    s.out.append(
        bcmd.Dial(channel_id, notification.number, args, rules.ring_seconds, notification.line, rules.dial)
    )


def _log(s: _Step, channel_id: str, kind: str, detail: str = "") -> None:
    call_id = calls.call_id_for(s.board.rules.node, channel_id)
    s.write(CallEventRecord(call_id, s.board.rules.node, s.now, kind, detail))


def answered(s: _Step, channel_id: str) -> bool:
    """The patient's phone answered: the call begins (False: not a results call's channel)."""
    nid = s.board.result_dials.get(channel_id)
    held = s.board.results.get(nid) if nid is not None else None
    rules = _rules(s)
    if held is None or nid is None or rules is None or held.answered:  # answered already: told twice
        return nid is not None
    line = s.board.rules.line_named(held.notification.line)
    s.deadline(("results_dial", nid), None)
    if line is None:  # a line the config no longer has: not told from here
        s.out.append(bcmd.HangupLeg(channel_id, "no such line"))
        _attempt(s, held, "failed", None)
        return True
    s.put("results", nid, replace(held, answered=True))
    call, first = rc.start(
        call_id=calls.call_id_for(s.board.rules.node, channel_id),
        node=s.board.rules.node,
        channel_id=channel_id,
        line=line,
        notification=held.notification,
        rules=rules,
        started_at=held.started_at,
        now=s.now,
        plan=s.board.rules.plan,
    )
    board_calls._start_call(s, call, first)
    return True


def gone(s: _Step, channel_id: str, cause: str) -> bool:
    """The patient's phone stopped ringing unanswered (or never rang)."""
    nid = s.board.result_dials.get(channel_id)
    if nid is None:
        return False
    s.drop("result_dials", channel_id)
    held = s.board.results.get(nid)
    if held is not None and held.channel_id == channel_id and not held.answered:
        outcome = cbs.outcome_of(cause)
        _log(s, channel_id, "results_not_answered", outcome)
        _attempt(s, held, outcome, None)
    return True


def ring_timeout(s: _Step, nid: str) -> None:
    held = s.board.results.get(nid)
    if held is not None and not held.answered:
        s.out.append(bcmd.HangupLeg(held.channel_id, "ring timeout"))
        gone(s, held.channel_id, "ring timeout: no answer")


def _attempt(s: _Step, held: ResultsCall, outcome: str, call_id: str | None) -> None:
    rules = _rules(s)
    nid = held.notification.notification_id
    s.drop("results", nid)
    s.drop("result_dials", held.channel_id)
    s.deadline(("results_dial", nid), None)
    assert rules is not None
    record = results.after_attempt(held.notification, outcome, s.now, rules, call_id)
    s.write(record, urgent=True)


def unattended(board: Board) -> list[str]:
    """The patients' channels of the results calls in their automated part (ringing,
    the identity check, the result told): no later router carries one on, so a router
    that stops hangs them up. One handed to a consultant is no longer among them
    (``joined`` ends its notification's attempt): it waits or talks as any caller."""
    return sorted(held.channel_id for held in board.results.values())


def call_over(s: _Step, call: Call) -> None:
    """A results call ended (the patient or the router hung up): the attempt's outcome."""
    dialog = call.results
    held = s.board.results.get(dialog.notification_id) if dialog is not None else None
    if dialog is None or held is None or held.channel_id != call.record.channel_id:
        return
    _attempt(s, held, rc.attempt_outcome(dialog), call.record.call_id)


def joined(s: _Step, channel_id: str) -> None:
    """A positive result's patient asked for a consultant and joined the queue: the
    notification is transferred now (its call goes on as any waiting caller's),
    and if no consultant takes them in time, a callback is booked instead."""
    call = s.board.calls.get(channel_id)
    dialog = call.results if call is not None else None
    rules = _rules(s)
    held = s.board.results.get(dialog.notification_id) if dialog is not None else None
    if call is None or held is None or rules is None:
        return
    _attempt(s, held, "transferred", call.record.call_id)
    s.deadline(("consult", channel_id), s.now + rules.consult_max_wait)
    number, line = call.record.caller_number, call.record.line
    if number is not None and line is not None:  # for a router that adopts the call after a restart
        patient = Patient(line, number).to_variable()
        s.out.append(bcmd.ToChannel(channel_id, cmd.SetVariable(PATIENT_VARIABLE, patient)))


def consult_due(s: _Step, channel_id: str) -> None:
    call = s.board.calls.get(channel_id)
    if call is None or call.phase is not Phase.QUEUED or call.entry_id is None:
        return
    entry = s.board.centre.queue.entries.get(call.entry_id)
    if entry is None:
        return
    if entry.offered_to is not None:  # a consultant is ringing: decided once the ring ends
        s.deadline(("consult", channel_id), s.now + timedelta(seconds=1))
        return
    _log(s, channel_id, "results_consult_callback")
    dialler.request(s, channel_id, call.record.caller_number or "")


def cancel(s: _Step, nid: str, reason: str) -> NotificationRecord:
    held = s.board.results.get(nid)
    if held is None:
        raise KeyError(nid)
    if held.answered:
        raise CallbackError("the patient is on the line")
    s.out.append(bcmd.HangupLeg(held.channel_id, "cancelled"))
    s.drop("results", nid)
    s.drop("result_dials", held.channel_id)
    s.deadline(("results_dial", nid), None)
    record = results.cancelled(held.notification, s.now, reason)
    s.write(record, urgent=True)
    return record
