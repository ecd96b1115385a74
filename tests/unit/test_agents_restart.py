"""The rows an agent gets across a restart: only states that happened. An agent last
recorded on a call is idle at the restore (offered calls at once), but their row waits
for the calls found in Asterisk: still talking, they get their on_call row only; their
call over, an idle row from the restore, saying why."""

from __future__ import annotations

from pathlib import Path

from callrouter.core import switchboard as sb
from callrouter.core.agents import AgentState
from callrouter.core.centre_restart import CALL_OVER
from callrouter.core.place import Place
from callrouter.core.records import AgentStateRecord
from tests.unit.switchboard import Switchboard, settle
from tests.unit.test_switchboard import CLINIC, T0, agent_writes, at, fresh, originates


def rows(out: list[sb.Command]) -> list[tuple[str, str, str]]:
    return [(record.agent, record.state, record.reason) for record, _ in agent_writes(out)]


def talking(channel_id: str, agent_id: str) -> sb.Found:
    place = Place("operator", 0, at(-90), "ru", "0", f"place-{channel_id}")
    return sb.Found(
        channel_id,
        CLINIC,
        "+79161239999",
        at(-100),
        place,
        agent_id=agent_id,
        agent_channel=f"agent-old-{agent_id}",
    )


LAST = {
    "agent1": AgentStateRecord("agent1", at(-60), "idle"),
    "agent2": AgentStateRecord("agent2", at(-50), "paused", "lunch"),
    "agent3": AgentStateRecord("agent3", at(-40), "on_call", "answered", "call-3"),  # still talking
    "agent4": AgentStateRecord("agent4", at(-30), "on_call", "answered", "call-4"),  # ended meanwhile
}


def test_an_agent_still_talking_gets_only_their_on_call_row_and_one_whose_call_ended_an_idle_one() -> None:
    board, out = sb.step(fresh(), sb.RestoreAgents(LAST), T0)
    assert rows(out) == [], "idle and paused agents are so since their own rows; the calls are not known yet"
    agents = board.centre.agents
    assert agents["agent3"].available and agents["agent4"].available, "offered calls at once, as before"
    board, out = sb.step(board, sb.Adopt((talking("c3", "agent3"),)), at(2))
    assert rows(out) == [
        ("agent3", "on_call", "resumed after a restart"),
        ("agent4", "idle", CALL_OVER[AgentState.ON_CALL]),
    ]
    (idle, _) = agent_writes(out)[1]
    assert idle.at == T0, "idle from the restore, when the router made them so"
    assert not [r for r in rows(out) if r[1] == "wrap_up"], "no router kept them in a wrap-up"
    assert board.centre.agents["agent3"].state is AgentState.ON_CALL
    assert board.centre.agents["agent4"].state is AgentState.IDLE
    _, out = sb.step(board, sb.Adopt(()), at(30))
    assert rows(out) == [], "written once (a reconnect's adoption writes nothing again)"


def test_the_rows_wait_for_an_adoption_that_read_every_channel() -> None:
    board, _ = sb.step(fresh(), sb.RestoreAgents(LAST), T0)
    board, out = sb.step(board, sb.Adopt((), complete=False), at(1))
    assert rows(out) == [], "agent3's call may be on a channel not read yet"
    board, out = sb.step(board, sb.Adopt((talking("c3", "agent3"),)), at(3))
    assert [r[:2] for r in rows(out)] == [("agent3", "on_call"), ("agent4", "idle")]


def test_an_agent_who_changes_before_the_adoption_was_idle_from_the_restore_until_then() -> None:
    board, _ = sb.step(fresh(), sb.RestoreAgents(LAST), T0)
    board, out = sb.step(board, sb.AgentCommand("agent4", "pause", "meeting"), at(1))
    assert rows(out) == [("agent4", "idle", CALL_OVER[AgentState.ON_CALL]), ("agent4", "paused", "meeting")]
    assert [r.at for r, _ in agent_writes(out)] == [T0, at(1)]
    _, out = sb.step(board, sb.Adopt(()), at(2))
    assert [r[:2] for r in rows(out)] == [("agent3", "idle")], "agent4's written already"


