"""Agents' state machine: logged out, idle, ringing, on call, wrap-up, paused.

Every way in (admin API, feature code, the call flow) ends in these pure
transitions. A transition that does not apply to the current state raises
``AgentStateError`` so the caller can answer "not now" instead of corrupting
state. An agent leaves RINGING in every case: answer, no answer (auto-pause),
reject or failed originate (auto-pause), or the caller leaving (back to idle).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from callrouter.core.evolve import evolve
from callrouter.core.records import AgentStateRecord


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    IDLE = "idle"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class AgentStateError(ValueError):
    pass


@dataclass(frozen=True)
class Agent:
    agent_id: str
    topics: frozenset[str]
    languages: frozenset[str]
    state: AgentState = AgentState.LOGGED_OUT
    since: datetime | None = None  # when the current state began
    idle_since: datetime | None = None  # fairness: who waited longest for a call
    pause_reason: str | None = None
    entry_id: str | None = None  # the queue entry offered to / talking with
    wrap_up_until: datetime | None = None
    reachable: bool = True  # the softphone's endpoint is registered / online
    calls_taken: int = field(default=0)  # answered since their log-in (0 logged out); a restart keeps it

    def can_serve(self, topic: str, language: str) -> bool:
        return topic in self.topics and language in self.languages

    @property
    def available(self) -> bool:
        return self.state is AgentState.IDLE and self.reachable


def _require(agent: Agent, *states: AgentState) -> None:
    if agent.state not in states:
        allowed = ", ".join(sorted(s.value for s in states))  # one order, whichever command asks
        raise AgentStateError(f"agent {agent.agent_id} is {agent.state.value}; needs {allowed}")


def login(agent: Agent, now: datetime) -> Agent:
    _require(agent, AgentState.LOGGED_OUT)
    return evolve(agent, state=AgentState.IDLE, since=now, idle_since=now, pause_reason=None, calls_taken=0)


def logout(agent: Agent, now: datetime) -> Agent:
    # Never mid-call: a ringing or talking agent logs out after the call.
    _require(agent, AgentState.IDLE, AgentState.PAUSED, AgentState.WRAP_UP)
    return evolve(
        agent, state=AgentState.LOGGED_OUT, since=now, idle_since=None, pause_reason=None, wrap_up_until=None,
        calls_taken=0,
    )  # fmt: skip


def pause(agent: Agent, now: datetime, reason: str) -> Agent:
    _require(agent, AgentState.IDLE, AgentState.WRAP_UP, AgentState.PAUSED)
    return evolve(agent, state=AgentState.PAUSED, since=now, pause_reason=reason, wrap_up_until=None)


def resume(agent: Agent, now: datetime) -> Agent:
    _require(agent, AgentState.PAUSED)
    return evolve(agent, state=AgentState.IDLE, since=now, idle_since=now, pause_reason=None)


def offer(agent: Agent, now: datetime, entry_id: str) -> Agent:
    """Reserve the agent for a caller while their phone rings."""
    _require(agent, AgentState.IDLE)
    if not agent.reachable:
        raise AgentStateError(f"agent {agent.agent_id} is unreachable")
    return evolve(agent, state=AgentState.RINGING, since=now, entry_id=entry_id)


def answered(agent: Agent, now: datetime, entry_id: str) -> Agent:
    _require(agent, AgentState.RINGING)
    _same_entry(agent, entry_id)
    return evolve(agent, state=AgentState.ON_CALL, since=now, calls_taken=agent.calls_taken + 1)


def offer_cancelled(agent: Agent, now: datetime, entry_id: str) -> Agent:
    """The caller left while the agent's phone rang: back to idle, place kept."""
    _require(agent, AgentState.RINGING)
    _same_entry(agent, entry_id)
    return evolve(agent, state=AgentState.IDLE, since=now, entry_id=None)


def not_answered(agent: Agent, now: datetime, entry_id: str, reason: str) -> Agent:
    """No answer, rejected or unreachable: auto-pause, so nobody else waits on them."""
    _require(agent, AgentState.RINGING)
    _same_entry(agent, entry_id)
    return evolve(agent, state=AgentState.PAUSED, since=now, entry_id=None, pause_reason=reason)


def dropped(agent: Agent, now: datetime, entry_id: str, reason: str) -> Agent:
    """Their phone went as it answered: auto-paused as for a ring let go (a softphone
    that answers without media would take caller after caller), the call not counted."""
    _require(agent, AgentState.ON_CALL)
    _same_entry(agent, entry_id)
    return evolve(
        agent, state=AgentState.PAUSED, since=now, entry_id=None, pause_reason=reason,
        calls_taken=max(agent.calls_taken - 1, 0),
    )  # fmt: skip


def call_ended(agent: Agent, now: datetime, entry_id: str, wrap_up: timedelta) -> Agent:
    _require(agent, AgentState.ON_CALL)
    _same_entry(agent, entry_id)
    if wrap_up <= timedelta(0):
        return evolve(agent, state=AgentState.IDLE, since=now, idle_since=now, entry_id=None)
    return evolve(agent, state=AgentState.WRAP_UP, since=now, entry_id=None, wrap_up_until=now + wrap_up)


def tick(agent: Agent, now: datetime) -> Agent:
    """Time passes: a finished wrap-up becomes idle (never earlier)."""
    if agent.state is AgentState.WRAP_UP and agent.wrap_up_until is not None and now >= agent.wrap_up_until:
        return evolve(
            agent,
            state=AgentState.IDLE,
            since=agent.wrap_up_until,
            idle_since=agent.wrap_up_until,
            wrap_up_until=None,
        )
    return agent


def set_reachable(agent: Agent, reachable: bool) -> Agent:
    return evolve(agent, reachable=reachable)


def _same_entry(agent: Agent, entry_id: str) -> None:
    if agent.entry_id != entry_id:
        raise AgentStateError(f"agent {agent.agent_id} holds {agent.entry_id}, not {entry_id}")


def restore(agent: Agent, last: AgentStateRecord | None, now: datetime, calls_taken: int = 0) -> Agent:
    """The state a restarted router gives an agent: a restart logs nobody out and
    ends nobody's pause, which keep the time they began, nor the count of calls they
    took since their log-in (``records.calls_taken``). An agent who was rung, talking or wrapping up
    is idle from now (their call, if it is still up, is the adopting call's to follow)."""
    if last is None or last.state == AgentState.LOGGED_OUT:
        return agent
    if last.state == AgentState.PAUSED:
        return evolve(
            agent, state=AgentState.PAUSED, since=last.at, pause_reason=last.reason or "paused",
            calls_taken=calls_taken,
        )  # fmt: skip
    since = last.at if last.state == AgentState.IDLE else now  # idle since then: fairness and the API
    return evolve(agent, state=AgentState.IDLE, since=since, idle_since=since, calls_taken=calls_taken)


def resume_call(agent: Agent, entry_id: str, now: datetime) -> Agent:
    """A restarted router found this agent still talking (their leg bridged with a
    caller it adopted): on that call, whatever the records said."""
    return evolve(agent, state=AgentState.ON_CALL, since=now, entry_id=entry_id, pause_reason=None)
