"""The bounded, batching record writer: the call path never waits on PostgreSQL.

``submit`` only appends to memory. A background task writes batches; when the
database is away a batch goes to a spool file on local disk (appended and
fsynced) and is replayed once the database answers again. Records are
snapshots that only ever add facts, and the store merges them, so replay order
does not matter and a record written twice is harmless. Nothing is dropped:
past the memory limit records go straight to the spool.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from callrouter.core.records import CallRecord, Record, record_from_json
from callrouter.metrics import Metrics

log = logging.getLogger(__name__)


class RecordStore(Protocol):
    async def write(self, records: Sequence[Record]) -> list[tuple[Record, str]]:
        """Write a batch; return the records refused as bad data, with the reason.
        Raise when the store is unreachable (the batch is then spooled)."""
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
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._batch_size = batch_size
        self._max_wait = max_wait
        self._queue_limit = queue_limit
        self._retry_max = retry_max
        self._pending: deque[Record] = deque()
        self._wake = asyncio.Event()
        self._closing = False
        self.database_up: bool | None = None  # None until the first write is tried
        spool_dir.mkdir(parents=True, exist_ok=True)
        self.spool = spool_dir / "records.jsonl"
        self.bad_file = spool_dir / "records.bad"  # refused or unreadable records, kept for a person
        self._spooled = self._count_spooled()

    # -- the call path's side -------------------------------------------------
    def submit(self, record: Record) -> None:
        if len(self._pending) >= self._queue_limit:
            self._to_spool([record])
            return
        self._pending.append(record)
        if len(self._pending) >= self._batch_size:
            self._wake.set()

    @property
    def backlog(self) -> int:
        return len(self._pending) + self._spooled

    # -- the background side --------------------------------------------------
    async def run(self) -> None:
        delay = 0.25
        while True:
            if not self._pending and not self._spooled:
                if self._closing:
                    return
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._max_wait):
                        await self._wake.wait()
                self._wake.clear()
                continue
            try:
                if self._spooled:
                    await self._replay()
                await self._flush_memory()
                self._metrics.db_up.set(1)
                self.database_up = True
                delay = 0.25
            except Exception as exc:
                self._metrics.db_up.set(0)
                self.database_up = False
                if self._pending:
                    self._to_spool(list(self._pending))
                    self._pending.clear()
                if self._closing:
                    log.warning(
                        "database away at shutdown; %d record(s) stay spooled in %s",
                        self._spooled,
                        self.spool,
                    )
                    return
                log.warning("database away (%s); records spooled to %s", exc.__class__.__name__, self.spool)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)

    async def _flush_memory(self) -> None:
        while self._pending:
            batch = [self._pending[i] for i in range(min(self._batch_size, len(self._pending)))]
            refused = await self._store.write(latest_snapshots(batch))
            self._reject(refused)
            for _ in batch:
                self._pending.popleft()
            self._metrics.records_written.inc(len(batch) - len(refused))

    async def _replay(self) -> None:
        replaying = self.spool.with_suffix(".replaying")
        if not replaying.exists():
            self.spool.rename(replaying)
        records: list[Record] = []
        for number, raw in enumerate(replaying.read_bytes().splitlines(), 1):
            try:
                data = json.loads(raw.decode("utf-8"))
                if not isinstance(data, dict):
                    raise TypeError(f"a {type(data).__name__}, not a record")
                records.append(record_from_json(data))
            except (ValueError, TypeError, KeyError) as exc:
                log.error("spool line %d unreadable (%s); kept in %s", number, exc, self.bad_file)
                with open(self.bad_file, "ab") as bad:  # noqa: ASYNC230 - rare, tiny
                    bad.write(raw + b"\n")
        for start in range(0, len(records), self._batch_size):
            batch = records[start : start + self._batch_size]
            refused = await self._store.write(batch)
            self._reject(refused)
            self._metrics.records_written.inc(len(batch) - len(refused))
        replaying.unlink()
        self._spooled = self._count_spooled()
        log.info("replayed %d spooled record(s)", len(records))

    def _reject(self, rejected: list[tuple[Record, str]]) -> None:
        """Bad data is kept aside in ``.bad`` (never retried forever, never lost)."""
        if not rejected:
            return
        with open(self.bad_file, "a", encoding="utf-8") as bad:
            for record, reason in rejected:
                log.error("record refused by the database (%s); kept in %s", reason, self.bad_file)
                bad.write(json.dumps({**record.to_json(), "refused": reason}) + "\n")
        self._metrics.records_rejected.inc(len(rejected))

    def _to_spool(self, records: list[Record]) -> None:
        with open(self.spool, "a", encoding="utf-8") as spool:
            for record in records:
                spool.write(json.dumps(record.to_json()) + "\n")
            spool.flush()
            os.fsync(spool.fileno())
        self._spooled += len(records)
        self._metrics.records_spooled.inc(len(records))

    def _count_spooled(self) -> int:
        total = 0
        for path in (self.spool, self.spool.with_suffix(".replaying")):
            if path.exists():
                with open(path, "rb") as spool:
                    total += sum(1 for _ in spool)
        return total

    async def close(self, task: asyncio.Task[None], within: float = 5.0) -> None:
        """Write what is left (or spool it) and stop the background task."""
        self._closing = True
        self._wake.set()
        try:
            async with asyncio.timeout(within):
                await asyncio.shield(task)
        except TimeoutError:
            task.cancel()
            if self._pending:
                self._to_spool(list(self._pending))
                self._pending.clear()


def latest_snapshots(batch: list[Record]) -> list[Record]:
    """Keep only the last snapshot of each call in a batch: a call's snapshots
    only add facts, so the last one says everything the earlier ones did."""
    last: dict[str, int] = {}
    for index, record in enumerate(batch):
        if isinstance(record, CallRecord):
            last[record.call_id] = index
    return [r for i, r in enumerate(batch) if not isinstance(r, CallRecord) or last[r.call_id] == i]
