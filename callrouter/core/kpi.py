"""The KPI report's figures: a period's call records in, the contact centre's key
figures out, overall, per line, per topic and per hour of the day, with the load
by weekday and hour and the distribution of waits. Pure: the records, the zone
and the service-level threshold are given; nothing is read or written here.

What counts (the README's "KPI report" says the same for operators):

- offered: inbound calls that reached a line, whatever became of them (menu
  hang-ups and after-hours calls too). Results calls (``direction = 'results'``)
  are counted apart, and calls that reached no line are not counted.
- unique callers: distinct caller numbers; each withheld (or unparseable) call
  counts as one caller.
- queued (offered to the queue): calls whose wait in the queue ended: answered,
  abandoned (short ones too), overflow or callback. A call whose place a later
  call of the same person took over (``replaced``) is left out: the later call
  carries the place's wait (as in ``waits.wait_of``).
- wait: ``queued_at`` to the agent's answer (answered) or to the call's end; a
  resumed place counts from its original join time. Within T: at most T seconds.
- ASA: the mean wait of answered calls. AHT: their mean talk, from the agent's
  answer to the end of the call.
- SL1 = answered within T / answered (Asterisk's ServicelevelPerf).
- SL2 = answered within T / (answered + abandoned after T): abandons within T
  are left out of the denominator.
- Asterisk's ServicelevelPerf2 (for comparison with app_queue's QueueSummary) =
  (answered within T + abandoned within T) / (answered + abandoned): abandons
  within T count as served.
- abandonment = abandoned (short included) / queued; short abandonment = short
  abandons / queued.
- repeat rate = offered calls recognised as a person calling again
  (``repeat_kind``) / offered, and per kind.
- first-contact resolution (FCR) = 1 - answered calls the person called again
  about / answered calls from a caller number. Called again: a later call
  recognised as a recent contact (``repeat_kind = recent_contact``, within
  ``repeat.contact_seconds`` of the answer) names the answered call as its
  ``repeat_of``; it counts with the answered call's line, topic and hour, where
  the later call went. Withheld callers' calls are left out (never recognised).
  Only the records of the period are read: a call again after its end is not
  seen, so the figure of a period that ended less than ``contact_seconds`` ago
  may still fall. A call again recognised as another kind (a place given up
  since, a pending callback) is not counted.
- load: offered calls by the weekday and hour they started, in the centre's zone.
- staff cover: agents planned (logged in) vs needed by Erlang A, per hour of the
  day (``core.cover`` says how).

A figure with nothing to divide by is None (the renderers print "—").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from callrouter.core.cover import Cover, CoverTally
from callrouter.core.hours import DAYS
from callrouter.core.records import AgentStateRecord, CallRecord, NotificationState, Outcome, RepeatKind
from callrouter.core.waits import WAIT_BUCKETS, WAIT_OUTCOME_NAMES, Wait, talk_of, wait_of

# The wait distribution's bins: each up to and including its bound (the buckets of
# callrouter_queue_wait_seconds, so the report and the dashboard agree), and one
# past the last bound.
WAIT_BINS: tuple[float | None, ...] = (*WAIT_BUCKETS, None)
HOURS = 24
NO_TOPIC = "(none)"  # calls that never chose a topic: the menu, after hours
IN_PROGRESS = "in_progress"  # a call with no outcome yet
REPEAT_KINDS = tuple(kind.value for kind in RepeatKind)
CALLBACK_ENDS = ("completed", "failed", "cancelled")
OPEN_STATES = ("pending", "dialling")
NOTIFICATION_ENDS = tuple(state.value for state in NotificationState if state.value not in OPEN_STATES)


@dataclass(frozen=True)
class Scope:
    """What the report covers and how it judges waits."""

    start: datetime  # aware
    end: datetime  # aware, exclusive
    zone: str  # the centre's time zone (IANA name): weekdays and hours are its wall clock
    service_level_seconds: float  # T
    service_level_target: float  # the share aimed at, 0..1
    lines: tuple[str, ...] = ()  # only these lines; empty: every line
    wrap_up_seconds: float = 0.0  # [queue] wrap_up_seconds: part of the handle time staff cover counts


@dataclass(frozen=True)
class GroupFigures:
    """The key figures of a set of offered calls (all, one line, one topic, one hour)."""

    offered: int
    unique_callers: int
    queued: int
    answered: int
    answered_within: int  # within T
    abandoned: int  # short abandons included
    abandoned_after: int  # after T
    short_abandoned: int
    asa_seconds: float | None
    aht_seconds: float | None
    sl1: float | None
    sl2: float | None
    sl_perf2: float | None  # Asterisk's ServicelevelPerf2
    abandonment: float | None
    short_abandonment: float | None
    repeat_calls: int
    repeat_rate: float | None
    repeats: dict[str, int]  # kind -> calls, every kind present
    fcr_answered: int  # answered calls from a caller number
    fcr_called_again: int  # of which the person called again (a recent contact naming it)
    fcr: float | None  # first-contact resolution: 1 - called again / answered
    outcomes: dict[str, int]  # outcome (or "in_progress") -> calls


@dataclass(frozen=True)
class WaitBin:
    upto: float | None  # the bin's upper bound in seconds, inclusive; None: beyond the last
    counts: dict[str, int]  # how the waits ended (answered, abandoned, overflow, callback) -> waits

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class CallbackFigures:
    """Callbacks requested in the period, by their state now."""

    requested: int
    completed: int
    failed: int
    cancelled: int
    open: int  # pending or being dialled


@dataclass(frozen=True)
class ResultsFigures:
    """Results calls made in the period, and the results received in it by their state now."""

    calls: int  # results calls the router made
    consultations: int  # of which the patient joined the queue for a consultant
    consultations_answered: int
    received: int
    states: dict[str, int]  # every final notification state -> results
    open: int  # pending or being dialled


@dataclass(frozen=True)
class Report:
    scope: Scope
    overall: GroupFigures
    lines: dict[str, GroupFigures]  # by name, sorted
    topics: dict[str, GroupFigures]  # by name, sorted; NO_TOPIC last
    by_hour: tuple[GroupFigures, ...]  # 24: the offered calls that started in each hour of the day
    load: tuple[tuple[int, ...], ...]  # 7 weekdays (mon first) x 24 hours: offered calls
    waits: tuple[WaitBin, ...]  # one per WAIT_BINS
    callbacks: CallbackFigures
    results: ResultsFigures
    cover: Cover | None = None  # agents planned vs needed by hour (``core.cover``), when asked for


def ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


class _Group:
    """Counts and sums for one set of offered calls, added call by call."""

    def __init__(self) -> None:
        self.offered = self.withheld = self.queued = self.answered = self.within = 0
        self.abandoned = self.abandoned_after = self.short = self.talks = 0
        self.wait_sum = self.talk_sum = 0.0
        self.numbers: set[str] = set()
        self.contacts: set[str] = set()  # answered calls from a caller number (FCR)
        self.repeats: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()

    def add(self, call: CallRecord, wait: Wait | None, threshold: float) -> None:
        self.offered += 1
        number = call.caller_number if call.caller_presentation == "number" else None
        if number:
            self.numbers.add(number)
        else:
            self.withheld += 1
        self.outcomes[call.outcome.value if call.outcome else IN_PROGRESS] += 1
        if call.repeat_kind is not None:
            self.repeats[call.repeat_kind.value] += 1
        if wait is None:
            return
        self.queued += 1
        if wait.outcome == "answered":
            self.answered += 1
            self.wait_sum += wait.seconds
            self.within += wait.seconds <= threshold
            if number:
                self.contacts.add(call.call_id)
            talk = talk_of(call)
            if talk is not None:
                self.talks += 1
                self.talk_sum += talk
        elif wait.outcome == "abandoned":
            self.abandoned += 1
            self.short += call.outcome is Outcome.SHORT_ABANDON
            self.abandoned_after += wait.seconds > threshold

    def figures(self, called_again: set[str]) -> GroupFigures:
        """``called_again``: the answered calls a recent contact names (any group's)."""
        repeat_calls = sum(self.repeats.values())
        again = len(self.contacts & called_again)
        return GroupFigures(
            offered=self.offered,
            unique_callers=len(self.numbers) + self.withheld,
            queued=self.queued,
            answered=self.answered,
            answered_within=self.within,
            abandoned=self.abandoned,
            abandoned_after=self.abandoned_after,
            short_abandoned=self.short,
            asa_seconds=ratio(self.wait_sum, self.answered),
            aht_seconds=ratio(self.talk_sum, self.talks),
            sl1=ratio(self.within, self.answered),
            sl2=ratio(self.within, self.answered + self.abandoned_after),
            sl_perf2=ratio(
                self.within + self.abandoned - self.abandoned_after, self.answered + self.abandoned
            ),
            abandonment=ratio(self.abandoned, self.queued),
            short_abandonment=ratio(self.short, self.queued),
            repeat_calls=repeat_calls,
            repeat_rate=ratio(repeat_calls, self.offered),
            repeats={kind: self.repeats[kind] for kind in REPEAT_KINDS},
            fcr_answered=len(self.contacts),
            fcr_called_again=again,
            fcr=ratio(len(self.contacts) - again, len(self.contacts)),
            outcomes=dict(sorted(self.outcomes.items())),
        )


def wait_bin(seconds: float) -> int:
    """The index in WAIT_BINS of the bin a wait falls in."""
    for index, upto in enumerate(WAIT_BUCKETS):
        if seconds <= upto:
            return index
    return len(WAIT_BUCKETS)


class Tally:
    """The figures of a period, built call by call (the store streams them)."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self._zone = ZoneInfo(scope.zone)
        self._overall = _Group()
        self._lines: dict[str, _Group] = {}
        self._topics: dict[str, _Group] = {}
        self._hours = [_Group() for _ in range(HOURS)]
        self._load = [[0] * HOURS for _ in DAYS]
        self._waits: list[Counter[str]] = [Counter() for _ in WAIT_BINS]
        self._results = Counter[str]()
        self._called_again: set[str] = set()  # answered calls a recent contact names
        self._cover = CoverTally(
            scope.start,
            scope.zone,
            scope.service_level_seconds,
            scope.service_level_target,
            scope.wrap_up_seconds,
        )

    def add(self, call: CallRecord) -> None:
        """One call's final record (a call still going counts as far as it got)."""
        if call.direction != "inbound":
            self._add_results_call(call)
            return
        if call.line is None:
            return
        if call.repeat_kind is RepeatKind.RECENT_CONTACT and call.repeat_of is not None:
            self._called_again.add(call.repeat_of)
        local = call.started_at.astimezone(self._zone)
        self._load[local.weekday()][local.hour] += 1
        wait = wait_of(call)
        line = self._lines.setdefault(call.line, _Group())
        topic = self._topics.setdefault(call.topic or NO_TOPIC, _Group())
        for group in (self._overall, line, topic, self._hours[local.hour]):
            group.add(call, wait, self.scope.service_level_seconds)
        self._cover.add_call(call)
        if wait is not None:
            self._waits[wait_bin(wait.seconds)][wait.outcome] += 1

    def _add_results_call(self, call: CallRecord) -> None:
        self._results["calls"] += 1
        if call.queued_at is not None:
            self._results["consultations"] += 1
        if call.outcome is Outcome.ANSWERED:
            self._results["consultations_answered"] += 1

    def agent_state(self, record: AgentStateRecord) -> None:
        """An agent's state change, for staff cover (``core.cover``): each agent's in
        order of time, the first the last one before the period."""
        self._cover.add_agent_state(record)

    def report(
        self, callbacks: Mapping[str, int], notifications: Mapping[str, int], until: datetime | None = None
    ) -> Report:
        """The figures; ``callbacks``: callbacks requested in the period by state now;
        ``notifications``: results received in the period by state now; ``until``:
        the instant the records reach (the period's end, or now if sooner): given,
        the report has staff cover (agents planned vs needed) up to it."""
        topics = sorted(self._topics.items(), key=lambda item: (item[0] == NO_TOPIC, item[0]))
        again = self._called_again
        return Report(
            scope=self.scope,
            overall=self._overall.figures(again),
            lines={name: group.figures(again) for name, group in sorted(self._lines.items())},
            topics={name: group.figures(again) for name, group in topics},
            by_hour=tuple(group.figures(again) for group in self._hours),
            load=tuple(tuple(row) for row in self._load),
            waits=tuple(
                WaitBin(upto, {name: counts[name] for name in WAIT_OUTCOME_NAMES})
                for upto, counts in zip(WAIT_BINS, self._waits, strict=True)
            ),
            callbacks=_callbacks(callbacks),
            results=ResultsFigures(
                calls=self._results["calls"],
                consultations=self._results["consultations"],
                consultations_answered=self._results["consultations_answered"],
                received=sum(notifications.values()),
                states={state: notifications.get(state, 0) for state in NOTIFICATION_ENDS},
                open=sum(notifications.get(state, 0) for state in OPEN_STATES),
            ),
            cover=None if until is None else self._cover.figures(min(until, self.scope.end)),
        )


def _callbacks(states: Mapping[str, int]) -> CallbackFigures:
    completed, failed, cancelled = (states.get(state, 0) for state in CALLBACK_ENDS)
    return CallbackFigures(
        requested=sum(states.values()),
        completed=completed,
        failed=failed,
        cancelled=cancelled,
        open=sum(states.get(state, 0) for state in OPEN_STATES),
    )


def report(
    scope: Scope,
    calls: Iterable[CallRecord],
    callbacks: Mapping[str, int] | None = None,
    notifications: Mapping[str, int] | None = None,
    agent_states: Iterable[AgentStateRecord] = (),
    until: datetime | None = None,
) -> Report:
    """The figures of ``calls`` (the period's records) in one go; with ``until``,
    staff cover from ``agent_states`` too (``Tally.agent_state``)."""
    tally = Tally(scope)
    for call in calls:
        tally.add(call)
    for state in agent_states:
        tally.agent_state(state)
    return tally.report(callbacks or {}, notifications or {}, until)
