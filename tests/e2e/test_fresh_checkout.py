"""The stack from a checkout only root may enter (``git clone`` into root's
0700 home): PostgreSQL's files live where the ``postgres`` user can reach
them, and ``down`` leaves no process and no folder of the cluster behind."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from devstack.stack import REPO
from devstack.util import pid_alive

CLUSTERS = Path("/var/lib/callrouter-dev")  # where PostgreSQL's files go, whoever may enter the checkout


def copy_checkout(target: Path) -> None:
    """The files git would commit from this working tree (changes not yet
    committed included), plus the prompt audio cache (made from the same words)."""
    listing = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    names = subprocess.run(listing, cwd=REPO, capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, names):
        source = REPO / os.fsdecode(name)
        if source.is_file():
            (target / os.fsdecode(name)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / os.fsdecode(name))
    if (REPO / "prompts/audio").is_dir():
        shutil.copytree(REPO / "prompts/audio", target / "prompts/audio")


def devstack(checkout: Path, command: str, name: str) -> subprocess.CompletedProcess[str]:
    """``python -m devstack`` of the copy (its folder comes first on the path)."""
    env = dict(os.environ, PYTHONPATH=str(checkout))
    return subprocess.run(
        [sys.executable, "-m", "devstack", command, "--name", name],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
    )


def processes_of(*paths: Path) -> list[int]:
    """Processes whose command line names one of ``paths`` or whose root is inside one."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            root = str((proc / "root").readlink())
        except OSError:
            continue
        if any(str(path) in cmdline or root.startswith(str(path)) for path in paths):
            found.append(int(proc.name))
    return found


@pytest.fixture
def closed_home() -> Iterator[Path]:
    """A folder like root's home: 0700."""
    home = Path(tempfile.mkdtemp(prefix="callrouter-home-"))
    assert home.stat().st_mode & 0o777 == 0o700
    yield home
    with open("/proc/self/mounts") as mounts:
        if str(home) in mounts.read():
            return  # something of the stack is still mounted there: leave it to be looked at
    shutil.rmtree(home)


async def answers(env: dict[str, str]) -> tuple[str, str]:
    """PostgreSQL's current user and ARI's ping reply, reached as a router would."""
    db = await asyncpg.connect(env["CALLROUTER_DATABASE_DSN"], password=env["CALLROUTER_DATABASE_PASSWORD"])
    user = str(await db.fetchval("SELECT current_user"))
    await db.close()
    headers = {
        "Authorization": aiohttp.encode_basic_auth(env["CALLROUTER_ARI_USER"], env["CALLROUTER_ARI_PASSWORD"])
    }
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.get(env["CALLROUTER_ARI_URL"] + "/ari/asterisk/ping") as reply,
    ):
        return user, str((await reply.json())["ping"])


@pytest.mark.timeout(300)
def test_stack_runs_from_a_checkout_only_root_may_enter(closed_home: Path) -> None:
    checkout = closed_home / "callrouter"
    copy_checkout(checkout)
    name = f"closed{os.getpid()}"
    try:
        up = devstack(checkout, "up", name)
        assert up.returncode == 0, up.stderr[-3000:]
        status = json.loads(devstack(checkout, "status", name).stdout)
        assert status["run_dir"] == str(checkout / ".run" / name), "the copy's devstack ran"
        pg_dir = Path(status["pg_dir"])
        assert pg_dir.parent == CLUSTERS
        exports = devstack(checkout, "env", name).stdout.splitlines()  # export KEY='value'
        env = dict(shlex.split(row)[1].split("=", 1) for row in exports)
        assert asyncio.run(answers(env)) == ("callrouter", "pong")
        postmaster = int((pg_dir / "pg/data/postmaster.pid").read_text().split()[0])
        assert {postmaster, status["asterisk_pid"]} <= set(processes_of(pg_dir, checkout))

        down = devstack(checkout, "down", name)
        assert down.returncode == 0, down.stderr[-3000:]
        assert not pg_dir.exists()
        assert not pid_alive(postmaster) and not pid_alive(status["asterisk_pid"])
        assert processes_of(pg_dir, checkout) == []
        assert closed_home.stat().st_mode & 0o777 == 0o700, "the home was left as it was"
    finally:
        devstack(checkout, "down", name)
