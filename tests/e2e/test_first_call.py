"""Real SIP calls (sipp) into the real Asterisk, handled by the real router,
recorded in the real PostgreSQL."""

from __future__ import annotations

import random

import asyncpg
from prometheus_client.parser import text_string_to_metric_families

from devstack import sipp
from devstack.router import RouterProcess
from devstack.stack import StackInfo
from tests.e2e.conftest import wait_rows

CALLS_SQL = """SELECT did, line, language, caller_number, caller_presentation, started_at, answered_at,
                      ended_at, outcome, end_reason, node, channel_id
               FROM calls WHERE caller_number = ANY($1::text[]) AND ended_at IS NOT NULL
               ORDER BY started_at"""


def unique_number() -> str:
    """A caller number no other test uses, so each test finds its own rows."""
    return f"+7916{random.randint(1_000_000, 9_999_999)}"


def metric(router: RouterProcess, name: str, **labels: str) -> float:
    status, body = router.get("/metrics")
    assert status == 200
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise AssertionError(f"{name}{labels} not in /metrics")


async def test_call_is_answered_and_recorded(stack: StackInfo, router: RouterProcess, db: asyncpg.Connection):
    caller = unique_number()
    national = "8" + caller[2:]  # the same person dialling in national format
    before = metric(router, "callrouter_calls_total", line="clinic-central", outcome="menu_hangup")

    result = sipp.call(stack.sip_port, [(caller, "+78162700101"), (national, "78162700300")], hold_ms=2500)

    assert result.ok, result.output[-2000:]
    rows = await wait_rows(db, CALLS_SQL, [caller], count=2)
    assert [r["line"] for r in rows] == ["clinic-central", "hotline-international"]
    for row in rows:
        # The router answered and played the greeting and menu; the caller left.
        assert row["caller_number"] == caller, "both formats normalise to one E.164 number"
        assert row["caller_presentation"] == "number"
        assert row["outcome"] == "menu_hangup", row["end_reason"]
        assert row["node"] == "asterisk-1"
        assert row["started_at"] <= row["answered_at"] < row["ended_at"]
        assert (row["answered_at"] - row["started_at"]).total_seconds() < 0.5, "answered at once"
    assert [r["language"] for r in rows] == ["ru", "en"], "each line's own language"
    assert (
        metric(router, "callrouter_calls_total", line="clinic-central", outcome="menu_hangup") == before + 1
    )
    assert metric(router, "callrouter_ari_connected") == 1
    # Numbers never reach the log in clear.
    assert caller not in router.log() and caller[1:] not in router.log()


async def test_withheld_caller_and_pattern_did(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
):
    marker = f"781627003{random.randint(10, 99)}"  # inside the international line's _781627003XX block
    since = await db.fetchval("SELECT now()")  # other tests' withheld calls may use the same DID
    result = sipp.call(stack.sip_port, [("anonymous", marker)], hold_ms=1500)
    assert result.ok, result.output[-2000:]
    rows = await wait_rows(
        db,
        "SELECT * FROM calls WHERE did = $1 AND caller_presentation = 'withheld' AND outcome IS NOT NULL"
        " AND started_at >= $2",
        marker,
        since,
        count=1,
    )
    assert len(rows) == 1, f"one record of the withheld call, not {len(rows)}"
    assert rows[-1]["caller_number"] is None
    assert rows[-1]["line"] == "hotline-international", "matched by pattern, not the default line"


async def test_ambulance_caller_hanging_up_at_once_is_a_short_abandon(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
):
    caller = unique_number()
    result = sipp.call(stack.sip_port, [(caller, "103")], hold_ms=300)
    assert result.ok, result.output[-2000:]
    rows = await wait_rows(
        db, "SELECT * FROM calls WHERE caller_number = $1 AND ended_at IS NOT NULL", caller, count=1
    )
    assert rows, "no record"
    assert rows[0]["line"] == "ambulance"
    # An ambulance line skips the menu: the caller was queued at once, and
    # leaving within seconds is a short abandon, not a plain one.
    assert rows[0]["topic"] == "urgent"
    assert rows[0]["outcome"] == "short_abandon"
    assert (rows[0]["ended_at"] - rows[0]["answered_at"]).total_seconds() < 1.5


async def test_fallback_when_router_not_connected(stack: StackInfo, db: asyncpg.Connection):
    """No router: Stasis() fails at once and the dialplan rings the fallback desk."""
    caller = unique_number()
    desk = sipp.Agent(stack.fallback_port, calls=1, ring_ms=200)
    try:
        result = sipp.call(stack.sip_port, [(caller, "+78162700903")], hold_ms=6000)
    finally:
        desk_result = desk.wait(30)
    assert result.ok, result.output[-2000:]
    assert desk_result.successful == 1, f"the fallback desk was not rung:\n{desk_result.output[-2000:]}"
    assert await db.fetchval("SELECT count(*) FROM calls WHERE caller_number = $1", caller) == 0


async def test_router_adopts_calls_after_restart(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection, tmp_path
):
    """A call already in the application when the router dies is picked up
    (and finished) by the next router, not left controlled by nobody."""
    import threading

    from tests.e2e.conftest import start_router

    caller = unique_number()
    outcome: dict[str, sipp.SippResult] = {}
    thread = threading.Thread(
        target=lambda: outcome.setdefault(
            "r", sipp.call(stack.sip_port, [(caller, "+78162700102")], hold_ms=8000)
        )
    )
    thread.start()
    assert await wait_rows(
        db, "SELECT 1 FROM calls WHERE caller_number = $1 AND answered_at IS NOT NULL", caller, count=1
    ), "the call was never answered before the kill"
    router.kill()
    second = start_router(stack, tmp_path / "second")
    try:
        thread.join(60)
        assert outcome["r"].ok, outcome["r"].output[-2000:]
        rows = await wait_rows(
            db, "SELECT * FROM calls WHERE caller_number = $1 AND ended_at IS NOT NULL", caller, count=1
        )
        assert rows, "the adopted call was not finished by the second router"
        assert rows[0]["outcome"] == "menu_hangup"
        assert metric(second, "callrouter_calls_reconciled_total", action="adopted") >= 1
        # One timeline, under the call's own row: the adopting router kept the call id.
        kinds = await db.fetch(
            "SELECT kind FROM call_events WHERE call_id = $1 ORDER BY at, id", rows[0]["call_id"]
        )
        assert kinds[0]["kind"] == "arrived" and kinds[-1]["kind"] == "ended", kinds
        orphans = await db.fetchval(
            "SELECT count(*) FROM call_events e WHERE e.at >= $1 AND e.call_id IS NOT NULL AND NOT EXISTS"
            " (SELECT 1 FROM calls c WHERE c.call_id = e.call_id)",
            rows[0]["started_at"],
        )
        assert orphans == 0, "events under a call id with no calls row"
    finally:
        assert second.stop() == 0
