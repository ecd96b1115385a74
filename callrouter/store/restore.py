"""What a restarted router reads back at start: the agents' last states, and
the queue's waiting places.

From PostgreSQL and from the spool (what the last process could not write yet),
the newest of the two winning. Read once, before the first call; never on a
call's path. A database that cannot answer leaves the spool's word alone (and
agents it does not know stay logged out).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import asyncpg

from callrouter.core.records import AgentStateRecord, PlaceRecord, PlaceState
from callrouter.store import spool
from callrouter.store.queries import DatabaseUnavailable, Queries

log = logging.getLogger(__name__)


async def last_agent_states(queries: Queries, spool_files: tuple[Path, ...]) -> dict[str, AgentStateRecord]:
    last: dict[str, AgentStateRecord] = {}
    try:
        last = await queries.last_agent_states()
    except (DatabaseUnavailable, asyncpg.PostgresError) as exc:
        log.warning("agents' last states not read from the database (%s); the spool's only", exc)
    for record in await asyncio.to_thread(spool.scan, *spool_files):
        if isinstance(record, AgentStateRecord):
            known = last.get(record.agent)
            if known is None or record.at >= known.at:
                last[record.agent] = record
    return last


async def waiting_places(queries: Queries, node: str, spool_files: tuple[Path, ...]) -> list[PlaceRecord]:
    """This node's places whose latest state is "waiting" (oldest first): PostgreSQL's
    word, then the spool's, a later change winning (in the spool, a later line)."""
    spooled = [
        r
        for r in await asyncio.to_thread(spool.scan, *spool_files)
        if isinstance(r, PlaceRecord) and r.node == node
    ]
    last: dict[str, PlaceRecord] = {}
    try:
        last = {r.place_id: r for r in await queries.places(node, {r.place_id for r in spooled})}
    except (DatabaseUnavailable, asyncpg.PostgresError) as exc:
        log.warning("waiting places not read from the database (%s); the spool's only", exc)
    for record in spooled:
        known = last.get(record.place_id)
        if known is None or record.at >= known.at:
            last[record.place_id] = record
    waiting = [r for r in last.values() if r.node == node and r.state is PlaceState.WAITING]
    return sorted(waiting, key=lambda r: (r.joined_at, r.place_id))
