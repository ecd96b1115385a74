"""What a router reads from PostgreSQL at start is read by an index, never the whole
table (a table grows with every call: a whole read passes the statements' timeout after
weeks or months, and the restart then takes PostgreSQL for away). Checked with the
planner told to avoid a whole read, as it would on a large table."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from callrouter.store.queries import CALLS_TAKEN, CLOSE_LOST, LAST_AGENT_STATES, LOST_REASON
from tests.integration.conftest import Migrated


async def plan_of(db: Migrated, sql: str, *args: object) -> str:
    async with db.conn.transaction():
        await db.conn.execute("SET LOCAL enable_seqscan = off")
        (row,) = await db.conn.fetch("EXPLAIN (FORMAT JSON) " + sql, *args)
    return json.dumps(json.loads(row[0]))


async def test_the_reads_at_start_use_an_index(db: Migrated) -> None:
    now = datetime.now(UTC)
    lost = await plan_of(db, CLOSE_LOST, "router-1", now, [], [], LOST_REASON)
    assert '"Index Name": "calls_open_node"' in lost and '"Seq Scan"' not in lost, lost
    # Each agent's rows by the index's range for that agent (a whole read of the index, as the
    # DISTINCT ON over the table was planned, has no such condition).
    for sql, args in ((LAST_AGENT_STATES, (["agent1"],)), (CALLS_TAKEN, (["agent1"], "answered", "x"))):
        plan = await plan_of(db, sql, *args)
        assert re.search(r'"Index Cond": "\(+agent = a\.agent\)', plan) and '"Seq Scan"' not in plan, plan
