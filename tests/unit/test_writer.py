"""The record writer: batches, spools while the database is away, replays, loses nothing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import stat
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from callrouter.core.records import CallRecord, Outcome, Record
from callrouter.metrics import Metrics
from callrouter.store import spool
from callrouter.store.writer import RecordWriter

T0 = datetime(2026, 11, 22, 22, 0, 56, 802_000, tzinfo=UTC)


def record(i: int) -> CallRecord:
    return CallRecord(
        call_id=f"call-{i:04d}",
        node="asterisk-1",
        channel_id=f"1732312856.{i}",
        did="+78162700101",
        line="clinic-central",
        caller_number="+79161234567" if i % 2 else None,
        caller_presentation="number" if i % 2 else "withheld",
        started_at=T0,
        answered_at=T0 + timedelta(seconds=0.2),
        ended_at=T0 + timedelta(seconds=i + 7),
        outcome=Outcome.ANSWERED,
        end_reason="greeting played",
    )


class FakeStore:
    """An in-memory RecordStore that can be told the database is away, or that it refuses a record."""

    def __init__(self) -> None:
        self.batches: list[list[Record]] = []
        self.down = False
        self.failures = 0
        self.refuse: set[str] = set()  # call_ids the "database" refuses as bad data

    async def write(self, records: Sequence[Record]) -> list[tuple[Record, str]]:
        await asyncio.sleep(0)  # a real store yields to the loop
        if self.down:
            self.failures += 1
            raise ConnectionRefusedError("database away")
        self.batches.append([r for r in records if self._id(r) not in self.refuse])
        return [
            (r, "CheckViolationError: calls_caller_number_check")
            for r in records
            if self._id(r) in self.refuse
        ]

    @staticmethod
    def _id(record: Record) -> str | None:
        return record.call_id if isinstance(record, CallRecord) else None

    @property
    def written(self) -> set[CallRecord]:
        return {r for batch in self.batches for r in batch if isinstance(r, CallRecord)}


async def until(condition: Callable[[], bool], within: float = 2.0) -> None:
    """Wait until ``condition()`` holds; fail the test if it does not ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.005)


def spooled_ids(spool_dir: Path) -> list[str]:
    """The ids in the spool files now. The writer may be appending in its thread (only
    whole lines count) or moving the spool aside to replay it (then read again)."""
    while True:
        ids = []
        try:
            for name in ("records.jsonl", "records.replaying"):
                path = spool_dir / name
                if path.exists():
                    *lines, _partial = path.read_text(encoding="utf-8").split("\n")
                    ids += [json.loads(line)["record"]["call_id"] for line in lines]
        except FileNotFoundError:
            continue
        return ids


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    assert value is not None, name
    return value


class Harness:
    def __init__(self, spool_dir: Path) -> None:
        self.spool_dir = spool_dir
        self.store = FakeStore()
        self.metrics = Metrics()
        self.tasks: list[asyncio.Task[None]] = []

    def writer(self, **options: float) -> RecordWriter:
        settings: dict[str, float] = {"batch_size": 3, "max_wait": 0.01, "retry_max": 0.02, **options}
        return RecordWriter(
            self.store,
            self.spool_dir,
            self.metrics,
            batch_size=int(settings["batch_size"]),
            max_wait=settings["max_wait"],
            queue_limit=int(settings.get("queue_limit", 10_000)),
            retry_max=settings["retry_max"],
            probe_seconds=settings.get("probe_seconds", 5.0),
        )

    def start(self, writer: RecordWriter) -> asyncio.Task[None]:
        task = asyncio.create_task(writer.run())
        self.tasks.append(task)
        return task


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = Harness(tmp_path / "spool")
    yield harness
    for task in harness.tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def submit_all(writer: RecordWriter, records: Iterable[CallRecord]) -> None:
    for r in records:
        writer.submit(r)


