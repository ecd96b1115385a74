"""PostgreSQL stops while real calls flow and the router is killed in the middle of the
outage: afterwards PostgreSQL holds every call, every step of every call's timeline and
every agent state change the routers produced, and nothing was set aside."""

from __future__ import annotations

import asyncio
import json
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from prometheus_client.parser import text_string_to_metric_families

from devstack import postgres, sipp
from devstack.router import RouterProcess
from devstack.stack import StackInfo
from tests.e2e.conftest import log_everyone_out, start_router

AGENTS = ("agent1", "agent2")


def produced(router: RouterProcess) -> dict[str, float]:
    """What this router handed to its record writer, by record type."""
    out = {}
    for family in text_string_to_metric_families(router.metrics()):
        for sample in family.samples:
            if sample.name == "callrouter_records_produced_total":
                out[sample.labels["type"]] = sample.value
    return out


def answered_calls(stack: StackInfo, router: RouterProcess) -> list[str]:
    """Two callers press 0 (operator) and talk to an agent until they hang up."""
    callers = [f"+7905{random.randint(1_000_000, 9_999_999)}" for _ in AGENTS]
    softphones = [sipp.Agent(stack.agent_ports[a], calls=1, ring_ms=300) for a in AGENTS]
    router.login_all(list(AGENTS))
    try:
        result = sipp.call(stack.sip_port, [(c, "+78162700101") for c in callers], 4000, [(900, "0")])
    finally:
        results = [phone.wait(30) for phone in softphones]
        for agent in AGENTS:
            router.request("POST", f"/agents/{agent}/logout")
    assert result.ok, result.output[-1500:]
    assert all(r.successful == 1 for r in results), [r.output[-800:] for r in results]
    return callers


def until(check: object, what: str, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"not reached within {within} s: {what}")


async def test_an_outage_with_a_killed_router_loses_no_record(stack: StackInfo, tmp_path: Path) -> None:
    cluster = Path(stack.pg_dir)
    since = datetime.now(UTC)
    first = start_router(stack, tmp_path)  # the same spool folder for both routers
    second: RouterProcess | None = None
    counts: list[dict[str, float]] = []
    try:
        callers = answered_calls(stack, first)  # the database is up
        await asyncio.to_thread(postgres.stop, cluster)
        try:
            callers += answered_calls(stack, first)
            until(lambda: first.health()["database_up"] is False, "the router sees the outage")
            await asyncio.sleep(1)  # the last records reach the spool's file within a loop turn
            counts.append(produced(first))
            first.kill()  # a crash in the middle of the outage

            second = start_router(stack, tmp_path)
            assert second.health()["record_backlog"] > 0, "the new router finds the spool"
            callers += answered_calls(stack, second)
        finally:
            await asyncio.to_thread(postgres.start, cluster, stack.pg_port, stack.pg_password)
        router = second
        until(lambda: router.health()["record_backlog"] == 0, "the spool replayed")
        until(lambda: router.health()["database_up"] is True, "the database is back")
        counts.append(produced(second))
    finally:
        for router_process in (first, second):
            if router_process is not None and router_process.proc.poll() is None:
                router_process.stop()

    conn = await asyncpg.connect(stack.dsn(), password=stack.pg_password)
    try:
        calls = await conn.fetch(
            "SELECT * FROM calls WHERE caller_number = ANY($1::text[]) ORDER BY started_at", callers
        )
        assert sorted(c["caller_number"] for c in calls) == sorted(callers), "one row per call, none twice"
        for call in calls:
            assert call["outcome"] == "answered" and call["agent"] in AGENTS, dict(call)
            for column in ("answered_at", "queued_at", "agent_answered_at", "ended_at", "topic", "menu_path"):
                assert call[column] is not None, (column, dict(call))
        call_ids = [c["call_id"] for c in calls]
        events = await conn.fetch(
            "SELECT call_id, kind FROM call_events WHERE call_id = ANY($1::uuid[]) ORDER BY at, id", call_ids
        )
        for call_id in call_ids:
            kinds = [e["kind"] for e in events if e["call_id"] == call_id]
            assert kinds[0] == "arrived" and kinds[-1] == "ended", kinds
            assert {"menu", "key", "queued", "offered", "bridged"} <= set(kinds), kinds
        states = await conn.fetchval(
            "SELECT count(*) FROM agent_states WHERE agent = ANY($1::text[]) AND at >= $2",
            list(AGENTS),
            since,
        )
    finally:
        await conn.close()
    # Record by record: every event and agent state the two routers produced is in PostgreSQL.
    assert len(events) == sum(c.get("call_event", 0) for c in counts)
    assert states == sum(c.get("agent_state", 0) for c in counts)
    assert not (tmp_path / "spool" / "records.bad").exists()
    assert not (tmp_path / "spool" / "records.unreadable").exists()


def agents_of(router: RouterProcess) -> dict[str, tuple[str, str | None]]:
    status, body = router.get("/agents")
    assert status == 200, body
    return {a["id"]: (a["state"], a["pause_reason"]) for a in json.loads(body)["agents"] if a["id"] in AGENTS}


async def test_a_router_started_while_postgresql_is_down_gives_agents_their_states_once_it_is_back(
    stack: StackInfo, tmp_path: Path
) -> None:
    """agent1 idle, agent2 paused for lunch, both written to PostgreSQL; the router is
    stopped, PostgreSQL too, and a new router starts: it cannot know their states
    (nothing spooled), so they are logged out and /health says ``agents_known``
    false. Once PostgreSQL is back, both have their states again without logging in."""
    cluster = Path(stack.pg_dir)
    first = start_router(stack, tmp_path / "first")
    second: RouterProcess | None = None
    try:
        first.login_all(list(AGENTS))
        assert first.request("POST", "/agents/agent2/pause", {"reason": "lunch"})[0] == 200
        before = agents_of(first)
        assert before == {"agent1": ("idle", None), "agent2": ("paused", "lunch")}
        assert first.stop() == 0  # every record written: nothing left in its spool
        await asyncio.to_thread(postgres.stop, cluster)
        try:
            second = start_router(stack, tmp_path / "second")
            health = second.health()
            assert health["agents_known"] is False and health["database_up"] is not True, health
            assert agents_of(second) == {a: ("logged_out", None) for a in AGENTS}, "not known yet"
        finally:
            await asyncio.to_thread(postgres.start, cluster, stack.pg_port, stack.pg_password)
        router = second
        until(lambda: router.health()["agents_known"] is True, "the agents' states read", within=20)
        assert agents_of(router) == before, "their states, without logging in again"
    finally:
        for process in (first, second):
            if process is not None and process.proc.poll() is None:
                log_everyone_out(process, stack)
                assert process.stop() == 0
