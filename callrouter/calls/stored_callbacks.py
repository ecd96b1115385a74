"""The open callbacks stored before this start, until PostgreSQL has told them once.

At start the switchboard is handed the open callbacks PostgreSQL and the spool
hold (``restore_callbacks``, from app.py). A PostgreSQL that cannot answer then leaves unknown those only it
holds: a callback booked now for one of their numbers would be a second open
callback to that number, dialled meanwhile and refused by PostgreSQL later
(``records.bad``). So until they have been read, no callback is booked by hand
(the admin API answers 503 with Retry-After), and they are read again every
``retry_seconds`` once everything this process wrote has landed (PostgreSQL then
knows what became of the callbacks this process restored or made); those not on
the switchboard are handed to it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from callrouter.calls.reread import RETRY_SECONDS, until_read
from callrouter.core.records import CallbackRecord, Record, callback_key
from callrouter.core.switchboard import RestoreCallbacks
from callrouter.store.queries import Queries
from callrouter.store.restore import named_callbacks, spooled_open_callbacks, stored_open_callbacks
from callrouter.store.writer import RecordWriter

if TYPE_CHECKING:
    from callrouter.calls.dispatcher import Dispatcher

log = logging.getLogger(__name__)


class StoredCallbacks:
    def __init__(
        self,
        read: Callable[[], Awaitable[list[CallbackRecord] | None]],
        settled: Callable[[], bool],
        on_board: Callable[[], Iterable[str]],
        restore: Callable[[list[CallbackRecord]], None],
        retry_seconds: float = RETRY_SECONDS,
        unknown: Callable[[], bool] = lambda: False,
    ) -> None:
        """``read``: the open callbacks PostgreSQL holds, None when it cannot answer;
        ``settled``: whether every record written so far is in PostgreSQL; ``on_board``:
        the ids of the switchboard's callbacks; ``restore``: hands callbacks to it;
        ``unknown``: whether the switchboard does not have them yet (they are handed
        at the first connect to Asterisk: ``Board.callbacks_unknown``)."""
        self._read = read
        self._settled = settled
        self._on_board = on_board
        self._restore = restore
        self._unknown = unknown
        self.retry_seconds = retry_seconds
        self.read = False

    def booking_wait(self) -> int | None:
        """None once read and on the switchboard; until then the seconds to wait before
        asking to book again."""
        return None if self.read and not self._unknown() else math.ceil(self.retry_seconds)

    async def run(self) -> None:
        """Read until read once (at once if the start's read did it)."""
        if not self.read:
            await until_read(self.read_now, self._settled, self.retry_seconds, "the open callbacks")

    async def read_now(self) -> bool:
        """Read them now: True when PostgreSQL answered. A callback on the board while
        the answer was on its way is this process's, however PostgreSQL has it."""
        before = self._board_keys()
        callbacks = await self._read()
        if callbacks is None:
            return False
        known = before | self._board_keys()
        found = [c for c in callbacks if callback_key(c.callback_id) not in known]
        self.read = True
        if found:
            log.info("%d open callback(s) read from the database after the start", len(found))
        self._restore(found)
        return True

    def _board_keys(self) -> set[str]:
        return {callback_key(callback_id) for callback_id in self._on_board()}


async def restore_callbacks(
    dispatcher: Dispatcher, writer: RecordWriter, queries: Queries, spooled: list[Record]
) -> StoredCallbacks:
    """The open callbacks stored before this start, for the switchboard; read again while
    PostgreSQL could not tell them (the spool's only: none booked meanwhile), once all
    this process wrote has landed there (``StoredCallbacks``). A restart finding a
    callback's conversation reads that callback, in any state."""
    # None booked, by an operator or a caller, until the stored ones are on the switchboard
    # (handed at the first connect to Asterisk): one of them may be for the same number.
    dispatcher.step(RestoreCallbacks((), complete=False))
    callbacks = StoredCallbacks(
        lambda: stored_open_callbacks(queries, ()),
        lambda: writer.settled,
        lambda: dispatcher.board.callbacks,
        dispatcher.restore_callbacks,
        unknown=lambda: dispatcher.board.callbacks_unknown,
    )
    dispatcher.read_callbacks_with(lambda ids: named_callbacks(queries, ids, spooled))
    read = await stored_open_callbacks(queries, spooled)
    if read is None:
        dispatcher.restore_callbacks(spooled_open_callbacks(spooled), complete=False)
    else:
        dispatcher.restore_callbacks(read)
    callbacks.read = read is not None  # if not, read again (and none booked by hand) until read
    return callbacks
