"""What the switchboard's commands count: the repeat callers' and the callbacks'
counters (metrics.py), each call and each callback counted once. The dispatcher
hands every command it carries out here; nothing here decides anything."""

from __future__ import annotations

from callrouter.core import switchboard as sb
from callrouter.core.records import NOTIFICATION_FINAL, CallbackRecord, CallbackState, NotificationRecord
from callrouter.metrics import Metrics


def callback_result(record: CallbackRecord) -> str | None:
    """The result one write of a callback counts as. A callback is written pending
    when booked (this change is its request: no attempt yet), again after each
    failed attempt, dialling at each attempt, and once in its final state."""
    if record.state is CallbackState.PENDING:
        booked = not record.attempts and record.at == record.requested_at
        return "requested" if booked else None
    if record.state is CallbackState.DIALLING:
        return None
    return record.state.value  # completed, failed, cancelled


def count(metrics: Metrics, command: sb.Command) -> None:
    match command:
        case sb.Write(CallbackRecord() as record):
            result = callback_result(record)
            if result is not None:
                metrics.callbacks.labels(result=result).inc()
        case sb.Write(NotificationRecord() as record) if record.state in NOTIFICATION_FINAL:
            metrics.notifications.labels(state=record.state.value).inc()
            metrics.notification_attempts.observe(len(record.attempts))
        case sb.CallOver(_, record) if record.repeat_kind is not None:  # the call's final record
            metrics.repeat_calls.labels(kind=record.repeat_kind.value).inc()
