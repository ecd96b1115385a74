"""Taking notifications on a real PostgreSQL: only due ones of open lines, each
by one process; never back by the process whose attempt just ended (its record
is on the way), at once by a restarted process of the same node, by another
node only once the lease expired; told already (``disclosed_in``): said so. The
audit row is written only while the writer holds the notification."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from callrouter.core.records import NotificationRecord, NotificationState
from callrouter.store.results_dialler import ResultsDialler
from tests.integration.conftest import Cluster, Migrated

LINES = ("clinic-central",)


@pytest.fixture
async def dialler(db: Migrated, empty_db: str, cluster: Cluster) -> AsyncIterator[ResultsDialler]:
    dialler = ResultsDialler(empty_db, cluster.password)
    yield dialler
    await dialler.close()


async def put(db: Migrated, due_in: float = 0, line: str = "clinic-central", number: str = "") -> str:
    """A notification due in ``due_in`` s, to ``number`` (a number of its own by default)."""
    nid = str(uuid.uuid4())
    number = number or f"+7916{uuid.UUID(nid).int % 10**7:07d}"
    await db.conn.execute(
        "INSERT INTO notifications (notification_id, external_id, number, secret_hash, test_type, result,"
        " language, line, fingerprint, received_at, due_at, expires_at, state, updated_at)"
        " VALUES ($1, $4, $5, '$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA', 'pcr',"
        " 'negative', 'ru', $3, repeat('0', 64), now(), now() + make_interval(secs => $2),"
        " now() + interval '1 day', 'pending', now() - interval '1 minute')",
        uuid.UUID(nid), due_in, line, f"ext-{nid}", number,
    )  # fmt: skip
    return nid


async def test_only_due_ones_of_open_lines_oldest_first_each_taken_once(
    db: Migrated, dialler: ResultsDialler
) -> None:
    first, second = await put(db), await put(db)
    await put(db, due_in=3600)  # not yet
    await put(db, line="clinic-north")  # its window is closed: not asked for
    a, b = await asyncio.gather(
        dialler.take("node-1/a", LINES, 10, 60), dialler.take("node-2/b", LINES, 10, 60)
    )
    taken = [n.notification_id for n in a.rows + b.rows]
    assert sorted(taken) == sorted([first, second]), "each due one by one process"
    assert a.pending + b.pending >= 2
    row = a.rows[0] if a.rows else b.rows[0]
    assert row.secret_hash.startswith("$argon2id$") and row.disclosed is False


async def test_a_dialling_one_comes_back_to_a_restarted_process_not_to_its_own(
    db: Migrated, dialler: ResultsDialler
) -> None:
    nid = await put(db)
    first = await dialler.take("node-1/a", LINES, 5, 600)
    assert [r.notification_id for r in first.rows] == [nid] and first.rows[0].interrupted is False
    assert (await dialler.take("node-1/a", LINES, 5, 600)).rows == (), (
        "its own attempt: its record is on its way"
    )
    assert (await dialler.take("node-2/x", LINES, 5, 600)).rows == (), "another node waits for the lease"
    again = await dialler.take("node-1/b", LINES, 5, 600)  # the same node, restarted
    assert [r.notification_id for r in again.rows] == [nid] and again.rows[0].disclosed is False
    assert again.rows[0].interrupted, "taken while dialling: the attempt its stopped router made counts"


async def test_the_audit_row_only_for_its_holder_and_a_told_one_is_said_told(
    db: Migrated, dialler: ResultsDialler
) -> None:
    nid = await put(db)
    await dialler.take("node-1/a", LINES, 5, 600)
    call = str(uuid.uuid4())
    now = datetime.now(UTC)
    assert not await dialler.audit(nid, now, "node-1/other", call, "secret keyed, try 1", "results_negative")
    assert await dialler.audit(nid, now, "node-1/a", call, "secret keyed, try 1", "results_negative")
    rows = await db.conn.fetch("SELECT * FROM notification_audit")
    assert [(str(r["call_id"]), r["verified_by"]) for r in rows] == [(call, "secret keyed, try 1")]
    again = await dialler.take("node-1/b", LINES, 5, 600)
    assert again.rows[0].disclosed is True, "told during the attempt the stopped process made"


async def test_the_writers_record_returns_it_to_pending_and_a_new_take_clears_disclosed(
    db: Migrated, dialler: ResultsDialler
) -> None:
    nid = await put(db)
    await dialler.take("node-1/a", LINES, 5, 600)
    await dialler.audit(nid, datetime.now(UTC), "node-1/a", str(uuid.uuid4()), "secret keyed, try 1", "x")
    record = NotificationRecord(nid, datetime.now(UTC), NotificationState.PENDING, datetime.now(UTC))
    assert await db.store.write([record]) == []
    again = await dialler.take("node-2/b", LINES, 5, 600)  # pending and due: anyone's
    assert [r.notification_id for r in again.rows] == [nid] and again.rows[0].disclosed is False


async def test_one_call_to_a_number_at_a_time_the_earliest_due_first(
    db: Migrated, dialler: ResultsDialler
) -> None:
    """Two results for one patient are two calls one after the other, never two at once
    (the phone would ring twice, or answer one and be busy for the other)."""
    patient = "+79160001122"
    first = await put(db, due_in=-60, number=patient)
    second = await put(db, due_in=-30, number=patient)
    other = await put(db, due_in=-10)
    a, b = await asyncio.gather(
        dialler.take("node-1/a", LINES, 10, 600), dialler.take("node-2/b", LINES, 10, 600)
    )
    taken = sorted(n.notification_id for n in a.rows + b.rows)
    assert taken == sorted([first, other]), "the patient's earliest only; the other number's too"
    for holder in ("node-1/a", "node-2/b", "node-1/c"):  # while the first is being dialled, by anyone
        assert second not in [n.notification_id for n in (await dialler.take(holder, LINES, 10, 600)).rows]
    await db.conn.execute(  # its attempt over: delivered
        "UPDATE notifications SET state = 'delivered', leased_by = NULL, lease_until = NULL"
        " WHERE notification_id = $1", uuid.UUID(first),
    )  # fmt: skip
    assert [n.notification_id for n in (await dialler.take("node-2/b", LINES, 10, 600)).rows] == [second]
