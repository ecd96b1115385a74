"""Results calls for real: a notification in PostgreSQL, the router dialling it
through the trunk (a sipp UAS answering as the patient and keying digits by SIP
INFO), the secret checked, then, and only then, the result played (seen over
ARI). Wrong secrets hear nothing of it; a positive result's 1 reaches a sipp
agent through the one queue; nobody answering ends unreachable; a line whose
window is closed waits for it; a router killed mid-call loses nothing and tells
nothing twice."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from bench.observer import Observer
from callrouter.secrets_pepper import Pepper
from devstack import results_batch, sipp
from devstack.router import RouterProcess
from devstack.stack import StackInfo
from tests.e2e.conftest import CONFIG, AriObserver, admin, start_router

SECRET = results_batch.SECRET
PROMPTS = "sound:/usr/share/callrouter/prompts/ru/"
TOLD = ("results_negative", "results_positive", "results_positive_advice", "results_inconclusive")
# Keyed over the greeting (barge-in), 1.5 s after the answer.
RIGHT = [(1500, SECRET[0])] + [(250, d) for d in SECRET[1:]] + [(250, "#")]


def wrong(after: int = 1500) -> list[tuple[int, str]]:
    return [(after, "0")] + [(250, d) for d in "1011990"] + [(250, "#")]


def number() -> str:
    return f"+7905{random.randint(1_000_000, 9_999_999)}"


@pytest.fixture(autouse=True)
async def none_left_pending(db: asyncpg.Connection) -> AsyncIterator[None]:
    """Every router on the shared database dials the due notifications it finds: the
    ones a test leaves open are cancelled once it is over."""
    since = await db.fetchval("SELECT now()")
    yield
    await db.execute(
        "UPDATE notifications SET state = 'cancelled', reason = 'left open by a test', updated_at = now()"
        " WHERE state IN ('pending', 'dialling') AND received_at >= $1",
        since,
    )


async def put(
    stack: StackInfo,
    db: asyncpg.Connection,
    phone: str,
    result: str = "negative",
    line: str = "clinic-central",
    peppered: bool = True,
) -> str:
    """A due notification, as the import leaves one: its secret hashed with argon2id under
    the stack's pepper (``peppered``), else as one put in before a pepper was configured."""
    pepper = Pepper.of(stack.results_pepper) if peppered else None
    return await results_batch.insert(db, phone, result, line, prefix="e2e", pepper=pepper)


async def ended(
    db: asyncpg.Connection, nid: str, states: Sequence[str], within: float = 40
) -> asyncpg.Record:
    deadline = time.monotonic() + within
    row = None
    while time.monotonic() < deadline:
        row = await db.fetchrow("SELECT * FROM notifications WHERE notification_id = $1", uuid.UUID(nid))
        if row is not None and row["state"] in states:
            return row
        await asyncio.sleep(0.3)
    raise AssertionError(f"notification {nid} did not reach {states}: {dict(row) if row else None}")


async def attempted(db: asyncpg.Connection, nid: str, within: float) -> asyncpg.Record:
    """The notification once its first attempt is recorded."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        row = await db.fetchrow("SELECT * FROM notifications WHERE notification_id = $1", uuid.UUID(nid))
        if row is not None and json.loads(row["attempts"]):
            return row
        await asyncio.sleep(0.3)
    raise AssertionError(f"notification {nid} was never attempted")


def played(observer: Observer, nid: str) -> list[str]:
    """Every prompt played to the notification's results calls, in order."""
    return [
        e["playback"]["media_uri"].removeprefix(PROMPTS)
        for e in observer.of_type("PlaybackStarted")
        if e["playback"]["target_uri"].startswith(f"channel:results-{nid}-")
    ]


async def audits(db: asyncpg.Connection, nid: str) -> list[asyncpg.Record]:
    return list(
        await db.fetch(
            "SELECT * FROM notification_audit WHERE notification_id = $1 ORDER BY at", uuid.UUID(nid)
        )
    )


async def timeline(db: asyncpg.Connection, call_id: object) -> list[str]:
    rows = await db.fetch("SELECT kind FROM call_events WHERE call_id = $1 ORDER BY at, id", call_id)
    return [r["kind"] for r in rows]


