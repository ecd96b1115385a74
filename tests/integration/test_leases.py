"""Callback leases on a real PostgreSQL: one router per callback, even when two
routers (two OS processes) reach for the same callbacks at the same instant."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from callrouter.ari.fake import FakeAriClient
from callrouter.calls.outbound import Outbound, Route
from callrouter.core import switchboard as sb
from callrouter.core.records import CallbackState
from callrouter.metrics import Metrics
from callrouter.store.leases import TAKE, CallbackLeases, LeaseAnswer
from callrouter.store.postgres import UPSERT_CALLBACK, PgRecordStore, _callback_row
from callrouter.store.queries import DatabaseUnavailable
from callrouter.store.writer import RecordWriter
from devstack.stack import REPO
from tests.integration.conftest import Cluster, Migrated
from tests.integration.test_repeats import T0, callback

HOURS = 3600.0


def cb(n: int, state: CallbackState = CallbackState.PENDING, joined_minutes_ago: float = 0):
    """Callback n, for its own number."""
    return replace(
        callback(0, state),
        callback_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"lease-{n}")),
        number=f"+7916{n:07d}",
        joined_at=T0 - timedelta(minutes=joined_minutes_ago),
    )


@pytest.fixture
async def leases(db: Migrated, empty_db: str, cluster: Cluster):
    leases = CallbackLeases(empty_db, cluster.password)
    yield leases
    await leases.close()


async def held(db: Migrated) -> dict[str, str | None]:
    rows = await db.conn.fetch("SELECT callback_id, leased_by FROM callbacks")
    return {str(r["callback_id"]): r["leased_by"] for r in rows}


async def test_a_lease_is_taken_once_until_it_expires_or_is_released(
    db: Migrated, leases: CallbackLeases
) -> None:
    one = cb(1)
    assert await db.store.write([one]) == []
    assert await leases.take(one.callback_id, "router-a", HOURS)
    assert not await leases.take(one.callback_id, "router-b", HOURS), "router-a's"
    until = await db.conn.fetchval("SELECT lease_until FROM callbacks")
    assert await leases.take(one.callback_id, "router-a", HOURS), "its own: renewed"
    assert await db.conn.fetchval("SELECT lease_until FROM callbacks") >= until
    assert not await leases.release(one.callback_id, "router-b"), "not router-b's to release"
    assert await held(db) == {one.callback_id: "router-a"}
    await db.conn.execute("UPDATE callbacks SET lease_until = now() - interval '1 second'")
    assert await leases.take(one.callback_id, "router-b", HOURS), "expired: anyone's"
    assert await leases.release(one.callback_id, "router-b")
    assert await db.conn.fetchrow("SELECT leased_by, lease_until FROM callbacks") == (None, None)
    assert await leases.take(one.callback_id, "router-a", 0.001)
    await asyncio.sleep(0.05)
    assert await leases.take(one.callback_id, "router-b", HOURS), "a lease runs out on its own"


async def test_only_an_open_callback_that_exists_is_leased(db: Migrated, leases: CallbackLeases) -> None:
    dialling, completed = cb(1, CallbackState.DIALLING), cb(2, CallbackState.COMPLETED)
    assert await db.store.write([dialling, completed, cb(3, CallbackState.CANCELLED)]) == []
    assert await leases.take(dialling.callback_id, "router-a", HOURS)
    assert not await leases.take(completed.callback_id, "router-a", HOURS)
    assert not await leases.take(str(uuid.uuid4()), "router-a", HOURS), "no such callback"
    assert not await leases.take("cb-1", "router-a", HOURS), "no callback has such an id"
    assert not await leases.release("cb-1", "router-a")
    for bad in (0, -1):
        with pytest.raises(ValueError):
            await leases.take(dialling.callback_id, "router-a", bad)
    # The callback's own record, written later, leaves the lease alone.
    assert await db.store.write([replace(dialling, at=T0 + timedelta(seconds=9))]) == []
    assert (await held(db))[dialling.callback_id] == "router-a"


async def test_why_a_lease_is_not_taken_tells_waiting_from_never(
    db: Migrated, leases: CallbackLeases
) -> None:
    pending, completed = cb(1), cb(2, CallbackState.COMPLETED)
    assert await db.store.write([pending, completed]) == []
    assert await leases.try_take(pending.callback_id, "router-a", HOURS) is LeaseAnswer.TAKEN
    assert await leases.try_take(pending.callback_id, "router-b", HOURS) is LeaseAnswer.HELD, "ask later"
    assert await leases.try_take(completed.callback_id, "router-a", HOURS) is LeaseAnswer.CLOSED
    assert await leases.try_take(str(uuid.uuid4()), "router-a", HOURS) is LeaseAnswer.ABSENT
    assert await leases.try_take("cb-1", "router-a", HOURS) is LeaseAnswer.ABSENT
    # A second open callback for the number: refused by the unique index (records.bad), no row.
    second = replace(cb(3), number=pending.number)
    assert [reason for _, reason in await db.store.write([second])] != []
    assert await leases.try_take(second.callback_id, "router-a", HOURS) is LeaseAnswer.ABSENT
    async with db.conn.transaction():  # another router taking it this instant: held, not ended
        await db.conn.execute(
            "SELECT 1 FROM callbacks WHERE callback_id = $1 FOR UPDATE", uuid.UUID(cb(1).callback_id)
        )
        assert await leases.try_take(pending.callback_id, "router-a", HOURS) is LeaseAnswer.HELD


async def test_a_row_written_between_the_take_and_the_look_at_its_state_is_taken_not_held(
    db: Migrated, empty_db: str, cluster: Cluster
) -> None:
    """A new callback's lease asked while the record writer puts its row in: the take
    does not see it yet, the look at why does (committed in between). Its lease is
    free: taken, not "held by another router" (which postponed it 15 s)."""
    one = cb(1)

    class WrittenMeanwhile(CallbackLeases):
        async def _fetch(self, sql: str, *args: object) -> list[asyncpg.Record]:
            rows = await super()._fetch(sql, *args)
            if sql == TAKE and not await db.conn.fetchval("SELECT count(*) FROM callbacks"):
                assert await db.store.write([one]) == []  # the writer's commit, just then
            return rows

    leases = WrittenMeanwhile(empty_db, cluster.password)
    try:
        assert await leases.try_take(one.callback_id, "router-a", HOURS) is LeaseAnswer.TAKEN
    finally:
        await leases.close()
    assert await held(db) == {one.callback_id: "router-a"}


async def test_a_row_the_record_writer_is_updating_is_taken_once_written_not_held(
    db: Migrated, leases: CallbackLeases
) -> None:
    """The writer's upsert of a callback's later snapshot locks its row until the batch
    commits; a lease asked meanwhile skips it. It is nobody's lease: taken once written."""
    one = cb(1)
    assert await db.store.write([one]) == []
    later = replace(one, at=one.at + timedelta(seconds=1))
    transaction = db.conn.transaction()
    await transaction.start()
    await db.conn.execute(UPSERT_CALLBACK, *_callback_row(later))  # the batch, not committed yet
    taking = asyncio.create_task(leases.try_take(one.callback_id, "router-a", HOURS))
    await asyncio.sleep(0.03)
    await transaction.commit()
    assert await taking is LeaseAnswer.TAKEN
    assert await held(db) == {one.callback_id: "router-a"}


