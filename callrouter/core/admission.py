"""Overload admission: let new calls in at the rate the box is measured to sustain.

Why not an on/off guard. The router used to send every new call back to the
dialplan ("please call back"; an urgent line: its fallback ring group) while
the lag it measured (a StasisStart event's age, or the REST round trip) was
over ``shed_lag_seconds``. Past capacity that sheds far too much: once the lag
passes the threshold *every* new caller is turned away until it recovers, then
every caller is taken again until it passes once more, and because the lag
trails the load (events wait in one Asterisk queue, ARI-NOTES 17) each swing
overshoots. At 120 calls/s the router connected only 0.92x (quiet box) to
0.37x (slow box) of the callers app_queue connected in the same run.

What this rule does instead. It admits calls through a token bucket whose
fill rate follows the observed lag (AIMD, as TCP does with its window):

* While no lag over the target has been seen the bucket is not in the way: a
  quiet router admits every call, whatever the rate.
* When ``patience`` periods in a row (two: a second) have their lag over the
  target the rule starts limiting, at ``decrease`` times the rate calls were
  admitted in the last of them (the rate that made the box fall behind): a
  lone slow moment (one slow REST reply on a busy Asterisk) sheds nobody;
  while the lag stays over the target and is
  not falling it multiplies the rate by ``decrease`` again, once a period.
  A lag over the target that is falling (the backlog drains) keeps the rate:
  the lag trails, and cutting again on every late event would swing as the
  on/off guard did.
* While the lag is under the target the rate climbs by ``increase`` or by
  ``growth`` (x1.1) a period, whichever is more (so it is back from a deep cut
  in seconds, not minutes);
  once a period under the target refused nobody (the bucket no longer binds)
  the rule stops limiting.
* While limiting, the rate stays between ``floor_rate`` and ``ceiling_rate``;
  ``burst`` tokens at most are saved up.

The aim: past capacity the box keeps serving about as many callers as it can
(more than app_queue, which degrades by serving everyone badly, ARI-NOTES
14/16), and the rest are told at once to call back instead of waiting in a
call that then fails (bench/overload.py is the measure). An urgent call may
be admitted always (``urgent=True``: it takes a token, borrowing ahead if
none is left, so it counts against the rate the others get); the switchboard
does not use that: a refused urgent-line caller rings the line's fallback
desk, which is better than waiting on an overloaded router.

A period's lag is the *least* lag observed in it (a standing backlog, not one
late event: every event passes the same queue, so the least is the honest
figure and a single slow reply or pause does not cut the rate).

Time: ``now`` is seconds as a float on a clock that does not run backwards
(the shell passes ``time.monotonic()``, or its loop's time). A clock that steps
back is read as standing still. Nothing here reads a clock or does I/O: the
same observations and calls in the same order give the same decisions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

from callrouter.core.evolve import evolve

# A token within this of a whole one is whole (float sums of rate x elapsed).
_EPSILON = 1e-9


@dataclass(frozen=True)
class AdmissionRules:
    """``target_lag_seconds``: the router's ``shed_lag_seconds`` (0: never shed).
    Rates are calls per second; once per ``interval_seconds`` the rate falls by
    ``decrease`` (a factor) or rises by ``increase`` or by ``growth`` (a factor),
    whichever is more. Limiting starts after ``patience`` periods in a row over
    the target (a lone slow moment is not an overload)."""

    target_lag_seconds: float
    floor_rate: float = 1.0
    ceiling_rate: float = 500.0
    burst: float = 10.0
    increase: float = 2.0
    decrease: float = 0.8
    interval_seconds: float = 0.5
    growth: float = 1.1
    patience: int = 2

    def __post_init__(self) -> None:
        if not self.target_lag_seconds >= 0:
            raise ValueError("target_lag_seconds must be 0 (never shed) or more")
        if not 0 < self.floor_rate <= self.ceiling_rate < math.inf:
            raise ValueError("rates must satisfy 0 < floor_rate <= ceiling_rate < inf")
        if not 1 <= self.burst < math.inf:
            raise ValueError("burst must be at least one call")
        if not 0 <= self.increase < math.inf:
            raise ValueError("increase must be 0 or more")
        if not 0 < self.decrease < 1:
            raise ValueError("decrease must be between 0 and 1")
        if not 0 < self.interval_seconds < math.inf:
            raise ValueError("interval_seconds must be more than 0")
        if not 1 <= self.growth < math.inf:
            raise ValueError("growth must be 1 or more")
        if self.patience < 1:
            raise ValueError("patience must be at least one period")

    @property
    def sheds(self) -> bool:
        return self.target_lag_seconds > 0


@dataclass(frozen=True)
class Admission:
    """The rule's state. ``rate`` is None while the bucket is not limiting;
    ``tokens`` may go below 0 when urgent calls borrow ahead. The period
    fields gather one ``interval_seconds`` of observations and calls."""

    rules: AdmissionRules
    at: float  # the latest time seen
    rate: float | None = None
    tokens: float = 0.0
    period_start: float = 0.0
    period_lag: float | None = None  # the least lag observed in this period
    previous_lag: float | None = None  # the same for the period before
    admitted: int = 0  # in this period (urgent calls too)
    refused: int = 0  # in this period
    overs: int = 0  # periods in a row over the target before limiting

    @classmethod
    def start(cls, rules: AdmissionRules, now: float) -> Admission:
        return cls(rules, at=now, period_start=now)

    @property
    def limiting(self) -> bool:
        return self.rate is not None


def observe(state: Admission, now: float, lag_seconds: float) -> Admission:
    """How far behind the router is: an event's lag (its arrival minus its
    timestamp) or the REST round trip. A negative lag (clocks apart) is 0."""
    if not state.rules.sheds or math.isnan(lag_seconds):
        return state
    changes = _advanced(state, now)
    lag = max(lag_seconds, 0.0)
    period_lag = cast(float | None, changes.get("period_lag", state.period_lag))
    changes["period_lag"] = lag if period_lag is None else min(period_lag, lag)
    return evolve(state, **changes)


def admit(state: Admission, now: float, urgent: bool) -> tuple[Admission, bool]:
    """Whether a new call is taken. Urgent calls always are (and take a token)."""
    if not state.rules.sheds:
        return state, True
    changes = _advanced(state, now)
    rate, tokens = changes.get("rate", state.rate), changes.get("tokens", state.tokens)
    if rate is not None and not urgent and cast(float, tokens) + _EPSILON < 1:
        changes["refused"] = cast(int, changes.get("refused", state.refused)) + 1
        return evolve(state, **changes), False
    if rate is not None:
        changes["tokens"] = cast(float, tokens) - 1
    changes["admitted"] = cast(int, changes.get("admitted", state.admitted)) + 1
    return evolve(state, **changes), True


def _advanced(state: Admission, now: float) -> dict[str, object]:
    """Time passes: the bucket fills at the current rate, and a period that has
    lasted ``interval_seconds`` is closed (the rate adjusted). The fields changed
    (none when no time passed: ``admit`` right after ``observe``, at one arrival),
    laid over ``state`` in one copy by the caller."""
    at = max(state.at, now)
    tokens = state.tokens
    if state.rate is not None:
        tokens = min(state.rules.burst, tokens + state.rate * (at - state.at))
    moved = (at, tokens) != (state.at, state.tokens)
    changes: dict[str, object] = {"at": at, "tokens": tokens} if moved else {}
    if at - state.period_start >= state.rules.interval_seconds:
        changes.update(_closed(state, at, last=state.at))
    return changes


def _closed(state: Admission, at: float, last: float) -> dict[str, object]:
    """The period [period_start, last] is over; a new one starts at ``at``: the fields it changes."""
    rules = state.rules
    # Calls admitted per second over the period's activity (a quiet gap after it is not part of it).
    admitted_rate = state.admitted / max(last - state.period_start, rules.interval_seconds)
    lag = state.period_lag
    fresh: dict[str, object] = {
        "period_start": at, "period_lag": None, "previous_lag": lag, "admitted": 0, "refused": 0
    }  # fmt: skip
    if lag is None or lag <= rules.target_lag_seconds:
        if state.rate is None or state.refused == 0:  # keeping up, and the bucket does not bind
            return fresh | {"overs": 0, "rate": None, "tokens": 0.0}
        raised = max(state.rate + rules.increase, state.rate * rules.growth)
        return fresh | {"overs": 0, "rate": min(rules.ceiling_rate, raised)}
    if state.rate is None:
        overs = state.overs + 1
        if overs < rules.patience:  # not yet: one slow moment is not an overload
            return fresh | {"overs": overs}
        # Overload: below what made the box fall behind.
        return fresh | {"rate": _bounded(rules, admitted_rate * rules.decrease), "tokens": 0.0, "overs": 0}
    if state.previous_lag is not None and lag < state.previous_lag:
        return fresh  # behind but catching up: the last cut is working
    return fresh | {"rate": _bounded(rules, min(state.rate, admitted_rate) * rules.decrease)}


def _bounded(rules: AdmissionRules, rate: float) -> float:
    return min(rules.ceiling_rate, max(rules.floor_rate, rate))
