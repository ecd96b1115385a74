"""The ``queue_log`` view against a real app_queue's queue_log, on one Asterisk.

A stack of this test's own gets the benchmark's app_queue reference
(``bench.run.install_reference``: ``Answer()``, the same greeting and menu in
``Read()``, ``Queue(bench)`` to the agents as static members, as ``make bench``
installs it) beside the router. The same scripted calls go through both paths,
one after the other, each pair from one caller number: answered and the caller
hangs up; answered and the agent hangs up; the caller hangs up while the agent's
phone rings; the caller gives up while the only agent is paused (paused and
resumed on both sides, by the admin API and by ``queue pause member``). app_queue
writes ``/var/log/asterisk/queue_log`` under the stack's root (logger.conf's
``queue_log`` is on by default); the router's calls are read from the view.

What is compared, call by call:
- the events, in order (rows of one instant in app_queue's order: a ring cancelled
  before the abandon it belongs to);
- how many data fields each event has (the file has those app_queue wrote; the
  view's fields past them are '') and which of them are whole numbers;
- hold, call and wait times within 1 s, ring times within 1000 ms, positions equal;
- the caller's number (ENTERQUEUE's callerid);
- the pause and resume: PAUSEALL and UNPAUSEALL, with as many fields.

What cannot be equal:
- callid: app_queue's is the caller channel's uniqueid, the view's the router's call id;
- queuename: ``bench`` against the topic the caller chose (``operator``);
- agent: app_queue's member name, by default its interface (``PJSIP/agent1``),
  against the router's agent id (``agent1``); a member named as the agent
  (``member => PJSIP/agent1,0,agent1``) would make them equal;
- CONNECT's bridgedchanneluniqueid: the router does not record the agent's channel
  (the view leaves it ''); channel names nowhere;
- times: the two calls of a pair are placed one after the other;
- ADDMEMBER (app_queue logs none for static members) and PAUSE/UNPAUSE per queue
  (app_queue logs them beside PAUSEALL; the router's agents belong to no one queue).
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from bench.run import QUEUE_DID, ROUTER_DID, bench_config, install_reference
from devstack import sipp
from devstack.router import RouterProcess, migrate
from devstack.stack import REPO, Stack, StackInfo

NAME = "queue-log"
TOKEN = "queue-log-admin-token-0123456789"
MEMBER = "PJSIP/agent1"  # app_queue's member name for agent1 (the interface)

# The data fields app_queue writes for each event (Asterisk's queue_log documentation).
FIELDS = {"ENTERQUEUE": 3, "CONNECT": 3, "COMPLETECALLER": 3, "COMPLETEAGENT": 3, "ABANDON": 3,
          "RINGCANCELED": 1, "RINGNOANSWER": 1, "PAUSEALL": 1, "UNPAUSEALL": 1}  # fmt: skip
SECONDS = {"CONNECT": (0, 2), "COMPLETECALLER": (0, 1), "COMPLETEAGENT": (0, 1), "ABANDON": (2,)}
MILLISECONDS = {"RINGCANCELED": (0,), "RINGNOANSWER": (0,)}
POSITIONS = {"ENTERQUEUE": (2,), "COMPLETECALLER": (2,), "COMPLETEAGENT": (2,), "ABANDON": (0, 1)}
WHOLE = re.compile(r"-?\d+")


@dataclass(frozen=True)
class Pair:
    """One call through each path, from one number; the agent's phone as it behaves."""

    name: str
    events: tuple[str, ...]  # what both logs must say, in order
    hold_ms: int  # the caller hangs up this long after keying (unless hung up on)
    ring_ms: int | None = 600  # None: the agent is paused, not rung
    talk_ms: int = 600_000


