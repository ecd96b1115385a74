"""Repeat callers for real: one person (their number), one place in line. A
second call while the first waits takes its place over and the first is told
and released; a caller who hung up and redials within the window gets their
old place back, ahead of whoever joined in between."""

from __future__ import annotations

import asyncio
import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg

from devstack import sipp
from devstack.router import RouterProcess
from devstack.stack import StackInfo
from tests.e2e.conftest import AriObserver, admin, wait_rows

CENTRAL, NORTH = "+78162700101", "+78162700102"  # two clinics' lines (Russian): "0" for an operator
CALLS = "SELECT * FROM calls WHERE caller_number = $1 ORDER BY started_at"


def number() -> str:
    return f"+7907{random.randint(1_000_000, 9_999_999)}"


async def queue(router: RouterProcess) -> list[dict[str, Any]]:
    status, body = await admin(router, "GET", "/queue")
    assert status == 200, body
    return list(body["queue"])  # type: ignore[index]


async def queued(router: RouterProcess, call_ids: list[str], within: float = 10) -> list[dict[str, Any]]:
    """The queue once it is these calls' places, in this order."""
    deadline = time.monotonic() + within
    while True:
        entries = await queue(router)
        if [e["call_id"] for e in entries] == call_ids or time.monotonic() > deadline:
            return entries
        await asyncio.sleep(0.1)


async def calls_of(
    db: asyncpg.Connection, caller: str, count: int, ended: bool = False
) -> list[asyncpg.Record]:
    sql = CALLS.replace(" ORDER", " AND ended_at IS NOT NULL ORDER") if ended else CALLS
    rows = await wait_rows(db, sql, caller, count=count)
    assert len(rows) == count, rows
    return rows


async def test_a_second_call_while_the_first_waits_takes_its_place_and_the_first_is_released(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
):
    """No agent is logged in. The caller waits on one clinic's line and calls another
    from a second phone (the same caller ID): one place in the queue, now the new
    call's; the first call hears why and is hung up."""
    caller = number()
    async with AriObserver(stack) as observer:
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(sipp.call, stack.sip_port, [(caller, CENTRAL)], 30000, [(800, "0")])
            (older,) = await calls_of(db, caller, 1)
            older_id = str(older["call_id"])
            (place,) = await queued(router, [older_id])
            second = pool.submit(sipp.call, stack.sip_port, [(caller, NORTH)], 4000, [(800, "0")])
            _, newer = await calls_of(db, caller, 2)
            newer_id = str(newer["call_id"])
            taken_over = await queued(router, [newer_id])
            results = [first.result(), second.result()]
        old, new = await calls_of(db, caller, 2, ended=True)
        heard = {
            (
                e["playback"]["target_uri"].removeprefix("channel:"),
                e["playback"]["media_uri"].rsplit("/", 1)[-1],
            )
            for e in observer.of_type("PlaybackStarted")
        }
    assert all(r.ok for r in results), [r.output[-800:] for r in results if not r.ok]
    # One place, the same one, now the newer call's.
    assert [(e["entry_id"], e["line"]) for e in taken_over] == [(place["entry_id"], "clinic-north")]
    places = await db.fetch(
        "SELECT DISTINCT place_id FROM places WHERE call_id = ANY($1::uuid[])",
        [old["call_id"], new["call_id"]],
    )
    assert [r["place_id"] for r in places] == [place["entry_id"]]
    # The older call was told and hung up by the router (its caller would have waited 30 s).
    assert old["outcome"] == "replaced", dict(old)
    assert (old["channel_id"], "repeat_replaced") in heard
    assert (old["ended_at"] - old["started_at"]).total_seconds() < 20
    assert (new["repeat_kind"], str(new["repeat_of"])) == ("already_waiting", older_id)
    assert (new["channel_id"], "repeat_kept_place") in heard
    assert new["queued_at"] == old["queued_at"], "the place's join time"