def test_an_agent_rung_or_wrapping_up_at_the_restart_is_idle_from_it() -> None:
    last = {
        "agent1": AgentStateRecord("agent1", at(-5), "ringing", "offered", "call-1"),
        "agent2": AgentStateRecord("agent2", at(-5), "wrap_up", "call ended", "call-2"),
    }
    board, out = sb.step(fresh(), sb.RestoreAgents(last), T0)
    assert rows(out) == []
    _, out = sb.step(board, sb.Adopt(()), at(1))
    assert rows(out) == [
        ("agent1", "idle", CALL_OVER[AgentState.RINGING]),
        ("agent2", "idle", CALL_OVER[AgentState.WRAP_UP]),
    ]


def test_states_read_late_after_the_adoption_are_written_at_once() -> None:
    """PostgreSQL away at the start: the calls found are known by then."""
    board, _ = sb.step(fresh(), sb.Adopt(()), T0)
    board, out = sb.step(board, sb.RestoreAgents(LAST), at(60))
    assert rows(out) == [
        ("agent3", "idle", CALL_OVER[AgentState.ON_CALL]),
        ("agent4", "idle", CALL_OVER[AgentState.ON_CALL]),
    ]


def test_an_agent_restored_from_a_call_is_offered_a_caller_adopted_with_the_talking_one() -> None:
    """The restore makes nobody wait: a caller adopted waiting is offered agent4 at once
    (agent3 talks), and agent4's rows say idle from the restore, then ringing."""
    last = {agent_id: LAST[agent_id] for agent_id in ("agent3", "agent4")}
    board, _ = sb.step(fresh(), sb.RestoreAgents(last), T0)
    place = Place("operator", 0, at(-10), "ru", "0", "place-c1")
    waiting = sb.Found("c1", CLINIC, "+79161230001", at(-20), place)
    board, out = sb.step(board, sb.Adopt((waiting, talking("c3", "agent3"))), at(2))
    assert [o.agent_id for o in originates(out)] == ["agent4"]
    assert [r[:2] for r in rows(out)] == [("agent3", "on_call"), ("agent4", "idle"), ("agent4", "ringing")]
    assert board.centre.agents["agent3"].state is AgentState.ON_CALL


async def test_across_a_restart_against_asterisk_each_agent_gets_the_true_rows(
    tmp_path: Path,
) -> None:
    """Two agents talking when the router stops; one call ends while none runs. The next
    router, as ``app`` starts it (the last states, then the connect), writes the one still
    talking on_call only, and the other idle."""
    first = Switchboard(tmp_path / "first")
    before = first.recording(AgentStateRecord)
    writing = await first.start()
    _, leg1 = await first.talk_to_an_agent("c1")
    _, leg2 = await first.talk_to_an_agent("c2")
    legs = first.dispatcher.board.legs
    still, ended = legs[leg1].agent_id, legs[leg2].agent_id
    await first.writer.close(writing)
    last = {record.agent: record for record in before}  # each agent's last row, as PostgreSQL has it
    assert last[still].state == last[ended].state == "on_call"
    del first.asterisk.channels["c2"], first.asterisk.channels[leg2]  # ended while no router ran

    second = Switchboard(tmp_path / "second", first.asterisk)
    after = second.recording(AgentStateRecord)
    second.dispatcher.step(sb.RestoreAgents(last))
    await second.dispatcher.on_connect()
    await settle()
    assert [(r.agent, r.state) for r in after] == [(still, "on_call"), (ended, "idle")]
    assert after[1].reason == CALL_OVER[AgentState.ON_CALL]
    agents = second.dispatcher.board.centre.agents
    assert agents[still].state is AgentState.ON_CALL and agents[ended].state is AgentState.IDLE


async def test_with_no_call_left_in_asterisk_an_agent_last_on_a_call_gets_their_idle_row(
    tmp_path: Path,
) -> None:
    """Nothing to take up: the connect's adoption still says so, and the held row is written."""
    board = Switchboard(tmp_path)
    written = board.recording(AgentStateRecord)
    board.dispatcher.step(sb.RestoreAgents({"agent1": AgentStateRecord("agent1", board.clock(), "on_call")}))
    assert written == []
    await board.dispatcher.on_connect()
    assert [(r.agent, r.state, r.reason) for r in written] == [
        ("agent1", "idle", CALL_OVER[AgentState.ON_CALL])
    ]