async def test_new_callbacks_leased_as_their_rows_are_written_are_all_taken(
    db: Migrated, empty_db: str, cluster: Cluster, tmp_path: Path
) -> None:
    """The router's own path (POST /callbacks, an agent idle): the callback's record goes
    to the record writer and its lease is asked at once. None waits (one in a dozen or
    so did: "no lease", postponed 15 s, with one router and PostgreSQL up)."""
    store = PgRecordStore(empty_db, cluster.password)
    writer = RecordWriter(store, tmp_path, Metrics())
    writing = asyncio.create_task(writer.run())
    leases = CallbackLeases(empty_db, cluster.password)
    told: list[sb.Event] = []
    outbound = Outbound(
        FakeAriClient(), "callrouter", "router-a", Route(), leases, told.append, lambda: writer.backlog
    )
    ids = [cb(n).callback_id for n in range(150)]
    try:
        for n in range(150):
            writer.submit(cb(n), urgent=True)
            await asyncio.sleep(0.001 * (n % 5))  # the lease asked as the row is on its way
            await outbound.lease(ids[n])
    finally:
        await writer.close(writing)
        await store.close()
        await leases.close()
    assert told == [sb.CallbackLeased(i, sb.Lease.TAKEN) for i in ids]


async def test_the_due_callbacks_are_taken_oldest_first_and_nobody_s_twice(
    db: Migrated, leases: CallbackLeases
) -> None:
    old, older, oldest = cb(1, joined_minutes_ago=1), cb(2, joined_minutes_ago=5), cb(3, joined_minutes_ago=9)
    taken_by_b, expired = cb(4, joined_minutes_ago=20), cb(5, joined_minutes_ago=30)
    ended = (
        cb(6, CallbackState.DIALLING, joined_minutes_ago=40),
        cb(7, CallbackState.FAILED, joined_minutes_ago=50),
    )
    assert await db.store.write([old, older, oldest, taken_by_b, expired, *ended]) == []
    assert await leases.take(taken_by_b.callback_id, "router-b", HOURS)
    assert await leases.take(expired.callback_id, "router-b", HOURS)
    await db.conn.execute(
        "UPDATE callbacks SET lease_until = now() - interval '1 second' WHERE callback_id = $1",
        uuid.UUID(expired.callback_id),
    )
    assert await leases.take_due("router-a", 2, HOURS) == [expired.callback_id, oldest.callback_id]
    assert await leases.take_due("router-a", 10, HOURS) == [older.callback_id, old.callback_id]
    assert await leases.take_due("router-a", 10, HOURS) == [], "its own are not due again"
    assert (await held(db))[taken_by_b.callback_id] == "router-b"
    with pytest.raises(ValueError):
        await leases.take_due("router-a", 0, HOURS)


