"""The record writer under load and faults: a burst, a slow database, a long spool, a
broken disk, a crashed writer, a cancel mid-spill, text UTF-8 cannot carry."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from callrouter.core.records import CallEventRecord, Record
from callrouter.store import spool
from callrouter.store.writer import RecordWriter
from tests.unit.test_writer import (
    T0,
    FakeStore,
    Harness,
    harness,
    record,
    sample,
    spooled_ids,
    submit_all,
    until,
)

__all__ = ["harness"]  # the fixture, imported for pytest


# ---- load: the call path never waits on the disk or on a slow database -----------------
async def test_a_burst_past_the_memory_limit_is_spooled_in_one_write_off_the_loop(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    appends: list[tuple[int, bool]] = []  # (lines, on the event loop's thread?)
    real_append = spool.append
    loop_thread = threading.get_ident()

    def counting_append(path: Path, lines: list[str]) -> None:
        appends.append((len(lines), threading.get_ident() == loop_thread))
        real_append(path, lines)

    monkeypatch.setattr(spool, "append", counting_append)
    writer = harness.writer(queue_limit=100, batch_size=50)
    submit_all(writer, [record(i) for i in range(5_000)])  # one loop turn, as a burst of calls would
    assert appends == []  # submit() wrote nothing itself
    assert writer.backlog == 5_000
    await until(lambda: len(spooled_ids(harness.spool_dir)) == 4_900)
    assert appends == [(4_900, False)]  # one batched, fsynced write, in a worker thread
    harness.start(writer)
    await until(lambda: writer.backlog == 0 and len(harness.store.written) == 5_000)
    assert harness.store.written == {record(i) for i in range(5_000)}


class SlowStore(FakeStore):
    """Times out the first ``slow_writes`` writes, as a loaded database does."""

    def __init__(self, slow_writes: int) -> None:
        super().__init__()
        self.slow_writes = slow_writes

    async def write(self, records: Sequence[Record]) -> list[tuple[Record, str]]:
        if self.slow_writes:
            self.slow_writes -= 1
            await asyncio.sleep(0)
            raise TimeoutError
        return await super().write(records)


async def test_a_slow_database_is_retried_from_memory_not_spooled(harness: Harness) -> None:
    harness.store = SlowStore(slow_writes=3)
    writer = harness.writer(batch_size=10)
    harness.start(writer)
    records = [record(i) for i in range(5)]
    submit_all(writer, records)
    await until(lambda: writer.backlog == 0)
    assert harness.store.written == set(records)
    assert not (harness.spool_dir / "records.jsonl").exists()
    assert sample(harness.metrics, "callrouter_records_spooled_total") == 0
    assert writer.database_up is True
    assert (
        harness.metrics.registry.get_sample_value(
            "callrouter_record_write_failures_total", {"reason": "timeout"}
        )
        == 3
    )


async def test_a_database_slow_past_the_grace_is_taken_for_away_and_spooled(harness: Harness) -> None:
    harness.store = SlowStore(slow_writes=10**6)
    writer = RecordWriter(
        harness.store, harness.spool_dir, harness.metrics, batch_size=10, max_wait=0.01,
        retry_max=0.02, slow_grace=0.1,
    )  # fmt: skip
    harness.start(writer)
    records = [record(i) for i in range(5)]
    submit_all(writer, records)
    await until(lambda: len(spooled_ids(harness.spool_dir)) == 5)
    assert writer.database_up is False
    harness.store.slow_writes = 0
    await until(lambda: writer.backlog == 0)
    assert harness.store.written == set(records)


async def test_a_long_spool_is_replayed_in_chunks_and_a_bad_line_is_named_by_its_number(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.spool_dir.mkdir(parents=True)
    good = [record(i) for i in range(12_000)]
    lines = [spool.encode(r) for r in good]
    lines.insert(6_999, "{torn")  # line 7000
    (harness.spool_dir / "records.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    writer = harness.writer(batch_size=500)
    assert writer.backlog == 12_001
    harness.start(writer)
    await until(lambda: writer.backlog == 0, within=20)
    assert harness.store.written == set(good)
    (message,) = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert message.startswith("spool line 7000 unreadable"), message


async def test_a_record_with_a_lone_surrogate_is_spooled_and_replayed(harness: Harness) -> None:
    """Asterisk's JSON can carry text UTF-8 cannot: it must not kill the writer or its batch."""
    harness.store.down = True
    writer = harness.writer()
    harness.start(writer)
    odd = CallEventRecord("call-0001", "asterisk-1", T0, "arrived", "caller name \ud800")
    writer.submit(odd)
    writer.submit(record(2))
    await until(lambda: len(spooled_ids(harness.spool_dir)) == 2 and writer.backlog == 2)
    harness.store.down = False
    await until(lambda: writer.backlog == 0)
    assert harness.store.written == {record(2)}
    assert odd in [r for batch in harness.store.batches for r in batch]


async def test_a_broken_disk_keeps_records_in_memory_for_the_database(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(path: Path, lines: list[str]) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(spool, "append", full_disk)
    writer = harness.writer(queue_limit=2, batch_size=10)
    harness.start(writer)
    records = [record(i) for i in range(6)]
    submit_all(writer, records)  # 4 past the limit: the spool refuses them
    await until(lambda: writer.backlog == 0)
    assert harness.store.written == set(records)


async def test_close_of_a_crashed_writer_still_spools_what_it_held(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = harness.writer(max_wait=30)

    async def crash() -> None:
        raise RuntimeError("a bug")

    task = asyncio.create_task(crash())
    await asyncio.sleep(0)
    submit_all(writer, [record(i) for i in range(3)])
    await writer.close(task, within=2)  # does not raise: the rest of the shutdown goes on
    assert sorted(spooled_ids(harness.spool_dir)) == [record(i).call_id for i in range(3)]


async def test_a_close_while_a_spill_waits_for_the_spool_loses_nothing(harness: Harness) -> None:
    harness.store.down = True
    writer = harness.writer(queue_limit=1, max_wait=30)
    task = harness.start(writer)
    await asyncio.sleep(0)
    submit_all(writer, [record(i) for i in range(50)])
    await asyncio.sleep(0)  # the spill task is waiting for its turn
    await writer.close(task, within=0.5)
    assert sorted(spooled_ids(harness.spool_dir)) == sorted(record(i).call_id for i in range(50))
