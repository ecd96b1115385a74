"""The inbound path for real: sipp callers keying the menu, sipp agents'
softphones answering, the router deciding, PostgreSQL recording."""

from __future__ import annotations

import asyncio
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import asyncpg

from devstack import sipp
from devstack.router import RouterProcess
from devstack.stack import StackInfo
from tests.e2e.conftest import AriObserver, admin, wait_rows

ENDED = "SELECT * FROM calls WHERE caller_number = $1 AND ended_at IS NOT NULL"


def number() -> str:
    return f"+7903{random.randint(1_000_000, 9_999_999)}"


async def call_row(db: asyncpg.Connection, caller: str) -> asyncpg.Record:
    rows = await wait_rows(db, ENDED, caller, count=1)
    assert rows, f"no finished record for {caller}"
    return rows[0]


async def events_of(db: asyncpg.Connection, call_id: object) -> list[tuple[str, str]]:
    rows = await db.fetch("SELECT kind, detail FROM call_events WHERE call_id = $1 ORDER BY at, id", call_id)
    return [(r["kind"], r["detail"]) for r in rows]


async def test_each_menu_option_reaches_its_topic(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
):
    """No agent is logged in: every caller chooses, waits, and hangs up (abandoned)."""
    choices = {"1": "infection", "21": "appointment_book", "3": "results", "4": "urgent", "0": "operator"}
    callers = {keys: number() for keys in choices}

    def place(keys: str) -> sipp.SippResult:
        pressed = [(1200, keys[0])] + [(900, k) for k in keys[1:]]
        return sipp.call(stack.sip_port, [(callers[keys], "+78162700104")], hold_ms=8500, keys=pressed)

    with ThreadPoolExecutor(len(choices)) as pool:
        results = list(pool.map(place, choices))
    assert all(r.ok for r in results), [r.output[-800:] for r in results if not r.ok]
    for keys, topic in choices.items():
        row = await call_row(db, callers[keys])
        assert row["topic"] == topic, keys
        assert row["menu_path"] == keys
        assert row["line"] == "clinic-river"
        # Booking overflows after 6 s in the test config; the others were abandoned.
        expected = "overflow" if topic == "appointment_book" else "abandoned"
        assert row["outcome"] == expected, keys
        assert row["queued_at"] is not None and row["agent"] is None
    urgent = await call_row(db, callers["4"])
    assert urgent["priority"] == 100
    # Operators get the list of people to phone back, with full numbers (a caller
    # who withheld theirs is listed as withheld: test_caller_id.py).
    status, body = await admin(router, "GET", "/calls/abandoned")
    assert status == 200
    listed = {c["caller_number"] for c in body["calls"]}  # type: ignore[index]
    abandoned = {callers[k] for k, topic in choices.items() if topic != "appointment_book"}
    assert abandoned <= listed
    assert callers["21"] not in listed, "an overflowed caller is not an abandoned one"


async def test_agent_answers_and_is_bridged(stack: StackInfo, router: RouterProcess, db: asyncpg.Connection):
    caller = number()
    agent = sipp.Agent(stack.agent_ports["agent1"], calls=1, ring_ms=600)
    status, _ = await admin(router, "POST", "/agents/agent1/login")
    assert status == 200
    try:
        async with AriObserver(stack) as observer:
            result = await asyncio.to_thread(
                sipp.call, stack.sip_port, [(caller, "+78162700101")], 6000, [(1000, "0")]
            )
            bridged = [
                e
                for e in observer.of_type("ChannelEnteredBridge")
                if str(e["bridge"]["id"]).startswith("bridge-")
            ]
    finally:
        agent_result = agent.wait(30)
        await admin(router, "POST", "/agents/agent1/logout")
    assert result.ok, result.output[-1500:]
    assert agent_result.successful == 1, agent_result.output[-1500:]
    row = await call_row(db, caller)
    assert row["outcome"] == "answered"
    assert row["agent"] == "agent1"
    assert row["topic"] == "operator"
    assert 0.5 <= (row["agent_answered_at"] - row["queued_at"]).total_seconds() < 3, (
        "rang 600 ms, then bridged"
    )
    assert {e["channel"]["id"] for e in bridged} >= {row["channel_id"]}, "the caller entered the agent bridge"
    assert all(str(row["call_id"]) not in e["bridge"]["id"] for e in bridged), "a bridge id of its own"
    kinds = [k for k, _ in await events_of(db, row["call_id"])]
    assert (
        kinds[:2] == ["arrived", "menu"] and "queued" in kinds and "offered" in kinds and "bridged" in kinds
    )
    states = await db.fetch("SELECT state FROM agent_states WHERE agent = 'agent1' AND call_id IS NOT NULL")
    assert {"ringing", "on_call"} <= {r["state"] for r in states}


