"""``Agent.calls_taken`` (the admin API's ``GET /agents``): the calls an agent answered
since their log-in, 0 while logged out, and a restart keeps it (counted again from the
agents' rows: ``records.calls_taken``; PostgreSQL's count is tested in tests/integration)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import cast

from callrouter.api.server import agent_json
from callrouter.calls.stored_agents import restore_agents
from callrouter.core import agents as ag
from callrouter.core import records
from callrouter.core import switchboard as sb
from callrouter.core.records import AgentStateRecord, Record
from callrouter.store.queries import Queries
from tests.unit.switchboard import Switchboard
from tests.unit.test_switchboard import T0, at, fresh

AGENT = ag.Agent("agent1", frozenset({"operator"}), frozenset({"ru"}))


def took(agent: ag.Agent, n: int, start: datetime) -> ag.Agent:
    for i in range(n):
        now = start + timedelta(minutes=i)
        agent = ag.offer(agent, now, f"e{i}")
        agent = ag.answered(agent, now, f"e{i}")
        agent = ag.call_ended(agent, now, f"e{i}", timedelta(0))
    return agent


def test_calls_taken_count_from_the_log_in() -> None:
    agent = took(ag.login(AGENT, T0), 2, T0)
    assert agent.calls_taken == 2
    agent = ag.logout(agent, at(600))
    assert agent.calls_taken == 0, "logged out: no count"
    agent = took(ag.login(agent, at(700)), 1, at(700))
    assert agent.calls_taken == 1, "this log-in's calls, not the last one's"


def test_the_count_is_carried_through_an_agents_rows() -> None:
    rows = [
        AgentStateRecord("agent1", at(0), "on_call", records.ANSWERED),
        AgentStateRecord("agent1", at(1), "logged_out", "logout"),
        AgentStateRecord("agent1", at(2), "idle", "login"),
        AgentStateRecord("agent1", at(3), "on_call", records.ANSWERED),
        AgentStateRecord("agent1", at(4), "on_call", records.ANSWERED),
        AgentStateRecord("agent1", at(4), "paused", records.DROPPED_ROW),
        AgentStateRecord("agent1", at(5), "on_call", "resumed after a restart"),
    ]
    assert records.calls_taken(5, rows) == 1


def test_a_restart_keeps_each_agents_count() -> None:
    last = {
        "agent1": AgentStateRecord("agent1", at(-60), "idle"),
        "agent2": AgentStateRecord("agent2", at(-50), "paused", "lunch"),
        "agent3": AgentStateRecord("agent3", at(-40), "on_call", records.ANSWERED),
        "agent4": AgentStateRecord("agent4", at(-30), "logged_out", "logout"),
    }
    board, _ = sb.step(fresh(), sb.RestoreAgents(last, {"agent1": 7, "agent2": 3, "agent3": 5}), T0)
    taken = {a.agent_id: a.calls_taken for a in board.centre.agents.values()}
    assert taken == {"agent1": 7, "agent2": 3, "agent3": 5, "agent4": 0}


class Database:
    """PostgreSQL as a restarted router reads it: agent1's last state and count."""

    def __init__(self, when: datetime) -> None:
        self.when = when

        self.asked: list[list[str]] = []  # the agents each read asked for

    async def last_agent_states(self, agents: Sequence[str]) -> dict[str, AgentStateRecord]:
        self.asked.append(list(agents))
        return {"agent1": AgentStateRecord("agent1", self.when, "idle", "call ended")}

    async def calls_taken(self, agents: Sequence[str]) -> dict[str, tuple[int, datetime]]:
        self.asked.append(list(agents))
        return {"agent1": (4, self.when)}


async def test_a_restarted_router_shows_each_agents_calls_taken(tmp_path: Path) -> None:
    board = Switchboard(tmp_path)
    when = board.clock() - timedelta(minutes=5)
    later = AgentStateRecord("agent1", when + timedelta(minutes=1), "on_call", records.ANSWERED)
    spooled: list[Record] = [
        later,
        AgentStateRecord("agent1", when + timedelta(minutes=2), "idle", "call ended"),
    ]
    database = Database(when)
    await restore_agents(board.dispatcher, board.writer, cast(Queries, database), spooled)
    shown = agent_json(board.dispatcher.board.centre.agents["agent1"])
    assert shown["state"] == "idle" and shown["calls_taken"] == 5, "4 stored, one in the spool"
    # Each read asks for the config's agents (each read by its own index range, not the table).
    assert database.asked == [sorted(board.dispatcher.board.centre.agents)] * 2


def test_a_paused_agents_phone_going_and_coming_back_takes_no_more_calls_back() -> None:
    """Each change of a paused agent (unreachable, reachable) says the pause's reason again:
    only the pause right after an answer is a dropped answer."""
    rows = [
        AgentStateRecord("agent1", T0, "on_call", records.ANSWERED),
        AgentStateRecord("agent1", at(1), "paused", records.DROPPED_ROW),
        *[
            AgentStateRecord("agent1", T0 + timedelta(seconds=2 + n), "paused", records.DROPPED_ROW)
            for n in range(4)
        ],
    ]
    assert records.calls_taken(3, rows) == 3, "one answer, dropped: as before it"
