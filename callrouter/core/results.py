"""Results notifications: a lab result phoned to the patient, as a pure life cycle.

A notification waits (``pending``) until it is due and its line's calling
window is open; a router then takes it (its lease, in PostgreSQL) and dials
the patient (``dialling``). Each attempt ends in one outcome; the outcome's
retry rule says when to try again and how many attempts of that kind are
allowed. Every notification ends in exactly one final state:

    delivered            the callee proved who they are and heard the result
    transferred          ... and, the result positive, asked for a consultant
    verification_failed  wrong secrets, attempt after attempt
    unreachable          no answer, busy, failed, hung up or silent, every time
    cancelled            by an operator
    expired              not told before ``expire_after`` had passed

Whether anything is disclosed is the call's (``results_call``): never before
the secret is checked and the disclosure's audit row is committed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from callrouter.core.hours import Hours
from callrouter.core.records import NotificationAttempt, NotificationRecord, NotificationState

# An attempt's outcome -> the retry rule it counts against ([results.retry.<rule>]).
OUTCOMES = ("no_answer", "busy", "failed", "verification_failed", "hung_up")
RULE_OF = {
    "no_answer": "no_answer",
    "busy": "busy",
    "failed": "failed",
    "interrupted": "failed",  # the router stopped during the call, before any disclosure
    "verification_failed": "verification_failed",
    "hung_up": "hung_up",  # before the result was told
    "no_input": "hung_up",  # answered, but nothing keyed (an answering machine, say)
}
FINAL_OF = {
    "no_answer": NotificationState.UNREACHABLE,
    "busy": NotificationState.UNREACHABLE,
    "failed": NotificationState.UNREACHABLE,
    "hung_up": NotificationState.UNREACHABLE,
    "verification_failed": NotificationState.VERIFICATION_FAILED,
}


class ResultKind(StrEnum):
    NEGATIVE = "negative"
    POSITIVE = "positive"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class RetryRule:
    after: timedelta
    max_attempts: int


# Each outcome's rule when the config names none ([results.retry.<outcome>]'s defaults).
DEFAULT_RETRY: Mapping[str, RetryRule] = {
    "no_answer": RetryRule(timedelta(minutes=30), 4),
    "busy": RetryRule(timedelta(minutes=10), 4),
    "failed": RetryRule(timedelta(minutes=30), 3),
    "verification_failed": RetryRule(timedelta(hours=2), 2),
    "hung_up": RetryRule(timedelta(minutes=30), 3),
}


@dataclass(frozen=True)
class ResultsRules:
    window: Hours
    windows: Mapping[str, Hours] = field(default_factory=dict)  # a line's own
    max_concurrent: int = 4
    pause_when_wait_over: timedelta | None = timedelta(minutes=2)
    verify_tries: int = 3
    secret_max_digits: int = 12
    key_seconds: float = 10.0
    ring_seconds: float = 30.0
    consult_topic: str = "results_consult"
    consult_max_wait: timedelta = timedelta(minutes=2)
    poll: timedelta = timedelta(seconds=5)
    expire_after: timedelta = timedelta(hours=72)
    retry: Mapping[str, RetryRule] = field(default_factory=lambda: dict(DEFAULT_RETRY))
    dial: str = "PJSIP/{number}@trunk"  # the outbound route

    def window_of(self, line: str) -> Hours:
        return self.windows.get(line, self.window)

    def open_lines(self, lines: Iterable[str], now: datetime) -> tuple[str, ...]:
        """The lines whose calling window is open now."""
        return tuple(sorted(line for line in lines if self.window_of(line).is_open(now)))


@dataclass(frozen=True)
class Notification:
    """A notification as a router took it (without its secret: the shell keeps that)."""

    notification_id: str
    number: str  # E.164
    line: str
    language: str
    result: ResultKind
    test_type: str
    due_at: datetime
    expires_at: datetime
    state: NotificationState = NotificationState.PENDING
    attempts: tuple[NotificationAttempt, ...] = ()
    disclosed: bool = False  # a disclosure of it was audited already (a call a stopped router made)
    interrupted: bool = False  # taken while being dialled: the router dialling it stopped

    def record(self, now: datetime, state: NotificationState, reason: str = "") -> NotificationRecord:
        return NotificationRecord(self.notification_id, now, state, self.due_at, self.attempts, reason)


def final(state: NotificationState) -> bool:
    return state not in (NotificationState.PENDING, NotificationState.DIALLING)


def taken(notification: Notification, now: datetime, rules: ResultsRules) -> NotificationRecord | None:
    """What a router does with a notification it just took: None, dial it; else the
    record that ends it without a call (told before the last router stopped, or expired),
    or that counts the attempt a stopped router was making (``interrupted``: spaced and
    capped as a failed one; made again at once, restarts made calls no cap counted)."""
    if notification.disclosed:
        return notification.record(now, NotificationState.DELIVERED, "told before the router stopped")
    if now >= notification.expires_at:
        return notification.record(now, NotificationState.EXPIRED, "not told before it expired")
    if notification.interrupted:
        return after_attempt(notification, "interrupted", now, rules)
    return None


def after_attempt(
    notification: Notification, outcome: str, now: datetime, rules: ResultsRules, call_id: str | None = None
) -> NotificationRecord:
    """The record an attempt's outcome makes: final (delivered, transferred; or the
    outcome's attempts used up; or no retry before it expires), else pending again
    after the outcome's spacing."""
    attempts = (*notification.attempts, NotificationAttempt(now, outcome, call_id))
    done = replace(notification, attempts=attempts)
    if outcome == "delivered":
        return done.record(now, NotificationState.DELIVERED)
    if outcome == "transferred":
        return done.record(now, NotificationState.TRANSFERRED)
    rule_name = RULE_OF.get(outcome, "failed")
    rule = rules.retry.get(rule_name, DEFAULT_RETRY[rule_name])
    same = sum(1 for a in attempts if RULE_OF.get(a.outcome, "failed") == rule_name)
    if same >= rule.max_attempts:
        return done.record(now, FINAL_OF[rule_name], f"{rule_name} x{same}")
    due = now + rule.after
    if due >= notification.expires_at:
        return done.record(now, NotificationState.EXPIRED, f"{outcome}; no attempt left before it expires")
    return replace(done, due_at=due).record(now, NotificationState.PENDING, outcome)


def cancelled(notification: Notification, now: datetime, reason: str) -> NotificationRecord:
    return notification.record(now, NotificationState.CANCELLED, reason)