@pytest.mark.parametrize("mode", ["take", "due"])
async def test_two_routers_racing_for_the_same_callbacks_lease_each_exactly_once(
    db: Migrated, empty_db: str, cluster: Cluster, mode: str
) -> None:
    callbacks = [cb(n, joined_minutes_ago=n % 17) for n in range(1000)]
    assert await db.store.write(callbacks) == []
    ids = [c.callback_id for c in callbacks]
    won = await asyncio.to_thread(race, empty_db, cluster.password, mode, ids)
    a, b = (set(w) for w in won)
    assert len(a) + len(b) == len(ids) and a | b == set(ids), "every callback leased exactly once"
    assert a and b, "the two raced (each won some)"
    assert await held(db) == {i: "router-a" if i in a else "router-b" for i in ids}


def race(dsn: str, password: str, mode: str, ids: list[str]) -> list[list[str]]:
    """Two router processes, each told to lease all of ``ids`` at the same moment."""
    env = {**os.environ, "CALLROUTER_DATABASE_PASSWORD": password}
    command = [sys.executable, "-m", "tests.integration.lease_taker", dsn]
    routers = [
        subprocess.Popen(
            [*command, holder, mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
        )
        for holder in ("router-a", "router-b")
    ]
    try:
        for router in routers:
            assert router.stdin is not None and router.stdout is not None
            router.stdin.write(json.dumps(ids) + "\n")
            router.stdin.flush()
            assert router.stdout.readline() == "ready\n"
        for router in routers:  # go
            assert router.stdin is not None
            router.stdin.write("go\n")
            router.stdin.flush()
        out = [router.communicate(timeout=60)[0] for router in routers]
        assert [router.returncode for router in routers] == [0, 0]
        return [json.loads(text) for text in out]
    finally:
        for router in routers:
            if router.poll() is None:
                router.kill()
                router.wait()


async def test_leases_while_postgresql_cannot_answer() -> None:
    leases = CallbackLeases("postgresql://callrouter@127.0.0.1:1/callrouter", "secret", timeout=2)
    with pytest.raises(DatabaseUnavailable):
        await leases.take(str(uuid.uuid4()), "router-a", HOURS)
    with pytest.raises(DatabaseUnavailable):
        await leases.take_due("router-a", 10, HOURS)
    await leases.close()