# ---- normal operation ---------------------------------------------------------------
async def test_records_are_written_in_batches(harness: Harness) -> None:
    writer = harness.writer(batch_size=3)
    harness.start(writer)
    records = [record(i) for i in range(7)]
    submit_all(writer, records)
    await until(lambda: writer.backlog == 0)
    assert harness.store.written == set(records)
    assert [len(b) for b in harness.store.batches] == [3, 3, 1]
    assert [r for b in harness.store.batches for r in b] == records  # in submission order
    assert writer.database_up is True
    assert sample(harness.metrics, "callrouter_records_written_total") == 7
    assert sample(harness.metrics, "callrouter_database_up") == 1
    assert sample(harness.metrics, "callrouter_records_spooled_total") == 0
    assert not (harness.spool_dir / "records.jsonl").exists()


async def test_a_lone_record_is_written_without_waiting_for_a_full_batch(harness: Harness) -> None:
    writer = harness.writer(batch_size=200)
    harness.start(writer)
    writer.submit(record(1))
    await until(lambda: harness.store.written == {record(1)})


def test_backlog_counts_pending_records(tmp_path: Path) -> None:
    writer = Harness(tmp_path).writer()
    assert writer.database_up is None
    submit_all(writer, [record(i) for i in range(2)])
    assert writer.backlog == 2


# ---- the database goes away and comes back ------------------------------------------
async def test_records_are_spooled_while_the_database_is_away_and_replayed_after(harness: Harness) -> None:
    writer = harness.writer(batch_size=3)
    harness.start(writer)
    harness.store.down = True
    first = [record(i) for i in range(5)]
    submit_all(writer, first)
    # The file is written in a thread; the writer counts it when the thread is done.
    await until(
        lambda: (
            sorted(spooled_ids(harness.spool_dir)) == [r.call_id for r in first]
            and sample(harness.metrics, "callrouter_records_spooled_total") == 5
        )
    )
    assert writer.database_up is False
    assert writer.backlog == 5
    assert harness.store.written == set()
    assert sample(harness.metrics, "callrouter_database_up") == 0
    assert sample(harness.metrics, "callrouter_records_spooled_total") == 5

    # More calls end while it is still away, and the writer keeps retrying.
    failures = harness.store.failures
    second = [record(i) for i in range(5, 9)]
    submit_all(writer, second)
    await until(lambda: len(spooled_ids(harness.spool_dir)) == 9 and harness.store.failures > failures + 1)
    assert writer.backlog == 9

    harness.store.down = False
    await until(lambda: writer.backlog == 0)
    third = [record(i) for i in range(9, 11)]
    submit_all(writer, third)
    await until(lambda: writer.backlog == 0 and len(harness.store.written) == 11)

    assert harness.store.written == {*first, *second, *third}  # none lost, none changed
    assert writer.database_up is True
    assert sample(harness.metrics, "callrouter_database_up") == 1
    assert list(harness.spool_dir.iterdir()) == []
    assert all(len(batch) <= 3 for batch in harness.store.batches)


async def test_an_idle_writer_tells_whether_the_database_is_there(harness: Harness) -> None:
    """No record to write, yet callrouter_database_up follows PostgreSQL: from the start,
    when it goes away and when it is back; records of the outage spool and replay."""
    writer = harness.writer(probe_seconds=0.05)
    assert sample(harness.metrics, "callrouter_database_up") == 0  # not known yet
    harness.start(writer)
    await until(lambda: writer.database_up is True)
    assert sample(harness.metrics, "callrouter_database_up") == 1
    assert harness.store.written == set()

    harness.store.down = True
    await until(lambda: writer.database_up is False)
    assert sample(harness.metrics, "callrouter_database_up") == 0
    assert sample(harness.metrics, "callrouter_record_write_failures_total", reason="unreachable") == 0
    during = [record(i) for i in range(4)]
    submit_all(writer, during)
    await until(lambda: sorted(spooled_ids(harness.spool_dir)) == [r.call_id for r in during])

    harness.store.down = False
    await until(lambda: writer.database_up is True and writer.backlog == 0)
    assert harness.store.written == set(during)
    assert sample(harness.metrics, "callrouter_database_up") == 1


