"""Repeat callers and callbacks against a real PostgreSQL: calls say which call they
follow up, a person's and a callback's rows are their latest snapshots whatever order
the records arrive in, and one number has one open callback at most."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from callrouter.core.records import (
    CallbackAttempt,
    CallbackRecord,
    CallbackState,
    CallEventRecord,
    Outcome,
    PersonRecord,
    RepeatKind,
)
from callrouter.core.repeat import RepeatRules
from callrouter.metrics import Metrics
from callrouter.store import spool
from callrouter.store.writer import RecordWriter
from tests.integration.conftest import Migrated
from tests.integration.test_record_store import record, until

T0 = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
NUMBER = "+79161234567"
PERSON = RepeatRules().key_of(NUMBER)  # a person is the keyed hash of their number
CALLBACK_ID, SECOND_ID, CALL_ID = (str(uuid.uuid5(uuid.NAMESPACE_URL, n)) for n in ("cb-1", "cb-2", "call"))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def callback(
    seconds: float, state: CallbackState = CallbackState.PENDING, **changes: object
) -> CallbackRecord:
    base = CallbackRecord(
        CALLBACK_ID, at(seconds), state, NUMBER, T0, T0 - timedelta(minutes=3), "operator",
        "clinic-central", "ru", 10, person=PERSON, call_id=CALL_ID,
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def second(seconds: float, state: CallbackState = CallbackState.PENDING, **changes: object) -> CallbackRecord:
    """Another callback for the same number."""
    return callback(seconds, state, callback_id=SECOND_ID, **changes)


def person(seconds: float, **changes: object) -> PersonRecord:
    return replace(PersonRecord(PERSON, at(seconds)), **changes)  # type: ignore[arg-type]


async def test_a_call_keeps_the_call_it_follows_up(db: Migrated) -> None:
    conn, store = db.conn, db.store
    first = record(1, outcome=Outcome.ABANDONED)
    again = record(2, repeat_of=first.call_id, repeat_kind=RepeatKind.RESUMED)
    ended = replace(again, outcome=Outcome.ANSWERED)
    replaced = record(3, outcome=Outcome.REPLACED)
    assert await store.write([first, ended, replaced]) == []
    assert await store.write([replace(again, repeat_of=None, repeat_kind=None)]) == [], "an older snapshot"
    rows = {str(r["call_id"]): r for r in await conn.fetch("SELECT * FROM calls")}
    assert (str(rows[again.call_id]["repeat_of"]), rows[again.call_id]["repeat_kind"]) == (
        first.call_id,
        "resumed",
    )
    assert rows[first.call_id]["repeat_of"] is None and rows[replaced.call_id]["outcome"] == "replaced"
    kinds = await conn.fetch("SELECT repeat_kind FROM call_durations WHERE repeat_kind IS NOT NULL")
    assert [r["repeat_kind"] for r in kinds] == ["resumed"]


async def test_a_person_s_row_is_their_latest_snapshot_whole(db: Migrated) -> None:
    conn, store = db.conn, db.store
    call_id = str(uuid.uuid4())
    left = person(1, left_at=at(1), joined_at=T0, topic="operator", priority=10, language="ru",
                  line="clinic-central", left_call_id=call_id)  # fmt: skip
    answered = person(9, contact_at=at(9), contact_agent="agent1", contact_call_id=call_id)  # left_at cleared
    assert await store.write([left]) == []
    assert await store.write([answered]) == []
    assert await store.write([left]) == [], "a replayed spool line, late"
    row = await conn.fetchrow("SELECT * FROM people")
    assert dict(row) == {
        "person": PERSON, "updated_at": at(9), "left_at": None, "joined_at": None, "topic": None,
        "priority": None, "language": None, "line": None, "left_call_id": None, "contact_at": at(9),
        "contact_agent": "agent1", "contact_call_id": uuid.UUID(call_id),
    }  # fmt: skip
    # One instant, two changes: the later write wins.
    assert await store.write([person(9, contact_agent="agent2", contact_at=at(9))]) == []
    assert await conn.fetchval("SELECT contact_agent FROM people") == "agent2"
    refused = await store.write([person(10, person="not-a-number")])
    assert [r for r, _why in refused] == [person(10, person="not-a-number")]


async def test_a_callback_s_row_is_its_latest_change_with_its_attempts(db: Migrated) -> None:
    conn, store = db.conn, db.store
    pending = callback(0)
    tried = (CallbackAttempt(at(5), "agent1", "no_answer"), CallbackAttempt(at(65), "agent2", "busy"))
    dialling = replace(pending, at=at(60), state=CallbackState.DIALLING, attempts=tried[:1])
    failed = replace(pending, at=at(70), state=CallbackState.FAILED, attempts=tried, reason="no answer")
    assert await store.write([pending, failed]) == []
    assert await store.write([dialling]) == [], "a replayed spool line, late"
    row = await conn.fetchrow("SELECT * FROM callbacks")
    assert (row["state"], row["reason"], row["updated_at"]) == ("failed", "no answer", at(70))
    assert json.loads(row["attempts"]) == [
        {"at": at(5).isoformat(), "agent": "agent1", "outcome": "no_answer"},
        {"at": at(65).isoformat(), "agent": "agent2", "outcome": "busy"},
    ]
    assert (row["leased_by"], row["lease_until"]) == (None, None)


async def test_a_record_never_touches_the_lease(db: Migrated) -> None:
    conn, store = db.conn, db.store
    assert await store.write([callback(0)]) == []
    await conn.execute("UPDATE callbacks SET leased_by = 'router-a', lease_until = $1", at(30))
    assert await store.write([callback(5, CallbackState.DIALLING)]) == []
    row = await conn.fetchrow("SELECT state, leased_by, lease_until FROM callbacks")
    assert tuple(row) == ("dialling", "router-a", at(30))


async def test_one_open_callback_per_number(db: Migrated) -> None:
    conn, store = db.conn, db.store
    assert await store.write([callback(0)]) == []
    for state in (CallbackState.PENDING, CallbackState.DIALLING):
        refused = await store.write([second(1, state)])
        assert [(r, why.split(":")[0]) for r, why in refused] == [(second(1, state), "UniqueViolationError")]
    assert await store.write([callback(2, CallbackState.DIALLING)]) == []
    assert [(r, why.split(":")[0]) for r, why in await store.write([second(3)])] == [
        (second(3), "UniqueViolationError")
    ], "a dialling callback holds the number too"
    other_number = second(3, number="+79160000000")
    assert await store.write([other_number]) == []
    # Once it ended, the number takes a new one; in one batch too, in the order made.
    assert (
        await store.write([callback(4, CallbackState.COMPLETED), replace(other_number, number=NUMBER)]) == []
    )
    # A callback already ended does not block, nor does a replayed line of it, late.
    assert await store.write([callback(2, CallbackState.DIALLING)]) == []
    rows = await conn.fetch("SELECT callback_id, state FROM callbacks WHERE number = $1", NUMBER)
    assert {str(r["callback_id"]): r["state"] for r in rows} == {
        callback(0).callback_id: "completed",
        second(0).callback_id: "pending",
    }


async def test_a_second_pending_callback_goes_to_records_bad_and_the_rest_go_in(
    db: Migrated, tmp_path: Path
) -> None:
    conn, metrics = db.conn, Metrics()
    writer = RecordWriter(db.store, tmp_path, metrics, max_wait=0.01)
    task = asyncio.create_task(writer.run())
    duplicate = second(1)
    for item in (callback(0), record(1), duplicate, person(1, contact_at=at(1)), record(2)):
        writer.submit(item)
    await until(lambda: _counted(conn, "SELECT count(*) FROM calls", 2))
    await writer.close(task)
    bad = [json.loads(line) for line in (tmp_path / "records.bad").read_text().splitlines()]
    assert [spool.decode(json.dumps(line).encode()) for line in bad] == [duplicate]
    assert (
        "UniqueViolationError" in bad[0]["refused"] and "callbacks_one_open_per_number" in bad[0]["refused"]
    )
    assert metrics.registry.get_sample_value("callrouter_records_rejected_total") == 1
    assert await conn.fetchval("SELECT count(*) FROM callbacks") == 1
    assert await conn.fetchval("SELECT count(*) FROM people") == 1


async def test_a_callback_whose_id_is_no_uuid_is_refused_as_bad_data(db: Migrated) -> None:
    conn, store = db.conn, db.store
    bad = callback(0, callback_id="cb-1")
    refused = await store.write([bad, person(0, contact_at=T0)])
    assert [r for r, _why in refused] == [bad]
    assert await conn.fetchval("SELECT count(*) FROM people") == 1


async def _counted(conn: asyncpg.Connection, sql: str, n: int) -> bool:
    return bool(await conn.fetchval(sql) == n)


async def test_a_callback_s_steps_are_on_its_own_timeline_with_or_without_a_call(db: Migrated) -> None:
    by_hand, booked = str(uuid.uuid4()), str(uuid.uuid4())
    call_id = str(uuid.uuid4())
    steps = [
        CallEventRecord(None, "asterisk-1", T0, "callback_attempt", "no_answer", by_hand),
        CallEventRecord(call_id, "asterisk-1", T0, "callback_attempt", "busy", booked),
    ]
    assert await db.store.write(steps) == []
    assert await db.store.write(steps) == [], "written twice (a replayed spool): harmless"
    rows = await db.conn.fetch("SELECT call_id, callback_id, detail FROM call_events ORDER BY detail")
    assert [(r["call_id"], str(r["callback_id"]), r["detail"]) for r in rows] == [
        (uuid.UUID(call_id), booked, "busy"),
        (None, by_hand, "no_answer"),
    ], "one row each"
    (refused,) = await db.store.write([CallEventRecord(None, "asterisk-1", T0, "x")])
    assert "call_events_call_or_callback" in refused[1], "a step of nothing is bad data"