async def test_ambulance_caller_overtakes_earlier_clinic_callers(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
):
    clinic = [number(), number()]
    ambulance = number()

    def clinic_call(caller: str) -> sipp.SippResult:
        return sipp.call(stack.sip_port, [(caller, "+78162700102")], hold_ms=12000, keys=[(800, "0")])

    with ThreadPoolExecutor(3) as pool:
        waiting = [pool.submit(clinic_call, c) for c in clinic]
        await asyncio.sleep(3)  # both clinic callers are queued first
        urgent = pool.submit(sipp.call, stack.sip_port, [(ambulance, "103")], 12000)
        await asyncio.sleep(3)
        agent = sipp.Agent(stack.agent_ports["agent3"], calls=1, ring_ms=300)
        status, _ = await admin(router, "POST", "/agents/agent3/login")
        assert status == 200
        try:
            assert urgent.result().ok
            for w in waiting:
                assert w.result().ok
        finally:
            agent.wait(30)
            await admin(router, "POST", "/agents/agent3/logout")
    first = await call_row(db, ambulance)
    assert first["topic"] == "urgent" and first["outcome"] == "answered" and first["agent"] == "agent3"
    for caller in clinic:
        row = await call_row(db, caller)
        assert row["queued_at"] < first["queued_at"], "the clinic callers were waiting longer"
        assert row["outcome"] == "abandoned"


async def test_agent_who_does_not_answer_is_paused_and_the_next_is_rung(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
):
    # agent1 logs in first (idle longest, so rung first) but no softphone answers there.
    assert (await admin(router, "POST", "/agents/agent1/login"))[0] == 200
    await asyncio.sleep(0.2)
    assert (await admin(router, "POST", "/agents/agent2/login"))[0] == 200
    agent2 = sipp.Agent(stack.agent_ports["agent2"], calls=1, ring_ms=300)
    caller = number()
    try:
        result = await asyncio.to_thread(
            sipp.call, stack.sip_port, [(caller, "+78162700103")], 12000, [(800, "0")]
        )
    finally:
        agent2.wait(30)
        _status, body = await admin(router, "GET", "/agents")
        await admin(router, "POST", "/agents/agent2/logout")
        await admin(router, "POST", "/agents/agent1/logout")
    assert result.ok, result.output[-1500:]
    row = await call_row(db, caller)
    assert row["agent"] == "agent2" and row["outcome"] == "answered"
    agents = {a["id"]: a for a in body["agents"]}  # type: ignore[index]
    assert agents["agent1"]["state"] == "paused"
    assert "auto-pause" in agents["agent1"]["pause_reason"]
    kinds = await events_of(db, row["call_id"])
    assert ("offered", "agent1") in kinds and ("offered", "agent2") in kinds
    assert any(k == "agent_missed" and d.startswith("agent1") for k, d in kinds)


