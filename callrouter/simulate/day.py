"""What a simulated day is made of: its outcome (``Day``: the records the
switchboard wrote and what the model saw), a caller's channel in the model's
Asterisk (``Channel``), the events the model's clock holds and what the model
reads of the switchboard's outcomes; ``engine`` plays the day."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from callrouter.core import commands as cmd
from callrouter.core import switchboard as sb
from callrouter.core.records import AgentStateRecord, CallbackRecord, CallRecord, Outcome
from callrouter.simulate.people import Person
from callrouter.simulate.scenario import Scenario

# Calls that ended without the person being served: they may call again.
UNSERVED = frozenset({Outcome.ABANDONED, Outcome.SHORT_ABANDON, Outcome.OVERFLOW, Outcome.BUSY})
# What the model does something with, of the commands for a caller's channel (``to_channel``).
HEARD = frozenset({cmd.Play, cmd.StopPlayback, sb.JoinBridge, cmd.Hangup, cmd.ContinueInDialplan})
# Agents in these states may log out (not while rung or talking).
FREE_STATES = frozenset({"idle", "wrap_up", "paused"})
PRESENTED = "allowed_not_screened"  # a caller who shows their number
WITHHELD = "prohib_not_screened"  # one who withholds it (the network still asserts it)
# Past this, whatever is still going is ended (calls last at most [router] max_call_seconds).
HORIZON = timedelta(days=1)

# The heap's events: (at, seq, kind, subject, detail).
(
    ARRIVE, KEY, PLAYED, ABANDON, TALK_END, GONE, LEG_ANSWERS, LEG_GONE, WAKE, LOGIN, LOGOUT,
    OFFER_KEY, LEASED, DIAL_ANSWERS, DIAL_GONE, MENU_HANGUP, RESUME,
) = range(17)  # fmt: skip
# Sees every step: the board after it, and its commands.
Observer = Callable[[sb.Board, list[sb.Command]], None]
Progress = Callable[[datetime], None]  # told each simulated hour reached (its start)


@dataclass(slots=True)
class Channel:
    """A caller's channel in the model's Asterisk."""

    person: Person
    key: int = 0  # keys pressed so far
    playing: str | None = None  # the playback whose end is due
    queued: bool = False  # joined the queue (their patience runs)
    talking: bool = False
    offered: bool = False  # decided about the callback offer


@dataclass
class Day:
    """What the switchboard wrote in a simulated day, and what the model saw of it."""

    scenario: Scenario
    people: list[Person]
    calls: list[CallRecord] = field(default_factory=list)  # final records (CallOver), in order
    agent_states: list[AgentStateRecord] = field(default_factory=list)
    callbacks: dict[str, CallbackRecord] = field(default_factory=dict)  # the last record of each
    dials: list[datetime] = field(default_factory=list)  # each callback's call made, at
    steps: int = 0
    ended_at: datetime | None = None
    # Redials that would come after the day's end (people call that day only): not made.
    late_redials: int = 0
