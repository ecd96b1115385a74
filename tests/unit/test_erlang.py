"""Erlang B, C and A (callrouter/core/erlang.py) against published values, against
each other, against exact special cases computed here another way, and for the
properties any queue has."""

from __future__ import annotations

import math
from dataclasses import astuple
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callrouter.core.erlang import QueueFigures, agents_for, erlang_a, erlang_b, erlang_c

AHT = 180.0  # seconds: μ = 1/AHT in the call-centre cases
MU = 1 / AHT


def exact_b(agents: int, load: Fraction) -> Fraction:
    """Erlang's loss formula as written: (A^c/c!) / Σ_{k≤c} A^k/k!, in rationals."""
    terms = [load**k / math.factorial(k) for k in range(agents + 1)]
    return terms[-1] / sum(terms)


def poisson(load: float, n: int) -> float:
    return math.exp(n * math.log(load) - load - math.lgamma(n + 1))


# ---- Erlang B ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("agents", "load", "table"),
    [
        (2, 1, 0.2),  # B(2, A=1) = (1/2)/(1 + 1 + 1/2), by hand
        (2, 2, 0.4),  # B(2, A=2) = 2/(1 + 2 + 2), by hand
        (5, 5, 0.2849),  # Erlang B tables (e.g. Cooper, Introduction to Queueing Theory), 4 places
        (10, 10, 0.2146),  # Erlang B tables, 4 places
        (1, 3, 0.75),  # M/M/1/1: A/(1 + A)
    ],
)
def test_erlang_b_matches_the_tables_and_the_formula(agents: int, load: int, table: float) -> None:
    assert erlang_b(agents, load) == pytest.approx(table, abs=5e-5)
    assert erlang_b(agents, load) == pytest.approx(float(exact_b(agents, Fraction(load))), rel=1e-13)


def test_erlang_b_stays_exact_for_hundreds_of_agents() -> None:
    # The plain formula overflows floats here (950^1000); the rationals do not.
    for agents, load in ((200, Fraction(180)), (1000, Fraction(950)), (1000, Fraction(2000))):
        assert erlang_b(agents, float(load)) == pytest.approx(float(exact_b(agents, load)), rel=1e-11)


# ---- Erlang C ----------------------------------------------------------------------------
def test_erlang_c_textbook_m_m_3() -> None:
    # λ = 2, μ = 1, c = 3 by hand: P0 = 1/9, P(wait) = (8/6)·3·P0 = 4/9,
    # Lq = P(wait)·ρ/(1 - ρ) = 8/9, Wq = Lq/λ = 4/9; a delayed caller waits 1/(cμ - λ) = 1.
    figures = erlang_c(3, 2.0, 1.0, threshold=0.5)
    assert figures.p_wait == pytest.approx(4 / 9, rel=1e-14)
    assert figures.mean_wait == pytest.approx(4 / 9, rel=1e-14)
    assert figures.mean_wait * 2.0 == pytest.approx(8 / 9, rel=1e-14)  # Lq, by Little
    assert figures.mean_wait_delayed == pytest.approx(1.0, rel=1e-14)
    assert figures.answered_within == pytest.approx(1 - 4 / 9 * math.exp(-0.5), rel=1e-14)
    assert figures.occupancy == pytest.approx(2 / 3, rel=1e-14)
    assert (figures.p_answered, figures.p_abandon, figures.asa) == (1.0, 0.0, figures.mean_wait)


def test_erlang_c_m_m_1() -> None:
    # M/M/1: P(wait) = ρ, Wq = ρ/(μ - λ), P(W ≤ t) = 1 - ρ·exp(-(μ - λ)t).
    figures = erlang_c(1, 0.75, 1.0, threshold=2.0)
    assert figures.p_wait == pytest.approx(0.75, rel=1e-14)
    assert figures.mean_wait == pytest.approx(3.0, rel=1e-14)
    assert figures.sl1 == figures.sl2 == pytest.approx(1 - 0.75 * math.exp(-0.5), rel=1e-14)


# The call-centre example of the Erlang C tutorials: 100 calls per 30 minutes, AHT 180 s,
# A = 10 erlangs, target 80% within 20 s. C from B (computed here in rationals) by
# C = cB/(c - A(1 - B)); SL = 1 - C·exp(-(c - A)·T/AHT). By that, 13 agents answer
# 79.56% within 20 s and 14 agents 88.84%: 14 are needed (some write-ups round to 13).
EXAMPLE_RATE = 100 / 1800