@pytest.mark.parametrize("peppered", [True, False], ids=["peppered", "put-in-before-the-pepper"])
async def test_the_right_secret_hears_the_result_audited_first_and_it_is_delivered(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection, peppered: bool
) -> None:
    phone = number()
    patient = sipp.Callee(stack.trunk_port, ["answer"], ring_ms=300, talk_ms=40_000, timeout_s=60, keys=RIGHT)
    async with AriObserver(stack) as observer:
        nid = await put(stack, db, phone, peppered=peppered)
        stored = await db.fetchval(
            "SELECT secret_hash FROM notifications WHERE notification_id = $1", uuid.UUID(nid)
        )
        assert stored.startswith("$callrouter-pepper$") is peppered
        row = await ended(db, nid, ["delivered"])
    result = await asyncio.to_thread(patient.wait, 30)
    assert result.ok, result.output[-1500:]
    assert [d.number for d in patient.dialled] == [phone.lstrip("+")]
    heard = played(observer, nid)
    # Keyed over the greeting: it stops there (the request for the secret is never reached).
    assert heard == [
        "results_greeting-clinic-central",
        "results_negative",
        "results_repeat",
        "results_goodbye",
    ]
    (audit,) = await audits(db, nid)
    assert (audit["verified_by"], audit["played"]) == ("secret keyed, try 1", "results_negative")
    (attempt,) = [a for a in json.loads(row["attempts"])]
    assert attempt["outcome"] == "delivered"
    call = await db.fetchrow("SELECT * FROM calls WHERE call_id = $1", uuid.UUID(attempt["call_id"]))
    assert (call["direction"], call["caller_number"], call["outcome"]) == ("results", phone, "results")
    steps = await timeline(db, call["call_id"])
    assert steps.index("results_verified") < steps.index("results_told"), steps
    assert SECRET not in str(steps) and SECRET not in router.log()


async def test_a_patient_who_hangs_up_while_told_has_it_delivered_and_is_not_phoned_again(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
) -> None:
    """The patient keys the secret, hears the start of a positive result (9.6 s with
    its advice) and hangs up 6 s after the # (the advice begins 2.5-3 s after it, the
    offer of a consultant 9.7 s): told, so delivered, never told again."""
    phone = number()
    patient = sipp.Callee(stack.trunk_port, ["answer"], ring_ms=300, talk_ms=6000, timeout_s=60, keys=RIGHT)
    async with AriObserver(stack) as observer:
        nid = await put(stack, db, phone, result="positive")
        row = await ended(db, nid, ["delivered"])
    result = await asyncio.to_thread(patient.wait, 30)
    assert result.ok, result.output[-1500:]
    assert [d.number for d in patient.dialled] == [phone.lstrip("+")], "phoned once"
    assert played(observer, nid)[-1] == "results_positive_advice", "hung up while the result was told"
    (attempt,) = json.loads(row["attempts"])
    assert attempt["outcome"] == "delivered"
    assert len(await audits(db, nid)) == 1
    call = await db.fetchrow("SELECT * FROM calls WHERE call_id = $1", uuid.UUID(attempt["call_id"]))
    assert "results_told" in await timeline(db, call["call_id"])


async def test_a_wrong_secret_hears_nothing_of_the_result_and_is_tried_again_later(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
) -> None:
    phone = number()
    keys = wrong() + wrong(2000) + wrong(2000)  # three tries, each over the "does not match" prompt
    patient = sipp.Callee(stack.trunk_port, ["answer"], ring_ms=300, talk_ms=60_000, timeout_s=90, keys=keys)
    async with AriObserver(stack) as observer:
        nid = await put(stack, db, phone, result="positive")
        row = await attempted(db, nid, within=60)
    await asyncio.to_thread(patient.wait, 30)
    heard = played(observer, nid)
    assert not set(TOLD) & set(heard), heard
    assert heard.count("results_verify_wrong") == 2 and heard[-1] == "results_neutral", heard
    assert await audits(db, nid) == []
    assert row["state"] == "pending"
    (attempt,) = json.loads(row["attempts"])
    assert attempt["outcome"] == "verification_failed"
    assert row["due_at"] > datetime.now(UTC) + timedelta(hours=1), "tried again later, per the policy"


