"""End-to-end fixtures: the real dev stack (Asterisk 22 + PostgreSQL) and the
real router as a separate process. Nothing here is mocked and nothing skips:
a missing part is set up, or the test fails."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from bench.observer import Observer
from devstack.configs import clockless_config
from devstack.router import RouterProcess, migrate
from devstack.stack import REPO, Stack, StackInfo

# The gate runs the end-to-end tests in two streams side by side (Makefile), each on its
# own stack (Asterisk, PostgreSQL) and with its own copy of the test config.
STACK = os.environ.get("CALLROUTER_E2E_STACK", "test")
CONFIG = REPO / ".run" / f"callrouter.{STACK}.toml"
ADMIN_TOKEN = "e2e-admin-token-0123456789"  # the router refuses a token under 16 characters


# What the tests change in the clock-independent config: booking appointments
# overflow after 6 s; a callback is offered at the first honest wait estimate (it
# is a whole minute at least), its person's phone rings 3 s, a callback that was
# not answered is tried again 2 s later, twice at most; and results calls quicker.
CHANGES = {
    "[topics.appointment_book]\nmax_wait_seconds = 900": "[topics.appointment_book]\nmax_wait_seconds = 6",
    "offer_after_seconds = 300 ": "offer_after_seconds = 60 ",
    "retry_seconds = 300 ": "retry_seconds = 2 ",
    "max_attempts = 3 ": "max_attempts = 2 ",
    "ring_seconds = 30             #": "ring_seconds = 3             #",
    # Results calls: the patient's phone rings 4 s, 4 s of silence ends the keying, a
    # look for due results every second; not answered: tried again 2 s later, twice at most.
    "ring_seconds = 30                  #": "ring_seconds = 4                  #",
    "consult_topic = ": "key_seconds = 4\npoll_seconds = 1\nconsult_topic = ",
    "after_seconds = 1800\nmax_attempts = 4": "after_seconds = 2\nmax_attempts = 2",  # no answer
}


def write_test_config() -> Path:
    """The clock-independent config with ``CHANGES``."""
    clockless_config(CONFIG)
    text = CONFIG.read_text()
    for old, new in CHANGES.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    CONFIG.write_text(text)
    return CONFIG


@pytest.fixture(scope="session")
def stack() -> Iterator[StackInfo]:
    write_test_config()
    stack = Stack(STACK)
    info = stack.up()
    migrate(info, CONFIG)
    yield info
    if os.environ.get("CALLROUTER_KEEP_STACK"):
        return  # left up to be inspected (./dev.sh down, or python -m devstack down --name test)
    stack.down()


def start_router(info: StackInfo, tmp_path: Path, config: Path = CONFIG) -> RouterProcess:
    return RouterProcess(info, config, tmp_path / "router.log", tmp_path / "spool", ADMIN_TOKEN)


@pytest.fixture
def router(stack: StackInfo, tmp_path: Path) -> Iterator[RouterProcess]:
    router = start_router(stack, tmp_path)
    yield router
    if router.proc.poll() is None:
        log_everyone_out(router, stack)
    code = router.stop()
    assert router.killed or code == 0, f"router exited {code}:\n{router.log()}"


def log_everyone_out(router: RouterProcess, stack: StackInfo) -> None:
    """Leave agents as every test finds them: a restarted router gives agents back
    their last states, and the stack's database is shared by the whole suite."""
    for agent in stack.agent_ports:
        router.request("POST", f"/agents/{agent}/logout")


@pytest.fixture
async def db(stack: StackInfo) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(stack.dsn(), password=stack.pg_password)
    yield conn
    await conn.close()


async def wait_rows(
    conn: asyncpg.Connection, sql: str, *args: object, count: int, within: float = 20
) -> list[asyncpg.Record]:
    """Poll until the query returns ``count`` rows (the writer batches)."""
    deadline = time.monotonic() + within
    rows: list[asyncpg.Record] = []
    while time.monotonic() < deadline:
        rows = await conn.fetch(sql, *args)
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.2)
    return rows


class AriObserver(Observer):
    """The benchmark's passive observer, unfiltered: a test sees everything that
    happened on Asterisk (playbacks, bridges, hang-ups) without touching the
    router's own application."""

    def __init__(self, info: StackInfo) -> None:
        super().__init__(info.ari_url, info.ari_user, info.ari_password, app="test-observer", allowed=None)


async def admin(router: RouterProcess, method: str, path: str, body: object = None) -> tuple[int, object]:
    headers = {"Authorization": f"Bearer {router.token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.request(method, router.admin_url + path, json=body) as response,
    ):
        return response.status, await response.json()
