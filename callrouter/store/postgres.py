"""asyncpg implementation of the record store."""

from __future__ import annotations

import asyncpg

from callrouter.core.records import CallRecord

# A later snapshot adds facts: keep what is known, take what is new. A call is
# one channel on one node (a router that adopts a call after a restart gives it
# a new call_id; the row keeps the first).
UPSERT_CALL = """
INSERT INTO calls (call_id, node, channel_id, did, line, caller_number, caller_presentation,
                   started_at, answered_at, ended_at, outcome, end_reason)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (node, channel_id) DO UPDATE SET
    line        = COALESCE(EXCLUDED.line, calls.line),
    answered_at = COALESCE(calls.answered_at, EXCLUDED.answered_at),
    ended_at    = COALESCE(calls.ended_at, EXCLUDED.ended_at),
    outcome     = COALESCE(EXCLUDED.outcome, calls.outcome),
    end_reason  = COALESCE(EXCLUDED.end_reason, calls.end_reason)
"""


def connect_kwargs(dsn: str, password: str | None) -> dict[str, object]:
    kwargs: dict[str, object] = {"dsn": dsn}
    if password:
        kwargs["password"] = password
    return kwargs


class PgRecordStore:
    def __init__(self, dsn: str, password: str | None) -> None:
        self._kwargs = connect_kwargs(dsn, password)
        self._pool: asyncpg.Pool | None = None

    async def _get_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(min_size=1, max_size=4, timeout=5, **self._kwargs)
        return self._pool

    async def write(self, records: list[CallRecord]) -> list[tuple[CallRecord, str]]:
        """Write a batch; return the records PostgreSQL refused as data (with why).
        Connection trouble raises, so the writer spools and retries."""
        pool = await self._get_pool()
        try:
            await self._write_rows(pool, records)
        except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError):
            rejected = []
            for record in records:  # find the poison records one by one
                try:
                    await self._write_rows(pool, [record])
                except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as exc:
                    rejected.append((record, f"{type(exc).__name__}: {exc}"))
            return rejected
        return []

    async def _write_rows(self, pool: asyncpg.Pool, records: list[CallRecord]) -> None:
        rows = [
            (
                r.call_id,
                r.node,
                r.channel_id,
                r.did,
                r.line,
                r.caller_number,
                r.caller_presentation,
                r.started_at,
                r.answered_at,
                r.ended_at,
                r.outcome.value if r.outcome else None,
                r.end_reason,
            )
            for r in records
        ]
        async with pool.acquire() as conn, conn.transaction():
            await conn.executemany(UPSERT_CALL, rows)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
