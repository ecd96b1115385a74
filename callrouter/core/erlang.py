"""What queueing theory predicts for one queue in steady state: Erlang B, Erlang C
and Erlang A, exact, in pure Python. For staffing advice and to hold the
simulator against.

The models (all FIFO, one skill, steady state, callers arriving one at a time):

- Erlang B (M/M/c/c): ``load`` erlangs offered to ``agents``, no queue.
- Erlang C (M/M/c): Poisson arrivals at rate λ, exponential handling at rate μ
  per agent (μ = 1/AHT), ``c`` agents, infinite patience. Needs A = λ/μ < c.
- Erlang A (M/M/c+M): the same with each waiting caller's patience exponential
  at rate θ (θ = 1/mean patience; θ = 0 is Erlang C). Any load, overload too.

Units: rates per second (or any one unit); waits and the threshold T in its
reciprocal. "Within T" means a wait of at most T (the KPI report's rule).

Erlang A is computed exactly, without the usual approximations:

- The number in system is a birth-death chain (birth λ; death nμ up to c,
  cμ + (n - c)θ above). Its stationary law is built in log space, normalised at
  its peak, and cut where the rest is below 1e-16 of the peak: no overflow at a
  thousand agents or twice the load they can take.
- An arrival sees that law (PASTA). Finding n ≥ c, it has j = n - c callers
  ahead. Those ahead move it up at rate cμ + jθ (a service or one of them
  leaving); from j = 0 it is answered at rate cμ; it leaves itself at rate θ.
  Its time in each position is exponential at rate cμ + jθ + θ whatever ends
  it, which gives its chances and its mean waits in closed form (``_tagged``).
- The service level needs the law of that wait by T: uniformization of the same
  absorbing chain (``_within``): P(answered by T) = Σ_k Poisson(k; ΛT)·u_k,
  u_k its chance of answer within k jumps of the jump chain at the fastest
  rate Λ, found backwards for every start at once: O(N) a jump.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from operator import mul
from typing import Literal

_LOG_TAIL = math.log(1e-16)  # the stationary mass left out, relative to the peak state
_CONVERGED = 1e-13  # absorption gap below which the rest of the Poisson sum is its limit
_POISSON_TAIL = 1e-17
_MAX_QUEUE = 200_000  # waiting callers the chain may hold before the input is refused


@dataclass(frozen=True, slots=True)
class QueueFigures:
    """One queue's steady state, per arriving caller. Waits in the rates' time unit."""

    p_wait: float  # P(all agents busy on arrival)
    p_answered: float
    p_abandon: float
    mean_wait: float  # of all callers: answered (zero waits too) and abandoned
    asa: float  # mean wait of the answered, zero waits included (the KPI report's ASA)
    mean_wait_abandoned: float | None  # None when nobody abandons
    answered_within: float  # P(answered with a wait of at most T)
    abandoned_within: float  # P(abandoned with a wait of at most T)
    occupancy: float  # mean busy agents / agents

    @property
    def sl1(self) -> float:
        """Answered within T / answered (the KPI report's SL1)."""
        return self.answered_within / self.p_answered

    @property
    def sl2(self) -> float:
        """Answered within T / (answered + abandoned after T) (the KPI report's SL2)."""
        return self.answered_within / (self.p_answered + self.p_abandon - self.abandoned_within)

    @property
    def mean_wait_delayed(self) -> float | None:
        """Mean wait of the callers who found every agent busy (None if none do)."""
        return self.mean_wait / self.p_wait if self.p_wait > 0 else None


def erlang_b(agents: int, load: float) -> float:
    """P(blocked) in M/M/c/c: ``load`` erlangs offered to ``agents``.

    The recursion B(n) = A·B(n-1) / (n + A·B(n-1)), B(0) = 1 stays in [0, 1]."""
    _check_agents(agents)
    if not 0 <= load < math.inf:
        raise ValueError(f"the offered load must be a finite number of erlangs >= 0, not {load}")
    blocked = 1.0
    for n in range(1, agents + 1):
        blocked = load * blocked / (n + load * blocked)
    return blocked


def erlang_c(agents: int, arrival_rate: float, service_rate: float, threshold: float) -> QueueFigures:
    """M/M/c: P(wait) C = cB / (c - A(1 - B)), mean wait C/(cμ - λ),
    P(wait ≤ T) = 1 - C·exp(-(cμ - λ)T). Refuses A ≥ c (the queue grows without end)."""
    load = _load(arrival_rate, service_rate)
    _check_agents(agents)
    _check_threshold(threshold)
    if load >= agents:
        raise ValueError(
            f"unstable: {load:g} erlangs offered to {agents} agents; Erlang C needs fewer erlangs "
            "than agents (Erlang A, with the callers' patience, takes any load)"
        )
    blocked = erlang_b(agents, load)
    p_wait = agents * blocked / (agents - load * (1 - blocked))
    drain = agents * service_rate - arrival_rate  # how fast the wait of a delayed caller ends
    mean_wait = p_wait / drain
    return QueueFigures(
        p_wait=p_wait,
        p_answered=1.0,
        p_abandon=0.0,
        mean_wait=mean_wait,
        asa=mean_wait,
        mean_wait_abandoned=None,
        answered_within=1 - p_wait * math.exp(-drain * threshold),
        abandoned_within=0.0,
        occupancy=load / agents,
    )


def erlang_a(
    agents: int, arrival_rate: float, service_rate: float, abandon_rate: float, threshold: float
) -> QueueFigures:
    """M/M/c+M, exact (the module's docstring says how). ``abandon_rate`` θ = 1/mean
    patience; θ = 0 is Erlang C. P(abandon) = θ·E[queue]/λ, mean wait E[queue]/λ."""
    load = _load(arrival_rate, service_rate)
    _check_agents(agents)
    _check_threshold(threshold)
    if not 0 <= abandon_rate < math.inf:
        raise ValueError(f"the abandon rate (1/mean patience) must be finite and >= 0, not {abandon_rate}")
    if abandon_rate == 0:
        return erlang_c(agents, arrival_rate, service_rate, threshold)
    law = _stationary(agents, load, abandon_rate / service_rate)
    waiting = law[agents:]  # an arrival finding n = agents + j has j callers ahead
    speed = agents * service_rate
    served, abandoned, wait_served, wait_abandoned = _tagged(waiting, speed, abandon_rate)
    free = math.fsum(law[:agents])
    queue = math.fsum(j * p for j, p in enumerate(waiting))
    answered_within, abandoned_within = _within(waiting, speed, abandon_rate, threshold, (served, abandoned))
    return QueueFigures(
        p_wait=math.fsum(waiting),
        p_answered=free + served,
        p_abandon=abandon_rate * queue / arrival_rate,
        mean_wait=queue / arrival_rate,
        asa=wait_served / (free + served),
        mean_wait_abandoned=wait_abandoned / abandoned if abandoned > 0 else None,
        answered_within=free + answered_within,
        abandoned_within=abandoned_within,
        occupancy=math.fsum(min(n, agents) * p for n, p in enumerate(law)) / agents,
    )


def agents_for(
    target: float,
    threshold: float,
    arrival_rate: float,
    service_rate: float,
    abandon_rate: float,
    max_abandon: float | None = None,
    definition: Literal["sl1", "sl2"] = "sl1",
) -> int:
    """The fewest agents whose service level (SL1 unless told ``"sl2"``) reaches
    ``target`` by Erlang A, with P(abandon) ≤ ``max_abandon`` when given.

    Bisection: both figures improve with every agent added (tests check it).
    SL1 counts only the answered: with impatient callers it can be met while
    many leave, so give ``max_abandon`` (or use SL2) for staffing advice."""
    if not 0 < target < 1:
        raise ValueError(f"the service-level target must lie between 0 and 1 (exclusive), not {target}")
    if max_abandon is not None and not 0 < max_abandon <= 1:
        raise ValueError(f"the abandonment ceiling must lie in (0, 1], not {max_abandon}")

    def meets(agents: int) -> bool:
        figures = erlang_a(agents, arrival_rate, service_rate, abandon_rate, threshold)
        level = figures.sl1 if definition == "sl1" else figures.sl2
        return level >= target and (max_abandon is None or figures.p_abandon <= max_abandon)

    load = _load(arrival_rate, service_rate)
    failing = math.floor(load) if abandon_rate == 0 else 0  # too few (or none): never evaluated
    enough = math.floor(load) + 1
    while not meets(enough):
        failing, enough = enough, 2 * enough
    while enough - failing > 1:
        middle = (failing + enough) // 2
        failing, enough = (failing, middle) if meets(middle) else (middle, enough)
    return enough


def _stationary(agents: int, load: float, relative_abandon: float) -> list[float]:
    """P(n in system), n = 0..N, rates in units of μ: birth A, death min(n, c) + (n - c)⁺·θ/μ."""
    logs, peak, n = [0.0], 0.0, 0
    while True:
        n += 1
        death = n if n <= agents else agents + (n - agents) * relative_abandon
        ratio = load / death
        logs.append(logs[-1] + math.log(ratio))
        peak = max(peak, logs[-1])
        if n >= agents and ratio < 1 and logs[-1] + math.log(ratio / (1 - ratio)) < peak + _LOG_TAIL:
            break  # the ratios only fall from here: the rest is below this geometric tail
        if n > agents + _MAX_QUEUE:
            raise ValueError(
                f"the queue would hold more than {_MAX_QUEUE} callers: patience too long for this overload"
            )
    weights = [math.exp(x - peak) for x in logs]
    total = math.fsum(weights)
    return [w / total for w in weights]


def _tagged(waiting: Sequence[float], speed: float, theta: float) -> tuple[float, float, float, float]:
    """P(answered), P(abandoned) and Σ wait·1{answered}, Σ wait·1{abandoned}, each
    weighted by ``waiting`` (P(j ahead on arrival)), ``speed`` = cμ.

    From j ahead a caller stays Exp(r + θ), r = cμ + jθ, then moves on (to j - 1
    or, from 0, to an agent) with chance a = r/(r + θ) or leaves. So, built up from
    j = 0 (s = 1/(r + θ), its mean stay): u_j = a·u_{j-1}, q_j = θs + a·q_{j-1}
    (= 1 - u_j, summed without cancellation), g_j = s·u_j + a·g_{j-1},
    h_j = s·q_j + a·h_{j-1}; all terms positive."""
    served = abandoned = wait_served = wait_abandoned = 0.0
    u, q, g, h = 1.0, 0.0, 0.0, 0.0  # for the caller at an agent (j = -1)
    for j, weight in enumerate(waiting):
        stay = 1 / (speed + (j + 1) * theta)
        onward = (speed + j * theta) * stay
        u, q = onward * u, theta * stay + onward * q
        g, h = stay * u + onward * g, stay * q + onward * h
        served += weight * u
        abandoned += weight * q
        wait_served += weight * g
        wait_abandoned += weight * h
    return served, abandoned, wait_served, wait_abandoned


def _within(
    waiting: Sequence[float], speed: float, theta: float, threshold: float, limits: tuple[float, float]
) -> tuple[float, float]:
    """P(answered within T), P(abandoned within T), weighted by ``waiting``, by
    uniformization at Λ = cμ + (J + 1)θ: u_k, v_k (answered, abandoned within k
    jumps) by backward recursion, summed with Poisson(ΛT) weights. Once u_k, v_k
    are within 1e-13 of their limits ``limits`` (or the Poisson tail is spent)
    the rest of the weights go to the limits."""
    if threshold == 0 or not waiting:
        return 0.0, 0.0
    rate = speed + len(waiting) * theta
    down = [(speed + j * theta) / rate for j in range(len(waiting))]
    stay = [max(0.0, 1 - (speed + (j + 1) * theta) / rate) for j in range(len(waiting))]
    leave = theta / rate
    x = rate * threshold
    if x == 0:  # a threshold so small that ΛT underflows: nothing is within it
        return 0.0, 0.0
    answered, gone = [0.0] * len(waiting), [0.0] * len(waiting)
    answered_sum = gone_sum = mass = 0.0
    k = 0
    while True:
        weight = math.exp(k * math.log(x) - x - math.lgamma(k + 1))  # Poisson(k; ΛT)
        answered_now, gone_now = sum(map(mul, waiting, answered)), sum(map(mul, waiting, gone))
        answered_sum += weight * answered_now
        gone_sum += weight * gone_now
        mass += weight
        if max(limits[0] - answered_now, limits[1] - gone_now) < _CONVERGED:
            break
        if k + 1 > x and weight * x / (k + 1 - x) < _POISSON_TAIL:
            break
        answered = [down[0] + stay[0] * answered[0]] + [
            d * ahead + s * own
            for d, s, ahead, own in zip(down[1:], stay[1:], answered[:-1], answered[1:], strict=True)
        ]
        gone = [leave + stay[0] * gone[0]] + [
            leave + d * ahead + s * own
            for d, s, ahead, own in zip(down[1:], stay[1:], gone[:-1], gone[1:], strict=True)
        ]
        k += 1
    rest = max(0.0, 1 - mass)
    return answered_sum + rest * limits[0], gone_sum + rest * limits[1]


def _load(arrival_rate: float, service_rate: float) -> float:
    if not 0 < arrival_rate < math.inf:
        raise ValueError(f"the arrival rate must be finite and > 0, not {arrival_rate}")
    if not 0 < service_rate < math.inf:
        raise ValueError(
            f"the service rate (1/mean handling time) must be finite and > 0, not {service_rate}"
        )
    return arrival_rate / service_rate


def _check_agents(agents: int) -> None:
    if isinstance(agents, bool) or not isinstance(agents, int) or agents < 1:
        raise ValueError(f"the number of agents must be a whole number >= 1, not {agents!r}")


def _check_threshold(threshold: float) -> None:
    if not 0 <= threshold < math.inf:
        raise ValueError(f"the service-level threshold T must be finite and >= 0, not {threshold}")