PAIRS = (
    Pair("answered, the caller hangs up", ("ENTERQUEUE", "CONNECT", "COMPLETECALLER"), hold_ms=5000),
    Pair("answered, the agent hangs up", ("ENTERQUEUE", "CONNECT", "COMPLETEAGENT"), 20_000, talk_ms=3000),
    Pair(
        "the caller hangs up while the agent rings", ("ENTERQUEUE", "RINGCANCELED", "ABANDON"), 2000, 20_000
    ),
    Pair("abandoned while the agent is paused", ("ENTERQUEUE", "ABANDON"), 4000, ring_ms=None),
)


@dataclass
class Line:
    """One event as either log has it: data as written (the file) or up to app_queue's count."""

    callid: str
    queue: str
    agent: str
    event: str
    data: list[str]


@pytest.fixture(scope="module")
def stack_with_app_queue() -> Iterator[tuple[StackInfo, Stack, Path]]:
    run_dir = REPO / ".run" / NAME
    config = bench_config(run_dir, agents=1)  # agent1, topics ["operator"], no wrap-up
    stack = Stack(NAME, config=config, shared_agent_port=True)
    info = stack.up()
    try:
        migrate(info, config)
        install_reference(info, stack)
        yield info, stack, config
    finally:
        stack.down()


def app_queue_log(info: StackInfo) -> list[Line]:
    path = Path(info.root) / "var/log/asterisk/queue_log"
    lines = []
    for text in path.read_text().splitlines():
        _time, callid, queue, agent, event, *data = text.split("|")
        lines.append(Line(callid, queue, agent, event, data))
    return lines


async def view_rows(db: asyncpg.Connection, where: str, *args: object) -> list[Line]:
    rows = await db.fetch(f"SELECT * FROM queue_log WHERE {where} ORDER BY at", *args)
    # One instant in app_queue's order: the ring cancelled before the abandon.
    rows = sorted(rows, key=lambda r: (r["at"], r["event"] != "RINGCANCELED"))
    return [
        Line(r["callid"], r["queuename"], r["agent"], r["event"], [r[f"data{i}"] for i in range(1, 6)])
        for r in rows
    ]


async def place(info: StackInfo, number: str, did: str, pair: Pair) -> sipp.SippResult:
    return await asyncio.to_thread(
        sipp.call, info.sip_port, [(number, did)], hold_ms=pair.hold_ms, keys=[(1200, "0")], timeout_s=60
    )


async def run_pair(info: StackInfo, stack: Stack, router: RouterProcess, pair: Pair, number: str) -> None:
    agent_port = info.agent_ports["agent1"]
    phone = None
    if pair.ring_ms is None:
        assert router.request("POST", "/agents/agent1/pause", {"reason": "lunch"})[0] == 200
        stack.asterisk_cli(f"queue pause member {MEMBER}")
    else:
        phone = sipp.Agent(agent_port, calls=2, ring_ms=pair.ring_ms, talk_ms=pair.talk_ms, timeout_s=60)
    try:
        for did in (ROUTER_DID, QUEUE_DID):
            result = await place(info, number, did, pair)
            assert result.ok, f"{pair.name}: {result.output[-1500:]}"
            await asyncio.sleep(1)  # the agent's phone and the queue settle
    finally:
        if phone is not None:
            phone.stop()
        if pair.ring_ms is None:
            assert router.request("POST", "/agents/agent1/resume")[0] == 200
            stack.asterisk_cli(f"queue unpause member {MEMBER}")


async def router_calls(db: asyncpg.Connection, numbers: list[str], events: int) -> dict[str, list[Line]]:
    """Each number's router call in the view, once its records are all in (the writer batches)."""
    deadline = time.monotonic() + 20
    found: dict[str, list[Line]] = {}
    while time.monotonic() < deadline:
        for number in numbers:
            call_id = await db.fetchval("SELECT call_id::text FROM calls WHERE caller_number = $1", number)
            found[number] = await view_rows(db, "callid = $1", call_id) if call_id else []
        if sum(len(rows) for rows in found.values()) >= events:
            break
        await asyncio.sleep(0.3)
    return found


