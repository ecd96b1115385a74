"""What the people around a call see of the caller, for real: the number on the
agent's phone (sipp's From), and a caller who asked for privacy (SIP
``Privacy: id`` or an anonymous From, the number only in a P-Asserted-Identity)
kept withheld in the records, on the agent's phone and on the abandoned list."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime

import asyncpg

from devstack import sipp
from devstack.router import RouterProcess
from devstack.stack import StackInfo
from tests.e2e.conftest import admin, wait_rows

# The number a trusted trunk asserts for the caller (sipp's injection field 2).
ASSERTED = "P-Asserted-Identity: <sip:[field2]@127.0.0.1>"
CLINIC = "+78162700101"  # clinic-central (Russian): "0" for an operator
LABEL = '"clinic-central operator ru"'


def number() -> str:
    return f"+7904{random.randint(1_000_000, 9_999_999)}"


def international_did() -> str:
    """A DID of its own in the international line's _781627003XX block (English)."""
    return f"781627003{random.randint(10, 99)}"


async def ended_on(db: asyncpg.Connection, did: str, since: datetime) -> asyncpg.Record:
    rows = await wait_rows(
        db, "SELECT * FROM calls WHERE did = $1 AND started_at >= $2 AND ended_at IS NOT NULL", did, since,
        count=1,
    )  # fmt: skip
    assert len(rows) == 1, rows
    return rows[0]


async def shown_on_the_phone(
    stack: StackInfo,
    router: RouterProcess,
    agent_id: str,
    from_matches: str,
    call: tuple[str, ...],
    headers: list[str] | None = None,
) -> str:
    """The one call, keying "0", answered by ``agent_id``'s softphone, which
    takes it only if its From matches: that From."""
    agent = sipp.Agent(stack.agent_ports[agent_id], calls=1, ring_ms=300, from_matches=from_matches)
    assert (await admin(router, "POST", f"/agents/{agent_id}/login"))[0] == 200
    try:
        result = await asyncio.to_thread(
            sipp.call, stack.sip_port, [call], 5000, [(1000, "0")], headers=headers
        )
    finally:
        agent_result = agent.wait(30)
        await admin(router, "POST", f"/agents/{agent_id}/logout")
    assert result.ok, result.output[-1500:]
    assert agent_result.ok and agent_result.successful == 1, (agent.froms, agent_result.output[-1500:])
    (shown,) = agent.froms
    return shown


async def nowhere(db: asyncpg.Connection, router: RouterProcess, *numbers: str) -> None:
    """Not one of ``numbers`` in any record or in the router's log."""
    for raw in numbers:
        assert await db.fetchval("SELECT count(*) FROM calls WHERE caller_number = $1", raw) == 0
        assert await db.fetchval("SELECT count(*) FROM places WHERE person = $1", raw) == 0
        assert raw[1:] not in router.log()


async def test_the_agents_phone_shows_the_callers_number(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
):
    caller = number()
    # The phone's call history can phone the caller back: their number, with the line's name.
    shown = await shown_on_the_phone(stack, router, "agent1", f"{LABEL} <sip:\\{caller}@", (caller, CLINIC))
    assert shown.startswith(f"{LABEL} <sip:{caller}@"), shown
    rows = await wait_rows(
        db, "SELECT * FROM calls WHERE caller_number = $1 AND ended_at IS NOT NULL", caller, count=1
    )
    assert rows and rows[0]["agent"] == "agent1" and rows[0]["outcome"] == "answered"


async def test_a_caller_asking_for_privacy_rings_the_agent_as_anonymous_and_is_stored_withheld(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
):
    """``Privacy: id`` with a P-Asserted-Identity: Asterisk has the asserted number
    as the caller's, with the presentation restricted."""
    did, from_number, asserted = international_did(), number(), number()
    since = datetime.now(UTC)
    call = (from_number, did, asserted)
    shown = await shown_on_the_phone(
        stack, router, "agent2", "<sip:anonymous@", call, [ASSERTED, "Privacy: id"]
    )
    assert shown.startswith('"hotline-international operator en" <sip:anonymous@'), shown
    row = await ended_on(db, did, since)
    assert (row["caller_number"], row["caller_presentation"]) == (None, "withheld")
    assert row["agent"] == "agent2" and row["outcome"] == "answered"
    await nowhere(db, router, from_number, asserted)


async def test_an_anonymous_caller_with_an_asserted_number_is_listed_as_withheld_when_abandoned(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection
):
    """An anonymous From, the number only in the P-Asserted-Identity (Asterisk
    presents it as allowed: the dialplan restricts it). Nobody answers; the
    caller gives up and is on the abandoned list, withheld."""
    did, asserted = international_did(), number()
    since = datetime.now(UTC)
    started = time.monotonic()
    result = await asyncio.to_thread(
        sipp.call, stack.sip_port, [("anonymous", did, asserted)], 9000, [(1000, "0")], headers=[ASSERTED]
    )
    assert result.ok, result.output[-1500:]
    assert time.monotonic() - started < 30
    row = await ended_on(db, did, since)
    assert (row["caller_number"], row["caller_presentation"]) == (None, "withheld")
    assert row["outcome"] == "abandoned"
    status, body = await admin(router, "GET", "/calls/abandoned")
    assert status == 200
    (listed,) = [c for c in body["calls"] if c["call_id"] == str(row["call_id"])]  # type: ignore[index]
    assert (listed["caller_number"], listed["caller_presentation"]) == (None, "withheld")
    assert asserted[1:] not in str(body)
    await nowhere(db, router, asserted)
