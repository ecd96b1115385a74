"""A restarted router gives agents back the states the last process left them in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from callrouter.core.agents import Agent, AgentState, restore
from callrouter.core.records import AgentStateRecord
from callrouter.store import spool

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
BEFORE = NOW - timedelta(minutes=3)
AGENT = Agent("agent1", frozenset({"operator"}), frozenset({"en"}))


def test_an_agent_never_recorded_stays_logged_out() -> None:
    assert restore(AGENT, None, NOW) is AGENT


def test_a_logged_out_agent_stays_logged_out() -> None:
    assert (
        restore(AGENT, AgentStateRecord("agent1", BEFORE, "logged_out", "logout"), NOW).state
        is AgentState.LOGGED_OUT
    )


def test_a_paused_agent_stays_paused_with_the_reason() -> None:
    agent = restore(AGENT, AgentStateRecord("agent1", BEFORE, "paused", "lunch"), NOW)
    assert (agent.state, agent.pause_reason, agent.since) == (AgentState.PAUSED, "lunch", BEFORE)


def test_an_idle_agent_keeps_their_place_in_the_idle_order() -> None:
    agent = restore(AGENT, AgentStateRecord("agent1", BEFORE, "idle", "login"), NOW)
    assert (agent.state, agent.idle_since) == (AgentState.IDLE, BEFORE)


@pytest.mark.parametrize("state", ["ringing", "on_call", "wrap_up"])
def test_an_agent_caught_mid_call_is_idle_again_and_waits_from_now(state: str) -> None:
    agent = restore(AGENT, AgentStateRecord("agent1", BEFORE, state, "offered"), NOW)
    assert (agent.state, agent.idle_since, agent.entry_id) == (AgentState.IDLE, NOW, None)


def test_the_spool_is_read_without_moving_it(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    record = AgentStateRecord("agent1", BEFORE, "paused", "lunch")
    spool.append(path, [spool.encode(record), "{torn"])
    assert spool.scan(path, tmp_path / "records.replaying") == [record]
    assert path.exists()
