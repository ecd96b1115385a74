"""The calls a router before followed that ended while none ran are closed only once
all written so far has landed: a spool of an outage, replayed later, would bring back
their rows open (its not-ended snapshots) after they were closed, or before they were
there to close."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

from callrouter.app import _close_lost
from callrouter.ari.fake import FakeAriClient


class Queries:
    def __init__(self) -> None:
        self.closed: list[set[str]] = []

    async def close_lost_calls(self, node: str, before: datetime, keep: Any, spooled: Any) -> int:
        self.closed.append(set(keep))
        return 0


async def test_lost_calls_are_closed_once_the_writer_has_settled() -> None:
    ready, queries = asyncio.Event(), Queries()
    ready.set()
    writer = SimpleNamespace(settled=False)
    settings = SimpleNamespace(router=SimpleNamespace(app="callrouter", node="n1"))
    dispatcher = SimpleNamespace(board=SimpleNamespace(calls={"c1": None}))
    closing = asyncio.create_task(
        _close_lost(ready, FakeAriClient(), cast(Any, settings), cast(Any, dispatcher), cast(Any, queries),
                    datetime.now(UTC), (), cast(Any, writer))
    )  # fmt: skip
    await asyncio.sleep(0.6)
    assert queries.closed == [] and not closing.done(), "not while records are on their way"
    writer.settled = True
    await asyncio.wait_for(closing, 1)
    assert queries.closed == [{"c1"}]
