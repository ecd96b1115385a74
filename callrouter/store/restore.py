"""What a restarted router reads back at start: the agents' last states.

From PostgreSQL and from the spool (what the last process could not write yet),
the newest of the two winning. Read once, before the first call; never on a
call's path. A database that does not answer ``within`` seconds leaves the
spool's word alone (and agents it does not know stay logged out).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import asyncpg

from callrouter.core.records import AgentStateRecord
from callrouter.store import spool
from callrouter.store.postgres import connect_kwargs

log = logging.getLogger(__name__)

LAST_AGENT_STATES = """
SELECT DISTINCT ON (agent) agent, state, reason, at
FROM agent_states
ORDER BY agent, at DESC, id DESC
"""


async def last_agent_states(
    dsn: str, password: str | None, spool_dir: Path, within: float = 5.0
) -> dict[str, AgentStateRecord]:
    last: dict[str, AgentStateRecord] = {}
    try:
        async with asyncio.timeout(within):
            conn = await asyncpg.connect(**connect_kwargs(dsn, password))
            try:
                for row in await conn.fetch(LAST_AGENT_STATES):
                    last[row["agent"]] = AgentStateRecord(
                        row["agent"], row["at"], row["state"], row["reason"]
                    )
            finally:
                await conn.close()
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        log.warning("agents' last states not read from the database (%s); the spool's only", exc)
    spooled = await asyncio.to_thread(
        spool.scan, spool_dir / "records.replaying", spool_dir / "records.jsonl"
    )
    for record in spooled:
        if isinstance(record, AgentStateRecord):
            known = last.get(record.agent)
            if known is None or record.at >= known.at:
                last[record.agent] = record
    return last
