"""The agents' last states, until PostgreSQL has told them once.

At start the switchboard is handed each agent's last recorded state (PostgreSQL,
then the spool): a restart logs nobody out. A PostgreSQL that cannot answer then
leaves unknown the states only it holds, and those agents would stay logged out
(no call offered to them) until each logged in again. So the states are read
again every ``retry_seconds`` once everything this process wrote has landed
(PostgreSQL then knows what the agents did since the start), and handed to the
switchboard for the agents still logged out as they were at the start: one who
logged in, or out, meanwhile keeps what they did.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from callrouter.calls.reread import RETRY_SECONDS, until_read
from callrouter.core.agents import Agent, AgentState
from callrouter.core.records import AgentStateRecord, Record
from callrouter.core.switchboard import RestoreAgents
from callrouter.store.queries import Queries
from callrouter.store.restore import calls_taken, last_agent_states
from callrouter.store.writer import RecordWriter

if TYPE_CHECKING:
    from callrouter.calls.dispatcher import Dispatcher

log = logging.getLogger(__name__)

Untouched = dict[str, datetime | None]  # logged-out agents -> since when


class StoredAgents:
    def __init__(
        self,
        read: Callable[[], Awaitable[dict[str, AgentStateRecord] | None]],
        settled: Callable[[], bool],
        agents: Callable[[], Mapping[str, Agent]],
        restore: Callable[[dict[str, AgentStateRecord]], None],
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        """``read``: the agents' last states PostgreSQL holds, None when it cannot answer;
        ``settled``: whether every record written so far is in PostgreSQL; ``agents``:
        the switchboard's agents now; ``restore``: hands last states to the switchboard."""
        self._read = read
        self._settled = settled
        self._agents = agents
        self._restore = restore
        self.retry_seconds = retry_seconds
        self.read = False
        self._logged_out = self._untouched()  # as at the start: whom a late read may change

    def _untouched(self) -> Untouched:
        return {a.agent_id: a.since for a in self._agents().values() if a.state is AgentState.LOGGED_OUT}

    async def run(self) -> None:
        """Read until read once (at once if the start's read did it)."""
        if not self.read:
            await until_read(self.read_now, self._settled, self.retry_seconds, "the agents' last states")

    async def read_now(self) -> bool:
        """Read them now: True when PostgreSQL answered."""
        last = await self._read()
        if last is None:
            return False
        self.read = True
        now = self._untouched()
        # Still logged out as at the start (not even logged in and out since), and not so in PostgreSQL.
        late = {
            agent_id: record
            for agent_id, record in last.items()
            if agent_id in now
            and now[agent_id] == self._logged_out.get(agent_id, ...)
            and record.state != AgentState.LOGGED_OUT
        }
        if late:
            log.info("%d agent(s) given their last state, read from the database after the start", len(late))
            self._restore(late)
        return True


async def restore_agents(
    dispatcher: Dispatcher, writer: RecordWriter, queries: Queries, spooled: Sequence[Record]
) -> StoredAgents:
    """Every agent in the state the process before left them in (a restart logs nobody
    out), with the calls they took since their log-in; read again while PostgreSQL could
    not tell them (``StoredAgents``)."""
    ids = sorted(dispatcher.board.centre.agents)  # the config's: each read by its own index range
    last, answered = await last_agent_states(queries, spooled, ids)
    taken = await calls_taken(queries, spooled, ids) if answered else None
    dispatcher.step(RestoreAgents(last, taken or {}))
    counts: dict[str, int] = {}  # as the late read found them

    async def read() -> dict[str, AgentStateRecord] | None:
        stored, answered = await last_agent_states(queries, (), ids)
        if answered:
            counts.update(await calls_taken(queries, (), ids) or {})
        return stored if answered else None

    agents = StoredAgents(
        read,
        lambda: writer.settled,
        lambda: dispatcher.board.centre.agents,
        lambda late: dispatcher.step(RestoreAgents(late, counts)),
    )
    agents.read = answered  # if not, read again until read
    return agents
