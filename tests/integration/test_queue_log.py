"""The ``queue_log`` view on the real PostgreSQL: a known morning of records, written
by the record store as the router writes them, renders app_queue's queue_log rows
exactly (events, queues, agents, whole-second times, every data field)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from callrouter.core.records import AgentStateRecord, CallEventRecord, CallRecord, Outcome, Record
from tests.integration.conftest import Migrated

NODE = "asterisk-1"
MORNING = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def at(clock: str) -> datetime:
    """'MM:SS.fff' after 10:00 UTC."""
    minutes, seconds = clock.split(":")
    return MORNING + timedelta(minutes=int(minutes), seconds=float(seconds))


@dataclass
class Call:
    """One call's records: its final row and its timeline, as the switchboard writes them."""

    name: str
    number: str | None
    steps: list[tuple[str, str, str]]  # (clock, kind, detail)
    outcome: Outcome
    end_reason: str
    topic: str | None = None
    priority: int = 0
    agent: str | None = None
    call_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def records(self) -> list[Record]:
        times = {kind: at(clock) for clock, kind, _ in self.steps}
        queued = next((at(c) for c, kind, _ in self.steps if kind == "queued"), None)
        started = at(self.steps[0][0]) - timedelta(seconds=3)
        row = CallRecord(
            call_id=self.call_id, node=NODE, channel_id=f"{self.name}.1", did="+78162700101",
            line="clinic-central", caller_number=self.number,
            caller_presentation="number" if self.number else "withheld", started_at=started,
            answered_at=started, ended_at=times.get("ended"), outcome=self.outcome,
            end_reason=self.end_reason,
            language="ru", topic=self.topic, priority=self.priority if queued else None, queued_at=queued,
            agent=self.agent, agent_answered_at=times.get("bridged"),
        )  # fmt: skip
        events = [CallEventRecord(self.call_id, NODE, at(c), kind, detail) for c, kind, detail in self.steps]
        return [row, *events]


ANSWERED = Call(
    "caller-hangs-up", "+79161110001",
    [("00:05.300", "queued", "operator (menu)"), ("00:05.300", "offered", "agent1"),
     ("00:06.900", "bridged", "agent1"), ("00:40.200", "ended", "answered")],
    Outcome.ANSWERED, "caller: Normal Clearing", "operator", agent="agent1",
)  # fmt: skip
AGENT_HANGS_UP = Call(
    "agent-hangs-up", "+79161110002",
    [("01:00.500", "queued", "operator (menu)"), ("01:00.500", "offered", "agent2"),
     ("01:03.400", "bridged", "agent2"), ("01:30.100", "ended", "answered")],
    Outcome.ANSWERED, "agent hung up", "operator", agent="agent2",
)  # fmt: skip
# Three callers of one topic at once: a withheld one who gives up after 20 s, one who
# hangs up while an agent rings, an ambulance caller who overtakes both.
ABANDONED = Call(
    "abandoned", None,
    [("02:00.900", "queued", "infection (menu)"), ("02:20.100", "ended", "abandoned")],
    Outcome.ABANDONED, "caller: Normal Clearing", "infection", priority=10,
)  # fmt: skip
ABANDONED_RINGING = Call(
    "abandoned-ringing", "+79161110004",
    [("02:05.000", "queued", "infection (menu)"), ("02:06.000", "offered", "agent3"),
     ("02:10.000", "ended", "abandoned")],
    Outcome.ABANDONED, "caller: Normal Clearing", "infection", priority=10,
)  # fmt: skip
URGENT = Call(
    "urgent", "+79161110005",
    [("02:08.000", "queued", "infection (menu)"), ("02:08.000", "offered", "agent1"),
     ("02:12.000", "bridged", "agent1 agent-urgent-1"), ("02:30.000", "ended", "answered")],
    Outcome.ANSWERED, "caller: Normal Clearing", "infection", priority=100, agent="agent1",
)  # fmt: skip
MAX_WAIT = Call(
    "max-wait", "+79161110006",
    [("03:00.000", "queued", "appointment_book (menu)"),
     ("18:00.000", "overflow", "appointment_book: max_wait"), ("18:05.500", "ended", "overflow")],
    Outcome.OVERFLOW, "overflow: max_wait", "appointment_book",
)  # fmt: skip
NOT_ANSWERED = Call(
    "agent-did-not-answer", "+79161110007",
    [("05:00.000", "queued", "operator (menu)"), ("05:00.000", "offered", "agent3"),
     ("05:04.250", "agent_missed", "agent3: no_answer"), ("05:04.250", "offered", "agent4"),
     ("05:05.000", "bridged", "agent4"), ("05:50.000", "ended", "answered")],
    Outcome.ANSWERED, "caller: Normal Clearing", "operator", agent="agent4",
)  # fmt: skip
# Waited its topic's maximum, then joined the topic's overflow topic (keeping its place).
OVERFLOWED_ON = Call(
    "overflowed-on", "+79161110008",
    [("20:00.200", "queued", "results (menu)"), ("30:00.200", "overflow", "results: max_wait"),
     ("30:00.200", "queued", "operator (overflow from results)"), ("30:00.200", "offered", "agent2"),
     ("30:01.700", "bridged", "agent2"), ("31:00.000", "ended", "answered")],
    Outcome.ANSWERED, "caller: Normal Clearing", "operator", agent="agent2",
)  # fmt: skip
MENU_ONLY = Call(
    "menu-only", "+79161110009",
    [("40:00.000", "menu", ""), ("40:03.000", "ended", "menu_hangup")],
    Outcome.MENU_HANGUP, "caller: Normal Clearing",
)  # fmt: skip
CALLS = [ANSWERED, AGENT_HANGS_UP, ABANDONED, ABANDONED_RINGING, URGENT, MAX_WAIT, NOT_ANSWERED]
CALLS += [OVERFLOWED_ON, MENU_ONLY]

