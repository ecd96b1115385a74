"""A router started while PostgreSQL cannot answer does not know the open callbacks
only PostgreSQL holds: it books none by hand (503, Retry-After) until it has read
them, then hands the switchboard those it did not have, and books as before (one
open callback per number)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from callrouter.api.server import build_app
from callrouter.calls.admin import CentreAdmin
from callrouter.calls.stored_callbacks import StoredCallbacks
from callrouter.core import switchboard as sb
from callrouter.core.records import CallbackRecord, CallbackState
from callrouter.metrics import Metrics
from tests.unit.admin_api.harness import AUTH, TOKEN, Abandoned, Callbacks, call
from tests.unit.switchboard import Switchboard, settle

ANNA = "+79161234567"
FOLLOW_UP = {"number": ANNA, "line": "clinic-central", "topic": "operator", "by": "agent2"}
STORED_ID = "6f1c1d8e-5d4f-4a43-9c1e-0c8f6c1b2a11"  # as PostgreSQL's uuid column spells it


def stored(board: Switchboard, callback_id: str = STORED_ID, number: str = ANNA) -> CallbackRecord:
    now = board.clock()
    return CallbackRecord(
        callback_id, now - timedelta(minutes=5), CallbackState.PENDING, number, now - timedelta(minutes=6),
        now - timedelta(minutes=7), "operator", "clinic-central", "ru", 0,
        board.dispatcher.board.rules.repeat.key_of(number),
    )  # fmt: skip


class Database:
    """PostgreSQL's open callbacks, or None while it cannot answer."""

    def __init__(self) -> None:
        self.open: list[CallbackRecord] | None = None
        self.reads = 0

    async def read(self) -> list[CallbackRecord] | None:
        self.reads += 1
        return self.open


def reader(board: Switchboard, database: Database, settled: bool = True) -> StoredCallbacks:
    dispatcher = board.dispatcher
    on_board = lambda: dispatcher.board.callbacks  # noqa: E731
    unknown = lambda: dispatcher.board.callbacks_unknown  # noqa: E731
    return StoredCallbacks(
        database.read, lambda: settled, on_board, dispatcher.restore_callbacks, 0.01, unknown
    )


async def test_no_callback_is_booked_by_hand_until_the_stored_ones_are_read(tmp_path: Path) -> None:
    board, database = Switchboard(tmp_path), Database()
    writing = await board.start()
    callbacks = reader(board, database)
    assert not await callbacks.read_now(), "PostgreSQL cannot answer"
    admin = CentreAdmin(board.dispatcher, Abandoned(), Callbacks(), board.clock, callbacks.booking_wait)
    app = build_app(Metrics(), lambda: {"ok": True}, TOKEN, admin)
    async with TestClient(TestServer(app)) as client:
        async with client.post("/callbacks", json=FOLLOW_UP, headers=AUTH) as response:
            assert response.status == 503 and response.content_type == "application/json"
            assert response.headers["Retry-After"] == "1"
            assert "not read" in (await response.json())["error"]
        assert board.dispatcher.board.callbacks == {}, "not booked: PostgreSQL may hold one to ANNA"
        database.open = [stored(board)]
        assert await callbacks.read_now()
        await settle()
        assert STORED_ID in board.dispatcher.board.callbacks, "handed to the switchboard at once"
        status, body = await call(client, "POST", "/callbacks", json=FOLLOW_UP, headers=AUTH)
        assert status == 409 and "pending" in body["error"], "ANNA's stored callback is known now"
        other = {**FOLLOW_UP, "number": "+79161234568"}
        assert (await call(client, "POST", "/callbacks", json=other, headers=AUTH))[0] == 200
    await board.quiet()
    await board.writer.close(writing)


