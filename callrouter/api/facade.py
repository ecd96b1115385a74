"""What the admin API may see and do: one small Protocol, so the API knows
nothing of the shell that runs the centre (calls/admin.py implements it and
app.py hands it over). The values it returns are the core's own read-only
records (an agent, a queue entry, a call's or a callback's record)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from callrouter.core.agents import Agent
from callrouter.core.callbacks import FollowUp
from callrouter.core.queue import QueueEntry
from callrouter.core.records import CallbackRecord, CallRecord


class AdminFacade(Protocol):
    def agents(self) -> Sequence[Agent]:
        """Every agent, by id."""
        ...

    def agent_command(self, agent_id: str, command: str, reason: str) -> Agent:
        """login / logout / pause / resume; returns the agent after the change.
        Raises KeyError for an unknown agent, AgentStateError when the change is
        not possible now."""
        ...

    def queue(self) -> Sequence[QueueEntry]:
        """The queue in order (entries being offered to an agent included)."""
        ...

    def holder(self, entry: QueueEntry) -> CallRecord | CallbackRecord | None:
        """Who holds a place: the call waiting in it (its record so far), or the
        callback it is (a virtual place, no call); None when neither is known."""
        ...

    def reprioritise(self, entry_id: str, priority: int) -> tuple[QueueEntry, int | None]:
        """Change a waiting caller's priority (the queue reorders at once);
        returns the entry and its place among those waiting (None while it is
        being offered). Raises KeyError when the entry is not in the queue."""
        ...

    async def abandoned(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Callers who hung up while waiting, with full numbers (none where the
        caller withheld theirs: listed as withheld). Raises OSError
        or TimeoutError when the records cannot be read now."""
        ...

    async def callbacks(self, state: str | None, limit: int) -> list[dict[str, Any]]:
        """The latest ``limit`` callbacks in ``state`` (any: None), latest change first,
        as PostgreSQL has them, with full numbers (the API masks them). Raises OSError
        or TimeoutError when the records cannot be read now."""
        ...

    def booking_wait(self) -> int | None:
        """None when a callback can be booked; else in how many seconds to ask again: the
        open callbacks stored before this start are not read from PostgreSQL yet (one
        of them may be to the same number)."""
        ...

    def schedule_callback(self, order: FollowUp) -> CallbackRecord:
        """Book a follow-up made by hand; returns its record (pending). Raises
        InvalidFollowUp naming the fields the config cannot take, CallbackError
        when callbacks are off or the number has an open callback already."""
        ...

    def cancel_callback(self, callback_id: str, reason: str) -> CallbackRecord:
        """Cancel an open callback; returns its record as cancelled. Raises KeyError
        when no open callback has this id, CallbackError while it is being dialled."""
        ...
