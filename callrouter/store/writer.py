"""The bounded, batching record writer: the call path never waits on PostgreSQL.

``submit`` only appends to memory and never blocks. A background task writes
batches. Past the memory limit, records go to a spool file on local disk; so
does everything in memory once the database is away. Spool writes are batched
(one write per loop turn) and, with the reads of a replay, run in a thread, so
the event loop never waits on the disk either. Records are snapshots that only
ever add facts, and the store merges them, so replay order does not matter and
a record written twice is harmless.

A slow database is not an absent one: a write that times out is retried from
memory (for ``slow_grace`` seconds) instead of being spooled. Only rows
PostgreSQL itself refuses go to ``records.bad``; a spool line this version
cannot read (a torn last line after a crash) goes to ``records.unreadable``;
both are logged as errors and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from callrouter.core.records import CallbackRecord, CallRecord, PersonRecord, PlaceRecord, Record
from callrouter.metrics import Metrics
from callrouter.retry import Backoff
from callrouter.store import spool

log = logging.getLogger(__name__)


class RecordStore(Protocol):
    async def write(self, records: Sequence[Record]) -> list[tuple[Record, str]]:
        """Write a batch; return the records refused as bad data, with the reason.
        Raise TimeoutError when the store is slow (the batch is retried from
        memory), anything else when it is unreachable (the batch is spooled)."""
        ...


class RecordWriter:
    def __init__(
        self,
        store: RecordStore,
        spool_dir: Path,
        metrics: Metrics,
        batch_size: int = 200,
        max_wait: float = 0.2,
        queue_limit: int = 10_000,
        retry_max: float = 5.0,
        slow_grace: float = 10.0,
        probe_seconds: float = 5.0,
    ) -> None:
        """``probe_seconds``: an idle writer asks PostgreSQL this often whether it is
        there (an empty batch), so ``callrouter_database_up`` tells the truth before
        the first record and while no call is made."""
        self._store = store
        self._probe_seconds = probe_seconds
        self._metrics = metrics
        self._batch_size = batch_size
        self._max_wait = max_wait
        self._queue_limit = queue_limit
        self._retry_max = retry_max
        self._slow_grace = slow_grace
        self._produced = {
            cls: metrics.records_produced.labels(type=name) for name, cls in spool.RECORD_TYPES.items()
        }
        self._pending: deque[Record] = deque()
        self._spill: list[Record] = []  # bound for the spool at the end of this loop turn
        self._spilling: asyncio.Task[None] | None = None
        self._writing_to_spool = 0  # taken from _spill, not yet in the file
        self._spool_lock = asyncio.Lock()  # one writer of the spool files at a time
        self._wake = asyncio.Event()
        self._closing = False
        self.database_up: bool | None = None  # None until the first write is tried
        spool_dir.mkdir(parents=True, exist_ok=True)
        self.spool = spool_dir / "records.jsonl"
        self.replaying = spool_dir / "records.replaying"
        self.bad_file = spool_dir / "records.bad"  # rows PostgreSQL refused, kept for a person
        self.unreadable_file = spool_dir / "records.unreadable"
        self._spooled = spool.count_lines(self.spool, self.replaying)  # at start, before any call

    # -- the call path's side -------------------------------------------------
    def submit(self, record: Record, urgent: bool = False) -> None:
        """Take a record; never blocks, never raises for load. While the database is
        away a record goes to the spool at once (on disk by the next loop turn), so a
        router killed during an outage loses nothing it had produced. ``urgent``:
        written at the next loop turn, not with the next batch."""
        self._produced[type(record)].inc()
        if self.database_up is not False and len(self._pending) < self._queue_limit:
            self._pending.append(record)
            if urgent or len(self._pending) >= self._batch_size:
                self._wake.set()
            return
        self._spill.append(record)
        if self._spilling is None or self._spilling.done():
            with contextlib.suppress(RuntimeError):  # no loop yet: run() spills it
                self._spilling = asyncio.get_running_loop().create_task(self._drain_spill())

    @property
    def backlog(self) -> int:
        return len(self._pending) + len(self._spill) + self._writing_to_spool + self._spooled

    @property
    def settled(self) -> bool:
        """Everything handed over so far is in PostgreSQL (a spool replayed), as it answers now."""
        return self.database_up is True and self.backlog == 0

    # -- the background side --------------------------------------------------
    async def run(self) -> None:
        backoff = Backoff(self._retry_max, jitter=0.0)
        failing_since: float | None = None
        loop = asyncio.get_running_loop()
        next_probe = loop.time()
        while True:
            if self._spill:
                await self._drain_spill()
            if not self._pending and not self._spooled:
                if self._closing:
                    return
                if loop.time() >= next_probe:
                    next_probe = loop.time() + self._probe_seconds
                    await self._probe()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._max_wait):
                        await self._wake.wait()
                self._wake.clear()
                continue
            tried_at = loop.time()
            try:
                if self._spooled:
                    await self._replay()
                await self._flush_memory()
            except Exception as exc:
                # failing since the first failed try began: a server silent for the whole
                # timeout has kept the records in memory that long already
                failing_since = failing_since if failing_since is not None else tried_at
                slow = isinstance(exc, TimeoutError) and loop.time() - failing_since < self._slow_grace
                if slow and not self._closing:
                    self._metrics.record_write_failures.labels(reason="timeout").inc()
                    log.warning("database slow (%s); retrying the batch from memory", type(exc).__name__)
                else:
                    await self._database_away(exc)
                    if self._closing:
                        return
                await backoff.wait()
                continue
            failing_since = None
            next_probe = loop.time() + self._probe_seconds
            self._metrics.db_up.set(1)
            self.database_up = True
            backoff.reset()

    async def _probe(self) -> None:
        """Whether PostgreSQL is there, asked with an empty batch while nothing is to be
        written. Away: records spool from now on (as after a failed write), and the
        next good probe or write brings them back."""
        try:
            async with asyncio.timeout(self._probe_seconds):
                await self._store.write([])
        except Exception as exc:  # unreachable, refused, slow: all mean not there now
            if self.database_up is not False:
                log.warning("database unreachable while idle (%s)", type(exc).__name__)
            self._metrics.db_up.set(0)
            self.database_up = False
            return
        if self.database_up is False:
            log.info("database reachable again")
        self._metrics.db_up.set(1)
        self.database_up = True

    async def _database_away(self, exc: Exception) -> None:
        self._metrics.db_up.set(0)
        self._metrics.record_write_failures.labels(reason="unreachable").inc()
        self.database_up = False
        if self._pending:
            self._spill.extend(self._pending)
            self._pending.clear()
        await self._drain_spill()
        if self._closing:
            log.warning(
                "database away at shutdown; %d record(s) stay spooled in %s", self._spooled, self.spool
            )
        else:
            log.warning("database away (%s); records spooled to %s", type(exc).__name__, self.spool)

    async def _flush_memory(self) -> None:
        while self._pending:
            batch = [self._pending[i] for i in range(min(self._batch_size, len(self._pending)))]
            refused = await self._store.write(latest_snapshots(batch))
            await self._reject(refused)
            for _ in batch:
                self._pending.popleft()
            self._metrics.records_written.inc(len(batch) - len(refused))

    async def _replay(self) -> None:
        offset, line, replayed = 0, 1, 0
        while True:
            async with self._spool_lock:
                taken = await asyncio.to_thread(spool.take, self.spool, self.replaying, offset, line)
            if taken.unreadable:
                await self._set_aside_unreadable(taken.unreadable)
            for start in range(0, len(taken.records), self._batch_size):
                batch = taken.records[start : start + self._batch_size]
                refused = await self._store.write(batch)
                await self._reject(refused)
                self._metrics.records_written.inc(len(batch) - len(refused))
            replayed += len(taken.records)
            offset, line = taken.next_offset, line + taken.lines
            if taken.done:
                break
        async with self._spool_lock:  # what was spooled meanwhile is in a new spool file
            await asyncio.to_thread(self.replaying.unlink, missing_ok=True)
            self._spooled = await asyncio.to_thread(spool.count_lines, self.spool, self.replaying)
        log.info("replayed %d spooled record(s)", replayed)

    async def _set_aside_unreadable(self, lines: list[tuple[int, bytes, str]]) -> None:
        for number, _raw, why in lines:
            log.error("spool line %d unreadable (%s); kept in %s", number, why, self.unreadable_file)
        await asyncio.to_thread(_append_bytes, self.unreadable_file, [raw for _n, raw, _w in lines])
        self._metrics.records_unreadable.inc(len(lines))

    async def _reject(self, rejected: list[tuple[Record, str]]) -> None:
        """Rows PostgreSQL refuses are kept aside in ``.bad`` (never retried forever, never lost)."""
        if not rejected:
            return
        for _record, reason in rejected:
            log.error("record refused by the database (%s); kept in %s", reason, self.bad_file)
        lines = []
        for record, reason in rejected:
            try:
                lines.append(spool.encode(record, refused=reason))
            except (TypeError, ValueError) as exc:
                lines.append(json.dumps({"repr": repr(record), "refused": reason, "unencodable": str(exc)}))
        try:
            await asyncio.to_thread(spool.append, self.bad_file, lines)
        except OSError as exc:
            log.error("cannot write %s (%s); %d refused record(s) only in this log", self.bad_file, exc,
                      len(lines))  # fmt: skip
        self._metrics.records_rejected.inc(len(rejected))

    async def _drain_spill(self) -> None:
        """Write what waits for the spool: one append (and fsync) per turn, in a thread.
        Never raises: a disk that refuses keeps the records in memory (said loudly)."""
        while self._spill:
            async with self._spool_lock:  # taken under the lock: a cancel while waiting loses nothing
                batch, self._spill = self._spill, []
                self._writing_to_spool += len(batch)
                try:
                    # Shielded: once handed to the thread the write completes even if we are cancelled.
                    unencodable = await asyncio.shield(
                        asyncio.to_thread(_encode_and_append, self.spool, batch)
                    )
                except OSError as exc:
                    self._pending.extend(batch)  # the database path may still take them
                    log.error("cannot write the spool %s (%s); %d record(s) held in memory",
                              self.spool, exc, len(self._pending))  # fmt: skip
                    return
                finally:
                    self._writing_to_spool -= len(batch)
                self._spooled += len(batch) - len(unencodable)
            self._metrics.records_spooled.inc(len(batch) - len(unencodable))
            if unencodable:
                await self._set_aside_unencodable(unencodable)

    async def _set_aside_unencodable(self, failed: list[tuple[Record, str]]) -> None:
        """A record JSON cannot carry is a bug: kept as its repr for a person, never dropped silently."""
        for _record, why in failed:
            log.error("record cannot be spooled (%s); kept in %s", why, self.unreadable_file)
        lines = [repr(record).encode("ascii", "backslashreplace") for record, _why in failed]
        with contextlib.suppress(OSError):
            await asyncio.to_thread(_append_bytes, self.unreadable_file, lines)
        self._metrics.records_unreadable.inc(len(failed))

    async def close(self, task: asyncio.Task[None], within: float = 5.0) -> None:
        """Write what is left (or spool it) and stop the background task, within about
        ``within`` seconds whatever the database and the disk do."""
        self._closing = True
        self._wake.set()
        try:
            async with asyncio.timeout(within):
                await asyncio.shield(task)
                if self._spilling is not None:
                    await self._spilling
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        except Exception:  # a writer that died of a bug: what it held still goes to the spool
            log.exception("the record writer failed; spooling what it held")
        self._spill.extend(self._pending)
        self._pending.clear()
        await self._drain_spill()
        if self._pending:
            log.error("%d record(s) could not be written or spooled at shutdown", len(self._pending))


def _encode_and_append(path: Path, records: list[Record]) -> list[tuple[Record, str]]:
    """Append the records that encode; return the ones that do not, with why."""
    lines, failed = [], []
    for record in records:
        try:
            lines.append(spool.encode(record))
        except (TypeError, ValueError) as exc:
            failed.append((record, f"{type(exc).__name__}: {exc}"))
    if lines:
        spool.append(path, lines)
    return failed


def _append_bytes(path: Path, lines: list[bytes]) -> None:
    with spool.open_private(path) as out:
        out.write(b"".join(line + b"\n" for line in lines))


def latest_snapshots(batch: list[Record]) -> list[Record]:
    """Keep only the last snapshot of each call in a batch: a call's snapshots
    only add facts, so the last one says everything the earlier ones did. The
    same for a place, a person and a callback: each row is its latest change,
    and stays where that change stands in the batch (a callback ends before
    the next one for its number opens)."""
    last: dict[tuple[str, str], int] = {}
    for index, record in enumerate(batch):
        if (key := _snapshot_key(record)) is not None:
            last[key] = index
    return [r for i, r in enumerate(batch) if (key := _snapshot_key(r)) is None or last[key] == i]


def _snapshot_key(record: Record) -> tuple[str, str] | None:
    if isinstance(record, CallRecord):
        return "call", record.call_id
    if isinstance(record, PlaceRecord):
        return "place", record.place_id
    if isinstance(record, PersonRecord):
        return "person", record.person
    if isinstance(record, CallbackRecord):
        return "callback", record.callback_id
    return None