@pytest.mark.parametrize("agents", [11, 12, 13, 14, 20])
def test_erlang_c_the_ten_erlang_example(agents: int) -> None:
    b = exact_b(agents, Fraction(10))
    c = agents * b / (agents - 10 * (1 - b))
    figures = erlang_c(agents, EXAMPLE_RATE, MU, threshold=20)
    assert figures.p_wait == pytest.approx(float(c), rel=1e-12)
    assert figures.mean_wait == pytest.approx(float(c) * AHT / (agents - 10), rel=1e-12)
    assert figures.sl1 == pytest.approx(1 - float(c) * math.exp(-(agents - 10) * 20 / AHT), rel=1e-12)


def test_the_ten_erlang_example_needs_14_agents_for_80_20() -> None:
    assert erlang_c(13, EXAMPLE_RATE, MU, 20).sl1 == pytest.approx(0.7956, abs=5e-5)
    assert erlang_c(14, EXAMPLE_RATE, MU, 20).sl1 == pytest.approx(0.8884, abs=5e-5)
    assert agents_for(0.8, 20, EXAMPLE_RATE, MU, 0.0) == 14
    assert agents_for(0.79, 20, EXAMPLE_RATE, MU, 0.0) == 13


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: erlang_c(10, 10.0, 1.0, 20), "unstable"),
        (lambda: erlang_c(5, 10.0, 1.0, 20), "unstable"),
        (lambda: erlang_a(10, 10.0, 1.0, 0.0, 20), "unstable"),  # infinite patience needs A < c
        (lambda: erlang_c(0, 1.0, 1.0, 20), "agents"),
        (lambda: erlang_a(2.5, 1.0, 1.0, 1.0, 20), "agents"),  # type: ignore[arg-type]
        (lambda: erlang_a(True, 1.0, 1.0, 1.0, 20), "agents"),
        (lambda: erlang_a(3, -1.0, 1.0, 1.0, 20), "arrival rate"),
        (lambda: erlang_a(3, 0.0, 1.0, 1.0, 20), "arrival rate"),
        (lambda: erlang_a(3, math.nan, 1.0, 1.0, 20), "arrival rate"),
        (lambda: erlang_a(3, 1.0, 0.0, 1.0, 20), "service rate"),
        (lambda: erlang_a(3, 1.0, math.inf, 1.0, 20), "service rate"),
        (lambda: erlang_a(3, 1.0, 1.0, -0.1, 20), "abandon rate"),
        (lambda: erlang_a(3, 1.0, 1.0, math.nan, 20), "abandon rate"),
        (lambda: erlang_a(3, 1.0, 1.0, 1.0, -1), "threshold"),
        (lambda: erlang_b(3, -1.0), "load"),
        (lambda: agents_for(1.0, 20, 1.0, 1.0, 1.0), "target"),
        (lambda: agents_for(0.8, 20, 1.0, 1.0, 1.0, max_abandon=0.0), "abandonment ceiling"),
        (lambda: erlang_a(1, 1e3, 1.0, 1e-6, 20), "patience too long"),
    ],
)
def test_nonsense_and_unstable_input_is_refused_with_the_reason(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


# ---- Erlang A against Erlang C -----------------------------------------------------------
CASES_C = [(1, 0.5, 10.0), (3, 2.0, 60.0), (13, 10.0, 20.0), (14, 10.0, 0.0), (100, 95.0, 20.0)]


@pytest.mark.parametrize(("agents", "load", "threshold"), CASES_C)
@pytest.mark.parametrize("theta", [0.0, 1e-12 * MU])
def test_erlang_a_with_endless_patience_is_erlang_c(
    agents: int, load: float, threshold: float, theta: float
) -> None:
    a = erlang_a(agents, load * MU, MU, theta, threshold)
    c = erlang_c(agents, load * MU, MU, threshold)
    for name in ("p_wait", "p_answered", "mean_wait", "asa", "answered_within", "occupancy", "sl1", "sl2"):
        assert getattr(a, name) == pytest.approx(getattr(c, name), rel=1e-9, abs=1e-12), name
    assert a.p_abandon == pytest.approx(0.0, abs=1e-9)


# ---- Erlang A, exact special cases -------------------------------------------------------
# θ = μ: the death rate is nμ in every state, so the number in system is Poisson(A)
# (M/M/∞): P(wait) = P(N ≥ c), P(abandon) = θ·E[(N - c)⁺]/λ = E[(N - c)⁺]/A.
@pytest.mark.parametrize(("agents", "load"), [(10, 8.0), (10, 15.0), (100, 120.0), (150, 300.0), (3, 2.0)])
def test_erlang_a_with_patience_equal_to_handling_is_poisson(agents: int, load: float) -> None:
    below = [poisson(load, n) for n in range(agents)]
    p_wait = 1 - math.fsum(below)
    excess = load - agents + math.fsum((agents - n) * p for n, p in enumerate(below))  # E[(N - c)⁺]
    figures = erlang_a(agents, load * MU, MU, MU, 20)
    assert figures.p_wait == pytest.approx(p_wait, abs=1e-12)
    assert figures.p_abandon == pytest.approx(excess / load, abs=1e-12)
    assert figures.mean_wait == pytest.approx(excess / (load * MU), rel=1e-12)
    assert figures.occupancy == pytest.approx((load - excess) / agents, rel=1e-12)


def hypoexponential_figures(agents: int, load: int, threshold: float) -> tuple[Decimal, ...]:
    """θ = μ = 1, so P(j ahead) = Poisson(A)(c + j). From j ahead the wait for an
    agent is V = Σ_{i≤j} Exp(r_i), r_i = c + i; with patience Exp(θ):
    P(answered by T) = Σ C_i r_i/(r_i + θ)·(1 - e^{-(r_i+θ)T}), P(abandoned by T) =
    Σ C_i θ/(r_i + θ)·(1 - e^{-(r_i+θ)T}), E[V; answered] = Σ C_i r_i/(r_i + θ)²,
    E[patience; abandoned] = Σ C_i θ/(r_i + θ)², C_i = Π_{l≠i} r_l/(r_l - r_i): the
    partial fractions of the hypoexponential law, in 60 digits (they alternate)."""
    with localcontext() as context:
        context.prec = 60
        a, t = Decimal(load), Decimal(threshold)
        sums = [Decimal(0)] * 4
        weight = (-a).exp() * a**agents / math.factorial(agents)
        for j in range(60):
            rates = [agents + i for i in range(j + 1)]
            for rate in rates:
                product = Fraction(1)
                for other in rates:
                    product *= Fraction(other, other - rate) if other != rate else 1
                coefficient = Decimal(product.numerator) / Decimal(product.denominator)
                gone = 1 - (-(rate + 1) * t).exp()
                parts = (rate * gone, gone, Decimal(rate) / (rate + 1), Decimal(1) / (rate + 1))
                sums = [s + weight * coefficient * p / (rate + 1) for s, p in zip(sums, parts, strict=True)]
            weight = weight * a / (agents + j + 1)
        return tuple(sums)


@pytest.mark.parametrize(("agents", "load", "threshold"), [(3, 2, 0.5), (2, 3, 0.3), (4, 6, 2.0)])
def test_erlang_a_waits_match_the_hypoexponential_law(agents: int, load: int, threshold: float) -> None:
    answered_by, abandoned_by, wait_answered, wait_abandoned = map(
        float, hypoexponential_figures(agents, load, threshold)
    )
    free = math.fsum(poisson(load, n) for n in range(agents))
    figures = erlang_a(agents, float(load), 1.0, 1.0, threshold)
    assert figures.answered_within == pytest.approx(free + answered_by, abs=1e-12)
    assert figures.abandoned_within == pytest.approx(abandoned_by, abs=1e-12)
    assert figures.asa * figures.p_answered == pytest.approx(wait_answered, rel=1e-11)
    assert figures.mean_wait_abandoned is not None
    assert figures.mean_wait_abandoned * figures.p_abandon == pytest.approx(wait_abandoned, rel=1e-11)


# ---- Erlang A, what any queue obeys ------------------------------------------------------
def consistent(f: QueueFigures, agents: int, load: float) -> None:
    """The tagged caller's chances agree with the chain's law (Little, carried load)."""
    for p in (f.p_wait, f.p_answered, f.p_abandon, f.answered_within, f.abandoned_within, f.occupancy):
        assert -1e-12 <= p <= 1 + 1e-12
    assert f.p_answered + f.p_abandon == pytest.approx(1.0, abs=1e-11)
    assert f.occupancy * agents == pytest.approx(load * f.p_answered, rel=1e-10)
    abandoned_wait = 0.0 if f.mean_wait_abandoned is None else f.mean_wait_abandoned
    by_outcome = f.p_answered * f.asa + f.p_abandon * abandoned_wait
    assert f.mean_wait == pytest.approx(by_outcome, rel=1e-9, abs=1e-12)
    assert 0 <= f.answered_within <= f.p_answered + 1e-12
    assert 0 <= f.abandoned_within <= f.p_abandon + 1e-12
    assert -1e-12 <= f.sl2 <= f.sl1 + 1e-12 <= 1 + 2e-12


def queue(agents: int, load: float, patience: float, threshold: float) -> QueueFigures:
    """Erlang A with the handling time AHT; ``load`` in erlangs, ``patience`` in AHTs."""
    return erlang_a(agents, load * MU, MU, MU / patience, threshold)


agents_st = st.integers(1, 40)
load_share_st = st.floats(0.05, 2.0)  # offered load per agent
patience_st = st.floats(0.05, 20.0)  # mean patience in AHTs
threshold_st = st.floats(0.0, 3 * AHT)


@settings(deadline=None, max_examples=60)
@given(agents_st, load_share_st, patience_st, threshold_st)
def test_the_figures_hang_together(agents: int, share: float, patience: float, threshold: float) -> None:
    load = share * agents
    consistent(queue(agents, load, patience, threshold), agents, load)


@settings(deadline=None, max_examples=40)
@given(agents_st, load_share_st, patience_st, threshold_st)
def test_more_agents_lose_fewer_callers_and_answer_sooner(
    agents: int, share: float, patience: float, threshold: float
) -> None:
    load = share * agents
    fewer, more = queue(agents, load, patience, threshold), queue(agents + 1, load, patience, threshold)
    assert more.p_abandon <= fewer.p_abandon + 1e-12
    assert more.answered_within >= fewer.answered_within - 1e-12
    assert more.sl1 >= fewer.sl1 - 1e-12  # what agents_for's bisection relies on
    assert more.sl2 >= fewer.sl2 - 1e-12


@settings(deadline=None, max_examples=40)
@given(agents_st, load_share_st, st.floats(1.01, 1.5), patience_st, threshold_st)
def test_more_calls_lose_more_callers(
    agents: int, share: float, growth: float, patience: float, threshold: float
) -> None:
    load = share * agents
    usual, busier = (
        queue(agents, load, patience, threshold),
        queue(agents, load * growth, patience, threshold),
    )
    assert busier.p_abandon >= usual.p_abandon - 1e-12
    assert busier.p_wait >= usual.p_wait - 1e-12


@settings(deadline=None, max_examples=40)
@given(agents_st, load_share_st, patience_st, threshold_st, st.floats(1.0, 600.0))
def test_the_service_level_grows_with_the_threshold(
    agents: int, share: float, patience: float, threshold: float, more: float
) -> None:
    load = share * agents
    sooner, later = queue(agents, load, patience, threshold), queue(agents, load, patience, threshold + more)
    assert later.answered_within >= sooner.answered_within - 1e-12
    assert later.abandoned_within >= sooner.abandoned_within - 1e-12
    assert later.sl1 >= sooner.sl1 - 1e-12


def test_the_threshold_at_its_ends() -> None:
    rate, theta = 12 * MU, MU / 0.5
    at_once = erlang_a(10, rate, MU, theta, 0.0)
    assert at_once.answered_within == pytest.approx(1 - at_once.p_wait, abs=1e-15)
    assert at_once.abandoned_within == 0.0
    # The smallest positive float: ΛT underflows to 0 (hypothesis found it: log(0) failed).
    tiny = erlang_a(10, rate, MU, theta, 5e-324)
    assert (tiny.answered_within, tiny.abandoned_within) == (at_once.answered_within, 0.0)
    never = erlang_a(10, rate, MU, theta, 1e7)
    assert never.answered_within == pytest.approx(never.p_answered, abs=1e-12)
    assert never.abandoned_within == pytest.approx(never.p_abandon, abs=1e-12)


@pytest.mark.parametrize(("agents", "load"), [(500, 480.0), (500, 1000.0), (1000, 2000.0)])
def test_large_centres_and_heavy_overload_give_finite_figures(agents: int, load: float) -> None:
    figures = erlang_a(agents, load * MU, MU, MU / 1.5, 20)
    assert all(math.isfinite(value) for value in astuple(figures) if value is not None)
    consistent(figures, agents, load)
    if load > agents:  # every agent busy nearly always: the answered are the carried load
        assert figures.p_answered == pytest.approx(agents / load, rel=1e-6)


# ---- staffing ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("patience", "max_abandon", "definition"),
    [
        (120.0, None, "sl1"),
        (120.0, None, "sl2"),
        (120.0, 0.01, "sl1"),
        (600.0, 0.002, "sl2"),
        (30.0, None, "sl1"),
    ],
)
def test_agents_for_is_the_least_staffing_that_meets_the_targets(
    patience: float, max_abandon: float | None, definition: Literal["sl1", "sl2"]
) -> None:
    def meets(agents: int) -> bool:
        f = erlang_a(agents, EXAMPLE_RATE, MU, 1 / patience, 20)
        level = f.sl1 if definition == "sl1" else f.sl2
        return level >= 0.8 and (max_abandon is None or f.p_abandon <= max_abandon)

    needed = agents_for(0.8, 20, EXAMPLE_RATE, MU, 1 / patience, max_abandon, definition)
    assert meets(needed)
    assert not any(meets(agents) for agents in range(1, needed))
    if max_abandon is None:  # the impatient who leave shorten the others' waits (Erlang C: 14)
        assert needed <= 14


def test_staffing_for_sl2_is_at_least_staffing_for_sl1() -> None:
    for patience in (30.0, 120.0, 600.0):
        sl1 = agents_for(0.8, 20, EXAMPLE_RATE, MU, 1 / patience)
        assert agents_for(0.8, 20, EXAMPLE_RATE, MU, 1 / patience, definition="sl2") >= sl1
