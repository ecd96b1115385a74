"""Callback leases: which router dials a callback now.

A router takes a callback's lease before dialling it, and only a free or
expired lease (or its own, which renews it); a standby router takes the due
ones the same way. Leases live in ``callbacks.leased_by``/``lease_until``,
which the record writer never touches, and run on PostgreSQL's clock, so
routers whose clocks differ still agree. A row another router is leasing this
instant is skipped (``SKIP LOCKED``), never waited for: it is that router's.

A lease not taken is only "held" when the row says so: leased by another
router, not expired. An open row with a free lease that was not taken was out
of the take's sight for a moment (a new callback's row committed by the record
writer between the take and the look at its state, or the row locked by the
writer's upsert, or by another router's take): it is asked again, a few times
within a fraction of a second, then (still locked) held.

DatabaseUnavailable when PostgreSQL cannot answer: the callbacks wait. A
callback with no row, or whose row has ended, is told apart (``try_take``): no
later attempt would ever take it.
"""

from __future__ import annotations

import asyncio
from enum import StrEnum

from callrouter.store.queries import OPEN_IN_SQL, OPEN_STATES, Pooled, is_uuid

TAKE = f"""
WITH free AS (
    SELECT callback_id FROM callbacks
    WHERE callback_id = $1 AND state IN {OPEN_IN_SQL}
      AND (leased_by IS NULL OR lease_until <= now() OR leased_by = $2)
    FOR UPDATE SKIP LOCKED
)
UPDATE callbacks SET leased_by = $2, lease_until = now() + make_interval(secs => $3)
FROM free WHERE callbacks.callback_id = free.callback_id
RETURNING callbacks.callback_id
"""
# Why TAKE took nothing: a plain read, which a row lock never blocks. ``held``: another
# router's lease, still running.
STATE = """
SELECT state, (leased_by IS NOT NULL AND leased_by <> $2 AND lease_until > now()) AS held
FROM callbacks WHERE callback_id = $1
"""
# A free open row not taken is asked for again after these pauses (seconds), then held.
AGAIN_AFTER = (0.0, 0.02, 0.05, 0.1)
RELEASE = """
UPDATE callbacks SET leased_by = NULL, lease_until = NULL
WHERE callback_id = $1 AND leased_by = $2
RETURNING callback_id
"""
# The pending callbacks nobody holds, in queue order (their places' join times).
TAKE_DUE = """
WITH due AS (
    SELECT callback_id FROM callbacks
    WHERE state = 'pending' AND (leased_by IS NULL OR lease_until <= now())
    ORDER BY joined_at, callback_id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE callbacks SET leased_by = $1, lease_until = now() + make_interval(secs => $3)
FROM due WHERE callbacks.callback_id = due.callback_id
RETURNING callbacks.callback_id, callbacks.joined_at
"""


class LeaseAnswer(StrEnum):
    TAKEN = "taken"
    HELD = "held"  # another router's (or being taken by one this instant)
    ABSENT = "absent"  # no such callback
    CLOSED = "closed"  # completed, failed or cancelled


def _positive(seconds: float) -> float:
    if not seconds > 0:
        raise ValueError(f"a lease of {seconds} seconds")
    return seconds


class CallbackLeases(Pooled):
    async def take(self, callback_id: str, holder: str, seconds: float) -> bool:
        """Hold this callback for ``seconds`` if it is pending or dialling and its lease
        is free, expired or already ``holder``'s (then renewed). False: someone else's,
        ended, or no such callback."""
        return await self.try_take(callback_id, holder, seconds) is LeaseAnswer.TAKEN

    async def try_take(self, callback_id: str, holder: str, seconds: float) -> LeaseAnswer:
        """``take``, telling apart why not: held by another router (ask again later)
        from absent or ended (asking again will never take it)."""
        seconds = _positive(seconds)
        if not is_uuid(callback_id):  # never a row's: the callbacks table's ids are uuids
            return LeaseAnswer.ABSENT
        for pause in (*AGAIN_AFTER, None):
            if await self._fetch(TAKE, callback_id, holder, seconds):
                return LeaseAnswer.TAKEN
            rows = await self._fetch(STATE, callback_id, holder)
            if not rows:
                return LeaseAnswer.ABSENT
            if rows[0]["state"] not in OPEN_STATES:
                return LeaseAnswer.CLOSED
            if rows[0]["held"] or pause is None:
                break
            # Free, yet not taken: committed after TAKE looked, or locked this instant.
            await asyncio.sleep(pause)
        return LeaseAnswer.HELD

    async def release(self, callback_id: str, holder: str) -> bool:
        """Let go of this callback's lease; False if ``holder`` did not hold it."""
        if not is_uuid(callback_id):
            return False
        return bool(await self._fetch(RELEASE, callback_id, holder))

    async def take_due(self, holder: str, limit: int, seconds: float) -> list[str]:
        """Hold up to ``limit`` pending callbacks nobody holds (or whose lease expired),
        oldest place first; their ids."""
        if limit < 1:
            raise ValueError(f"limit {limit} is not a positive number")
        rows = await self._fetch(TAKE_DUE, holder, limit, _positive(seconds))
        return [
            str(r["callback_id"]) for r in sorted(rows, key=lambda r: (r["joined_at"], str(r["callback_id"])))
        ]
