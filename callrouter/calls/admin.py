"""The admin API's view of the running centre: calls/centre.py's runner and the
abandoned-calls query behind the one small interface the API knows
(api/facade.py's AdminFacade). app.py builds it; the API never sees the runner."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from callrouter.calls.centre import CentreRunner
from callrouter.core.agents import Agent
from callrouter.core.queue import QueueEntry, QueueError

AbandonedCalls = Callable[[datetime, datetime], Awaitable[list[dict[str, Any]]]]


class CentreAdmin:
    def __init__(self, runner: CentreRunner, abandoned: AbandonedCalls) -> None:
        self._runner = runner
        self._abandoned = abandoned

    def agents(self) -> list[Agent]:
        return sorted(self._runner.centre.agents.values(), key=lambda agent: agent.agent_id)

    def agent_command(self, agent_id: str, command: str, reason: str) -> Agent:
        if agent_id not in self._runner.centre.agents:
            raise KeyError(agent_id)
        return self._runner.agent_command(agent_id, command, reason)

    def queue(self) -> list[QueueEntry]:
        return self._runner.centre.queue.ordered()

    def reprioritise(self, entry_id: str, priority: int) -> tuple[QueueEntry, int | None]:
        try:
            entry = self._runner.reprioritise(entry_id, priority)
        except QueueError:
            raise KeyError(entry_id) from None
        waiting = entry.offered_to is None
        return entry, self._runner.centre.queue.position(entry_id) if waiting else None

    async def abandoned(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        return await self._abandoned(since, until)
