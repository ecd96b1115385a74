"""Staff cover by hour of the day: the agents planned (logged in) against the
agents needed to meet the service level, from a period's records. Pure: the
calls and the agents' state records are given, with the zone, the service
level and the instant the records reach; nothing is read or written here.

For each hour of the day h on the centre's wall clock (the period's days of
that hour together):

- hours: the time the period covers in hour h (up to ``until``, the instant the
  records reach: a report of today does not count the hours still to come).
- planned: agents' logged-in seconds in hour h / the covered seconds, the mean
  number logged in. Logged in: any state but ``logged_out``, from the state
  record that began it to the next record of the agent (the last state before
  the period counts from the period's start).
- queued: the calls that started in hour h and waited in the queue (the KPI
  report's queued); arrival rate λ = queued / covered seconds.
- handle: the mean talk of the answered calls of hour h (of the period when the
  hour had none) plus ``[queue] wrap_up_seconds``: the time an agent is kept
  from the next call. Offered load A = λ · handle, in erlangs.
- patience: one estimate for the whole period (callers' patience is theirs, not
  the hour's, and an hour's few abandons would make it jump): exponential
  patience by maximum likelihood, θ = abandoned / seconds waited by every
  queued caller (answered callers' waits are censored patience), mean 1/θ.
  Nobody abandoned: infinite patience, Erlang C.
- needed: the fewest agents whose SL2 (answered within T / (answered +
  abandoned after T)) reaches the target by Erlang A with that λ, handle and
  patience (``erlang.agents_for``). SL2, not SL1: with impatient callers SL1
  counts only the answered, and too few agents would meet it while callers
  leave. An hour with no queued call needs 0; none when the handle time or the
  target (100% is met by no finite number) leaves nothing to compute.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from callrouter.core.erlang import agents_for
from callrouter.core.records import AgentStateRecord, CallRecord
from callrouter.core.waits import talk_of, wait_of

HOURS = 24
LOGGED_OUT = "logged_out"
_QUARTER = 900  # every zone's offset, and every change of it, falls on a UTC quarter hour
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class HourCover:
    hour: int  # of the day, on the centre's wall clock
    hours: float  # the time the period covers in this hour of the day, in hours
    planned: float | None  # agents logged in, on average (None: the period does not cover the hour)
    queued: int
    arrivals_per_hour: float | None  # queued calls per hour
    handle_seconds: float | None  # mean talk + wrap-up (None: no queued call, or none answered at all)
    load_erlangs: float | None
    needed: int | None  # None: nothing to compute it from (see the module's docstring)


@dataclass(frozen=True)
class Cover:
    hours: tuple[HourCover, ...]  # 24, midnight first
    abandoned: int  # abandons behind the patience estimate
    waited_seconds: float  # seconds waited by every queued caller
    patience_seconds: float | None  # mean patience; None: infinite (nobody abandoned)
    wrap_up_seconds: float
    service_level_seconds: float
    service_level_target: float


def seconds_by_hour(zone: ZoneInfo, since: datetime, until: datetime) -> Iterator[tuple[int, float]]:
    """The seconds of [since, until) in each hour of ``zone``'s wall clock, in order
    (the hour the clocks go back twice over is one run of two hours)."""
    hour, seconds = -1, 0.0
    for piece_hour, piece in _pieces(zone, since, until):
        if piece_hour != hour and seconds:
            yield hour, seconds
            seconds = 0.0
        hour, seconds = piece_hour, seconds + piece
    if seconds:
        yield hour, seconds


def _pieces(zone: ZoneInfo, since: datetime, until: datetime) -> Iterator[tuple[int, float]]:
    # In UTC: an aware time of the zone itself adds and subtracts on its wall clock (Python's
    # rule for one tzinfo), and lost the hour the clocks go back twice over (a 25-hour day
    # counted 24 hours, and its arrival rate at 02:00 twice what it was).
    at, until = since.astimezone(UTC), until.astimezone(UTC)
    while at < until:
        local = at.astimezone(zone)
        to_hour = timedelta(minutes=60 - local.minute) - timedelta(
            seconds=local.second, microseconds=local.microsecond
        )
        upto = min(at + to_hour, until)
        if (upto - _TICK).astimezone(zone).utcoffset() != local.utcoffset():
            # the clocks change before the next whole hour: on to the quarter hour of the change
            quarter = _QUARTER - at.timestamp() % _QUARTER
            upto = min(upto, at + timedelta(seconds=quarter))
        yield local.hour, (upto - at).total_seconds()
        at = upto


def patience_estimate(abandoned: int, waited_seconds: float) -> float | None:
    """Mean patience, exponential, by maximum likelihood: the seconds every queued
    caller waited (an answered caller's wait is a patience cut short) / abandons.
    None: infinite (nobody abandoned)."""
    return waited_seconds / abandoned if abandoned and waited_seconds > 0 else None


class Logins:
    """Agents' logged-in spans from their state records (any state but
    ``logged_out`` is logged in), none before ``start``."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self._spans: dict[str, list[tuple[datetime, datetime]]] = {}
        self._since: dict[str, datetime | None] = {}  # agent -> logged in since (None: logged out)

    def add(self, record: AgentStateRecord) -> None:
        """An agent's state change, each agent's in order of time; the first may be
        the last one before ``start`` (still in force then)."""
        at = max(record.at, self.start)
        since = self._since.get(record.agent)
        if record.state == LOGGED_OUT:
            if since is not None:
                self._spans.setdefault(record.agent, []).append((since, at))
            self._since[record.agent] = None
        elif since is None:
            self._since[record.agent] = at

    def spans(self, until: datetime) -> dict[str, list[tuple[datetime, datetime]]]:
        """Each agent's spans up to ``until`` (one still logged in: up to it), in order;
        empty ones left out."""
        found: dict[str, list[tuple[datetime, datetime]]] = {}
        ongoing = {agent: [(since, until)] for agent, since in self._since.items() if since is not None}
        for agent in sorted({*self._spans, *ongoing}):
            clipped = [(a, min(b, until)) for a, b in [*self._spans.get(agent, []), *ongoing.get(agent, [])]]
            found[agent] = [(a, b) for a, b in clipped if a < b]
        return {agent: spans for agent, spans in found.items() if spans}


