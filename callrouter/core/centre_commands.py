"""What a centre transition tells the switchboard to do (``centre``): ring an agent,
cancel a ring, connect a place, overflow it, and an agent's change to record."""

from __future__ import annotations

from dataclasses import dataclass, field

from callrouter.core.agents import Agent
from callrouter.core.evolve import quick_init
from callrouter.core.queue import QueueEntry

__all__ = ["AgentChanged", "CancelRing", "CentreCommand", "Connect", "OverflowEntry", "RingAgent"]


@quick_init
@dataclass(frozen=True)
class RingAgent:
    agent_id: str
    entry_id: str


@dataclass(frozen=True)
class CancelRing:
    agent_id: str
    entry_id: str


@quick_init
@dataclass(frozen=True)
class Connect:
    agent_id: str
    entry_id: str
    entry: QueueEntry | None = field(default=None, compare=False, repr=False)  # the place as it was


@dataclass(frozen=True)
class OverflowEntry:
    entry_id: str
    reason: str  # "max_wait", "no_agents"
    # The place as it was (for its record): an owned centre's queue has let it go already.
    entry: QueueEntry | None = field(default=None, compare=False, repr=False)


@quick_init
@dataclass(frozen=True, slots=True)
class AgentChanged:
    agent: Agent
    reason: str


CentreCommand = RingAgent | CancelRing | Connect | OverflowEntry | AgentChanged
