"""End-to-end fixtures: the real dev stack (Asterisk 22 + PostgreSQL) and the
real router as a separate process. Nothing here is mocked and nothing skips:
a missing part is set up, or the test fails."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from bench.observer import Observer
from devstack.configs import clockless_config
from devstack.stack import REPO, Stack, StackInfo
from devstack.util import free_port

CONFIG = REPO / ".run" / "callrouter.test.toml"


def write_test_config() -> Path:
    """The clock-independent config, with booking appointments overflowing after 6 s."""
    clockless_config(CONFIG)
    text = CONFIG.read_text()
    booking = "[topics.appointment_book]\nmax_wait_seconds = 900"
    assert booking in text
    CONFIG.write_text(text.replace(booking, "[topics.appointment_book]\nmax_wait_seconds = 6"))
    return CONFIG


@pytest.fixture(scope="session")
def stack() -> Iterator[StackInfo]:
    write_test_config()
    stack = Stack("test")
    info = stack.up()
    env = dict(os.environ, **info.env())
    subprocess.run(
        [sys.executable, "-m", "callrouter", "migrate", "-c", str(CONFIG)], check=True, env=env, cwd=REPO
    )
    yield info
    stack.down()


@dataclass
class RouterProcess:
    proc: subprocess.Popen[bytes]
    admin_url: str
    log_path: Path
    spool_dir: Path

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.admin_url + path, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def health(self) -> dict[str, object]:
        return dict(json.loads(self.get("/health")[1]))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=20)

    def kill(self) -> None:
        """Die without a chance to clean up (as in a crash)."""
        self.killed = True
        self.stop(signal.SIGKILL)

    killed: bool = False


def start_router(info: StackInfo, tmp_path: Path, extra_env: dict[str, str] | None = None) -> RouterProcess:
    port = free_port()
    spool = tmp_path / "spool"
    env = dict(
        os.environ,
        **info.env(),
        CALLROUTER_ADMIN_BIND=f"127.0.0.1:{port}",
        CALLROUTER_SPOOL_DIR=str(spool),
        CALLROUTER_ADMIN_TOKEN="test-token",
        **(extra_env or {}),
    )
    tmp_path.mkdir(parents=True, exist_ok=True)
    log_path = tmp_path / f"router-{port}.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "callrouter", "--log-format", "json", "run", "-c", str(CONFIG)],
            env=env,
            cwd=REPO,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    router = RouterProcess(proc, f"http://127.0.0.1:{port}", log_path, spool)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"router exited {proc.returncode}:\n{router.log()}")
        try:
            if router.health().get("ari_connected"):
                return router
        except OSError:
            pass
        time.sleep(0.1)
    router.stop()
    raise AssertionError(f"router did not connect to ARI:\n{router.log()}")


@pytest.fixture
def router(stack: StackInfo, tmp_path: Path) -> Iterator[RouterProcess]:
    router = start_router(stack, tmp_path)
    yield router
    code = router.stop()
    assert router.killed or code == 0, f"router exited {code}:\n{router.log()}"


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
    headers = {"Authorization": "Bearer test-token"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.request(method, router.admin_url + path, json=body) as response,
    ):
        return response.status, await response.json()
