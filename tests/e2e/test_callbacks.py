"""Callbacks for real: a waiting caller keys 1 at the offer and 1 to confirm their
number, hangs up, and is called back through the trunk (a sipp UAS answering as
whatever number it is dialled on) once an agent is free: the agent's phone
first, then the person, bridged together; not answered, tried again, then
given up and listed; and still made, once, after a router restart."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bench.observer import Observer
from devstack import sipp
from devstack.router import RouterProcess
from devstack.stack import StackInfo
from tests.e2e.conftest import AriObserver, admin, log_everyone_out, start_router, wait_rows

CLINIC = "+78162700101"  # clinic-central (Russian): "0" for the operator topic, which every agent takes
AGENT_RING_MS = 600
# The caller keys "0" (operator) and waits: "please hold", their place, the wait
# estimate, then the offer, 9.4-10.3 s into it (6.6 s long): "1" at 12.5 s, inside it
# however busy the machine. Their number is read back ("you will be called back at",
# 2.0 s, then its eleven digits one by one, 4.4-6.6 s as the digits fall, and the start
# of each part), so "to confirm, press 1" (5.5 s) begins 6.5-9.3 s after the "1": "1"
# again at 11 s, inside it (or in the 10 s after it) for every number, or, at once, "2"
# (another number), its digits and "#".
OFFER = [(800, "0"), (12_500, "1")]
CONFIRM = [(11_000, "1")]
CALLBACK = "SELECT * FROM callbacks WHERE number = $1"
PROMPTS = "sound:/usr/share/callrouter/prompts/ru/"  # as Asterisk plays them


def number() -> str:
    return f"+7905{random.randint(1_000_000, 9_999_999)}"


@pytest.fixture(autouse=True)
async def no_callback_left_open(db: asyncpg.Connection) -> AsyncIterator[None]:
    """Every router on the shared database dials the open callbacks it finds: one a
    failed test left open is closed, after that test's router stopped."""
    since = await db.fetchval("SELECT now()")
    yield
    await db.execute(
        "UPDATE callbacks SET state = 'cancelled', reason = 'left open by a failed test', updated_at = now()"
        " WHERE state IN ('pending', 'dialling') AND requested_at >= $1",
        since,
    )


def keyed(national: str) -> list[tuple[int, str]]:
    """Another number (2) keyed instead of confirming, then "#"."""
    return [(300, digit) for digit in "2" + national] + [(300, "#")]


async def warm_up(
    stack: StackInfo, router: RouterProcess, agents: Sequence[str] = ("agent1", "agent2")
) -> None:
    """Five answered calls: the wait estimate is honest from then on (core/estimate.py),
    and a callback is offered only with an honest estimate. The agents stay logged in, paused."""
    # 2 s calls: an agent's phone gone within a second of its answer dropped the call
    # ([queue] dropped_answer_seconds), and its caller would wait again.
    phones = [sipp.Agent(stack.agent_ports[a], calls=5, ring_ms=200, talk_ms=2000) for a in agents]
    for agent in agents:
        assert (await admin(router, "POST", f"/agents/{agent}/login"))[0] == 200
    try:
        callers = [(number(), CLINIC) for _ in range(5)]
        result = await asyncio.to_thread(sipp.call, stack.sip_port, callers, 15000, [(700, "0")], rate=10)
    finally:
        for agent in agents:  # nobody is free while the next caller waits
            await admin(router, "POST", f"/agents/{agent}/pause", {"reason": "test"})
        for phone in phones:
            phone.stop()
    assert result.ok and result.successful == 5, result.output[-1500:]


def started(observer: Observer, channel_id: str, media: str) -> datetime:
    """When ``media`` began to play to the channel."""
    for event in observer.of_type("PlaybackStarted"):
        playback = event["playback"]
        if playback["target_uri"] == f"channel:{channel_id}" and playback["media_uri"] == media:
            return datetime.fromisoformat(event["timestamp"].replace("+0000", "+00:00"))
    raise AssertionError(f"{media} was never played to {channel_id}")