async def test_barge_in_stops_the_menu_prompt(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
):
    """The key cuts the greeting and menu short: that playback ends (done, not
    failed by the hang-up) within a moment of the key, and the caller hears the
    queue's "please hold" while still on the line."""
    caller = number()
    async with AriObserver(stack) as observer:
        result = await asyncio.to_thread(
            sipp.call, stack.sip_port, [(caller, "+78162700105")], 4000, [(1500, "3")]
        )
        assert result.ok, result.output[-1500:]
        row = await call_row(db, caller)
        playbacks = [e for e in observer.events if str(e.get("type", "")).startswith("Playback")]
        hangups = [
            e for e in observer.of_type("ChannelHangupRequest") if e["channel"]["id"] == row["channel_id"]
        ]
    menu_done = [
        e
        for e in playbacks
        if e["type"] == "PlaybackFinished" and e["playback"]["id"] == f"{row['call_id']}-p1"
    ]
    joined = [
        e
        for e in playbacks
        if e["type"] == "PlaybackStarted" and e["playback"]["id"] == f"{row['call_id']}-p2"
    ]
    key_at = await db.fetchval(
        "SELECT at FROM call_events WHERE call_id = $1 AND kind = 'key'", row["call_id"]
    )
    assert row["topic"] == "results"
    assert menu_done, "the greeting and menu playback never finished"
    stopped_at = datetime.fromisoformat(menu_done[0]["timestamp"].replace("+0000", "+00:00"))
    assert menu_done[0]["playback"]["state"] == "done"
    assert abs((stopped_at - key_at).total_seconds()) < 1.0, "the prompt stopped at the key"
    assert joined and joined[0]["playback"]["media_uri"].endswith("/queue_joined")
    if hangups:
        hung_up = datetime.fromisoformat(hangups[0]["timestamp"].replace("+0000", "+00:00"))
        assert (hung_up - stopped_at).total_seconds() > 2, "stopped by the key, not by the hang-up"


async def test_a_silent_caller_hears_the_short_form_once_then_reaches_an_operator(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
):
    """A caller who keys nothing (a rotary phone, an elderly caller): the greeting
    and the Russian menu, 2 s of silence (test config), the menu's short form, 2 s
    more, then the operator queue; not the whole menu three times (over a minute)."""
    caller = number()
    async with AriObserver(stack) as observer:
        result = await asyncio.to_thread(sipp.call, stack.sip_port, [(caller, "+78162700105")], 40000)
        assert result.ok, result.output[-1500:]
        row = await call_row(db, caller)
        played = {
            (str(e["playback"]["id"]), str(e["playback"]["media_uri"]).rsplit("/", 1)[-1])
            for e in observer.events
            if str(e.get("type", "")).startswith("Playback")
            and e["playback"]["target_uri"] == f"channel:{row['channel_id']}"
        }
    menus = sorted((media, playback) for playback, media in played if media.startswith("menu_"))
    assert menus == [("menu_main", f"{row['call_id']}-p1"), ("menu_short", f"{row['call_id']}-p2")]
    assert (row["topic"], row["menu_path"]) == ("operator", None)
    assert ("queued", "operator (silence)") in await events_of(db, row["call_id"])
    assert (row["queued_at"] - row["answered_at"]).total_seconds() < 40, "well under a minute"


async def test_rfc2833_digit_reaches_the_menu(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
):
    caller = number()
    result = sipp.call(
        stack.sip_port, [(caller, "+78162700106")], hold_ms=3000, keys=[(1500, "4")], rfc2833=True
    )
    assert result.ok, result.output[-1500:]
    row = await call_row(db, caller)
    assert row["menu_path"] == "4" and row["topic"] == "urgent"


async def test_after_hours_message_on_a_closed_line(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
):
    caller = number()
    result = sipp.call(stack.sip_port, [(caller, "+78162700108")], hold_ms=30000)
    assert result.ok, result.output[-1500:]
    row = await call_row(db, caller)
    assert row["line"] == "clinic-dental"
    assert row["outcome"] == "after_hours"
    assert row["topic"] is None, "a closed line never queues"
    assert (row["ended_at"] - row["answered_at"]).total_seconds() < 25, "the router hung up after the message"


