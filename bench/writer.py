"""The record writer against a real PostgreSQL: sustained records/s, and what a burst
past the writer's memory limit costs the event loop (the call path).

Three steps on a throwaway PostgreSQL 15 cluster of its own, each with the records
of whole calls (call snapshots, timeline events, agent states, in the proportions
one answered call produces):

- ``raw``: the same rows by plain asyncpg ``executemany``, one transaction per
  batch, nothing else: the ceiling the writer is measured against;
- ``sustained``: the writer fed as fast as it takes records without passing its
  memory limit: records/s into PostgreSQL;
- ``burst``: ``--burst`` records submitted in one loop turn, far past
  ``queue_limit``: time inside ``submit()`` (the submitting turn's own, about a
  microsecond a record), the loop's longest stall after it while the burst is
  spooled and drained (a 1 ms ticker), and records/s until all are in.

Ratios print against ``raw`` and against what the router produces at app_queue's
clean rate on this box (60 calls/s, ARI-NOTES.md 14).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from callrouter.core.records import AgentStateRecord, CallEventRecord, CallRecord, Outcome, Record
from callrouter.metrics import Metrics
from callrouter.store import migrate
from callrouter.store.postgres import PgRecordStore
from callrouter.store.writer import RecordWriter
from devstack import postgres
from devstack.stack import REPO
from devstack.util import free_port

RESULTS = Path(__file__).parent / "results"
CLEAN_RATE = 60  # calls/s app_queue stays clean at on this box (ARI-NOTES.md 14)
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def call_records(n: int) -> list[Record]:
    """What one answered call produces: 4 snapshots, 9 events, 3 agent states."""
    start, call_id, agent = T0 + timedelta(milliseconds=n), str(uuid.uuid4()), f"agent{n % 500}"
    snap = CallRecord(call_id, "asterisk-1", f"1795385046.{n}", "+78162700101", "clinic-central",
                      f"+7916{n % 10_000_000:07d}", "number", start, answered_at=start)  # fmt: skip
    at = [start + timedelta(seconds=s) for s in range(12)]
    out: list[Record] = [snap]
    for step, kind in enumerate(("arrived", "menu", "key", "queued", "offered", "bridged")):
        out.append(CallEventRecord(call_id, "asterisk-1", at[step], kind, f"{kind} detail"))
    snap = replace(snap, menu_path="0", topic="operator", priority=10, queued_at=at[3])
    out += [snap, AgentStateRecord(agent, at[4], "ringing", "offer", call_id)]
    snap = replace(snap, agent=agent, agent_answered_at=at[5])
    out += [snap, AgentStateRecord(agent, at[5], "on_call", "answered", call_id)]
    for step, kind in ((9, "hangup"), (10, "ended"), (11, "recorded")):
        out.append(CallEventRecord(call_id, "asterisk-1", at[step], kind, ""))
    snap = replace(snap, ended_at=at[10], outcome=Outcome.ANSWERED, end_reason="caller hung up")
    out += [snap, AgentStateRecord(agent, at[10], "wrap_up", "after call", call_id)]
    return out


def records(count: int, offset: int) -> list[Record]:
    out: list[Record] = []
    n = offset
    while len(out) < count:
        out += call_records(n)
        n += 1
    return out[:count]


PER_CALL = len(call_records(0))


@dataclass
class Step:
    name: str
    records: int
    seconds: float
    records_per_s: float
    submit_ms: float = 0.0
    longest_stall_ms: float = 0.0
    spooled: float = 0.0


class StallMeter:
    """The longest gap between 1 ms ticks: how long the loop could not run anything else."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._last = time.perf_counter()
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        self._last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            self.longest = max(self.longest, now - self._last - 0.001)
            self._last = now

    def restart(self) -> None:
        """Forget what was seen so far (the submitting turn is the caller's own work)."""
        self.longest, self._last = 0.0, time.perf_counter()

    def __enter__(self) -> StallMeter:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def raw_step(dsn: str, password: str, count: int, batch: int) -> Step:
    store = PgRecordStore(dsn, password)
    rows = records(count, 10_000_000)
    started = time.perf_counter()
    for i in range(0, len(rows), batch):
        await store.write(rows[i : i + batch])
    seconds = time.perf_counter() - started
    await store.close()
    return Step("raw", count, seconds, count / seconds)