async def book(
    stack: StackInfo, db: asyncpg.Connection, caller: str, then: list[tuple[int, str]] = CONFIRM
) -> asyncpg.Record:
    """The caller waits, hears the offer and keys 1, hears their number read back,
    and keys ``then`` (1: confirmed); they hang up 1.5 s later: the callback, pending."""
    async with AriObserver(stack) as observer:
        result = await asyncio.to_thread(sipp.call, stack.sip_port, [(caller, CLINIC)], 1500, OFFER + then)
        assert result.ok, result.output[-1500:]
        (call,) = await wait_rows(
            db, "SELECT * FROM calls WHERE caller_number = $1 AND ended_at IS NOT NULL", caller, count=1
        )
    assert call["outcome"] == "callback", dict(call)
    steps = {
        r["kind"]: r["at"]
        for r in await db.fetch("SELECT * FROM call_events WHERE call_id = $1", call["call_id"])
    }
    # Keyed at the offer, once it was said; confirmed once their own number was read back.
    channel = call["channel_id"]
    assert started(observer, channel, PROMPTS + "callback_offer") < steps["callback_offer_taken"]
    if then == CONFIRM:
        assert started(observer, channel, f"digits:{caller.lstrip('+')}") < steps["callback_requested"]
        assert started(observer, channel, PROMPTS + "callback_confirm_keys") < steps["callback_requested"]
    (callback,) = await wait_rows(db, "SELECT * FROM callbacks WHERE call_id = $1", call["call_id"], count=1)
    assert callback["state"] == "pending", dict(callback)
    return callback


def attempts(callback: asyncpg.Record) -> list[dict[str, Any]]:
    return list(json.loads(callback["attempts"]))


async def ended(db: asyncpg.Connection, caller: str, state: str, within: float = 20) -> asyncpg.Record:
    rows = await wait_rows(db, CALLBACK + " AND state = $2", caller, state, count=1, within=within)
    assert rows, f"the callback to {caller} did not end {state}: {await db.fetch(CALLBACK, caller)}"
    return rows[0]


async def test_an_accepted_callback_rings_the_agent_then_the_person_and_bridges_them(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
):
    caller = number()
    await warm_up(stack, router)
    callback = await book(stack, db, caller)
    agent = sipp.Agent(stack.agent_ports["agent1"], calls=1, ring_ms=AGENT_RING_MS, timeout_s=40)
    person = sipp.Callee(stack.trunk_port, ["answer"], ring_ms=300, talk_ms=2000, timeout_s=40)
    try:
        async with AriObserver(stack) as observer:
            assert (await admin(router, "POST", "/agents/agent1/resume"))[0] == 200
            person_result = await asyncio.to_thread(person.wait, 30)
            agent_result = await asyncio.to_thread(agent.wait, 10)
            entered = observer.of_type("ChannelEnteredBridge")
    finally:
        person.stop()
        agent.stop()
    assert person_result.ok and person_result.successful == 1, person_result.output[-1500:]
    assert agent_result.ok and agent_result.successful == 1, agent_result.output[-1500:]
    # The person's phone rang as their own number, and only once the agent had answered.
    (dialled,) = person.dialled
    assert dialled.number == caller.lstrip("+")
    (rung_at,) = agent.rung_at
    assert dialled.at - rung_at >= AGENT_RING_MS / 1000, (rung_at, dialled.at)
    (shown,) = agent.froms
    assert shown.startswith(f'"callback operator ru" <sip:{caller}@'), shown
    # Both in the callback's bridge: the trunk's call out and the agent's phone.
    # its first dial's own bridge (the dial's channel id, with the router run's mark)
    bridge = f"bridge-callback-{callback['callback_id'].hex}-1-"
    names = {e["channel"]["name"].split("-")[0] for e in entered if e["bridge"]["id"].startswith(bridge)}
    assert names == {"PJSIP/trunk", "PJSIP/agent1"}, [
        (e["bridge"]["id"], e["channel"]["name"]) for e in entered
    ]
    done = await ended(db, caller, "completed")
    assert [(a["agent"], a["outcome"]) for a in attempts(done)] == [("agent1", "answered")]


