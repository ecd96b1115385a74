"""A router killed with calls up: those that ended while no router ran are closed by
the next one at its start, on the real PostgreSQL. Each at its last recorded moment,
with the outcome how far it got says and an "ended" step on its timeline; a call
still in Asterisk, one begun since, one whose record waits in the spool and another
node's are left alone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from callrouter.core.records import CallEventRecord, Outcome
from callrouter.store import spool
from callrouter.store.postgres import PgRecordStore
from callrouter.store.queries import LOST_REASON, Queries
from callrouter.store.restore import close_lost_calls
from tests.integration.conftest import Cluster
from tests.integration.test_record_store import migrated, record

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


async def test_the_calls_a_killed_router_left_open_are_closed_by_the_next(
    empty_db: str, cluster: Cluster, tmp_path: Path
) -> None:
    conn = await migrated(empty_db, cluster)
    minute = timedelta(minutes=1)
    queued = record(1, queued_at=T0 + minute, answered_at=T0)  # waited, hung up while no router ran
    talking = record(2, answered_at=T0, queued_at=T0, agent="agent1", agent_answered_at=T0 + minute)
    in_menu = record(3, answered_at=T0)
    overflowed = record(4, answered_at=T0, outcome=Outcome.OVERFLOW)  # decided, its end not written
    still_up = record(5, answered_at=T0)  # adopted: its channel is in Asterisk
    spooled = record(6, answered_at=T0)  # its end waits in the spool
    later = record(7, started_at=T0 + timedelta(hours=2))  # this router's own
    elsewhere = record(8, node="asterisk-2")
    calls = [queued, talking, in_menu, overflowed, still_up, spooled, later, elsewhere]
    store = PgRecordStore(empty_db, cluster.password)
    step = CallEventRecord(queued.call_id, "asterisk-1", T0 + 3 * minute, "announced", "")
    assert await store.write([*calls, step]) == []
    await store.close()
    spool_file = tmp_path / "spool.jsonl"
    spool.append(spool_file, [spool.encode(spooled)])
    queries = Queries(empty_db, cluster.password)
    try:
        began = T0 + timedelta(hours=1)
        in_asterisk = {still_up.channel_id}
        assert await close_lost_calls(queries, "asterisk-1", began, in_asterisk, (spool_file,)) == 4
        assert await close_lost_calls(queries, "asterisk-1", began, in_asterisk, (spool_file,)) == 0, "once"
    finally:
        await queries.close()
    rows = {r["call_id"]: r for r in await conn.fetch("SELECT * FROM calls")}
    ended = {r["call_id"] for r in await conn.fetch("SELECT call_id FROM call_events WHERE kind = 'ended'")}
    await conn.close()
    expected = {
        queued.call_id: ("abandoned", T0 + 3 * minute),  # its last step
        talking.call_id: ("answered", T0 + minute),  # answered by its agent then: no talk before it
        in_menu.call_id: ("menu_hangup", in_menu.started_at),
        overflowed.call_id: ("overflow", overflowed.started_at),
    }
    for call_id, (outcome, at) in expected.items():
        row = rows[uuid.UUID(call_id)]
        assert (row["outcome"], row["ended_at"], row["end_reason"]) == (outcome, at, LOST_REASON), call_id
    assert {str(c) for c in ended} == set(expected)
    for untouched in (still_up, spooled, later, elsewhere):
        assert rows[uuid.UUID(untouched.call_id)]["ended_at"] is None
