"""The one backoff every reconnect loop waits with (callrouter/retry.py).

Sleep and randomness are injected: no test here waits or measures time.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from callrouter.retry import Backoff


class Sleeps:
    """A sleep that records what it was asked to wait and returns at once."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)


def steps(backoff: Backoff, n: int) -> list[float]:
    return [backoff.next_delay() for _ in range(n)]


def test_delays_double_up_to_the_cap_and_stay_there() -> None:
    assert steps(Backoff(cap=2.0, jitter=0.0), 7) == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0, 2.0]


def test_a_cap_below_the_base_is_the_delay_from_the_start() -> None:
    assert steps(Backoff(cap=0.02, jitter=0.0), 3) == [0.02, 0.02, 0.02]


def test_a_long_outage_never_overflows_the_delay() -> None:
    # 2 ** 1024 is beyond a float: a doubling attempt counter broke after ~1000 failures.
    backoff = Backoff(cap=10.0, jitter=0.0)
    assert steps(backoff, 5000)[-1] == 10.0


@pytest.mark.parametrize(("lowest", "factor"), [(True, 0.8), (False, 1.2)])
def test_jitter_reaches_its_bounds_and_no_further(lowest: bool, factor: float) -> None:
    asked: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        asked.append((low, high))
        return low if lowest else high

    backoff = Backoff(cap=1.0, jitter=0.2, uniform=uniform)
    assert steps(backoff, 4) == pytest.approx([d * factor for d in (0.25, 0.5, 1.0, 1.0)])
    assert asked == [(-0.2, 0.2)] * 4


def test_jittered_delays_spread_within_the_bounds() -> None:
    backoff = Backoff(cap=1.0, base=1.0, jitter=0.2, uniform=random.Random(13).uniform)
    delays = steps(backoff, 1000)
    assert all(0.8 <= d <= 1.2 for d in delays)
    assert min(delays) < 0.85 and max(delays) > 1.15  # spread, not one fixed value


def test_reset_after_a_success_starts_again_from_the_base() -> None:
    backoff = Backoff(cap=5.0, jitter=0.0)
    assert steps(backoff, 4) == [0.25, 0.5, 1.0, 2.0]
    backoff.reset()
    assert steps(backoff, 2) == [0.25, 0.5]


async def test_wait_sleeps_the_next_delay() -> None:
    sleeps = Sleeps()
    backoff = Backoff(cap=1.0, jitter=0.0, sleep=sleeps)
    for _ in range(4):
        await backoff.wait()
    backoff.reset()
    await backoff.wait()
    assert sleeps.asked == [0.25, 0.5, 1.0, 1.0, 0.25]


async def test_a_cancel_while_waiting_propagates_and_the_backoff_goes_on() -> None:
    asleep = asyncio.Event()
    asked: list[float] = []

    async def forever(seconds: float) -> None:
        asked.append(seconds)
        asleep.set()
        await asyncio.Future()

    backoff = Backoff(cap=1.0, jitter=0.0, sleep=forever)
    waiting = asyncio.create_task(backoff.wait())
    await asleep.wait()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert asked == [0.25]
    assert backoff.next_delay() == 0.5  # the cancelled wait counted as one step


@pytest.mark.parametrize(
    ("cap", "base", "jitter"), [(0.0, 0.25, 0.2), (1.0, 0.0, 0.2), (1.0, 0.25, 1.0), (1.0, 0.25, -0.1)]
)
def test_nonsense_settings_are_refused(cap: float, base: float, jitter: float) -> None:
    with pytest.raises(ValueError):
        Backoff(cap, base, jitter)