async def test_past_the_queue_limit_records_go_to_the_spool(harness: Harness) -> None:
    writer = harness.writer(queue_limit=2, batch_size=10)
    records = [record(i) for i in range(5)]
    submit_all(writer, records)  # not running yet: nothing is written
    assert writer.backlog == 5
    assert spooled_ids(harness.spool_dir) == []  # the spool is written after this turn, off the loop
    await until(lambda: len(spooled_ids(harness.spool_dir)) == 3)
    assert writer.backlog == 5
    harness.start(writer)
    await until(lambda: writer.backlog == 0)
    assert harness.store.written == set(records)
    assert not (harness.spool_dir / "records.jsonl").exists()


async def test_a_spool_left_by_a_previous_run_is_replayed(harness: Harness) -> None:
    harness.spool_dir.mkdir(parents=True)
    old = [record(i) for i in range(4)]
    half_done = [record(i) for i in range(4, 6)]  # a replay the last run did not finish
    (harness.spool_dir / "records.jsonl").write_text(
        "".join(spool.encode(r) + "\n" for r in old), encoding="utf-8"
    )
    (harness.spool_dir / "records.replaying").write_text(
        "".join(spool.encode(r) + "\n" for r in half_done), encoding="utf-8"
    )
    writer = harness.writer()
    assert writer.backlog == 6
    harness.start(writer)
    await until(lambda: writer.backlog == 0)
    assert harness.store.written == {*old, *half_done}
    assert list(harness.spool_dir.iterdir()) == []


def _line(i: int, **changes: object) -> bytes:
    envelope = json.loads(spool.encode(record(i)))
    envelope["record"].update(changes)
    return json.dumps(envelope).encode()


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(b'{"type": "call", "record": {"call_id": "call-9', id="truncated"),
        pytest.param(b'{"type": "call", "record": {"call_id": "call-9"}}', id="missing-fields"),
        pytest.param(_line(9, outcome="exploded"), id="unknown-outcome"),
        pytest.param(_line(9, started_at=17), id="wrong-type"),
        pytest.param(_line(9, started_at="2026-11-22T10:00:00"), id="no-time-zone"),
        pytest.param(_line(9, priority="high"), id="text-for-a-number"),
        pytest.param(_line(9, colour="blue"), id="unknown-field"),
        pytest.param(b'{"type": "invoice", "record": {}}', id="unknown-type"),
        pytest.param(b"null", id="json-null"),
        pytest.param(b'["call-9"]', id="json-list"),
        pytest.param(b"\xff\xfe\x00\x00garbage", id="not-utf8"),
    ],
)
async def test_an_unreadable_spool_line_is_set_aside_and_the_rest_go_in(
    harness: Harness, corrupt: bytes
) -> None:
    harness.spool_dir.mkdir(parents=True)
    good = [record(i) for i in range(4)]
    lines = [spool.encode(r).encode() for r in good]
    (harness.spool_dir / "records.jsonl").write_bytes(
        b"\n".join([*lines[:2], corrupt, b"", *lines[2:]]) + b"\n"
    )
    writer = harness.writer()
    harness.start(writer)
    await until(lambda: writer.backlog == 0)
    assert harness.store.written == set(good)
    assert writer.database_up is True
    # Not records.bad: that file is for rows PostgreSQL refused.
    assert (harness.spool_dir / "records.unreadable").read_bytes() == corrupt + b"\n"
    assert sorted(p.name for p in harness.spool_dir.iterdir()) == ["records.unreadable"]
    assert sample(harness.metrics, "callrouter_records_unreadable_total") == 1
    assert sample(harness.metrics, "callrouter_records_rejected_total") == 0