async def make_by_hand(router: RouterProcess, number: str) -> str:
    """POST /callbacks, due now (503 until the stored open callbacks are read): its id."""
    body = {"number": number, "line": "clinic-central", "topic": "operator", "by": "e2e"}
    for _ in range(50):
        status, made = await admin(router, "POST", "/callbacks", body)
        if status != 503:
            break
        await asyncio.sleep(0.2)
    assert status == 200, made
    return str(made["callback_id"])  # type: ignore[index]


async def test_callbacks_made_with_an_agent_free_are_dialled_at_once_never_postponed_for_a_lease(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
):
    """POST /callbacks with agent1 idle: its lease is asked in the step that hands its record
    to the record writer. Each is leased and dialled at once, none postponed "no lease"
    (with one router and PostgreSQL up, many were: 15 s each). The person's line is busy:
    the agent is released at once (no wrap-up), tried again 2 s later, then failed."""
    numbers = [number() for _ in range(6)]
    agent = sipp.Agent(stack.agent_ports["agent1"], calls=2 * len(numbers), ring_ms=200, timeout_s=150)
    person = sipp.Callee(stack.trunk_port, ["busy"] * 2 * len(numbers), timeout_s=150)
    ids = []
    try:
        assert (await admin(router, "POST", "/agents/agent1/login"))[0] == 200
        for each in numbers:
            ids.append(uuid.UUID(await make_by_hand(router, each)))
            await ended(db, each, "failed", within=30)
    finally:
        person.stop()
        agent.stop()
    postponed = await db.fetch(
        "SELECT callback_id, detail FROM call_events WHERE callback_id = ANY($1::uuid[])"
        " AND kind = 'callback_postponed'",
        ids,
    )
    assert [dict(r) for r in postponed] == []
    assert [d.number for d in person.dialled] == [n.lstrip("+") for n in numbers for _ in range(2)]


async def test_a_callback_not_answered_is_tried_again_then_given_up_and_listed(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
):
    """Test config: the person's phone rings 3 s, tried again 2 s later, twice at most.
    The caller gives another number (keyed at once, national format); nobody answers there."""
    caller, mobile = number(), number()
    await warm_up(stack, router)
    callback = await book(stack, db, caller, keyed("8" + mobile[2:]))
    assert callback["number"] == mobile
    agent = sipp.Agent(stack.agent_ports["agent1"], calls=2, ring_ms=AGENT_RING_MS, timeout_s=40)
    person = sipp.Callee(stack.trunk_port, ["no_answer", "no_answer"], timeout_s=40)
    try:
        assert (await admin(router, "POST", "/agents/agent1/resume"))[0] == 200
        person_result = await asyncio.to_thread(person.wait, 30)
        agent_result = await asyncio.to_thread(agent.wait, 10)
    finally:
        person.stop()
        agent.stop()
    assert person_result.ok and person_result.successful == 2, person_result.output[-1500:]
    assert agent_result.ok and agent_result.successful == 2, agent_result.output[-1500:]
    assert [d.number for d in person.dialled] == [mobile.lstrip("+")] * 2
    first, second = person.dialled
    assert second.at - first.at >= 3 + 2, "rang 3 s, tried again 2 s later"
    failed = await ended(db, mobile, "failed")
    assert [(a["agent"], a["outcome"]) for a in attempts(failed)] == [("agent1", "no_answer")] * 2
    # The person is on the operators' list to phone back.
    status, body = await admin(router, "GET", "/calls/abandoned")
    assert status == 200, body
    listed = [c for c in body["calls"] if c["callback_id"] == str(callback["callback_id"])]  # type: ignore[index]
    assert [(c["caller_number"], c["outcome"]) for c in listed] == [(mobile, "callback_failed")], listed
    _, agents = await admin(router, "GET", "/agents")
    assert {a["id"]: a["state"] for a in agents["agents"]}["agent1"] == "idle", "released, not paused"  # type: ignore[index]


