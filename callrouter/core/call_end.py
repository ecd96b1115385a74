"""How an inbound call ends: the router ends it (``finish``: its outcome decided,
the channel hung up, the record final once the channel is gone), or the channel
goes (``gone``: the outcome decided from where the call was, unless the router
had decided it, and the record closed)."""

from __future__ import annotations

from datetime import datetime

from callrouter.core.call_plan import CallPlan
from callrouter.core.call_state import Call, Phase, Result, log_event
from callrouter.core.causes import worded
from callrouter.core.commands import Command, Hangup, LeaveQueue, SaveCall
from callrouter.core.evolve import evolve
from callrouter.core.records import Outcome


def finish(call: Call, now: datetime, outcome: Outcome, reason: str) -> Result:
    """The router ends the call; the record is final when the channel is gone."""
    if call.phase in (Phase.ENDING, Phase.ENDED):
        return call, []
    commands: list[Command] = []
    if call.phase is Phase.QUEUED and call.entry_id is not None:
        commands.append(LeaveQueue(call.entry_id))
    record = evolve(call.record, outcome=outcome, end_reason=reason)
    return evolve(call, record=record, phase=Phase.ENDING), [*commands, Hangup()]


def gone(call: Call, now: datetime, plan: CallPlan, cause: str) -> Result:
    """The channel is gone: decide the outcome if the router had not, and close the record."""
    commands: list[Command] = []
    record = call.record
    # A language change in the menu counts; the record closed (one copy of it).
    closed: dict[str, object] = {"language": call.language, "ended_at": record.ended_at or now}
    if record.outcome is None or call.phase in (Phase.CLOSED, Phase.LEAVING):
        closed |= {"outcome": outcome_on_hangup(call, now, plan), "end_reason": f"caller: {worded(cause)}"}
    elif record.end_reason is None:  # e.g. answered: say who hung up
        closed["end_reason"] = f"caller: {worded(cause)}"
    record = evolve(record, **closed)
    if call.phase is Phase.QUEUED and call.entry_id is not None:
        commands.append(LeaveQueue(call.entry_id))
    call = evolve(call, record=record, phase=Phase.ENDED)
    return call, [*commands, SaveCall(record), log_event(call, now, "ended", record.outcome or "")]


def outcome_on_hangup(call: Call, now: datetime, plan: CallPlan) -> Outcome:
    match call.phase:
        case Phase.QUEUED:
            queued = call.record.queued_at or now
            return Outcome.SHORT_ABANDON if now - queued < plan.short_abandon else Outcome.ABANDONED
        case Phase.CONNECTED:
            return Outcome.ANSWERED
        case Phase.CLOSED:
            return Outcome.AFTER_HOURS
        case Phase.LEAVING:
            return call.record.outcome or Outcome.OVERFLOW
        case Phase.ANSWERING:
            return Outcome.FAILED if call.record.answered_at else Outcome.MENU_HANGUP
    return call.record.outcome or Outcome.MENU_HANGUP
