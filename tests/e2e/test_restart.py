"""A router restart (killed, or stopped) logs nobody out and ends nobody's pause."""

from __future__ import annotations

import asyncio
import json
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from callrouter.store.queries import LOST_REASON
from devstack import sipp
from devstack.router import RouterProcess
from devstack.stack import StackInfo
from tests.e2e.conftest import log_everyone_out, start_router, wait_rows


async def queue_of(router: RouterProcess, size: int, within: float = 5, key: str = "call_id") -> list[str]:
    """The calls holding the queue's places once ``size`` are in it (adoption runs
    after the router connects: each waiting caller's place is read back from its channel)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        status, body = router.get("/queue")
        assert status == 200, body
        entries = [e[key] for e in json.loads(body)["queue"]]
        if len(entries) >= size or asyncio.get_running_loop().time() > deadline:
            return entries
        await asyncio.sleep(0.1)


def states(router: RouterProcess) -> dict[str, tuple[str, str | None]]:
    status, body = router.get("/agents")
    assert status == 200, body
    return {a["id"]: (a["state"], a["pause_reason"]) for a in json.loads(body)["agents"]}


def since_of(router: RouterProcess) -> dict[str, str | None]:
    status, body = router.get("/agents")
    assert status == 200, body
    return {a["id"]: a["since"] for a in json.loads(body)["agents"]}


async def test_agents_keep_their_states_across_restarts(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection, tmp_path: Path
) -> None:
    routers = [router]
    began = await db.fetchval("SELECT now()")
    try:
        router.login_all(["agent1", "agent2"])
        assert router.request("POST", "/agents/agent2/pause", {"reason": "lunch"})[0] == 200
        before = states(router)
        assert before["agent1"] == ("idle", None) and before["agent2"] == ("paused", "lunch")
        # In PostgreSQL before the kill (a pause is written at once, not with the next batch:
        # tests/unit/test_switchboard.py), so the restarted router reads it back.
        assert await wait_rows(
            db, "SELECT 1 FROM agent_states WHERE agent = 'agent2' AND state = 'paused' AND reason = 'lunch'",
            count=1, within=2,
        ), "the pause never reached PostgreSQL"  # fmt: skip
        since = since_of(router)
        router.kill()
        routers.append(start_router(stack, tmp_path / "after-kill"))
        assert states(routers[-1]) == before
        assert since_of(routers[-1]) == since, "idle and paused since their own change, not the restart"
        assert routers[-1].stop() == 0  # a graceful restart keeps them too
        routers.append(start_router(stack, tmp_path / "after-stop"))
        assert states(routers[-1]) == before
        assert since_of(routers[-1]) == since
        # Nothing changed, so nothing was written: the pause's own row is what each restart read.
        rows = await db.fetch(
            "SELECT agent, state, reason FROM agent_states WHERE agent = ANY($1::text[])"
            " AND at >= $2 ORDER BY at, agent",
            ["agent1", "agent2"],
            began,
        )
        assert [tuple(r) for r in rows if r["state"] != "idle" or r["reason"] != "login"] == [
            ("agent2", "paused", "lunch")
        ], "logged in (unless idle from an earlier test), paused, and nothing more"
    finally:
        last = routers[-1]
        if last.proc.poll() is None:
            for agent in ("agent1", "agent2"):
                last.request("POST", f"/agents/{agent}/logout")
            assert last.stop() == 0


@pytest.mark.parametrize("restart", ["killed", "stopped"])
async def test_a_restart_leaves_talking_callers_connected_and_waiting_ones_in_their_places(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection, tmp_path: Path, restart: str
) -> None:
    """One caller talks to agent2 and three wait (nobody else logged in); the router is
    SIGKILLed and restarted: the pair stays connected and agent2 is not rung again;
    the three stay in the queue in the order they joined, hear no menu again, and
    the first of them is the first agent1 takes."""
    talking, *callers = [f"+7906{random.randint(1_000_000, 9_999_999)}" for _ in range(4)]

    def call_in(caller: str, hold_ms: int) -> sipp.SippResult:
        return sipp.call(stack.sip_port, [(caller, "+78162700101")], hold_ms=hold_ms, keys=[(1000, "0")])

    second: RouterProcess | None = None
    phones = [sipp.Agent(stack.agent_ports["agent2"], calls=1, ring_ms=300)]
    with ThreadPoolExecutor(4) as pool:
        router.login_all(["agent2"])
        calls = [pool.submit(call_in, talking, 26000)]
        pair = await wait_rows(
            db, "SELECT call_id FROM calls WHERE caller_number = $1 AND agent = 'agent2'", talking, count=1
        )
        assert pair, "the first caller was not connected to agent2"
        for caller in callers:
            calls.append(pool.submit(call_in, caller, 22000))
            await asyncio.sleep(1.2)  # one after the other: a clear order
        rows = await wait_rows(
            db, "SELECT call_id, caller_number FROM calls WHERE caller_number = ANY($1::text[])"
            " AND queued_at IS NOT NULL ORDER BY queued_at", callers, count=3,
        )  # fmt: skip
        assert [r["caller_number"] for r in rows] == callers
        order = [str(r["call_id"]) for r in rows]
        assert await queue_of(router, len(order)) == order
        places = await queue_of(router, len(order), key="entry_id")
        assert not set(places) & set(order), "a place has an id of its own, not its call's"
        if restart == "killed":
            router.kill()
        else:
            assert router.stop() == 0  # SIGTERM: the calls stay in Asterisk for the next router
        try:
            second = start_router(stack, tmp_path / "second")
            restarted = datetime.now(UTC)
            # Talking callers are adopted before waiting ones: once the queue is back, both are.
            assert await queue_of(second, len(order)) == order, "the same callers, in order"
            assert await queue_of(second, len(order), key="entry_id") == places, "in the same places"
            assert states(second)["agent2"] == ("on_call", None), "agent2 is still talking"
            phones.append(sipp.Agent(stack.agent_ports["agent1"], calls=1, ring_ms=300))
            second.login_all(["agent1"])
            served = await wait_rows(
                db, "SELECT 1 FROM calls WHERE call_id = $1 AND agent = 'agent1'", rows[0]["call_id"],
                count=1, within=10,
            )  # fmt: skip
            assert served, "the first in line was not the first served"
        finally:
            results = [c.result() for c in calls]
            for phone in phones:
                phone.wait(30)
            if second is not None:
                log_everyone_out(second, stack)
                assert second.stop() == 0
    assert all(r.ok for r in results), [r.output[-600:] for r in results if not r.ok]
    for call_id in order:
        kinds = [
            r["kind"] for r in await db.fetch("SELECT kind FROM call_events WHERE call_id = $1", call_id)
        ]
        assert kinds.count("menu") == 1 and "resumed" in kinds, kinds
    kinds = [
        r["kind"]
        for r in await db.fetch("SELECT kind FROM call_events WHERE call_id = $1", pair[0]["call_id"])
    ]
    assert kinds.count("queued") == 1 and kinds.count("bridged") == 1 and "resumed" in kinds, kinds
    talked = await db.fetchrow("SELECT * FROM calls WHERE call_id = $1", pair[0]["call_id"])
    assert (talked["outcome"], talked["agent"]) == ("answered", "agent2")
    rung_again = await db.fetchval(
        "SELECT count(*) FROM agent_states WHERE agent = 'agent2' AND state = 'ringing' AND at >= $1",
        restarted,
    )
    assert rung_again == 0, "agent2 was rung while still talking"


async def test_a_call_that_ended_while_no_router_ran_is_closed_by_the_next(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection, tmp_path: Path
) -> None:
    """A caller waits (nobody logged in), the router is killed, and the caller hangs up
    before the next router starts: the next one closes the call's row (it stayed open
    for ever), as an abandon, at its last recorded moment, with an ended step."""
    caller = f"+7906{random.randint(1_000_000, 9_999_999)}"
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(sipp.call, stack.sip_port, [(caller, "+78162700101")], 7000, [(1000, "0")])
        queued = await wait_rows(
            db,
            "SELECT call_id FROM calls WHERE caller_number = $1 AND queued_at IS NOT NULL",
            caller,
            count=1,
        )
        assert queued, "the caller never joined the queue"
        router.kill()
        assert call.result().ok  # hung up at 7 s, while no router ran
    second = start_router(stack, tmp_path / "second")
    try:
        rows = await wait_rows(
            db, "SELECT * FROM calls WHERE call_id = $1 AND ended_at IS NOT NULL", queued[0]["call_id"],
            count=1, within=15,
        )  # fmt: skip
    finally:
        assert second.stop() == 0
    assert rows, "the call's row is still open"
    (row,) = rows
    assert (row["outcome"], row["end_reason"]) == ("abandoned", LOST_REASON)
    assert row["ended_at"] >= row["queued_at"]
    kinds = [
        r["kind"] for r in await db.fetch("SELECT kind FROM call_events WHERE call_id = $1", row["call_id"])
    ]
    assert kinds[-1] == "ended", kinds