async def test_agent_logs_in_by_feature_code(stack: StackInfo, router: RouterProcess):
    result = sipp.feature_code(stack.sip_port, "agent4", stack.agent_password, "*11")
    assert result.ok, result.output[-1500:]
    _, body = await admin(router, "GET", "/agents")
    agents = {a["id"]: a for a in body["agents"]}  # type: ignore[index]
    assert agents["agent4"]["state"] == "idle"
    result = sipp.feature_code(stack.sip_port, "agent4", stack.agent_password, "*13")
    assert result.ok
    _, body = await admin(router, "GET", "/agents")
    assert {a["id"]: a for a in body["agents"]}["agent4"]["state"] == "paused"  # type: ignore[index]
    assert sipp.feature_code(stack.sip_port, "agent4", stack.agent_password, "*12").ok
    _status, body = await admin(router, "GET", "/agents")
    assert {a["id"]: a for a in body["agents"]}["agent4"]["state"] == "logged_out"  # type: ignore[index]


async def test_waiting_past_the_topics_maximum_overflows(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
):
    """Booking overflows after 6 s (test config) to a message, then the router hangs up."""
    caller = number()
    result = sipp.call(
        stack.sip_port, [(caller, "+78162700104")], hold_ms=40000, keys=[(1200, "2"), (900, "1")]
    )
    assert result.ok, result.output[-1500:]
    row = await call_row(db, caller)
    assert row["topic"] == "appointment_book"
    assert row["outcome"] == "overflow"
    waited = (row["ended_at"] - row["queued_at"]).total_seconds()
    assert 6 <= waited < 20, "overflowed at the maximum wait, then the message, then the hang-up"
    assert ("overflow", "appointment_book: max_wait") in await events_of(db, row["call_id"])


async def test_agent_hanging_up_ends_the_call_and_starts_wrap_up(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
):
    caller = number()
    agent = sipp.Agent(stack.agent_ports["agent2"], calls=1, ring_ms=300, talk_ms=2500)
    assert (await admin(router, "POST", "/agents/agent2/login"))[0] == 200
    try:
        result = await asyncio.to_thread(
            sipp.call, stack.sip_port, [(caller, "+78162700101")], 30000, [(1000, "0")]
        )
    finally:
        agent_result = agent.wait(30)
    assert result.ok, result.output[-1500:]
    assert agent_result.successful == 1, agent_result.output[-1500:]
    row = await call_row(db, caller)
    assert row["outcome"] == "answered" and row["agent"] == "agent2"
    assert row["end_reason"] == "agent hung up"
    talk = (row["ended_at"] - row["agent_answered_at"]).total_seconds()
    assert 1.5 < talk < 5, "the caller was hung up right after the agent"
    rows = await wait_rows(
        db, "SELECT state FROM agent_states WHERE agent = 'agent2' AND at >= $1 ORDER BY at, id",
        row["queued_at"], count=4,
    )  # fmt: skip
    states = [r["state"] for r in rows]
    assert states[:4] == ["ringing", "on_call", "wrap_up", "idle"]


async def test_an_agent_whose_phone_drops_the_call_at_the_answer_is_paused_and_the_caller_served(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
):
    """agent2's softphone answers and hangs up 0.1 s later (as one answering without
    media, which Asterisk hangs up): the caller goes back to their place and agent3
    takes them; agent2 is auto-paused, so their phone takes nobody else."""
    caller = number()
    dropping = sipp.Agent(stack.agent_ports["agent2"], calls=1, ring_ms=300, talk_ms=100)
    talking = sipp.Agent(stack.agent_ports["agent3"], calls=1, ring_ms=300, talk_ms=2500)
    assert (await admin(router, "POST", "/agents/agent2/login"))[0] == 200
    await asyncio.sleep(0.5)  # agent2 idle the longer: rung first
    assert (await admin(router, "POST", "/agents/agent3/login"))[0] == 200
    try:
        result = await asyncio.to_thread(
            sipp.call, stack.sip_port, [(caller, "+78162700101")], 30000, [(1000, "0")]
        )
    finally:
        dropped, talked = dropping.wait(30), talking.wait(30)
    assert result.ok, result.output[-1500:]
    assert dropped.successful == 1 and talked.successful == 1, (dropped.output[-800:], talked.output[-800:])
    row = await call_row(db, caller)
    assert (row["outcome"], row["agent"], row["end_reason"]) == ("answered", "agent3", "agent hung up")
    assert 1.5 < (row["ended_at"] - row["agent_answered_at"]).total_seconds() < 5, "agent3's answer on record"
    events = await events_of(db, row["call_id"])
    assert ("agent_dropped", "agent2") in events, events
    kinds = [kind for kind, _ in events]
    assert kinds.index("agent_dropped") < max(i for i, k in enumerate(kinds) if k == "bridged"), kinds
    assert kinds.count("queued") == 2, "in the queue again after the drop (a second stay in queue_log)"
    dropped_at = await db.fetchval(
        "SELECT at FROM call_events WHERE call_id = $1 AND kind = 'agent_dropped'", row["call_id"]
    )
    assert row["drops"] == 1 and row["agent_answered_at"] > dropped_at, "agent3's answer, not agent2's"
    rows = await wait_rows(
        db, "SELECT state, reason FROM agent_states WHERE agent = 'agent2' AND at >= $1 ORDER BY at, id",
        row["queued_at"], count=3,
    )  # fmt: skip
    assert [(r["state"], r["reason"]) for r in rows][:3] == [
        ("ringing", "offered"), ("on_call", "answered"), ("paused", "auto-pause: dropped the call at answer"),
    ], rows  # fmt: skip
    _status, body = await admin(router, "GET", "/agents")
    assert {a["id"]: a for a in body["agents"]}["agent2"]["state"] == "paused"  # type: ignore[index]


