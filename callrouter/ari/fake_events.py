"""The fake Asterisk's event queue (unit tests of the shell only): when and how
the events it makes reach the sink given to ``connect``.

Each event goes later on the running loop, never from inside the REST call
that caused it, after everything due earlier or at the same time; an event
sent with a lag (the lag of Asterisk's event queue) is delivered that much
later and stamped as made that much before it arrives. What the sink raises is
kept and raised again by ``settle``, which waits until what is due has been
delivered.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from callrouter.ari import models

Sink = Callable[[models.Event], None]


@dataclass(order=True)
class Due:
    """An action that sends events, due ``at`` (the loop's time); ``cancelled``: never run."""

    at: float
    seq: int
    action: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)
    lag: float = field(default=0.0, compare=False)  # the event queue's lag it was sent with


class EventQueue:
    def __init__(self, app: str, clock: Callable[[], datetime], history: int | None = None) -> None:
        self.sink: Sink | None = None
        self.sent: deque[models.Event] = deque(maxlen=history)  # every event sent
        self._app = app
        self._clock = clock
        self._errors: list[Exception] = []
        self._queue: list[Due] = []
        self._seq = 0
        self._timer: asyncio.TimerHandle | None = None
        self._lag = 0.0  # the lag of the events being sent now (their timestamps are older)

    def later(self, delay: float, action: Callable[[], None], lag: float) -> Due:
        """Run ``action`` (which sends events) ``delay`` + ``lag`` from now,
        after everything due earlier or at the same time."""
        loop = asyncio.get_running_loop()
        self._seq += 1
        due = Due(loop.time() + max(delay, 0.0) + lag, self._seq, action, lag=lag)
        heapq.heappush(self._queue, due)
        if self._queue[0] is due:
            self._arm(loop)
        return due

    def send(self, kind: type[models.Event], **fields: Any) -> None:
        event = kind.model_validate(
            {"type": kind.__name__, "application": self._app, "timestamp": self._stamp(), **fields}
        )
        self.sent.append(event)
        if self.sink is not None:
            try:
                self.sink(event)
            except Exception as exc:  # raised again by settle, not lost in the loop's log
                self._errors.append(exc)

    async def settle(self, seconds: float = 0.0) -> None:
        """Wait until every event due up to ``seconds`` from now has been
        delivered and what the sink started in return has run; re-raises the
        first exception the sink raised."""
        loop = asyncio.get_running_loop()
        until = loop.time() + seconds
        quiet = 0
        while quiet < 20:
            self._raise_sink_error()
            nearest = self._nearest()
            now = loop.time()
            if nearest is not None and nearest <= until:
                await asyncio.sleep(max(nearest - now, 0.0))
                quiet = 0
            elif now < until:
                await asyncio.sleep(until - now)
            else:
                await asyncio.sleep(0)
                quiet += 1
        self._raise_sink_error()

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        nearest = self._nearest()
        if nearest is not None:
            self._timer = loop.call_at(nearest, self._run_due)

    def _run_due(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        while self._queue and self._queue[0].at <= loop.time():
            due = heapq.heappop(self._queue)
            if not due.cancelled:
                self._lag = due.lag
                try:
                    due.action()
                finally:
                    self._lag = 0.0
        self._arm(loop)

    def _nearest(self) -> float | None:
        while self._queue and self._queue[0].cancelled:
            heapq.heappop(self._queue)
        return self._queue[0].at if self._queue else None

    def _stamp(self) -> datetime:
        """When Asterisk made the event being sent: its lag before it is delivered
        (the router reads an event's age as how far behind it is)."""
        return self._clock() - timedelta(seconds=self._lag)

    def _raise_sink_error(self) -> None:
        if self._errors:
            error, self._errors = self._errors[0], []
            raise error
