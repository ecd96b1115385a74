"""The people of a simulated day: when each first calls (Poisson arrivals, at a rate
constant within each interval of the scenario), the number they call from, and
the durations drawn for them (handle time, patience, a redial's delay).

Each kind of draw has its own seeded stream (``Draws``), so a change that moves
one (more agents: fewer abandons, fewer patience draws) leaves the others as
they were: the same people call at the same times whatever the staffing.
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass, field

import phonenumbers

from callrouter.simulate.scenario import Distribution, Scenario, Stream


@dataclass(slots=True)
class Person:
    """Someone who calls: their number (their own: a redial is recognised by it) and calls so far."""

    number: str
    stream: Stream
    first_at: float  # seconds of the day
    calls: list[str] = field(default_factory=list)  # their calls' channel ids, in order
    withheld: bool = False  # calls with the number withheld (asserted to the network only)


def draw(rng: random.Random, dist: Distribution) -> float:
    """Seconds, drawn from ``dist``."""
    mean = dist.mean_seconds
    if dist.distribution == "fixed":
        return mean
    if dist.samples is not None:  # empirical
        return rng.choice(dist.samples)
    if dist.distribution == "exponential":
        return rng.expovariate(1.0 / mean)
    sigma2 = math.log(1.0 + dist.cv * dist.cv)  # lognormal: mean and cv given, mu and sigma derived
    return rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))


class Draws:
    """The day's random streams, each seeded from the scenario's seed and its own name."""

    def __init__(self, seed: int) -> None:
        self.arrivals, self.handle, self.patience, self.redial, self.callback, self.callers, self.misses = (
            random.Random(f"{seed}:{name}")
            for name in ("arrivals", "handle", "patience", "redial", "callback", "callers", "misses")
        )


def first_calls(scenario: Scenario, rng: random.Random) -> list[Person]:
    """Everyone who calls during the day, in the order of their first call."""
    found: list[tuple[float, int, Stream]] = []
    for index, stream in enumerate(scenario.streams):
        for start, end, rate in stream.intervals:
            if rate <= 0:
                continue
            at = start + rng.expovariate(rate)  # memoryless: each interval starts afresh
            while at < end:
                found.append((at, index, stream))
                at += rng.expovariate(rate)
    found.sort(key=lambda item: (item[0], item[1]))
    people = [Person(number_for(stream.country, n), stream, at) for n, (at, _, stream) in enumerate(found)]
    share = scenario.file.callers.withheld
    if share:  # who withholds is the person's, fixed with them: every set-up of a comparison the same
        pick = random.Random(f"{scenario.seed}:withheld")
        for person in people:
            person.withheld = pick.random() < share
    return people


def number_for(country: str, n: int) -> str:
    """The ``n``-th person's number: a mobile number of the line's country (E.164)
    ending in ``n`` (seven digits: one number a person for ten million people)."""
    return f"{_mobile_prefix(country)}{n % 10_000_000:07d}"


@functools.cache
def _mobile_prefix(country: str) -> str:
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:  # a region without mobile numbers: a UK mobile
        example = phonenumbers.parse("+447700900000")
    return f"+{example.country_code}{str(example.national_number)[:-7]}"