AGENT_STATES = [
    ("agent3", "-01:00.000", "idle", "login"),
    ("agent3", "05:00.000", "ringing", "offered"),
    ("agent3", "05:04.250", "paused", "auto-pause: no_answer"),
    ("agent3", "06:00.000", "idle", "resume"),
    ("agent3", "30:00.000", "logged_out", "logout"),
    ("agent4", "-01:00.000", "paused", "lunch"),  # logged in paused
    ("agent4", "04:00.000", "idle", "resume"),
    ("agent4", "05:04.250", "ringing", "offered"),
    ("agent4", "05:05.000", "on_call", "answered"),
]


def agent_records() -> list[Record]:
    return [AgentStateRecord(agent, at(clock), state, reason) for agent, clock, state, reason in AGENT_STATES]


def row(clock: str, call: Call | None, queue: str, agent: str, event: str, *data: str) -> tuple[str, ...]:
    """One expected row: its whole second ('MM:SS' after 10:00), then the columns as text."""
    fields = (*data, "", "", "", "", "")[:5]
    callid = call.call_id if call else "NONE"
    return (f"10:{clock}", callid, queue, agent, event, *fields)


def expected() -> list[tuple[str, ...]]:
    a, b, c, d = ANSWERED, AGENT_HANGS_UP, ABANDONED, ABANDONED_RINGING
    return [
        row("00:05", a, "operator", "NONE", "ENTERQUEUE", "", "+79161110001", "1"),
        row("00:06", a, "operator", "agent1", "CONNECT", "1", "", "1"),
        row("00:40", a, "operator", "agent1", "COMPLETECALLER", "1", "34", "1"),
        row("01:00", b, "operator", "NONE", "ENTERQUEUE", "", "+79161110002", "1"),
        row("01:03", b, "operator", "agent2", "CONNECT", "3", "", "2"),
        row("01:30", b, "operator", "agent2", "COMPLETEAGENT", "3", "27", "1"),
        row("02:00", c, "infection", "NONE", "ENTERQUEUE", "", "", "1"),  # withheld: no number
        row("02:05", d, "infection", "NONE", "ENTERQUEUE", "", "+79161110004", "2"),
        row("02:08", URGENT, "infection", "NONE", "ENTERQUEUE", "", "+79161110005", "1"),
        row("02:10", d, "infection", "agent3", "RINGCANCELED", "4000"),
        row("02:10", d, "infection", "NONE", "ABANDON", "3", "2", "5"),
        # A 'bridged' step that names the agent's channel too: app_queue's bridged channel.
        row("02:12", URGENT, "infection", "agent1", "CONNECT", "4", "agent-urgent-1", "4"),
        row("02:20", c, "infection", "NONE", "ABANDON", "1", "1", "20"),
        row("02:30", URGENT, "infection", "agent1", "COMPLETECALLER", "4", "18", "1"),
        row("03:00", MAX_WAIT, "appointment_book", "NONE", "ENTERQUEUE", "", "+79161110006", "1"),
        row("18:00", MAX_WAIT, "appointment_book", "NONE", "EXITWITHTIMEOUT", "1", "1", "900"),
        row("05:00", NOT_ANSWERED, "operator", "NONE", "ENTERQUEUE", "", "+79161110007", "1"),
        row("05:04", NOT_ANSWERED, "operator", "agent3", "RINGNOANSWER", "4250"),
        row("05:05", NOT_ANSWERED, "operator", "agent4", "CONNECT", "5", "", "0"),
        row("05:50", NOT_ANSWERED, "operator", "agent4", "COMPLETECALLER", "5", "45", "1"),
        row("20:00", OVERFLOWED_ON, "results", "NONE", "ENTERQUEUE", "", "+79161110008", "1"),
        row("30:00", OVERFLOWED_ON, "results", "NONE", "EXITWITHTIMEOUT", "1", "1", "600"),
        row("30:00", OVERFLOWED_ON, "operator", "NONE", "ENTERQUEUE", "", "+79161110008", "1"),
        row("30:01", OVERFLOWED_ON, "operator", "agent2", "CONNECT", "1", "", "1"),
        row("31:00", OVERFLOWED_ON, "operator", "agent2", "COMPLETECALLER", "1", "59", "1"),
        # Agents, across every queue
        row("-01:00", None, "NONE", "agent3", "ADDMEMBER"),
        row("05:04", None, "NONE", "agent3", "PAUSEALL", "auto-pause: no_answer"),
        row("06:00", None, "NONE", "agent3", "UNPAUSEALL"),
        row("30:00", None, "NONE", "agent3", "REMOVEMEMBER"),
        row("-01:00", None, "NONE", "agent4", "ADDMEMBER", "PAUSED"),
        row("04:00", None, "NONE", "agent4", "UNPAUSEALL"),
    ]