async def test_a_caller_who_hangs_up_and_calls_again_is_served_before_one_who_joined_in_between(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
):
    """Nobody is logged in. The caller waits 7 s and hangs up (abandoned); another
    caller joins meanwhile; the first calls again (menu skipped: the place's topic
    is known) and is back in their place, first. Then an agent logs in: their
    phone rings for the redialler first, then for the other caller."""
    redialler, other = number(), number()
    agent = sipp.Agent(stack.agent_ports["agent1"], calls=2, ring_ms=300, talk_ms=2000, timeout_s=60)
    try:
        with ThreadPoolExecutor(2) as pool:
            gave_up = pool.submit(sipp.call, stack.sip_port, [(redialler, CENTRAL)], 7000, [(800, "0")])
            (abandoned,) = await calls_of(db, redialler, 1)
            await queued(router, [str(abandoned["call_id"])])
            waiting = pool.submit(sipp.call, stack.sip_port, [(other, NORTH)], 30000, [(800, "0")])
            (between,) = await calls_of(db, other, 1)
            assert gave_up.result().ok
            again = pool.submit(sipp.call, stack.sip_port, [(redialler, NORTH)], 30000)
            _, redial = await calls_of(db, redialler, 2)
            order = await queued(router, [str(redial["call_id"]), str(between["call_id"])])
            assert [e["call_id"] for e in order] == [str(redial["call_id"]), str(between["call_id"])], order
            assert (await admin(router, "POST", "/agents/agent1/login"))[0] == 200
            results = [waiting.result(), again.result()]
    finally:
        agent_result = agent.wait(30)
    assert all(r.ok for r in results), [r.output[-800:] for r in results if not r.ok]
    assert agent_result.ok and agent_result.successful == 2, agent_result.output[-1500:]
    # What the agent's phone showed, call by call: the redialler first.
    assert [shown.split("<sip:")[1].split("@")[0] for shown in agent.froms] == [redialler, other]
    first, second = await calls_of(db, redialler, 2, ended=True)
    (between,) = await calls_of(db, other, 1, ended=True)
    assert first["outcome"] == "abandoned", dict(first)
    assert (second["repeat_kind"], second["repeat_of"]) == ("resumed", first["call_id"])
    assert second["queued_at"] == first["queued_at"] < between["queued_at"], "their first join time"
    assert (second["outcome"], second["agent"], second["menu_path"]) == ("answered", "agent1", None)
    # Bridged at once (the greeting was still playing), and talked until the agent hung up (2 s).
    talked = (second["ended_at"] - second["agent_answered_at"]).total_seconds()
    assert second["end_reason"] == "agent hung up" and 1 < talked < 4, (second["end_reason"], talked)
    # Followed up: the abandoned call is off the operators' list of people to phone back.
    _, body = await admin(router, "GET", "/calls/abandoned")
    assert str(first["call_id"]) not in {c["call_id"] for c in body["calls"]}  # type: ignore[index]


async def agent_state(router: RouterProcess, agent_id: str, state: str, within: float = 15) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        _, body = await admin(router, "GET", "/agents")
        if {a["id"]: a["state"] for a in body["agents"]}.get(agent_id) == state:  # type: ignore[index]
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{agent_id} never {state}")


async def test_a_second_call_while_an_agent_rings_for_the_first_is_the_one_the_agent_talks_to(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
):
    """agent1's phone rings 3 s (of the 4 s ring timeout) for the person's first call;
    they call again from another phone meanwhile. The new call takes the place over, and
    the agent who answers talks to it: its channel uses the bridge the first call's made
    for the place (making it again was refused, 409, and both of the person's calls were
    hung up on the agent)."""
    caller = number()
    agent = sipp.Agent(stack.agent_ports["agent1"], calls=1, ring_ms=3000, talk_ms=2000, timeout_s=60)
    try:
        assert (await admin(router, "POST", "/agents/agent1/login"))[0] == 200
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(sipp.call, stack.sip_port, [(caller, CENTRAL)], 30000, [(800, "0")])
            await agent_state(router, "agent1", "ringing")
            second = pool.submit(sipp.call, stack.sip_port, [(caller, NORTH)], 30000, [(800, "0")])
            results = [first.result(), second.result()]
    finally:
        agent_result = agent.wait(30)
    old, new = await calls_of(db, caller, 2, ended=True)
    assert old["outcome"] == "replaced", dict(old)
    assert (new["repeat_kind"], new["repeat_of"]) == ("already_waiting", old["call_id"])
    events = [
        (r["kind"], r["detail"])
        for r in await db.fetch(
            "SELECT * FROM call_events WHERE call_id = ANY($1::uuid[]) ORDER BY at, id",
            [old["call_id"], new["call_id"]],
        )
    ]
    states = [
        (r["state"], r["reason"])
        for r in await db.fetch(
            "SELECT * FROM agent_states WHERE agent = 'agent1' AND at >= $1 ORDER BY at", old["started_at"]
        )
    ]
    outcome = (new["outcome"], new["agent"], new["end_reason"])
    assert outcome == ("answered", "agent1", "agent hung up"), (outcome, events, states)
    talked = (new["ended_at"] - new["agent_answered_at"]).total_seconds()
    assert 1 < talked < 4, talked
    assert all(r.ok for r in results), [r.output[-800:] for r in results if not r.ok]
    assert agent_result.ok and agent_result.successful == 1, agent_result.output[-1500:]
