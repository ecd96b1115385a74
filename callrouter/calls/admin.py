"""The admin API's view of the running switchboard: the dispatcher's board (read)
and its steps (agent commands, priorities, callbacks made or cancelled by hand),
with the read queries (abandoned calls, callbacks), behind the one small
interface the API knows (api/facade.py's AdminFacade). app.py builds it; the
API never sees the switchboard."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from callrouter.calls.dispatcher import utcnow
from callrouter.core import callback_fit
from callrouter.core import callbacks as cbs
from callrouter.core import switchboard as sb
from callrouter.core.agents import Agent
from callrouter.core.callbacks import FollowUp
from callrouter.core.queue import QueueEntry, QueueError
from callrouter.core.records import CallbackRecord, CallRecord

AbandonedCalls = Callable[[datetime, datetime], Awaitable[list[dict[str, Any]]]]
CallbackList = Callable[[str | None, int], Awaitable[list[dict[str, Any]]]]


class Switchboard(Protocol):
    """What the admin needs of the shell: the board, and a way to step it."""

    @property
    def board(self) -> sb.Board: ...

    def step(self, event: sb.Event) -> None: ...


class CentreAdmin:
    def __init__(
        self,
        switchboard: Switchboard,
        abandoned: AbandonedCalls,
        callbacks: CallbackList,
        clock: Callable[[], datetime] = utcnow,
        booking_wait: Callable[[], int | None] = lambda: None,
    ) -> None:
        """``booking_wait``: calls/stored_callbacks.py's, while the open callbacks stored
        before this start may be unknown."""
        self._switchboard = switchboard
        self._abandoned = abandoned
        self._callbacks = callbacks
        self._clock = clock
        self.booking_wait = booking_wait

    def agents(self) -> list[Agent]:
        return sorted(self._switchboard.board.centre.agents.values(), key=lambda agent: agent.agent_id)

    def agent_command(self, agent_id: str, command: str, reason: str) -> Agent:
        """Raises KeyError for an unknown agent, AgentStateError when not allowed now."""
        self._switchboard.step(sb.AgentCommand(agent_id, command, reason))
        return self._switchboard.board.centre.agents[agent_id]

    def queue(self) -> list[QueueEntry]:
        return self._switchboard.board.centre.queue.ordered()

    def holder(self, entry: QueueEntry) -> CallRecord | CallbackRecord | None:
        board = self._switchboard.board
        call = board.call_of_entry(entry.entry_id)  # after a take-over: the newer call
        if call is not None:
            return call.record
        callback = board.callbacks.get(entry.entry_id)
        return callback.record if callback is not None else None

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

    async def callbacks(self, state: str | None, limit: int) -> list[dict[str, Any]]:
        return await self._callbacks(state, limit)

    def schedule_callback(self, order: FollowUp) -> CallbackRecord:
        record = callback_fit.by_hand(self._switchboard.board.rules, order, str(uuid.uuid4()), self._clock())
        self._switchboard.step(sb.ScheduleCallback(record))
        return record

    def cancel_callback(self, callback_id: str, reason: str) -> CallbackRecord:
        key = self._open_callback(callback_id)
        callback = self._switchboard.board.callbacks[key]
        self._switchboard.step(sb.CancelCallback(key, reason))
        return cbs.cancelled(callback, self._clock(), reason).record

    def _open_callback(self, callback_id: str) -> str:
        """The board's key of an open callback: the id as listed (PostgreSQL writes a
        uuid with dashes; a callback booked in this process may be keyed without)."""
        callbacks = self._switchboard.board.callbacks
        key = callback_id if callback_id in callbacks else None
        if key is None:
            with contextlib.suppress(ValueError):
                wanted = uuid.UUID(callback_id)
                key = next((k for k in callbacks if _same_uuid(k, wanted)), None)
        if key is None or cbs.final(callbacks[key]):  # completed, and still talking: not open
            raise KeyError(callback_id)
        return key


def _same_uuid(key: str, wanted: uuid.UUID) -> bool:
    try:
        return uuid.UUID(key) == wanted
    except ValueError:
        return False
