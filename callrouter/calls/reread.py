"""Read again what PostgreSQL could not tell at the start (the open callbacks, the
agents' last states), once everything this process wrote has landed there."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0
SETTLED_LOOK = 0.05  # of the retry's time: every 250 ms


async def until_read(
    read_now: Callable[[], Awaitable[bool]], settled: Callable[[], bool], retry_seconds: float, what: str
) -> None:
    """``read_now`` (True: PostgreSQL answered) until it answers, at most once a retry,
    and only while ``settled`` (all written so far is in PostgreSQL: it then knows what
    this process did meanwhile). Whether it is settled is looked at every
    ``SETTLED_LOOK`` of the retry's time (records flow on: a look only every retry
    would seldom find none on their way)."""
    loop = asyncio.get_running_loop()
    next_read = loop.time() + retry_seconds
    while True:
        await asyncio.sleep(retry_seconds * SETTLED_LOOK)
        if loop.time() < next_read or not settled():
            continue
        next_read = loop.time() + retry_seconds
        try:
            if await read_now():
                return
        except Exception:  # a row that cannot be read, say: said, and tried again
            log.exception("%s could not be read; trying again", what)