def clock_of(time: datetime) -> str:
    """A row's time as ``row`` writes it (09:59 is '10:-01:00')."""
    seconds = int((time - MORNING).total_seconds())
    sign = "-" if seconds < 0 else ""
    return f"10:{sign}{abs(seconds) // 60:02d}:{abs(seconds) % 60:02d}"


async def test_a_known_morning_renders_app_queues_rows(db: Migrated) -> None:
    records = [r for call in CALLS for r in call.records()] + agent_records()
    assert await db.store.write(records) == []
    rendered = await db.conn.fetch("SELECT * FROM queue_log ORDER BY at")
    columns = ["time", "callid", "queuename", "agent", "event", "data1", "data2", "data3", "data4", "data5"]
    assert list(rendered[0].keys()) == [*columns, "at"]
    got = [(clock_of(r["time"]), *(r[c] for c in columns[1:])) for r in rendered]
    assert sorted(got) == sorted(expected())
    for r in rendered:
        assert r["time"] == r["at"].replace(microsecond=0), "whole seconds, truncated as time() does"
    # In order of time (rows of one instant in any order): per call, app_queue's sequence.
    per_call = [r["event"] for r in rendered if r["callid"] == OVERFLOWED_ON.call_id]
    assert per_call[-3:] == ["ENTERQUEUE", "CONNECT", "COMPLETECALLER"]
    assert set(per_call[:3]) == {"ENTERQUEUE", "EXITWITHTIMEOUT"} and per_call[0] == "ENTERQUEUE"


async def test_a_caller_still_waiting_or_talking_has_only_what_happened_so_far(db: Migrated) -> None:
    waiting = Call(
        "waiting", "+79161110010",
        [("00:01.000", "queued", "operator (menu)"), ("00:02.000", "offered", "agent1")],
        Outcome.ABANDONED, "",
    )  # fmt: skip
    talking = Call(
        "talking", "+79161110011",
        [("00:01.500", "queued", "operator (menu)"), ("00:01.500", "offered", "agent2"),
         ("00:02.500", "bridged", "agent2")],
        Outcome.ANSWERED, "",
    )  # fmt: skip
    for call in (waiting, talking):
        first, *events = call.records()
        assert isinstance(first, CallRecord)
        still = CallRecord(**{**first.__dict__, "ended_at": None, "outcome": None, "end_reason": None})
        assert await db.store.write([still, *events]) == []
    rendered = await db.conn.fetch("SELECT callid, event, data3 FROM queue_log ORDER BY at")
    assert [(r["callid"], r["event"], r["data3"]) for r in rendered] == [
        (waiting.call_id, "ENTERQUEUE", "1"),
        (talking.call_id, "ENTERQUEUE", "2"),
        (talking.call_id, "CONNECT", "1"),
    ]
