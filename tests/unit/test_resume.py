"""A caller who was waiting when the router stopped keeps their place: the next
router reads it back from the channel, and neither greets nor menus them again."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callrouter.core import switchboard as sb
from callrouter.core.place import VARIABLE, Place, compact_json
from callrouter.core.records import PlaceRecord, PlaceState
from tests.unit.switchboard import Switchboard, settle

T0 = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [None, "", "not json", "[]", '["infection", "10", "2026-11-23T07:00:00+00:00", "ru", null]',
     '["infection", 10, "2026-11-23T07:00:00", "ru", null]', '["infection", 10, "yesterday", "ru", null]',
     '{"topic": "infection"}', '["infection", 10, "2026-11-23T07:00:00+00:00", "ru", 5]'],
)  # fmt: skip
def test_a_place_that_is_not_ours_reads_as_none(text: str | None) -> None:
    assert Place.from_variable(text) is None


def test_a_place_comes_back_from_its_variable() -> None:
    place = Place("urgent", 100, T0 + timedelta(seconds=3.5), "ru", "4")
    assert Place.from_variable(place.to_variable()) == place


@given(st.lists(st.text() | st.integers() | st.none()))
def test_the_variables_json_is_what_json_dumps_writes(items: list[str | int | None]) -> None:
    """Written without an encoder for each call, for speed: the same text, to the character."""
    assert compact_json(items) == json.dumps(items, separators=(",", ":"))


async def test_waiting_callers_resume_their_places_in_order_after_a_restart(tmp_path: Path) -> None:
    first = Switchboard(tmp_path / "first")
    writing = await first.start()
    for agent in list(first.dispatcher.board.centre.agents):  # nobody answers: they all wait
        first.dispatcher.step(sb.AgentCommand(agent, "logout"))
    for n, channel in enumerate(["c1", "c2", "c3"]):
        first.clock.now = T0 + timedelta(seconds=10 * n)
        await first.wait_for_operator(channel)
    joined = {str(e.channel_id): e.joined_at for e in first.dispatcher.board.centre.queue.ordered()}
    places = [e.entry_id for e in first.dispatcher.board.centre.queue.ordered()]
    assert not set(places) & {call.record.call_id for call in first.dispatcher.board.calls.values()}
    assert list(joined) == ["c1", "c2", "c3"]
    assert all((c, VARIABLE) in first.asterisk.variables for c in joined)
    await first.writer.close(writing)

    # The router dies; Asterisk keeps the channels. The next one adopts them (in another order).
    asterisk = first.asterisk
    asterisk.channels = dict(reversed(asterisk.channels.items()))
    asterisk.calls.clear()
    second = Switchboard(tmp_path / "second", asterisk)
    second.clock.now = T0 + timedelta(minutes=5)
    await second.dispatcher.on_connect()
    await settle()
    queue = second.dispatcher.board.centre.queue.ordered()
    assert [(e.channel_id, e.joined_at) for e in queue] == list(joined.items()), "same places, same order"
    assert [e.entry_id for e in queue] == places, "the same places (their own ids), not new ones"
    played = [args for method, args in asterisk.calls if method == "play"]
    assert played and not any("menu" in m or "greeting" in m for args in played for m in args[1])
    calls = second.dispatcher.board.calls
    assert all(calls[c].record.call_id == first_id for c, first_id in _ids(first, joined))


def _ids(board: Switchboard, channels: dict[str, datetime]) -> list[tuple[str, str]]:
    from callrouter.core.call import call_id_for

    return [(c, call_id_for("asterisk-1", c)) for c in channels]


async def test_an_agent_leg_rung_by_a_router_before_a_restart_is_hung_up(tmp_path: Path) -> None:
    from callrouter.ari import models as ari
    from tests.unit.switchboard import up

    board = Switchboard(tmp_path)
    await board.dispatcher.on_connect()
    channel = board.asterisk.channels["agent-old-1"] = up("agent-old-1")
    board.dispatcher.handle(
        board.event(ari.StasisStart, args=["agent", "old-entry", "agent1"], channel=channel)
    )
    await settle()
    assert "agent-old-1" in board.asterisk.hung_up, "nobody waits on that answer: the agent is freed"


async def test_a_caller_talking_to_an_agent_stays_connected_after_a_restart(tmp_path: Path) -> None:
    from callrouter.core.agents import AgentState

    first = Switchboard(tmp_path / "first")
    writing = await first.start()
    _, agent_channel = await first.talk_to_an_agent("c1")
    agent_id = first.dispatcher.board.legs[agent_channel].agent_id
    await first.writer.close(writing)
    first.asterisk.calls.clear()

    second = Switchboard(tmp_path / "second", first.asterisk)
    await second.dispatcher.on_connect()
    await settle()
    call = second.dispatcher.board.calls["c1"]
    assert call.phase.value == "connected" and call.record.agent == agent_id
    assert second.dispatcher.board.centre.agents[agent_id].state is AgentState.ON_CALL, "never rung again"
    assert not second.dispatcher.board.centre.queue.entries, "not put back in the queue"
    assert not [c for c in first.asterisk.calls if c[0] in ("play", "originate", "hangup", "add_to_bridge")]
    # The caller hangs up: the agent's leg is hung up, and the agent is free again.
    second.hang_up("c1")
    await settle()
    assert agent_channel in first.asterisk.hung_up
    assert second.dispatcher.board.centre.agents[agent_id].state is not AgentState.ON_CALL


async def test_a_talking_agent_is_never_offered_to_a_resumed_waiting_caller(tmp_path: Path) -> None:
    from callrouter.core.agents import AgentState

    first = Switchboard(tmp_path / "first")
    writing = await first.start()
    agents = list(first.dispatcher.board.centre.agents)
    for agent in agents[1:]:
        first.dispatcher.step(sb.AgentCommand(agent, "logout"))
    await first.talk_to_an_agent("c1")
    for waiting in ("c0", "c00"):  # nobody else is logged in: they wait (and are adopted first)
        await first.wait_for_operator(waiting)
    await first.writer.close(writing)
    # The agent comes back logged in (restored); the waiting caller c0 is adopted first.
    first.asterisk.calls.clear()
    second = Switchboard(tmp_path / "second", first.asterisk)
    second.dispatcher.step(sb.AgentCommand(agents[0], "login"))
    await second.dispatcher.on_connect()
    await settle()
    centre = second.dispatcher.board.centre
    assert centre.agents[agents[0]].state is AgentState.ON_CALL
    assert [e.channel_id for e in centre.queue.ordered()] == ["c0", "c00"]
    assert all(e.offered_to is None for e in centre.queue.ordered()), "the talking agent was offered a caller"
    assert not [c for c in first.asterisk.calls if c[0] == "originate"]


@pytest.mark.parametrize(
    "text", [None, "", "[]", '["2", "ru"]', '["2", "", "92"]', '[2, "ru", "92"]', '{"path": "2"}']
)
def test_a_menu_level_that_is_not_ours_reads_as_none(text: str | None) -> None:
    from callrouter.core.place import MenuLevel

    assert MenuLevel.from_variable(text) is None


async def test_a_caller_in_a_submenu_hears_that_level_again_after_a_restart(tmp_path: Path) -> None:
    from callrouter.core.place import MENU_VARIABLE, MenuLevel

    first = Switchboard(tmp_path / "first")
    writing = await first.start()
    first.arrive("c1")
    await settle()
    first.press("c1", "9")  # the next language
    first.press("c1", "2")  # appointments
    await settle()
    kept = MenuLevel.from_variable(first.asterisk.variables[("c1", MENU_VARIABLE)])
    assert kept is not None and kept.path == ("2",) and kept.keys == ("9", "2")
    await first.writer.close(writing)

    first.asterisk.calls.clear()
    second = Switchboard(tmp_path / "second", first.asterisk)
    await second.dispatcher.on_connect()
    await settle()
    played = [args[1] for method, args in first.asterisk.calls if method == "play" and args[0] == "c1"]
    assert len(played) == 1 and played[0][0].endswith(f"/{kept.language}/menu_appointments"), played
    call = second.dispatcher.board.calls["c1"]
    assert call.menu.path == ("2",) and call.language == kept.language != "ru"
    second.press("c1", "3")  # home visit: the keys of the first router still count
    await settle()
    call = second.dispatcher.board.calls["c1"]
    assert call.record.topic == "home_visit" and call.record.menu_path == "923"


def _recording(board: Switchboard) -> list[PlaceRecord]:
    """The place records this router submits to its writer."""
    return board.recording(PlaceRecord)


async def test_a_caller_whose_channel_lost_its_place_resumes_the_stored_one(tmp_path: Path) -> None:
    first = Switchboard(tmp_path / "first")
    written = _recording(first)
    writing = await first.start()
    for agent in list(first.dispatcher.board.centre.agents):  # nobody answers: they all wait
        first.dispatcher.step(sb.AgentCommand(agent, "logout"))
    for n, channel in enumerate(["c1", "c2", "c3"]):
        first.clock.now = T0 + timedelta(seconds=10 * n)
        await first.wait_for_operator(channel)
    queue = {e.channel_id: e for e in first.dispatcher.board.centre.queue.ordered()}
    await first.writer.close(writing)
    latest = {p.place_id: p for p in written}  # what PostgreSQL (or the spool) keeps
    stored = [p for p in latest.values() if p.state is PlaceState.WAITING]
    assert len(stored) == 3

    # The router dies. c1's channel lost its variable; c3 hung up while no router ran.
    asterisk = first.asterisk
    del asterisk.variables[("c1", VARIABLE)]
    del asterisk.channels["c3"]
    asterisk.calls.clear()
    second = Switchboard(tmp_path / "second", asterisk)
    closed = _recording(second)
    second.clock.now = T0 + timedelta(minutes=5)
    second.dispatcher.restore_places(stored)
    await second.dispatcher.on_connect()
    await settle()
    resumed = second.dispatcher.board.centre.queue.ordered()
    assert [(e.channel_id, e.entry_id, e.joined_at) for e in resumed] == [
        (c, queue[c].entry_id, queue[c].joined_at) for c in ("c1", "c2")
    ], "c1 keeps its place from the record, c2 from its channel"
    played = [args for method, args in asterisk.calls if method == "play"]
    assert not any("menu" in m or "greeting" in m for args in played for m in args[1])
    assert {(p.place_id, p.state) for p in closed} == {
        (queue["c1"].entry_id, PlaceState.WAITING),
        (queue["c2"].entry_id, PlaceState.WAITING),
        (queue["c3"].entry_id, PlaceState.LEFT),
    }
    assert [p.at for p in closed] == [second.clock.now] * 3
    # Another reconnect adopts nothing more and closes nothing again.
    await second.dispatcher.on_connect()
    await settle()
    assert len(closed) == 3


async def test_a_talking_caller_whose_channel_lost_its_place_stays_connected(tmp_path: Path) -> None:
    first = Switchboard(tmp_path / "first")
    written = _recording(first)
    writing = await first.start()
    entry_id, agent_channel = await first.talk_to_an_agent("t1")
    agent_id = first.dispatcher.board.legs[agent_channel].agent_id
    await first.writer.close(writing)
    # Killed before the "connected" record was written, and the channel lost its variable:
    # only the waiting place is stored, and only the agent's leg names it.
    stored = [p for p in written if p.place_id == entry_id and p.state is PlaceState.WAITING]
    assert len(stored) == 1
    asterisk = first.asterisk
    del asterisk.variables[("t1", VARIABLE)]
    asterisk.calls.clear()
    second = Switchboard(tmp_path / "second", asterisk)
    closed = _recording(second)
    second.dispatcher.restore_places(stored)
    await second.dispatcher.on_connect()
    await settle()
    call = second.dispatcher.board.calls["t1"]
    assert call.phase.value == "connected" and call.entry_id == entry_id
    assert second.dispatcher.board.centre.agents[agent_id].state.value == "on_call"
    assert agent_channel not in asterisk.hung_up, "its agent's leg is not a stray"
    assert not second.dispatcher.board.centre.queue.entries, "not put back in the queue"
    assert [(p.place_id, p.state) for p in closed] == [(entry_id, PlaceState.CONNECTED)]