async def test_a_positive_result_and_1_reaches_a_consultant_through_the_queue(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
) -> None:
    phone = number()
    assert (await admin(router, "POST", "/agents/agent1/login"))[0] == 200
    agent = sipp.Agent(stack.agent_ports["agent1"], calls=1, ring_ms=500, talk_ms=2000, timeout_s=60)
    # The result and its advice take about 9.7-10.5 s; 1 at the consultant offer (8.3 s) after them.
    keys = [*RIGHT, (13_000, "1")]
    patient = sipp.Callee(stack.trunk_port, ["answer"], ring_ms=300, talk_ms=60_000, timeout_s=90, keys=keys)
    try:
        async with AriObserver(stack) as observer:
            nid = await put(stack, db, phone, result="positive")
            row = await ended(db, nid, ["transferred"], within=45)
            (attempt,) = json.loads(row["attempts"])
            call_id = uuid.UUID(attempt["call_id"])
            call = await call_ended(db, call_id)
    finally:
        await admin(router, "POST", "/agents/agent1/logout")
    assert (await asyncio.to_thread(agent.wait, 30)).ok
    await asyncio.to_thread(patient.wait, 30)
    heard = played(observer, nid)
    assert heard.index("results_positive") < heard.index("results_consult_offer"), heard
    assert call is not None and call["direction"] == "results"
    assert (call["topic"], call["agent"], call["outcome"]) == ("results_consult", "agent1", "answered"), dict(
        call
    )


async def test_a_patient_waiting_for_a_consultant_keeps_their_place_through_a_router_restart(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection, tmp_path: Path
) -> None:
    """Killed while a positive result's patient waits for a consultant (nobody logged
    in): the next router takes the patient up in their place, where it used to hang
    them up, and the consultant who logs in then talks to them. The call stays a
    results call, and the patient is not dialled again."""
    phone = number()
    keys = [*RIGHT, (13_000, "1")]
    patient = sipp.Callee(stack.trunk_port, ["answer"], ring_ms=300, talk_ms=60_000, timeout_s=120, keys=keys)
    nid = await put(stack, db, phone, result="positive")
    row = await ended(db, nid, ["transferred"], within=45)
    (attempt,) = json.loads(row["attempts"])
    call_id = uuid.UUID(attempt["call_id"])
    assert await in_queue(router, str(call_id)), "waiting for a consultant"
    router.kill()
    (tmp_path / "second").mkdir()
    second = start_router(stack, tmp_path / "second")
    agent = None
    try:
        assert await in_queue(second, str(call_id)), "taken up in its place by the next router"
        agent = sipp.Agent(stack.agent_ports["agent1"], calls=1, ring_ms=500, talk_ms=2000, timeout_s=60)
        assert (await admin(second, "POST", "/agents/agent1/login"))[0] == 200
        call = await call_ended(db, call_id)
    finally:
        await admin(second, "POST", "/agents/agent1/logout")
        assert second.stop() == 0
    assert agent is not None and (await asyncio.to_thread(agent.wait, 30)).ok
    await asyncio.to_thread(patient.wait, 30)
    assert call is not None and call["ended_at"] is not None, dict(call) if call else None
    assert (call["direction"], call["topic"], call["agent"], call["outcome"]) == (
        "results", "results_consult", "agent1", "answered",
    ), dict(call)  # fmt: skip
    assert len(patient.dialled) == 1, "not dialled again"
    assert "resumed" in await timeline(db, call_id)


async def call_ended(db: asyncpg.Connection, call_id: uuid.UUID, within: float = 30) -> asyncpg.Record | None:
    """The call's row once it has ended (or as it is after ``within`` seconds)."""
    deadline = time.monotonic() + within
    call = None
    while time.monotonic() < deadline:
        call = await db.fetchrow("SELECT * FROM calls WHERE call_id = $1", call_id)
        if call is not None and call["ended_at"] is not None:
            break
        await asyncio.sleep(0.3)
    return call


