"""What a restarted router reads back of repeat callers and callbacks, from a real
PostgreSQL and the spool (the newer change winning), and what the admin API lists."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from callrouter.core.records import (
    CallbackAttempt,
    CallbackRecord,
    CallbackState,
    Outcome,
    PersonRecord,
    RepeatKind,
)
from callrouter.core.repeat import RepeatRules
from callrouter.store import spool
from callrouter.store.restore import open_callbacks, people, read_spool
from tests.integration.conftest import Migrated
from tests.integration.test_record_store import record
from tests.integration.test_repeats import T0, at, callback

NOW = T0 + timedelta(hours=1)
RESUME, CONTACT = 120.0, 3600.0  # seconds: the windows


def number(n: int) -> str:
    return f"+7916000{n:04d}"


def who(n: int) -> str:
    """Person n: the keyed hash of their number (never the number)."""
    return RepeatRules().key_of(number(n))


def someone(n: int, seconds: float, **changes: object) -> PersonRecord:
    """Person n as remembered ``seconds`` after T0."""
    return replace(PersonRecord(who(n), at(seconds)), **changes)  # type: ignore[arg-type]


def left(n: int, seconds: float) -> PersonRecord:
    return someone(n, seconds, left_at=at(seconds), joined_at=T0, topic="operator", priority=10,
                   language="ru", line="clinic-central", left_call_id=str(uuid.uuid4()))  # fmt: skip


def talked(n: int, seconds: float) -> PersonRecord:
    return someone(
        n, seconds, contact_at=at(seconds), contact_agent="agent1", contact_call_id=str(uuid.uuid4())
    )


def cb(
    n: int, seconds: float, state: CallbackState = CallbackState.PENDING, **changes: object
) -> CallbackRecord:
    """Callback n (for number n) as changed ``seconds`` after T0."""
    mine = {
        "callback_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"cb-{n}")),
        "number": number(n),
        "person": who(n),
    }
    return callback(seconds, state, **{**mine, **changes})


async def test_people_inside_their_windows_come_back_the_newer_change_winning(
    db: Migrated, tmp_path: Path
) -> None:
    inside_left = 3600 - 60  # seconds after T0: a minute before NOW
    conn, store = db.conn, db.store
    assert await store.write([
        left(1, inside_left),  # hung up a minute ago: back
        left(2, 3600 - 600),  # ten minutes ago: past the resume window
        talked(3, 60),  # talked 59 minutes ago: back
        talked(4, -60),  # 61 minutes ago: past the contact window
        left(5, inside_left),  # the spool says they talked since (newer): back as that
        talked(6, 1800),  # the spool has an older line: the database's stands
        left(7, inside_left),  # the spool says they were answered long ago and cleared (newer): gone
        talked(9, 1800),
    ]) == []  # fmt: skip
    path = tmp_path / "records.jsonl"
    spool.append(path, [
        spool.encode(talked(5, inside_left + 10)),
        spool.encode(left(6, 1000)),
        spool.encode(someone(7, inside_left + 10, contact_at=at(-7200))),
        spool.encode(left(8, inside_left)),  # only in the spool
        spool.encode(talked(9, 1800)),  # the same instant: the spool's (a later write)
        "{torn",
    ])  # fmt: skip
    queries = db.queries
    back = await people(
        queries, NOW, RESUME, CONTACT, await read_spool((tmp_path / "records.replaying", path))
    )
    rows = {r["person"]: r for r in await conn.fetch("SELECT person, contact_call_id FROM people")}
    assert [p.person for p in back] == sorted(who(n) for n in (1, 3, 5, 6, 8, 9))
    by_number = {p.person: p for p in back}
    assert by_number[who(5)].contact_at == at(inside_left + 10) and by_number[who(5)].left_at is None
    assert by_number[who(6)].contact_at == at(1800) and by_number[who(6)].left_at is None
    assert by_number[who(9)].contact_call_id != str(rows[who(9)]["contact_call_id"]), "the spool's"
    assert by_number[who(1)].joined_at == T0 and by_number[who(1)].line == "clinic-central"
    # The database alone returns the rows as they were written.
    stored = await queries.people(NOW, RESUME, CONTACT)
    assert {p.person for p in stored} == {who(n) for n in (1, 3, 5, 6, 7, 9)}
    assert next(p for p in stored if p.person == who(1)) == by_number[who(1)]


async def test_open_callbacks_come_back_in_queue_order_the_newer_change_winning(
    db: Migrated, tmp_path: Path
) -> None:
    store = db.store
    tried = (CallbackAttempt(at(5), "agent1", "no_answer"),)
    assert await store.write([
        cb(1, 0, joined_at=T0 - timedelta(minutes=9)),
        cb(2, 5, CallbackState.DIALLING, attempts=tried, joined_at=T0 - timedelta(minutes=1)),
        cb(3, 0),
        cb(4, 9, CallbackState.COMPLETED),  # the spool's pending line is older
        cb(5, 0, CallbackState.FAILED, attempts=tried, reason="no answer"),
        cb(6, 0),  # the spool says it was cancelled since
    ]) == []  # fmt: skip
    path = tmp_path / "records.jsonl"
    spool.append(path, [
        spool.encode(cb(3, 2, CallbackState.DIALLING, attempts=tried)),  # newer than the database's
        spool.encode(cb(4, 1)),
        spool.encode(cb(6, 3, CallbackState.CANCELLED, reason="called in")),
        spool.encode(cb(7, 1, joined_at=T0 - timedelta(minutes=5))),  # only in the spool
        spool.encode(cb(8, 1, callback_id="not-a-uuid")),  # a line no row can match
    ])  # fmt: skip
    queries = db.queries
    back = await open_callbacks(queries, await read_spool((path,)))
    assert [(c.number, c.state) for c in back] == [
        (number(1), CallbackState.PENDING),
        (number(7), CallbackState.PENDING),
        (number(3), CallbackState.DIALLING),
        (number(8), CallbackState.PENDING),  # the same join time as 3's: by id
        (number(2), CallbackState.DIALLING),
    ]
    assert back[4] == cb(2, 5, CallbackState.DIALLING, attempts=tried, joined_at=T0 - timedelta(minutes=1))
    assert back[2].attempts == tried
    stored = await queries.open_callbacks()
    assert {c.number for c in stored} == {number(n) for n in (1, 2, 3, 6)}


async def test_the_admin_list_of_callbacks(db: Migrated) -> None:
    conn, store = db.conn, db.store
    tried = (CallbackAttempt(at(5), "agent1", "no_answer"),)
    assert await store.write([cb(1, 0), cb(2, 5, CallbackState.FAILED, attempts=tried), cb(3, 9)]) == []
    await conn.execute("UPDATE callbacks SET leased_by = 'router-a', lease_until = $1 WHERE number = ANY($2)",
                       at(30), [number(3), number(2)])  # fmt: skip
    # number(2)'s callback failed: the lease its last holder left on the row is not shown as held
    queries = db.queries
    listed = await queries.callbacks(None, 10)
    assert [c["number"] for c in listed] == [number(3), number(2), number(1)], "latest change first"
    assert listed[0]["leased_by"] == "router-a" and listed[0]["lease_until"] == at(30).isoformat()
    failed = await queries.callbacks("failed", 10)
    assert failed == [
        {
            "callback_id": cb(2, 0).callback_id, "state": "failed", "number": number(2), "person": who(2),
            "requested_at": T0.isoformat(), "joined_at": (T0 - timedelta(minutes=3)).isoformat(),
            "topic": "operator", "line": "clinic-central", "language": "ru", "priority": 10,
            "call_id": cb(2, 0).call_id,
            "attempts": [{"at": at(5).isoformat(), "agent": "agent1", "outcome": "no_answer"}],
            "reason": "", "updated_at": at(5).isoformat(), "leased_by": None, "lease_until": None,
        }
    ]  # fmt: skip
    assert [c["number"] for c in await queries.callbacks("pending", 1)] == [number(3)]
    for state, limit in (("ringing", 10), ("pending", 0)):
        with pytest.raises(ValueError):
            await queries.callbacks(state, limit)


async def test_the_abandoned_list_shows_failed_callbacks_and_not_callers_who_got_back(db: Migrated) -> None:
    store = db.store
    gave_up = record(1, started_at=T0, outcome=Outcome.ABANDONED, queued_at=T0, ended_at=at(40))
    came_back = record(2, started_at=at(100), outcome=Outcome.ANSWERED, repeat_of=gave_up.call_id,
                       repeat_kind=RepeatKind.RESUMED)  # fmt: skip
    still_away = record(3, started_at=at(10), outcome=Outcome.SHORT_ABANDON)
    failed = cb(1, 600, CallbackState.FAILED, requested_at=at(60), reason="no answer")
    failed_then_completed = cb(2, 600, CallbackState.FAILED, requested_at=at(60))
    completed = cb(22, 900, CallbackState.COMPLETED, number=number(2), requested_at=at(700))
    assert await store.write([gave_up, came_back, still_away, failed, failed_then_completed, completed]) == []
    queries = db.queries
    listed = await queries.abandoned(T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    assert [(c["call_id"], c["callback_id"], c["outcome"]) for c in listed] == [
        (still_away.call_id, None, "short_abandon"),
        (failed.call_id, failed.callback_id, "callback_failed"),
    ]
    assert listed[1] | {"call_id": None} == {
        "call_id": None, "callback_id": failed.callback_id, "started_at": at(60).isoformat(),
        "line": "clinic-central", "topic": "operator", "caller_number": number(1),
        "caller_presentation": "number", "outcome": "callback_failed",
        "waited_seconds": 780.0,  # from the place's join (3 minutes before T0) until given up
    }  # fmt: skip
    assert await queries.abandoned(T0 + timedelta(hours=1), T0 + timedelta(hours=2)) == []
