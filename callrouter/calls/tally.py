"""What the switchboard's commands count (metrics.py): each call's wait, talk, topic
and repeat kind when it ends, each callback and notification once. The dispatcher
hands every command it carries out here; nothing here decides anything."""

from __future__ import annotations

from datetime import datetime

from callrouter.core import switchboard as sb
from callrouter.core import waits
from callrouter.core.board import Board
from callrouter.core.records import NOTIFICATION_FINAL, CallbackRecord, CallbackState, NotificationRecord
from callrouter.metrics import CentreNow, Metrics


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
        case sb.CallOver(_, record):  # the call's final record
            if record.repeat_kind is not None:
                metrics.repeat_calls.labels(kind=record.repeat_kind.value).inc()
            if record.topic is not None and record.queued_at is not None:
                metrics.menu_choices.labels(topic=record.topic).inc()
            kind = metrics.line_kinds.get(record.line or "", "none")
            wait = waits.wait_of(record)
            if wait is not None:
                metrics.queue_wait.labels(line_kind=kind, topic=wait.topic, outcome=wait.outcome).observe(
                    wait.seconds
                )
            talk = waits.talk_of(record)
            if talk is not None and record.topic is not None:
                metrics.talk.labels(line_kind=kind, topic=record.topic).observe(talk)


def centre_now(board: Board, now: datetime) -> CentreNow:
    """The live figures of the board at ``now`` (read when Prometheus scrapes)."""
    topics = waits.queue_now(board.centre.queue.entries.values(), board.rules.plan.topics, now)
    lines = board.rules.by_name.values()
    return CentreNow(
        callers={topic: figures.callers for topic, figures in topics.items()},
        oldest_seconds={topic: figures.oldest_seconds for topic, figures in topics.items()},
        agents=waits.agents_now(board.centre.agents.values()),
        lines_open={line.name: line.hours is None or line.hours.is_open(now) for line in lines},
    )
