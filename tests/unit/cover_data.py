"""A day for staff cover (core/cover.py), counted by hand: Monday 2026-11-23 in
Europe/Moscow, T = 20 s, target 80%, wrap-up 10 s. The unit test (core) and the
integration test (through PostgreSQL, every format) check the same numbers."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from callrouter.core import kpi
from callrouter.core.records import AgentStateRecord, Outcome
from tests.unit import kpi_data as data

ZONE = "Europe/Moscow"
DAY = date(2026, 11, 23)
START = datetime.combine(DAY, time(0), tzinfo=ZoneInfo(ZONE))
SCOPE = kpi.Scope(START, START + timedelta(days=1), ZONE, 20.0, 0.8, wrap_up_seconds=10.0)


def at(clock: str, day: int = 0) -> datetime:
    return data.local(day, clock)


# 09:00-10:00: 60 calls answered after 10 s, talking 170 s (handle 180 s with the
# 10 s wrap-up: 3 erlangs); 10:00-11:00: 10 calls abandoned after 50 s each.
# Patience: 10 abandoned / (60 x 10 + 10 x 50) s waited = mean 110 s.
CALLS = [
    *(
        data.call(f"a{i}", data.CENTRAL, f"{i:02d}", at("09:00:00") + timedelta(seconds=60 * i),
                  Outcome.ANSWERED, "operator", 10, 170)
        for i in range(60)
    ),
    *(
        data.call(f"b{i}", data.CENTRAL, f"{i:02d}", at("10:00:00") + timedelta(seconds=360 * i),
                  Outcome.ABANDONED, "operator", 50)
        for i in range(10)
    ),
    data.call("menu", data.NORTH, "99", at("12:00:00"), Outcome.MENU_HANGUP),
]  # fmt: skip
# agent1 logged in since the day before until 10:30; agent2 09:30-11:00, paused at
# first (any state but logged_out is logged in); agent3 logged out all day.
STATES = [
    AgentStateRecord("agent1", at("22:00:00", -1), "idle", "login"),
    AgentStateRecord("agent1", at("09:10:00"), "ringing"),
    AgentStateRecord("agent1", at("09:10:02"), "on_call"),
    AgentStateRecord("agent1", at("09:13:00"), "wrap_up"),
    AgentStateRecord("agent1", at("09:13:10"), "idle"),
    AgentStateRecord("agent1", at("10:30:00"), "logged_out", "logout"),
    AgentStateRecord("agent2", at("09:30:00"), "paused", "login"),
    AgentStateRecord("agent2", at("09:45:00"), "idle"),
    AgentStateRecord("agent2", at("11:00:00"), "logged_out", "logout"),
    AgentStateRecord("agent3", at("20:00:00", -1), "logged_out", "logout"),
]
