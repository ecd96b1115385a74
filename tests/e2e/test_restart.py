"""A router restart (killed, or stopped) logs nobody out and ends nobody's pause."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg

from devstack.router import RouterProcess
from devstack.stack import StackInfo
from tests.e2e.conftest import start_router, wait_rows


def states(router: RouterProcess) -> dict[str, tuple[str, str | None]]:
    status, body = router.get("/agents")
    assert status == 200, body
    return {a["id"]: (a["state"], a["pause_reason"]) for a in json.loads(body)["agents"]}


async def test_agents_keep_their_states_across_restarts(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection, tmp_path: Path
) -> None:
    routers = [router]
    try:
        router.login_all(["agent1", "agent2"])
        assert router.request("POST", "/agents/agent2/pause", {"reason": "lunch"})[0] == 200
        before = states(router)
        assert before["agent1"] == ("idle", None) and before["agent2"] == ("paused", "lunch")
        # Written at once, not with the next batch: a crash right after loses nothing.
        await wait_rows(
            db, "SELECT 1 FROM agent_states WHERE agent = 'agent2' AND state = 'paused' AND reason = 'lunch'",
            count=1, within=2,
        )  # fmt: skip
        router.kill()
        routers.append(start_router(stack, tmp_path / "after-kill"))
        assert states(routers[-1]) == before
        assert routers[-1].stop() == 0  # a graceful restart keeps them too
        routers.append(start_router(stack, tmp_path / "after-stop"))
        assert states(routers[-1]) == before
        # The timeline says so (a pause keeps its own reason, which the next restart reads).
        restored = await db.fetchval(
            "SELECT count(*) FROM agent_states WHERE agent = 'agent1' AND state = 'idle'"
            " AND reason = 'restored after a restart' AND at >= now() - interval '1 minute'"
        )
        pauses = await db.fetchval(
            "SELECT count(*) FROM agent_states WHERE agent = 'agent2' AND state = 'paused'"
            " AND reason = 'lunch' AND at >= now() - interval '1 minute'"
        )
        assert (restored, pauses) == (2, 3)
    finally:
        last = routers[-1]
        if last.proc.poll() is None:
            for agent in ("agent1", "agent2"):
                last.request("POST", f"/agents/{agent}/logout")
            assert last.stop() == 0