def check_fields(pair: str, ours: Line, theirs: Line) -> None:
    """Field counts and kinds; times within a second, ring times within 1000 ms; positions equal."""
    event = theirs.event
    count = FIELDS[event]
    assert len(theirs.data) == count, f"{pair}: app_queue wrote {theirs.data} for {event}"
    assert ours.data[count:] == [""] * (5 - count), (
        f"{pair}: {event} has fields past app_queue's: {ours.data}"
    )
    ours_whole = [bool(WHOLE.fullmatch(v)) for v in ours.data[:count]]
    theirs_whole = [bool(WHOLE.fullmatch(v)) for v in theirs.data]
    assert ours_whole == theirs_whole, f"{pair}: {event} {ours.data[:count]} against {theirs.data}"
    for index in SECONDS.get(event, ()):
        assert abs(int(ours.data[index]) - int(theirs.data[index])) <= 1, f"{pair}: {event} {index + 1}"
    for index in MILLISECONDS.get(event, ()):
        assert abs(int(ours.data[index]) - int(theirs.data[index])) <= 1000, f"{pair}: {event}"
    for index in POSITIONS.get(event, ()):
        assert ours.data[index] == theirs.data[index], f"{pair}: {event} position {index + 1}"


@pytest.mark.timeout(400)
async def test_the_view_says_what_app_queue_logs_for_the_same_calls(
    stack_with_app_queue: tuple[StackInfo, Stack, Path], tmp_path: Path
) -> None:
    info, stack, config = stack_with_app_queue
    first = random.randrange(10_000)
    numbers = [f"+7916444{(first + n) % 10_000:04d}" for n in range(len(PAIRS))]
    router = RouterProcess(info, config, tmp_path / "router.log", tmp_path / "spool", TOKEN)
    try:
        router.login_all(["agent1"])
        for pair, number in zip(PAIRS, numbers, strict=True):
            await run_pair(info, stack, router, pair, number)
        db = await asyncpg.connect(info.dsn(), password=info.pg_password)
        try:
            ours = await router_calls(db, numbers, sum(len(p.events) for p in PAIRS))
            our_agent = await view_rows(db, "agent = 'agent1' AND event IN ('PAUSEALL', 'UNPAUSEALL')")
        finally:
            await db.close()
    finally:
        assert router.stop() == 0, router.log()[-3000:]

    logged = app_queue_log(info)
    theirs: dict[str, list[Line]] = {}
    for line in logged:
        if line.queue == "bench" and line.callid != "NONE":  # a call's, not a member's
            theirs.setdefault(line.callid, []).append(line)
    assert len(theirs) == len(PAIRS), f"app_queue's calls: {list(theirs.values())}"
    for pair, number, their_call in zip(PAIRS, numbers, theirs.values(), strict=True):
        our_call = ours[number]
        assert [line.event for line in their_call] == list(pair.events), (
            f"app_queue, {pair.name}: {their_call}"
        )
        assert [line.event for line in our_call] == list(pair.events), f"the view, {pair.name}: {our_call}"
        assert their_call[0].data[1] == our_call[0].data[1] == number, (
            "ENTERQUEUE's callerid: the caller's number"
        )
        for our_line, their_line in zip(our_call, their_call, strict=True):
            check_fields(pair.name, our_line, their_line)
            assert our_line.queue == "operator" and their_line.queue == "bench"
            assert our_line.agent in ("NONE", "agent1") and their_line.agent in ("NONE", MEMBER)
            assert (our_line.agent == "NONE") == (their_line.agent == "NONE"), (
                f"{pair.name}: {our_line.event}"
            )

    their_agent = [line for line in logged if line.agent == MEMBER and line.event.endswith("PAUSEALL")]
    assert (
        [line.event for line in their_agent]
        == [line.event for line in our_agent]
        == ["PAUSEALL", "UNPAUSEALL"]
    )
    for our_line, their_line in zip(our_agent, their_agent, strict=True):
        assert our_line.queue == their_line.queue == "NONE" and our_line.callid == their_line.callid == "NONE"
        check_fields("pause", our_line, their_line)
