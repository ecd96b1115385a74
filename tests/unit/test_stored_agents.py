"""A router started while PostgreSQL cannot answer does not know the agents' last
states only PostgreSQL holds: those agents are logged out (no call is offered to
them) until it answers. Then each still logged out as at the start gets their last
state; one who did anything meanwhile keeps what they did."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from callrouter.calls.stored_agents import StoredAgents
from callrouter.core import switchboard as sb
from callrouter.core.agents import AgentState
from callrouter.core.records import AgentStateRecord
from tests.unit.switchboard import Switchboard, settle


class Database:
    """PostgreSQL's agents' last states, or None while it cannot answer."""

    def __init__(self) -> None:
        self.last: dict[str, AgentStateRecord] | None = None
        self.reads = 0

    async def read(self) -> dict[str, AgentStateRecord] | None:
        self.reads += 1
        return self.last


def reader(board: Switchboard, database: Database, settled: bool = True) -> StoredAgents:
    dispatcher = board.dispatcher
    return StoredAgents(
        database.read,
        lambda: settled,
        lambda: dispatcher.board.centre.agents,
        lambda late: dispatcher.step(sb.RestoreAgents(late)),
        0.01,
    )


def states(board: Switchboard) -> dict[str, AgentState]:
    return {a.agent_id: a.state for a in board.dispatcher.board.centre.agents.values()}


async def test_agents_get_their_last_states_once_postgresql_answers(tmp_path: Path) -> None:
    board, database = Switchboard(tmp_path), Database()
    writing = asyncio.create_task(board.writer.run())
    await board.dispatcher.on_connect()
    agents = reader(board, database)  # made at the start: everyone logged out
    assert not await agents.read_now(), "PostgreSQL cannot answer"
    assert set(states(board).values()) == {AgentState.LOGGED_OUT}
    # Meanwhile agent2 logs in, and agent4 logs in and out again.
    for agent, command in (("agent2", "login"), ("agent4", "login"), ("agent4", "logout")):
        board.dispatcher.step(sb.AgentCommand(agent, command))
    earlier = board.clock() - timedelta(hours=1)
    database.last = {
        "agent1": AgentStateRecord("agent1", earlier, "idle"),
        "agent2": AgentStateRecord("agent2", earlier, "paused", "lunch"),
        "agent3": AgentStateRecord("agent3", earlier, "logged_out"),
        "agent4": AgentStateRecord("agent4", earlier, "idle"),
    }
    assert await agents.read_now() and agents.read
    now = board.dispatcher.board.centre.agents
    assert now["agent1"].state is AgentState.IDLE and now["agent1"].since == earlier, "its last state"
    assert now["agent2"].state is AgentState.IDLE and now["agent2"].pause_reason is None, "logged in since"
    assert now["agent3"].state is AgentState.LOGGED_OUT
    assert now["agent4"].state is AgentState.LOGGED_OUT, "logged out since the start, by their own hand"
    # A caller is offered to the longest idle of the two now: agent1 (idle for an hour).
    await board.wait_for_operator("c1")
    assert [args.split(",")[2] for args in board.asterisk.ringing.values()] == ["agent1"]
    board.hang_up("c1")
    await board.quiet()
    await board.writer.close(writing)


async def test_read_again_only_once_settled_and_then_no_more(tmp_path: Path) -> None:
    board, database = Switchboard(tmp_path), Database()
    await board.dispatcher.on_connect()
    unsettled = reader(board, database, settled=False)
    task = asyncio.create_task(unsettled.run())
    await asyncio.sleep(0.1)
    assert database.reads == 0, "not read while records of this process are on their way"
    task.cancel()
    database.last = {"agent1": AgentStateRecord("agent1", board.clock(), "paused", "training")}
    agents = reader(board, database)
    await asyncio.wait_for(agents.run(), 1)
    assert database.reads == 1 and agents.read
    assert states(board)["agent1"] is AgentState.PAUSED
    await agents.run()  # read once: never again
    assert database.reads == 1
    await settle()