async def test_a_callback_on_the_board_is_not_handed_again_however_its_id_is_spelt(tmp_path: Path) -> None:
    board, database = Switchboard(tmp_path), Database()
    writing = await board.start()
    restored: list[list[CallbackRecord]] = []
    on_board = lambda: board.dispatcher.board.callbacks  # noqa: E731
    callbacks = StoredCallbacks(database.read, lambda: True, on_board, restored.append)
    board.dispatcher.restore_callbacks([stored(board, STORED_ID.replace("-", ""))])
    other = stored(board, "0c1d8e6f-5d4f-4a43-9c1e-0c8f6c1b2a12", "+79161234568")
    database.open = [stored(board), other]
    assert await callbacks.read_now()
    assert restored == [[other]], "the board's own, written with dashes by PostgreSQL, is not a second one"
    assert callbacks.booking_wait() is None
    await board.quiet()
    await board.writer.close(writing)


async def test_they_are_read_again_only_once_all_written_has_landed(tmp_path: Path) -> None:
    board, database = Switchboard(tmp_path), Database()
    board.dispatcher.step(sb.RestoreCallbacks((), complete=False))  # as app.py starts
    unsettled = reader(board, database, settled=False)
    running = asyncio.create_task(unsettled.run())
    await asyncio.sleep(0.05)
    assert database.reads == 0 and unsettled.booking_wait() == 1, "a PostgreSQL behind this process: not yet"
    running.cancel()
    callbacks = reader(board, database)
    running = asyncio.create_task(callbacks.run())
    await asyncio.sleep(0.05)
    assert database.reads > 0 and not running.done(), "read again while PostgreSQL cannot answer"
    database.open = [stored(board)]
    await asyncio.wait_for(running, 1)
    assert callbacks.read and board.dispatcher.board.callbacks == {}, "before the first connect: kept for it"
    assert callbacks.booking_wait() == 1, "read, not yet on the switchboard: none booked meanwhile"
    writing = await board.start()
    assert STORED_ID in board.dispatcher.board.callbacks and callbacks.booking_wait() is None
    await board.quiet()
    await board.writer.close(writing)


async def test_the_switchboard_books_none_for_callers_either_until_they_are_read(tmp_path: Path) -> None:
    board, database = Switchboard(tmp_path), Database()
    board.dispatcher.restore_callbacks([], complete=False)  # the start's read failed: the spool's only
    writing = await board.start()
    assert board.dispatcher.board.callbacks_unknown, "a caller's callback would be refused"
    database.open = [stored(board)]
    assert await reader(board, database).read_now()
    await settle()
    state = board.dispatcher.board
    assert not state.callbacks_unknown and STORED_ID in state.callbacks
    await board.quiet()
    await board.writer.close(writing)


async def test_read_at_the_start_none_is_booked_until_the_first_connect_hands_them(tmp_path: Path) -> None:
    """PostgreSQL answered at the start, Asterisk is not there yet: a callback booked then
    for a number with a stored open one made a second (refused by PostgreSQL later) and
    the stored one was never dialled. None is booked until the switchboard has them."""
    board, database = Switchboard(tmp_path), Database()
    board.dispatcher.step(sb.RestoreCallbacks((), complete=False))  # as app.py starts
    database.open = [stored(board)]
    callbacks = reader(board, database)
    assert await callbacks.read_now()  # the start's read
    assert callbacks.booking_wait() == 1, "not on the switchboard yet"
    admin = CentreAdmin(board.dispatcher, Abandoned(), Callbacks(), board.clock, callbacks.booking_wait)
    app = build_app(Metrics(), lambda: {"ok": True}, TOKEN, admin)
    async with TestClient(TestServer(app)) as client:
        async with client.post("/callbacks", json=FOLLOW_UP, headers=AUTH) as response:
            assert response.status == 503
        writing = await board.start()  # the first connect
        assert list(board.dispatcher.board.callbacks) == [STORED_ID] and callbacks.booking_wait() is None
        status, body = await call(client, "POST", "/callbacks", json=FOLLOW_UP, headers=AUTH)
        assert status == 409 and "pending" in body["error"], "ANNA's stored callback is the one"
    await board.quiet()
    await board.writer.close(writing)
