"""The centre after a restart: its agents in the states the process before left
them in, and those still talking on calls a restarted router adopted."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from callrouter.core import agents as ag
from callrouter.core.centre import AgentChanged, Centre, CentreCommand, Result
from callrouter.core.records import AgentStateRecord

NONE: Mapping[str, int] = {}  # no calls taken known: 0 each

# Why an agent last recorded on a call's state is idle after a restart: the router before
# followed that call no further (a call still up is adopted, and the agent is on it again).
# No wrap-up is recorded for a call that ended while no router ran: a wrap-up is the time the
# router keeps an agent from the next call, and no router kept them; when the call ended is
# not known either (its row's end is written later, at its last recorded moment).
RESTORED = "restored after a restart"
RESUMED = "resumed after a restart"  # found still talking
CALL_OVER: dict[str, str] = {
    ag.AgentState.RINGING: f"{RESTORED}: the ring of the router before is over",
    ag.AgentState.ON_CALL: f"{RESTORED}: their call ended while no router ran",
    ag.AgentState.WRAP_UP: f"{RESTORED}: their wrap-up is over",
}


def restore_agents(
    centre: Centre,
    last: Mapping[str, AgentStateRecord],
    now: datetime,
    taken: Mapping[str, int] = NONE,
) -> Result:
    """At start: every agent in the state the previous router process left them in.
    Only a changed state is recorded (a call's state, now idle: ``CALL_OVER`` says
    why): an agent idle or paused still is so since their recorded change, which a
    later restart reads again. Read late (PostgreSQL away at the start), it changes
    only agents still logged out: the others have done something since (logged in,
    or a call adopted). Each keeps the count of calls they took since their log-in (``taken``)."""
    commands: list[CentreCommand] = []
    for agent in list(centre.agents.values()):
        recorded = last.get(agent.agent_id)
        if agent.state is not ag.AgentState.LOGGED_OUT:
            continue
        restored = ag.restore(agent, recorded, now, taken.get(agent.agent_id, 0))
        if restored is not agent:
            centre = centre._with_agent(restored)
            if recorded is None or restored.state.value != recorded.state:
                said = CALL_OVER.get(recorded.state, RESTORED) if recorded is not None else RESTORED
                commands.append(AgentChanged(restored, said))
    return centre, commands


def resume_call(centre: Centre, agent_id: str, entry_id: str, now: datetime) -> Result:
    """After a restart: this agent is still talking on the call of ``entry_id``."""
    agent = ag.resume_call(centre.agents[agent_id], entry_id, now)
    return centre._with_agent(agent), [AgentChanged(agent, RESUMED)]