async def writer_step(dsn: str, password: str, count: int, burst: bool, queue_limit: int) -> Step:
    metrics, store = Metrics(), PgRecordStore(dsn, password)
    with tempfile.TemporaryDirectory() as spool_dir:
        writer = RecordWriter(store, Path(spool_dir), metrics, queue_limit=queue_limit)
        task = asyncio.create_task(writer.run())
        rows = records(count, 20_000_000 if burst else 30_000_000)
        with StallMeter() as stalls:
            started = time.perf_counter()
            submit = 0.0
            chunk = len(rows) if burst else min(1_000, queue_limit // 4)
            for i in range(0, len(rows), chunk):
                while not burst and writer.backlog > queue_limit // 2:  # noqa: ASYNC110
                    await asyncio.sleep(0.001)  # as fast as the writer takes them, never past its limit
                before = time.perf_counter()
                for record in rows[i : i + chunk]:
                    writer.submit(record)
                submit += time.perf_counter() - before
                stalls.restart()  # the submitting turn itself is the caller's, not a stall
                await asyncio.sleep(0)  # the loop turn between chunks, as calls arrive
            del rows  # from here on only the writer holds the records, as in the router
            while writer.backlog:  # noqa: ASYNC110 - polling the figure is the measurement
                await asyncio.sleep(0.005)
            seconds = time.perf_counter() - started
        await writer.close(task)
    await store.close()
    spooled = metrics.registry.get_sample_value("callrouter_records_spooled_total") or 0.0
    return Step("burst" if burst else "sustained", count, seconds, count / seconds,
                submit * 1000, stalls.longest * 1000, spooled)  # fmt: skip


async def measure(dsn: str, password: str, count: int, burst: int, queue_limit: int) -> list[Step]:
    conn = await asyncpg.connect(dsn, password=password)
    await migrate.apply(conn, migrate.default_dir())
    await conn.close()
    return [
        await raw_step(dsn, password, count, 200),
        await writer_step(dsn, password, count, burst=False, queue_limit=queue_limit),
        await writer_step(dsn, password, burst, burst=True, queue_limit=queue_limit),
    ]


def report(steps: list[Step]) -> str:
    produced = CLEAN_RATE * PER_CALL
    lines = [
        f"{'step':<10} {'records':>8} {'seconds':>8} {'rec/s':>9} {'xraw':>6} {'xneed':>7} "
        f"{'submit ms':>10} {'stall ms':>9} {'spooled':>8}",
    ]
    raw = steps[0].records_per_s
    for s in steps:
        lines.append(
            f"{s.name:<10} {s.records:>8} {s.seconds:>8.2f} {s.records_per_s:>9.0f} "
            f"{s.records_per_s / raw:>6.2f} {s.records_per_s / produced:>7.1f} "
            f"{s.submit_ms:>10.1f} {s.longest_stall_ms:>9.1f} {s.spooled:>8.0f}"
        )
    lines.append(
        f"xraw: against plain asyncpg executemany; xneed: against the {produced} records/s the router "
        f"produces at {CLEAN_RATE} calls/s ({PER_CALL} records per answered call)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.writer", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--records", type=int, default=100_000, help="records in the raw and sustained steps")
    parser.add_argument("--burst", type=int, default=142_000, help="records submitted at once")
    parser.add_argument("--queue-limit", type=int, default=10_000, help="the writer's memory limit")
    args = parser.parse_args(argv)
    cluster, port, password = (
        postgres.cluster_dir(REPO, "bench-writer"),
        free_port(),
        secrets.token_urlsafe(12),
    )
    postgres.remove(cluster)
    postgres.start(cluster, port, password, f"{REPO} bench.writer")
    try:
        dsn = f"postgresql://callrouter@127.0.0.1:{port}/callrouter"
        steps = asyncio.run(measure(dsn, password, args.records, args.burst, args.queue_limit))
    finally:
        postgres.remove(cluster)
    print(report(steps))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"writer-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps([asdict(s) for s in steps], indent=2))
    print(f"raw results: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