async def test_a_callback_pending_across_a_router_restart_is_still_made_once(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection, tmp_path: Path
):
    """Booked, then the router is killed: the next one (same box, same spool) has the
    callback back in its place, and dials it once an agent is free; once only."""
    caller, mobile = number(), number()
    await warm_up(stack, router)
    callback = await book(stack, db, caller, keyed("8" + mobile[2:]))
    router.kill()
    second = start_router(stack, tmp_path)
    agent = sipp.Agent(stack.agent_ports["agent1"], calls=1, ring_ms=AGENT_RING_MS, timeout_s=40)
    person = sipp.Callee(stack.trunk_port, ["answer", "answer"], ring_ms=300, talk_ms=2000, timeout_s=40)
    try:
        _, body = await admin(second, "GET", "/queue")
        queue = [(uuid.UUID(e["entry_id"]), e["call_id"]) for e in body["queue"]]  # type: ignore[index]
        assert queue == [(callback["callback_id"], None)], "waiting in its place, with no call"
        assert (await admin(second, "POST", "/agents/agent1/resume"))[0] == 200
        done = await ended(db, mobile, "completed")
        agent_result = await asyncio.to_thread(agent.wait, 10)
        await asyncio.sleep(3)  # longer than a retry (2 s): a second dial would have come
    finally:
        person_result = person.stop()
        agent.stop()
        log_everyone_out(second, stack)
        assert second.stop() == 0
    assert agent_result.ok and agent_result.successful == 1, agent_result.output[-1500:]
    assert person_result.successful == 1, person_result.output[-1500:]
    assert [d.number for d in person.dialled] == [mobile.lstrip("+")], "dialled once"
    assert [(a["agent"], a["outcome"]) for a in attempts(done)] == [("agent1", "answered")]
    dials = await db.fetchval(
        "SELECT count(*) FROM call_events WHERE call_id = $1 AND kind = 'callback_dialled'",
        callback["call_id"],
    )
    assert dials == 1


async def test_a_callback_talking_through_a_router_restart_goes_on_to_its_end(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection, tmp_path: Path
):
    """The person and agent1 talk; the router is killed and another started: neither
    is hung up, agent1 is on the call (offered nobody), and when the person hangs up
    the agent's phone is hung up and agent1 wraps up: the conversation's end, not the restart's."""
    caller = number()
    talk_s = 14
    await warm_up(stack, router)
    callback = await book(stack, db, caller)
    agent = sipp.Agent(stack.agent_ports["agent1"], calls=1, ring_ms=AGENT_RING_MS, timeout_s=60)
    person = sipp.Callee(stack.trunk_port, ["answer"], ring_ms=300, talk_ms=talk_s * 1000, timeout_s=60)
    second: RouterProcess | None = None
    try:
        assert (await admin(router, "POST", "/agents/agent1/resume"))[0] == 200
        await ended(db, caller, "completed")  # answered: talking
        answered = await db.fetchval("SELECT now()")
        router.kill()
        second = start_router(stack, tmp_path / "second")
        _, body = await admin(second, "GET", "/agents")
        states = {a["id"]: a["state"] for a in body["agents"]}  # type: ignore[index]
        assert states["agent1"] == "on_call", states
        person_result = await asyncio.to_thread(person.wait, 40)
        agent_result = await asyncio.to_thread(agent.wait, 10)
        wrapped = await wait_rows(
            db, "SELECT at FROM agent_states WHERE agent = 'agent1' AND state = 'wrap_up' AND at > $1",
            answered, count=1, within=10,
        )  # fmt: skip
    finally:
        person.stop()
        agent.stop()
        if second is not None:
            log_everyone_out(second, stack)
            assert second.stop() == 0
    assert person_result.ok and person_result.successful == 1, person_result.output[-1500:]
    assert agent_result.ok and agent_result.successful == 1, agent_result.output[-1500:]
    assert wrapped, "agent1 never wrapped up after the restart"
    assert (wrapped[0]["at"] - answered).total_seconds() >= talk_s - 3, (
        "ended at the restart, not by the person"
    )
    resumed = await db.fetchval(
        "SELECT count(*) FROM call_events WHERE callback_id = $1 AND kind = 'callback_resumed'",
        callback["callback_id"],
    )
    assert resumed == 1
