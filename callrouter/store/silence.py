"""A PostgreSQL that never answers (a frozen server, a network dropping packets)
must not hold the router: asyncpg's own timeouts cancel the statement, but the
cancel request, the ROLLBACK and the connection's release then wait on the same
silent server, so the ``TimeoutError`` the writer and the API count on comes only
when the server speaks again (seen: a write held for as long as the server was
stopped, its records in memory only; ``GET /callbacks`` answering after 70 s).

``answered`` runs the work as a task of its own and waits for it at most the
given time. Past it, ``cut`` closes the pool's connections at once, without a
word to the server (``Pool.terminate``), which ends the task with a connection
error, and ``TimeoutError`` is raised. A statement cut so either never reached
PostgreSQL or is rolled back with its connection; one whose commit was sent but
not confirmed may have happened (as with any timeout), so every write here is
idempotent when replayed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

T = TypeVar("T")


async def answered(work: Awaitable[T], seconds: float, cut: Callable[[], None]) -> T:
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if done:
        return task.result()
    cut()
    task.add_done_callback(_forget)
    raise TimeoutError(f"PostgreSQL did not answer within {seconds:g} s")


class Answered:
    """For a store with a pool of its own (``_pool``, made when first needed) and a
    ``_timeout``: ``_answered`` is ``answered`` with its pool cut by ``_cut``."""

    _pool: asyncpg.Pool | None
    _timeout: float

    async def _answered(self, work: Awaitable[T]) -> T:
        return await answered(work, self._timeout, self._cut)

    def _cut(self) -> None:
        """Close every connection of the pool now, telling the server nothing; the next
        statement makes a new pool."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.terminate()


def _forget(task: asyncio.Future[Any]) -> None:
    """The cut work's own error (its connection closed under it) is expected: taken."""
    if not task.cancelled():
        task.exception()
