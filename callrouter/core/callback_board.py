"""The board's callbacks as every part of the dialler reads and keeps them: the
callback rules and lines they consult, a callback saved (the board's copy and its
record) and logged on its timeline, found by number or person, taken out of the
queue, and cancelled (by an operator, or by the person calling in). ``dialler``
books and dials them; ``board_calls`` asks here whether a caller has one.
``board_centre`` is used at call time only (it imports ``dialler`` back).
"""

from __future__ import annotations

from datetime import timedelta

from callrouter.core import board_centre
from callrouter.core import board_events as bev
from callrouter.core import callbacks as cbs
from callrouter.core import centre as cc
from callrouter.core.board import Board, _Step
from callrouter.core.call_plan import LineInfo
from callrouter.core.callbacks import Callback, Stage
from callrouter.core.records import CallEventRecord


def _rules(s: _Step) -> cbs.CallbackRules:
    rules = s.board.rules.callback
    assert rules is not None
    return rules


def _line(s: _Step, name: str) -> LineInfo | None:
    return s.board.rules.line_named(name)


def _hours_open(s: _Step, callback: Callback) -> bool:
    line = _line(s, callback.record.line)
    return cbs.open_for(line.hours if line else None, s.now)


def _until_open(s: _Step, callback: Callback) -> timedelta:
    """How long a callback due while its line is closed waits: until the line opens (one
    look per callback a night, where each looked every ``CLOSED_RECHECK`` all night),
    else (no opening ahead) that recheck."""
    line = _line(s, callback.record.line)
    opens = line.hours.next_open(s.now) if line is not None and line.hours is not None else None
    return opens - s.now if opens is not None and opens > s.now else cbs.CLOSED_RECHECK


def _save(s: _Step, callback: Callback, urgent: bool = True) -> None:
    """The board's copy and its record (written at once: a restart must find it)."""
    if cbs.final(callback):
        s.drop("callbacks", callback.callback_id)
    else:
        s.put("callbacks", callback.callback_id, callback)
    s.write(callback.record, urgent=urgent)


def _log(s: _Step, callback: Callback, kind: str, detail: str = "") -> None:
    """On the callback's timeline, and the timeline of the call that asked for it (if any)."""
    record = callback.record
    s.write(CallEventRecord(record.call_id, s.board.rules.node, s.now, kind, detail, record.callback_id))


def open_for_number(board: Board, number: str) -> Callback | None:
    return next((c for c in board.callbacks.values() if c.record.number == number), None)


def of_person(board: Board, person: str) -> Callback | None:
    return next((c for c in board.callbacks.values() if c.record.person == person), None)


def _out_of_queue(s: _Step, callback_id: str) -> None:
    """Its virtual place leaves the queue (a reserved agent is let go), and how it
    ended is forgotten at once: no call will read it."""
    board_centre._centre(s, cc.leave(s.board.centre, callback_id, s.now))
    s.set(centre=cc.forget_ended(s.board.centre, [callback_id]))


def cancellable(callback: Callback) -> bool:
    return callback.stage not in (Stage.DIALLING, Stage.TALKING)


def cancel(s: _Step, callback_id: str, reason: str) -> Callback:
    """An operator (or the person, calling in) cancels a callback not being dialled."""
    callback = s.board.callbacks.get(callback_id)
    if callback is None:
        raise KeyError(callback_id)
    if not cancellable(callback):
        raise bev.CallbackError("the callback is being dialled")
    _no_deadlines(s, callback_id)
    _save(s, cbs.cancelled(callback, s.now, reason))
    _log(s, callback, "callback_cancelled", reason)
    # Its virtual place leaves the queue; one a call holds (taken up after a restart) is the call's.
    if callback_id in s.board.centre.queue and callback_id not in s.board.entries:
        _out_of_queue(s, callback_id)
    return callback


def _no_deadlines(s: _Step, callback_id: str) -> None:
    for kind in ("callback", "lease", "closed", "dial"):
        s.deadline((kind, callback_id), None)