def bad_lines(spool_dir: Path) -> list[dict[str, object]]:
    lines = (spool_dir / "records.bad").read_text(encoding="utf-8").splitlines()
    return [{**json.loads(line)["record"], "refused": json.loads(line)["refused"]} for line in lines]


async def test_a_record_the_database_refuses_is_set_aside(harness: Harness) -> None:
    harness.store.refuse = {"call-0001"}
    writer = harness.writer(batch_size=10)
    harness.start(writer)
    records = [record(i) for i in range(3)]
    submit_all(writer, records)
    await until(lambda: writer.backlog == 0 and len(harness.store.batches) == 1)
    assert harness.store.written == {records[0], records[2]}
    (refused,) = bad_lines(harness.spool_dir)
    assert refused["call_id"] == "call-0001"
    assert refused["refused"] == "CheckViolationError: calls_caller_number_check"
    assert writer.database_up is True
    assert sample(harness.metrics, "callrouter_records_rejected_total") == 1
    assert sample(harness.metrics, "callrouter_records_spooled_total") == 0


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    was = os.umask(0)
    try:
        yield
    finally:
        os.umask(was)


@pytest.mark.usefixtures("permissive_umask")
async def test_the_files_that_keep_callers_numbers_are_the_owners_alone(harness: Harness) -> None:
    old = harness.spool_dir / "records.bad"  # as an earlier version made it: 0644
    harness.spool_dir.mkdir(parents=True, exist_ok=True)
    old.touch(mode=0o644)
    old.chmod(0o644)
    harness.store.down = True
    writer = harness.writer()
    harness.start(writer)
    writer.submit(record(1))
    await until(lambda: len(spooled_ids(harness.spool_dir)) == 1)
    assert stat.S_IMODE(writer.spool.stat().st_mode) == 0o600
    with writer.spool.open("ab") as spooled:  # and a line torn by a crash, kept aside at the replay
        spooled.write(b"{not json\n")
    harness.store.refuse = {"call-0001"}
    harness.store.down = False
    await until(lambda: writer.backlog == 0)
    for name in ("records.bad", "records.unreadable"):
        assert stat.S_IMODE((harness.spool_dir / name).stat().st_mode) == 0o600, name


async def test_written_counts_only_records_the_database_took(harness: Harness) -> None:
    harness.store.refuse = {"call-0001"}
    writer = harness.writer(batch_size=10)
    harness.start(writer)
    submit_all(writer, [record(i) for i in range(3)])
    await until(lambda: writer.backlog == 0 and len(harness.store.batches) == 1)
    assert sample(harness.metrics, "callrouter_records_written_total") == 2
    assert sample(harness.metrics, "callrouter_records_rejected_total") == 1


@pytest.mark.parametrize("problem", ["refused", "unreadable"])
async def test_the_log_names_the_file_a_bad_record_is_kept_in(
    harness: Harness, caplog: pytest.LogCaptureFixture, problem: str
) -> None:
    writer = harness.writer()
    if problem == "refused":
        harness.store.refuse = {"call-0001"}
        writer.submit(record(1))
    else:
        writer.spool.write_text("{not json\n", encoding="utf-8")
        writer = harness.writer()  # counts the spool at start
    harness.start(writer)
    kept_in = harness.spool_dir / ("records.bad" if problem == "refused" else "records.unreadable")
    await until(lambda: kept_in.exists() and writer.backlog == 0)
    (message,) = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert message.endswith(f"kept in {kept_in}"), message


async def test_a_spooled_record_the_database_refuses_is_set_aside(harness: Harness) -> None:
    harness.store.down = True
    writer = harness.writer()
    harness.start(writer)
    records = [record(i) for i in range(4)]
    submit_all(writer, records)
    await until(lambda: len(spooled_ids(harness.spool_dir)) == 4)
    harness.store.refuse = {"call-0002"}
    harness.store.down = False
    await until(lambda: writer.backlog == 0)
    assert harness.store.written == set(records) - {records[2]}
    assert [line["call_id"] for line in bad_lines(harness.spool_dir)] == ["call-0002"]
    assert sorted(p.name for p in harness.spool_dir.iterdir()) == ["records.bad"]


