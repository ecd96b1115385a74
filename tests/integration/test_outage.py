"""A real PostgreSQL outage with a router restart in the middle: every record of every
type the router produces ends up in PostgreSQL, field by field, none twice, none set aside."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from callrouter.core.records import (
    AgentStateRecord,
    CallbackAttempt,
    CallbackRecord,
    CallbackState,
    CallEventRecord,
    CallRecord,
    Outcome,
    PersonRecord,
    PlaceRecord,
    PlaceState,
    Record,
    RepeatKind,
)
from callrouter.core.repeat import RepeatRules
from callrouter.metrics import Metrics
from callrouter.store import migrate
from callrouter.store.postgres import PgRecordStore
from callrouter.store.queries import DatabaseUnavailable, Queries
from callrouter.store.writer import RecordWriter
from tests.integration.conftest import Cluster
from tests.integration.test_record_store import until

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
TIMELINE = ("arrived", "menu", "key", "queued", "offered", "agent_missed", "offered", "bridged", "ended")


@dataclass
class Produced:
    """Everything the 'router' handed to its writer, as the database should hold it."""

    calls: dict[str, CallRecord] = field(default_factory=dict)  # the last snapshot of each call
    events: list[CallEventRecord] = field(default_factory=list)
    states: list[AgentStateRecord] = field(default_factory=list)
    places: dict[str, PlaceRecord] = field(default_factory=dict)  # the last change of each place
    people: dict[str, PersonRecord] = field(default_factory=dict)  # the last snapshot of each person
    callbacks: dict[str, CallbackRecord] = field(default_factory=dict)  # the last change of each callback

    def add(self, record: Record) -> None:
        if isinstance(record, CallRecord):
            self.calls[record.call_id] = record
        elif isinstance(record, CallEventRecord):
            self.events.append(record)
        elif isinstance(record, AgentStateRecord):
            self.states.append(record)
        elif isinstance(record, PlaceRecord):
            self.places[record.place_id] = record
        elif isinstance(record, PersonRecord):
            self.people[record.person] = record
        elif isinstance(record, CallbackRecord):
            self.callbacks[record.callback_id] = record


def one_call(n: int, produced: Produced) -> list[Record]:
    """The records of one answered call, in the order the router produces them."""
    start = T0 + timedelta(minutes=n)
    call_id, agent = str(uuid.uuid4()), f"agent{n % 3 + 1}"
    snapshot = CallRecord(
        call_id=call_id, node="asterisk-1", channel_id=f"1795385046.{n}", did="+78162700101",
        line="clinic-central", caller_number=f"+7916{n:07d}", caller_presentation="number",
        started_at=start, answered_at=start, language="ru",
    )  # fmt: skip
    if n % 2:  # a repeat: it follows up an earlier call (a made-up id; no foreign key)
        snapshot = replace(snapshot, repeat_of=str(uuid.uuid5(uuid.NAMESPACE_URL, f"call-{n - 1}")),
                           repeat_kind=RepeatKind.RECENT_CONTACT)  # fmt: skip
    out: list[Record] = [snapshot]
    for step, kind in enumerate(TIMELINE):
        out.append(
            CallEventRecord(call_id, "asterisk-1", start + timedelta(seconds=step), kind, f"{kind} {n}")
        )
        if kind == "queued":
            snapshot = replace(snapshot, menu_path="1", topic="infection", priority=10,
                               queued_at=start + timedelta(seconds=step))  # fmt: skip
            out.append(snapshot)
            joined = start + timedelta(seconds=step)
            place = PlaceRecord(
                f"place-{n}", "asterisk-1", joined, PlaceState.WAITING, snapshot.caller_number,
                "infection", 10, "ru", "clinic-central", joined, call_id,
            )  # fmt: skip
            out.append(place)
        if kind in ("offered", "bridged"):
            state = "ringing" if kind == "offered" else "on_call"
            out.append(AgentStateRecord(agent, start + timedelta(seconds=step), state, kind, call_id))
        if kind == "bridged":
            snapshot = replace(snapshot, agent=agent, agent_answered_at=start + timedelta(seconds=step))
            out.append(snapshot)
            out.append(replace(place, at=start + timedelta(seconds=step), state=PlaceState.CONNECTED))
    end = start + timedelta(seconds=len(TIMELINE) + 30)
    snapshot = replace(snapshot, ended_at=end, outcome=Outcome.ANSWERED, end_reason="caller hung up")
    out += [snapshot, AgentStateRecord(agent, end, "wrap_up", "after call", call_id)]
    person = RepeatRules().key_of(snapshot.caller_number or "")
    out.append(PersonRecord(person, end, contact_at=end, contact_agent=agent,
                            contact_call_id=call_id))  # fmt: skip
    if n % 3 == 0:  # the person asked to be called back too: pending, dialled, answered
        asked = CallbackRecord(
            str(uuid.uuid4()), end, CallbackState.PENDING, f"+7495{n:07d}", end, start, "infection",
            "clinic-central", "ru", 10, person=person, call_id=call_id,
        )  # fmt: skip
        tried = CallbackAttempt(end + timedelta(seconds=60), agent, "answered")
        out += [
            asked,
            replace(asked, at=tried.at, state=CallbackState.DIALLING, attempts=(tried,)),
            replace(
                asked, at=tried.at + timedelta(seconds=1), state=CallbackState.COMPLETED, attempts=(tried,)
            ),
        ]
    for record in out:
        produced.add(record)
    return out


def produce(writer: RecordWriter, numbers: range, produced: Produced) -> None:
    for n in numbers:
        for record in one_call(n, produced):
            writer.submit(record)


async def test_an_outage_with_a_restart_loses_no_record_of_any_type(
    empty_db: str, cluster: Cluster, tmp_path: Path
) -> None:
    conn = await asyncpg.connect(empty_db, password=cluster.password)
    await migrate.apply(conn, migrate.default_dir())
    await conn.close()
    spool_dir, produced = tmp_path / "spool", Produced()

    def start_router() -> tuple[RecordWriter, PgRecordStore, asyncio.Task[None], Metrics]:
        metrics, store = Metrics(), PgRecordStore(empty_db, cluster.password, timeout=2)
        writer = RecordWriter(store, spool_dir, metrics, batch_size=50, max_wait=0.01, retry_max=0.3)
        return writer, store, asyncio.create_task(writer.run()), metrics

    writer, store, task, metrics = start_router()
    produce(writer, range(0, 10), produced)  # the database is up
    await until(lambda: _settled(writer))

    await asyncio.to_thread(cluster.stop)
    try:
        produce(writer, range(10, 40), produced)  # the database is away
        await until(lambda: _spooled_everything(writer), within=30)
        assert writer.database_up is False
        # The router restarts during the outage: what it had goes to the spool.
        await writer.close(task, within=5)
        await store.close()
        assert writer.backlog > 0

        writer, store, task, metrics = start_router()
        assert writer.backlog > 0  # the new process finds the spool
        produce(writer, range(40, 60), produced)  # still away
        await asyncio.sleep(0.5)
    finally:
        await asyncio.to_thread(cluster.start)
    await until(lambda: _settled(writer), within=30)
    produce(writer, range(60, 70), produced)  # back to normal
    await until(lambda: _settled(writer), within=30)
    await writer.close(task)
    await store.close()

    conn = await asyncpg.connect(empty_db, password=cluster.password)
    queries = Queries(empty_db, cluster.password)
    try:
        await _holds_exactly(conn, produced)
        people = await queries.people(T0, 0, 0)  # everyone who talked to an agent since T0
        assert {p.person: p for p in people} == produced.people
        callbacks = await queries.callbacks(None, 1000)
        assert {c["callback_id"]: c["state"] for c in callbacks} == {
            i: c.state.value for i, c in produced.callbacks.items()
        }
        assert await queries.open_callbacks() == []
    finally:
        await queries.close()
        await conn.close()
    assert sorted(p.name for p in spool_dir.iterdir()) == []  # no spool left, nothing set aside
    assert metrics.registry.get_sample_value("callrouter_records_rejected_total") == 0
    assert metrics.registry.get_sample_value("callrouter_records_unreadable_total") == 0


async def _settled(writer: RecordWriter) -> bool:
    return writer.backlog == 0 and writer.database_up is True


async def _spooled_everything(writer: RecordWriter) -> bool:
    return writer.database_up is False and writer.backlog > 0 and writer.spool.exists()


async def _holds_exactly(conn: asyncpg.Connection, produced: Produced) -> None:
    rows = {str(r["call_id"]): r for r in await conn.fetch("SELECT * FROM calls")}
    assert rows.keys() == produced.calls.keys()
    for call_id, record in produced.calls.items():
        row = rows[call_id]
        for f in fields(record):
            expected: Any = getattr(record, f.name)
            got = row[f.name]
            got = str(got) if f.name in ("call_id", "repeat_of") and got is not None else got
            assert got == (expected.value if isinstance(expected, Enum) else expected), (call_id, f.name)

    events = await conn.fetch("SELECT call_id, node, at, kind, detail, callback_id FROM call_events")
    assert len(events) == len(produced.events)  # none twice
    assert {
        (str(e["call_id"]), e["node"], e["at"], e["kind"], e["detail"], e["callback_id"]) for e in events
    } == {(e.call_id, e.node, e.at, e.kind, e.detail, e.callback_id) for e in produced.events}
    places = {r["place_id"]: r for r in await conn.fetch("SELECT * FROM places")}
    assert places.keys() == produced.places.keys()
    for place_id, place in produced.places.items():
        row = places[place_id]
        held = (row["node"], row["updated_at"], row["state"], row["person"], row["topic"], row["priority"],
                row["language"], row["line"], row["joined_at"], str(row["call_id"]))  # fmt: skip
        assert held == (place.node, place.at, place.state.value, place.person, place.topic, place.priority,
                        place.language, place.line, place.joined_at, place.call_id), place_id  # fmt: skip
    states = await conn.fetch("SELECT agent, at, state, reason, call_id FROM agent_states")
    assert len(states) == len(produced.states)
    assert {(s["agent"], s["at"], s["state"], s["reason"], str(s["call_id"])) for s in states} == {
        (s.agent, s.at, s.state, s.reason, s.call_id) for s in produced.states
    }


def _server_processes(cluster: Cluster) -> list[int]:
    """The postmaster and every process it started (its backends among them)."""
    postmaster = int((cluster.pg_dir / "pg/data/postmaster.pid").read_text().split()[0])
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields_ = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields_[1]) == postmaster:
            children.append(int(stat.parent.name))
    return [postmaster, *children]


async def test_a_database_that_answers_nothing_spools_every_record_and_loses_none(
    empty_db: str, cluster: Cluster, tmp_path: Path
) -> None:
    """PostgreSQL frozen (SIGSTOP: a hung server, or a network dropping packets) refuses
    nothing, it just never answers. The records go to the spool within the slow grace
    (they stayed in memory for as long as the server was frozen: lost by a crash), reads
    answer 'unavailable' within their timeout, and once it answers again PostgreSQL holds
    every record produced, field by field."""
    conn = await asyncpg.connect(empty_db, password=cluster.password)
    await migrate.apply(conn, migrate.default_dir())
    await conn.close()
    produced, metrics = Produced(), Metrics()
    store = PgRecordStore(empty_db, cluster.password, timeout=1)
    writer = RecordWriter(
        store, tmp_path / "spool", metrics, batch_size=50, max_wait=0.01, retry_max=0.3, slow_grace=1
    )
    task = asyncio.create_task(writer.run())
    produce(writer, range(0, 5), produced)
    await until(lambda: _settled(writer))
    queries = Queries(empty_db, cluster.password, timeout=1)
    await queries.open_callbacks()  # a connection in its pool, as a router's would have

    frozen = _server_processes(cluster)
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    try:
        produce(writer, range(5, 25), produced)
        asked = time.monotonic()
        with pytest.raises(DatabaseUnavailable):
            await queries.open_callbacks()
        assert time.monotonic() - asked < 3, "a read answers within its timeout, not at the thaw"
        await until(lambda: _spooled_everything(writer), within=10)
        on_disk = await until_spooled(writer, sum(len(one_call(n, Produced())) for n in range(5, 25)))
        assert on_disk, "every record of the frozen time is in the spool, not in memory only"
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    await until(lambda: _settled(writer), within=30)
    await writer.close(task)
    await store.close()
    await queries.close()
    conn = await asyncpg.connect(empty_db, password=cluster.password)
    try:
        await _holds_exactly(conn, produced)
    finally:
        await conn.close()
    assert metrics.registry.get_sample_value("callrouter_records_rejected_total") == 0


async def until_spooled(writer: RecordWriter, count: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if writer.spool.exists() and len(writer.spool.read_bytes().splitlines()) >= count:
            return True
        await asyncio.sleep(0.1)
    return False
