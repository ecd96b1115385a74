"""The record writer against a real PostgreSQL, including a real outage."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from callrouter.core.records import CallRecord, Outcome
from callrouter.metrics import Metrics
from callrouter.store import migrate
from callrouter.store.postgres import PgRecordStore
from callrouter.store.writer import RecordWriter
from tests.integration.conftest import Cluster


def record(n: int, **changes: object) -> CallRecord:
    base = CallRecord(
        call_id=str(uuid.uuid4()),
        node="asterisk-1",
        channel_id=f"1795385046.{n}",
        did="+78162700101",
        line="clinic-central",
        caller_number=f"+7916{n:07d}",
        caller_presentation="number",
        started_at=datetime(2026, 11, 22, 10, 0, tzinfo=UTC) + timedelta(seconds=n),
    )
    return CallRecord(**{**base.__dict__, **changes})


async def until(check, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def migrated(dsn: str, cluster: Cluster) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn, password=cluster.password)
    await migrate.apply(conn, migrate.default_dir())
    return conn


async def test_snapshots_merge_into_one_row(empty_db: str, cluster: Cluster, tmp_path: Path):
    conn = await migrated(empty_db, cluster)
    store = PgRecordStore(empty_db, cluster.password)
    start = record(1)
    answered = CallRecord(**{**start.__dict__, "answered_at": start.started_at + timedelta(seconds=1)})
    ended = CallRecord(
        **{
            **answered.__dict__,
            "ended_at": start.started_at + timedelta(seconds=5),
            "outcome": Outcome.ANSWERED,
        }
    )
    # Out of order on purpose: replayed spools may arrive late.
    assert await store.write([ended]) == []
    assert await store.write([start, answered]) == []
    row = await conn.fetchrow("SELECT * FROM calls")
    assert row["answered_at"] == answered.answered_at and row["ended_at"] == ended.ended_at
    assert row["outcome"] == "answered"
    assert await conn.fetchval("SELECT count(*) FROM calls") == 1
    await store.close()
    await conn.close()


async def test_a_drop_at_the_answer_clears_the_agent_in_the_row_in_any_order(
    empty_db: str, cluster: Cluster, tmp_path: Path
):
    """agent2's phone went as it answered, then the caller waited again: the row says
    agent3's answer, or (abandoned after the drop) no agent and no answer; a late
    replay of a snapshot from before the drop changes nothing of it."""
    conn = await migrated(empty_db, cluster)
    store = PgRecordStore(empty_db, cluster.password)
    t = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    for n, last in ((1, {"agent": "agent3", "agent_answered_at": t + timedelta(seconds=40),
                         "outcome": Outcome.ANSWERED}),
                    (2, {"outcome": Outcome.ABANDONED})):  # fmt: skip
        first = record(n, queued_at=t, agent="agent2", agent_answered_at=t + timedelta(seconds=10),
                       outcome=Outcome.ANSWERED)  # fmt: skip
        dropped = CallRecord(**{**first.__dict__, "agent": None, "agent_answered_at": None, "outcome": None,
                                "drops": 1})  # fmt: skip
        final = CallRecord(**{**dropped.__dict__, **last, "ended_at": t + timedelta(seconds=90)})
        assert await store.write([first]) == [] and await store.write([dropped, final]) == []
        assert await store.write([first]) == [], "a late replay from before the drop"
        row = await conn.fetchrow("SELECT * FROM calls WHERE channel_id = $1", first.channel_id)
        said = (row["agent"], row["agent_answered_at"], row["outcome"], row["drops"])
        assert said == (last.get("agent"), last.get("agent_answered_at"), final.outcome, 1), said
    await store.close()
    await conn.close()


async def test_bad_record_is_kept_aside_and_the_rest_go_in(empty_db: str, cluster: Cluster, tmp_path: Path):
    conn = await migrated(empty_db, cluster)
    metrics = Metrics()
    writer = RecordWriter(PgRecordStore(empty_db, cluster.password), tmp_path, metrics, max_wait=0.01)
    task = asyncio.create_task(writer.run())
    writer.submit(record(1))
    writer.submit(record(2, caller_number="not-a-number"))  # violates the E.164 CHECK
    writer.submit(record(3))
    await until(lambda: _count(conn, 2))
    await writer.close(task)
    assert "not-a-number" in (tmp_path / "records.bad").read_text()
    assert metrics.registry.get_sample_value("callrouter_records_rejected_total") == 1
    await conn.close()


async def _count(conn: asyncpg.Connection, n: int) -> bool:
    return bool(await conn.fetchval("SELECT count(*) FROM calls") == n)


async def _written(metrics: Metrics, n: int) -> bool:
    return (metrics.registry.get_sample_value("callrouter_records_written_total") or 0) >= n


async def _spooled(writer: RecordWriter, n: int) -> bool:
    return writer.backlog >= n and writer.spool.exists()