# ---- shutting down ------------------------------------------------------------------
async def test_close_writes_what_is_left(harness: Harness) -> None:
    # A long max_wait: only close() can make the writer act now.
    writer = harness.writer(batch_size=200, max_wait=30)
    task = harness.start(writer)
    await asyncio.sleep(0)  # let the writer start waiting
    records = [record(i) for i in range(3)]
    submit_all(writer, records)
    await writer.close(task, within=2)
    assert task.done()
    assert task.exception() is None
    assert harness.store.written == set(records)
    assert writer.backlog == 0
    assert not (harness.spool_dir / "records.jsonl").exists()


async def test_close_with_the_database_away_keeps_records_in_the_spool(harness: Harness) -> None:
    harness.store.down = True
    writer = harness.writer(batch_size=200, max_wait=30)
    task = harness.start(writer)
    await asyncio.sleep(0)
    records = [record(i) for i in range(3)]
    submit_all(writer, records)
    await writer.close(task, within=2)
    assert task.done()
    assert harness.store.written == set()
    assert sorted(spooled_ids(harness.spool_dir)) == [r.call_id for r in records]
    assert writer.backlog == 3

    # The next run finds them and writes them once the database is back.
    harness.store.down = False
    restarted = harness.writer()
    assert restarted.backlog == 3
    harness.start(restarted)
    await until(lambda: restarted.backlog == 0)
    assert harness.store.written == set(records)


async def test_close_of_an_idle_writer_returns(harness: Harness) -> None:
    writer = harness.writer()
    task = harness.start(writer)
    await writer.close(task, within=2)
    assert task.done()
    assert harness.store.batches == []


# ---- the spool format (see also test_spool.py) ---------------------------------------
@pytest.mark.parametrize("i", [1, 2])
def test_record_json_round_trip(i: int) -> None:
    original = record(i)
    line = spool.encode(original)
    assert json.loads(line)["type"] == "call"
    assert spool.decode(line.encode()) == original


def test_unfinished_record_round_trip() -> None:
    original = CallRecord("c", "asterisk-1", "1.2", "103", None, None, "withheld", T0)
    assert spool.decode(spool.encode(original).encode()) == original


def test_a_batch_keeps_only_the_last_snapshot_of_each_call() -> None:
    from dataclasses import replace as with_

    from callrouter.store.writer import latest_snapshots

    first = record(1)
    answered = with_(first, answered_at=first.started_at)
    other = record(2)
    ended = with_(answered, outcome=Outcome.ANSWERED)
    assert latest_snapshots([first, answered, other, ended]) == [other, ended]


def test_a_batch_keeps_the_last_change_of_each_person_and_callback_where_it_stands() -> None:
    from dataclasses import replace as with_

    from callrouter.core.records import CallbackRecord, CallbackState, PersonRecord
    from callrouter.store.writer import latest_snapshots

    left = PersonRecord("+79161234567", T0, left_at=T0, joined_at=T0, left_call_id="call-0001")
    answered = PersonRecord("+79161234567", T0 + timedelta(seconds=9), contact_at=T0, contact_agent="agent1")
    other = PersonRecord("+79160000000", T0, contact_at=T0)
    first = CallbackRecord(
        "cb-1", T0, CallbackState.PENDING, "+79161234567", T0, T0, "operator", "clinic", "ru", 10
    )
    dialling = with_(first, at=T0 + timedelta(seconds=5), state=CallbackState.DIALLING)
    completed = with_(first, at=T0 + timedelta(seconds=9), state=CallbackState.COMPLETED)
    second = with_(first, callback_id="cb-2", at=T0 + timedelta(seconds=10))  # the same number again
    batch: list[Record] = [left, first, other, dialling, answered, completed, second]
    assert latest_snapshots(batch) == [other, answered, completed, second]
