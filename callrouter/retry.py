"""Capped exponential backoff, the one used by every reconnect loop.

The ARI WebSockets (``ari/``) and the record writer (``store/``) both wait
with it, so it imports no layer of callrouter.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

Sleep = Callable[[float], Awaitable[None]]
Uniform = Callable[[float, float], float]


class Backoff:
    """Delays of ``base``, twice that, four times... up to ``cap`` seconds, each
    spread by up to ``jitter`` (a fraction) either way, so routers that lost
    the same server do not all come back in the same instant. ``reset`` after
    a success starts again from ``base``.

    The delay stops doubling once it reaches the cap: an outage of any length
    never overflows it.
    """

    def __init__(
        self,
        cap: float,
        base: float = 0.25,
        jitter: float = 0.2,
        *,
        sleep: Sleep = asyncio.sleep,
        uniform: Uniform = random.uniform,
    ) -> None:
        if cap <= 0 or base <= 0:
            raise ValueError("backoff delays must be positive")
        if not 0 <= jitter < 1:
            raise ValueError("jitter is a fraction of the delay, from 0 up to (not including) 1")
        self.cap = cap
        self.base = min(base, cap)
        self.jitter = jitter
        self._sleep = sleep
        self._uniform = uniform
        self._delay = self.base

    def next_delay(self) -> float:
        """The next delay, jittered; each call moves one step up."""
        delay = self._delay
        self._delay = min(self._delay * 2, self.cap)
        if not self.jitter:
            return delay
        return delay * (1 + self._uniform(-self.jitter, self.jitter))

    def reset(self) -> None:
        self._delay = self.base

    async def wait(self) -> None:
        """Sleep the next delay (a cancel while asleep propagates at once)."""
        await self._sleep(self.next_delay())