async def test_priority_change_reorders_callers_already_waiting(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
):
    first, second = number(), number()

    def wait_in_queue(caller: str) -> sipp.SippResult:
        return sipp.call(stack.sip_port, [(caller, "+78162700102")], hold_ms=9000, keys=[(800, "0")])

    with ThreadPoolExecutor(2) as pool:
        calls = [pool.submit(wait_in_queue, first)]
        await asyncio.sleep(1.5)
        calls.append(pool.submit(wait_in_queue, second))
        await asyncio.sleep(2.5)
        _, body = await admin(router, "GET", "/queue")
        queue = body["queue"]  # type: ignore[index]
        assert [q["position"] for q in queue] == [1, 2]
        later = queue[1]["entry_id"]
        status, changed = await admin(router, "POST", f"/queue/{later}/priority", {"priority": 50})
        assert status == 200 and changed["position"] == 1  # type: ignore[index]
        agent = sipp.Agent(stack.agent_ports["agent1"], calls=1, ring_ms=300)
        assert (await admin(router, "POST", "/agents/agent1/login"))[0] == 200
        try:
            for c in calls:
                assert c.result().ok
        finally:
            agent.wait(30)
    promoted = await call_row(db, second)
    assert promoted["agent"] == "agent1" and promoted["outcome"] == "answered"
    assert (await call_row(db, first))["outcome"] == "abandoned"


async def test_waiting_caller_hears_position_in_their_language(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
):
    caller = number()
    async with AriObserver(stack) as observer:
        result = await asyncio.to_thread(
            sipp.call, stack.sip_port, [(caller, "+78162700101")], 9000, [(1000, "0")]
        )
        assert result.ok, result.output[-1500:]
        row = await call_row(db, caller)
        events = [e for e in observer.events if str(e.get("type", "")).startswith("Playback")]
        media = {
            str(e["playback"]["media_uri"])
            for e in events
            if str(e["playback"]["target_uri"]) == f"channel:{row['channel_id']}"
        }
        held = [
            e["bridge"]["id"]
            for e in observer.of_type("ChannelEnteredBridge")
            if e["channel"]["id"] == row["channel_id"]
        ]
        number_languages = [
            e["playback"].get("language")
            for e in events
            if str(e["playback"]["target_uri"]) == f"channel:{row['channel_id']}"
            and "number:1" in str(e["playback"]["media_uri"])
        ]
    assert any(m.endswith("/ru/queue_joined") for m in media), media
    assert any(m.endswith("/ru/queue_position") for m in media), media
    assert "number:1" in media, "alone in the queue: position 1"
    assert not any("queue_wait" in m for m in media), "no recent calls: no estimate is said"
    assert number_languages and set(number_languages) == {"ru"}, "Asterisk says the number in Russian"
    assert held == [], "music on the caller's own channel (queue.hold = 'channel'), no holding bridge"
