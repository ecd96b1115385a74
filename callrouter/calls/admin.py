"""The admin API's view of the running switchboard: the dispatcher's board (read)
and its steps (agent commands, priorities), with the abandoned-calls query,
behind the one small interface the API knows (api/facade.py's AdminFacade).
app.py builds it; the API never sees the switchboard."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from callrouter.core import switchboard as sb
from callrouter.core.agents import Agent
from callrouter.core.queue import QueueEntry, QueueError

AbandonedCalls = Callable[[datetime, datetime], Awaitable[list[dict[str, Any]]]]


class Switchboard(Protocol):
    """What the admin needs of the shell: the board, and a way to step it."""

    @property
    def board(self) -> sb.Board: ...

    def step(self, event: sb.Event) -> None: ...


class CentreAdmin:
    def __init__(self, switchboard: Switchboard, abandoned: AbandonedCalls) -> None:
        self._switchboard = switchboard
        self._abandoned = abandoned

    def agents(self) -> list[Agent]:
        return sorted(self._switchboard.board.centre.agents.values(), key=lambda agent: agent.agent_id)

    def agent_command(self, agent_id: str, command: str, reason: str) -> Agent:
        """Raises KeyError for an unknown agent, AgentStateError when not allowed now."""
        self._switchboard.step(sb.AgentCommand(agent_id, command, reason))
        return self._switchboard.board.centre.agents[agent_id]

    def queue(self) -> list[QueueEntry]:
        return self._switchboard.board.centre.queue.ordered()

    def reprioritise(self, entry_id: str, priority: int) -> tuple[QueueEntry, int | None]:
        try:
            self._switchboard.step(sb.Reprioritise(entry_id, priority))
        except QueueError:
            raise KeyError(entry_id) from None
        queue = self._switchboard.board.centre.queue
        entry = queue.entries[entry_id]
        return entry, queue.position(entry_id) if entry.offered_to is None else None

    async def abandoned(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        return await self._abandoned(since, until)