class CoverTally:
    """Staff cover, built call by call and agent state by agent state (the store streams both)."""

    def __init__(
        self,
        start: datetime,
        zone: str,
        service_level_seconds: float,
        service_level_target: float,
        wrap_up_seconds: float = 0.0,
    ) -> None:
        self.start = start
        self.zone = ZoneInfo(zone)
        self.threshold, self.target, self.wrap_up = (
            service_level_seconds,
            service_level_target,
            wrap_up_seconds,
        )
        self._queued = [0] * HOURS
        self._talks = [0] * HOURS
        self._talked = [0.0] * HOURS
        self._abandoned = 0
        self._waited = 0.0
        self._logins = Logins(start)

    def add_call(self, call: CallRecord) -> None:
        """An inbound call of the period (its final record)."""
        wait = wait_of(call)
        if wait is None or call.direction != "inbound":
            return
        hour = call.started_at.astimezone(self.zone).hour
        self._queued[hour] += 1
        self._waited += wait.seconds
        self._abandoned += wait.outcome == "abandoned"
        talk = talk_of(call) if wait.outcome == "answered" else None
        if talk is not None:
            self._talks[hour] += 1
            self._talked[hour] += talk

    def add_agent_state(self, record: AgentStateRecord) -> None:
        """An agent's state change, each agent's in order of time; the first may be
        the last one before the period (still in force at its start)."""
        self._logins.add(record)

    def figures(self, until: datetime) -> Cover:
        """The cover of [start, until): ``until`` is the period's end, or now if sooner."""
        logged = [0.0] * HOURS
        for spans in self._logins.spans(until).values():
            for since, end in spans:
                for hour, seconds in seconds_by_hour(self.zone, since, end):
                    logged[hour] += seconds
        covered = [0.0] * HOURS
        for hour, seconds in seconds_by_hour(self.zone, self.start, until):
            covered[hour] += seconds
        patience = patience_estimate(self._abandoned, self._waited)
        talks = sum(self._talks)
        overall_talk = sum(self._talked) / talks if talks else None
        hours = tuple(self._hour(h, covered[h], logged[h], patience, overall_talk) for h in range(HOURS))
        return Cover(
            hours, self._abandoned, self._waited, patience, self.wrap_up, self.threshold, self.target
        )

    def _hour(
        self, hour: int, covered: float, logged: float, patience: float | None, overall_talk: float | None
    ) -> HourCover:
        queued = self._queued[hour]
        if covered <= 0:
            return HourCover(hour, 0.0, None, queued, None, None, None, None)
        talk = self._talked[hour] / self._talks[hour] if self._talks[hour] else overall_talk
        handle = None if talk is None or not queued else talk + self.wrap_up
        rate = queued / covered
        load = 0.0 if not queued else None if handle is None else rate * handle
        return HourCover(
            hour=hour,
            hours=covered / 3600,
            planned=logged / covered,
            queued=queued,
            arrivals_per_hour=rate * 3600,
            handle_seconds=handle,
            load_erlangs=load,
            needed=self._needed(rate, handle, patience),
        )

    def _needed(self, rate: float, handle: float | None, patience: float | None) -> int | None:
        if rate == 0:
            return 0
        if handle is None or handle <= 0 or self.target >= 1:
            return None
        abandon_rate = 0.0 if patience is None else 1 / patience
        try:
            return agents_for(self.target, self.threshold, rate, 1 / handle, abandon_rate, definition="sl2")
        except ValueError:  # a queue too long to compute (patience of days in an overload)
            return None
