"""Overload admission (callrouter/core/admission.py): a token bucket whose rate
follows the observed lag, out of the way while the router keeps up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callrouter.core.admission import Admission, AdmissionRules, admit, observe

# Limits from the first period over the target (the default waits for two: see
# test_one_slow_period_is_not_an_overload), so each test below says what it tests.
RULES = AdmissionRules(target_lag_seconds=0.5, interval_seconds=1.0, patience=1)


@dataclass(frozen=True)
class Observe:
    dt: float  # seconds after the step before
    lag: float


@dataclass(frozen=True)
class Arrive:
    dt: float
    urgent: bool = False


Op = Observe | Arrive


@dataclass(frozen=True)
class Step:
    now: float
    op: Op
    before: Admission
    after: Admission
    admitted: bool | None  # None for an observation


def run(rules: AdmissionRules, ops: list[Op], after: Admission | None = None) -> list[Step]:
    """The ops on a fresh rule (started at t=1000 s), or on where ``after`` left off."""
    state = after or Admission.start(rules, 1000.0)
    now = state.at
    steps = []
    for op in ops:
        now += op.dt
        before = state
        taken: bool | None = None
        if isinstance(op, Observe):
            state = observe(state, now, op.lag)
        else:
            state, taken = admit(state, now, op.urgent)
        steps.append(Step(now, op, before, state, taken))
    return steps


def load(calls_per_second: float, seconds: float, lag: float, urgent_every: int = 0) -> list[Op]:
    """Calls at an even rate, each after an observation of ``lag`` (its StasisStart's)."""
    ops: list[Op] = []
    for n in range(round(calls_per_second * seconds)):
        ops.append(Observe(1 / calls_per_second, lag))
        ops.append(Arrive(0.0, urgent=bool(urgent_every) and n % urgent_every == 0))
    return ops


def refused(steps: list[Step]) -> int:
    return sum(step.admitted is False for step in steps)


def last(steps: list[Step]) -> Admission:
    return steps[-1].after


# ---- plain cases ------------------------------------------------------------------------
def test_a_quiet_router_takes_every_call_at_any_rate() -> None:
    steps = run(RULES, load(5000, 3, lag=0.01))
    assert refused(steps) == 0
    assert not last(steps).limiting


def test_shedding_off_takes_every_call_however_late() -> None:
    rules = AdmissionRules(target_lag_seconds=0)
    steps = run(rules, load(200, 5, lag=30.0))
    assert refused(steps) == 0
    assert all(step.after == step.before for step in steps)  # nothing to track


def test_the_first_overload_limits_below_the_rate_that_caused_it() -> None:
    steps = run(RULES, [*load(100, 1, lag=0.9), Observe(0.001, 0.9)])
    state = last(steps)
    assert (
        refused(steps) <= 1
    )  # a period is judged when it is over (float steps: the last call may be in the next)
    assert state.rate == pytest.approx(100 * RULES.decrease, rel=0.02)
    assert state.tokens == 0


def test_one_slow_period_is_not_an_overload() -> None:
    rules = AdmissionRules(target_lag_seconds=0.5, interval_seconds=1.0)
    assert rules.patience == 2
    lone = run(rules, [*load(100, 1, lag=0.9), *load(100, 1, lag=0.1), Observe(0.001, 0.1)])
    assert refused(lone) == 0 and not last(lone).limiting, "one slow second sheds nobody"
    sustained = run(rules, [*load(100, 1, lag=0.9), *load(100, 1, lag=0.9), Observe(0.05, 0.9)])
    assert last(sustained).rate == pytest.approx(100 * rules.decrease, rel=0.02), "two in a row: limiting"


def test_the_rate_climbs_by_a_tenth_once_it_is_high() -> None:
    steps = run(RULES, [*load(100, 1, lag=0.9), Observe(0.001, 0.9)])
    cut = last(steps)
    assert cut.rate is not None
    recovered = last(run(RULES, [*load(120, 1, lag=0.1), Observe(0.001, 0.1)], after=cut))
    assert recovered.rate == pytest.approx(cut.rate * RULES.growth, rel=0.02)


def test_a_sustained_overload_lowers_the_rate_and_a_recovery_raises_it() -> None:
    overload = run(RULES, load(120, 40, lag=2.0))
    state = last(overload)
    assert state.rate == RULES.floor_rate  # the lag never improved: down to the floor
    rates = [s.after.rate for s in overload if s.after.rate is not None]
    assert rates == sorted(rates, reverse=True)  # it only fell
    taken = sum(bool(s.admitted) for s in overload[-1200:])  # the last 10 s
    assert taken <= RULES.burst + RULES.floor_rate * 10

    recovery = run(RULES, load(120, 10, lag=0.1), after=state)
    climbed = last(recovery)
    assert climbed.rate is not None
    # one increase a period (the calls ran at even steps: 9 or 10 periods closed)
    assert RULES.floor_rate + 9 * RULES.increase <= climbed.rate <= RULES.floor_rate + 10 * RULES.increase
    rates = [s.after.rate for s in recovery if s.after.rate is not None]
    assert rates == sorted(rates)  # it only rose

    # the callers thin out below the rate: the bucket no longer binds and steps aside
    calm = run(RULES, [*load(2, 3, lag=0.1), Observe(1.0, 0.1)], after=climbed)
    assert not last(calm).limiting
    assert refused(calm) == 0


def test_a_lag_over_the_target_that_falls_keeps_the_rate() -> None:
    first = [*load(100, 1, lag=3.0), Observe(0.001, 3.0)]
    rate = last(run(RULES, first)).rate
    assert rate is not None
    falling = [*first, *load(100, 1, lag=2.0), *load(100, 1, lag=1.0), Observe(0.001, 0.9)]
    assert last(run(RULES, falling)).rate == rate  # catching up: the cut works
    steady = [*first, *load(100, 1, lag=3.0), Observe(0.001, 3.0)]
    assert (last(run(RULES, steady)).rate or 0) < rate  # not catching up: cut again


def test_the_least_lag_of_a_period_counts_not_one_late_event() -> None:
    ops: list[Op] = []
    for _ in range(100):
        ops += [Observe(0.01, 0.05), Observe(0.0, 4.0), Arrive(0.0)]
    assert not last(run(RULES, [*ops, Observe(0.01, 0.05)])).limiting


def test_urgent_calls_borrow_tokens_the_others_then_wait_for() -> None:
    steps = run(RULES, [*load(100, 1, lag=0.9), Observe(0.001, 0.9)])
    state = last(steps)
    now = steps[-1].now
    for _ in range(5):
        state, taken = admit(state, now, urgent=True)
        assert taken
    assert state.tokens == -5
    state, taken = admit(state, now + 5.5 / state.rate if state.rate else now, urgent=False)
    assert not taken  # 5.5 tokens came in, 0.5 left after the debt: not a whole one
    state, taken = admit(state, state.at + 0.6 / (state.rate or 1), urgent=False)
    assert taken


def test_a_clock_that_steps_back_stands_still() -> None:
    steps = run(RULES, [*load(100, 1, lag=0.9), Observe(0.001, 0.9)])
    state = last(steps)
    later, _ = admit(state, state.at - 50, urgent=True)
    assert later.at == state.at
    assert later.tokens == state.tokens - 1


@pytest.mark.parametrize(
    "change",
    [
        {"target_lag_seconds": -1},
        {"floor_rate": 0},
        {"floor_rate": 10, "ceiling_rate": 5},
        {"burst": 0.5},
        {"increase": -1},
        {"decrease": 1},
        {"decrease": 0},
        {"interval_seconds": 0},
        {"target_lag_seconds": float("nan")},
        {"growth": 0.9},
        {"patience": 0},
    ],
)
def test_rules_out_of_range_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        AdmissionRules(**{"target_lag_seconds": 0.5, **change})


# ---- properties -------------------------------------------------------------------------
rules_st = st.builds(
    lambda target, floor, span, burst, increase, decrease, interval: AdmissionRules(
        target, floor, floor * span, burst, increase, decrease, interval
    ),
    st.floats(0.01, 5),
    st.floats(0.1, 50),
    st.floats(1, 20),
    st.floats(1, 30),
    st.floats(0, 20),
    st.floats(0.1, 0.95),
    st.floats(0.05, 3),
)
dt_st = st.one_of(st.just(0.0), st.floats(0, 0.5))
ops_st = st.lists(
    st.one_of(
        st.builds(Observe, dt_st, st.floats(-1, 10)),
        st.builds(Arrive, dt_st, st.booleans()),
    ),
    max_size=300,
)


@given(rules_st, ops_st)
def test_urgent_calls_are_never_refused(rules: AdmissionRules, ops: list[Op]) -> None:
    for step in run(rules, ops):
        if isinstance(step.op, Arrive) and step.op.urgent:
            assert step.admitted is True


@settings(max_examples=200)
@given(rules_st, ops_st)
def test_while_limiting_no_window_takes_more_than_burst_plus_rate_times_window(
    rules: AdmissionRules, ops: list[Op]
) -> None:
    steps = run(rules, ops)
    for j, end in enumerate(steps):
        if not end.admitted:
            continue
        taken = non_urgent = 0
        top_rate = 0.0
        for i in range(j, -1, -1):
            step = steps[i]
            if step.before.rate is None or step.after.rate is None:
                break
            top_rate = max(top_rate, step.before.rate, step.after.rate)
            taken += bool(step.admitted)
            non_urgent += bool(step.admitted) and isinstance(step.op, Arrive) and not step.op.urgent
            bound = rules.burst + top_rate * (end.now - step.now) + 1e-6
            assert non_urgent <= bound
            if isinstance(end.op, Arrive) and not end.op.urgent:
                assert taken <= bound  # urgent calls took from the same bucket


@given(rules_st, st.lists(st.tuples(dt_st, st.floats(0, 1), st.booleans()), max_size=300))
def test_a_router_under_its_target_refuses_nobody(
    rules: AdmissionRules, arrivals: list[tuple[float, float, bool]]
) -> None:
    ops: list[Op] = []
    for dt, lag_share, urgent in arrivals:
        ops += [Observe(dt, lag_share * rules.target_lag_seconds), Arrive(0.0, urgent)]
    steps = run(rules, ops)
    assert refused(steps) == 0
    assert not any(step.after.limiting for step in steps)


@given(rules_st, ops_st)
def test_with_shedding_off_everyone_is_admitted(rules: AdmissionRules, ops: list[Op]) -> None:
    off = AdmissionRules(0, rules.floor_rate, rules.ceiling_rate, rules.burst)
    assert refused(run(off, ops)) == 0


@given(rules_st, ops_st)
def test_the_same_inputs_give_the_same_decisions(rules: AdmissionRules, ops: list[Op]) -> None:
    assert run(rules, ops) == run(rules, ops)


@given(rules_st, ops_st)
def test_the_rate_stays_within_its_bounds(rules: AdmissionRules, ops: list[Op]) -> None:
    for step in run(rules, ops):
        state = step.after
        assert state.rate is None or rules.floor_rate <= state.rate <= rules.ceiling_rate
        assert state.tokens <= rules.burst