async def in_queue(router: RouterProcess, call_id: str, within: float = 10) -> bool:
    """Whether the call holds a place in the router's queue, within ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        status, body = router.get("/queue")
        if status == 200 and call_id in [e["call_id"] for e in json.loads(body)["queue"]]:
            return True
        await asyncio.sleep(0.2)
    return False


async def test_nobody_answering_is_tried_again_then_unreachable(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
) -> None:
    phone = number()
    patient = sipp.Callee(stack.trunk_port, ["no_answer", "no_answer"], timeout_s=60)
    nid = await put(stack, db, phone)
    row = await ended(db, nid, ["unreachable"], within=45)
    await asyncio.to_thread(patient.wait, 20)
    attempts = json.loads(row["attempts"])
    assert [a["outcome"] for a in attempts] == ["no_answer", "no_answer"]
    assert len(patient.dialled) == 2 and row["reason"] == "no_answer x2"
    assert await audits(db, nid) == []


async def test_a_line_whose_window_is_closed_is_not_dialled_until_it_opens(
    stack: StackInfo, db: asyncpg.Connection, tmp_path: Path
) -> None:
    """clinic-north's own window opens 12 s after the router starts (whatever the
    time of day: built from now, in UTC, crossing midnight if it must). The window is
    written to the second, so it opens at the whole second, not a fraction after it."""
    opens = (datetime.now(UTC) + timedelta(seconds=12)).replace(microsecond=0)
    closes = opens + timedelta(hours=2)
    window = (
        '\n[results.windows.clinic-north]\nzone = "UTC"\n'
        'days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]\n'
        f'hours = ["{opens:%H:%M:%S}-{closes:%H:%M:%S}"]\n'
    )
    config = tmp_path / "closed.toml"
    config.write_text(CONFIG.read_text() + window)
    router = start_router(stack, tmp_path, config)
    patient = sipp.Callee(stack.trunk_port, ["answer"], ring_ms=300, talk_ms=30_000, timeout_s=60, keys=RIGHT)
    try:
        nid = await put(stack, db, number(), line="clinic-north")
        await ended(db, nid, ["delivered"], within=60)
    finally:
        router.stop()
    await asyncio.to_thread(patient.wait, 20)
    (dialled,) = patient.dialled
    assert dialled.at >= opens.timestamp() - 0.1, (dialled.at, opens.timestamp())


async def test_a_router_killed_mid_call_neither_loses_the_result_nor_tells_it_twice(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection, tmp_path: Path
) -> None:
    """Killed once the result is being told (its audit row committed): the next router
    hangs the call up, finds it told, and records it delivered without a second call."""
    phone = number()
    patient = sipp.Callee(stack.trunk_port, ["answer"], ring_ms=300, talk_ms=60_000, timeout_s=60, keys=RIGHT)
    nid = await put(stack, db, phone)
    for _ in range(300):  # the audit row is committed before the result plays
        if await audits(db, nid):
            break
        await asyncio.sleep(0.1)
    assert await audits(db, nid), "told before the kill"
    router.kill()
    (tmp_path / "second").mkdir()
    second = start_router(stack, tmp_path / "second")
    try:
        row = await ended(db, nid, ["delivered"], within=30)
        await asyncio.sleep(3)  # a second call would be made within a look or two
    finally:
        second.stop()
    await asyncio.to_thread(patient.wait, 20)
    assert len(patient.dialled) == 1
    assert len(await audits(db, nid)) == 1
    assert row["reason"] == "told before the router stopped"


async def test_a_router_stopped_mid_call_hangs_the_patient_up_rather_than_leave_silence(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
) -> None:
    """Stopped (SIGTERM) while the patient hears the greeting, nothing keyed: the router
    hangs the call up as it stops, where it used to leave the patient on a silent line
    until they gave up (or the next router came). The notification stays the next
    router's to take over (``dialling``, its lease running out), as after a kill."""
    phone = number()
    patient = sipp.Callee(stack.trunk_port, ["answer"], ring_ms=300, talk_ms=60_000, timeout_s=90)
    async with AriObserver(stack) as observer:
        nid = await put(stack, db, phone)
        for _ in range(300):
            if played(observer, nid):
                break
            await asyncio.sleep(0.1)
        assert played(observer, nid), "answered and greeted"
        stopped = time.monotonic()
        await asyncio.to_thread(router.stop)
        result = await asyncio.to_thread(patient.wait, 30)
        took = time.monotonic() - stopped
    assert result.ok, result.output[-1500:]
    assert took < 15, f"the patient stayed on the line {took:.0f} s after the stop"
    assert "hung up 1 results call(s)" in router.log()
    state = await db.fetchval("SELECT state FROM notifications WHERE notification_id = $1", uuid.UUID(nid))
    assert state == "dialling"
