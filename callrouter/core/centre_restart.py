"""The centre after a restart: its agents in the states the process before left
them in, and those still talking on calls a restarted router adopted."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from callrouter.core import agents as ag
from callrouter.core.centre import AgentChanged, Centre, CentreCommand, Result
from callrouter.core.records import AgentStateRecord


def restore_agents(centre: Centre, last: Mapping[str, AgentStateRecord], now: datetime) -> Result:
    """At start: every agent in the state the previous router process left them in.
    Only a changed state is recorded (a call's state, now idle): an agent idle or
    paused still is so since their recorded change, which a later restart reads again.
    Read late (PostgreSQL away at the start), it changes only agents still logged out:
    the others have done something since (logged in, or a call adopted)."""
    commands: list[CentreCommand] = []
    for agent in list(centre.agents.values()):
        recorded = last.get(agent.agent_id)
        if agent.state is not ag.AgentState.LOGGED_OUT:
            continue
        restored = ag.restore(agent, recorded, now)
        if restored is not agent:
            centre = centre._with_agent(restored)
            if recorded is None or restored.state.value != recorded.state:
                commands.append(AgentChanged(restored, "restored after a restart"))
    return centre, commands


def resume_call(centre: Centre, agent_id: str, entry_id: str, now: datetime) -> Result:
    """After a restart: this agent is still talking on the call of ``entry_id``."""
    agent = ag.resume_call(centre.agents[agent_id], entry_id, now)
    return centre._with_agent(agent), [AgentChanged(agent, "resumed after a restart")]
