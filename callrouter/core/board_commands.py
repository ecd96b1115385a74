"""The switchboard's commands: I/O only, for the shell to carry out (say to a
caller's channel, ring or hang up an agent's phone, destroy a bridge, write a
record, wake me at, take a callback's lease, dial a callback's person)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from callrouter.core import commands as cmd
from callrouter.core.evolve import quick_init
from callrouter.core.records import CallRecord, Record

# The caller-ID number an agent's phone shows for a caller who withheld theirs.
ANONYMOUS = "anonymous"


@quick_init
@dataclass(frozen=True)
class JoinBridge:
    """Put the caller and the answered agent's channel into the caller's bridge."""

    bridge_id: str
    agent_channel_id: str


@quick_init
@dataclass(frozen=True)
class MakeBridge:
    """Create the caller's bridge while their agent's phone rings (one REST call
    fewer once they answer). Sent to the caller's channel, in its order."""

    bridge_id: str


ChannelCommand = (
    cmd.Answer | cmd.Play | cmd.SetLanguage | cmd.StopPlayback | cmd.StartMoh | cmd.StopMoh
    | cmd.SetVariable | cmd.Hangup | cmd.ContinueInDialplan | JoinBridge | MakeBridge
)  # fmt: skip


@quick_init
@dataclass(frozen=True, slots=True)
class ToChannel:
    """Commands for one caller's channel, carried out in the order given. A failed
    one comes back as ``OnCall(channel, CommandFailed)`` (``ChannelGone`` on 404),
    a successful ``Answer`` as ``OnCall(channel, Answered)``."""

    channel_id: str
    command: ChannelCommand


@quick_init
@dataclass(frozen=True)
class Originate:
    """Ring an agent's phone; the channel enters the application with ``app_args``
    when answered. A failed originate comes back as ``LegGone``. The phone shows
    ``label`` as the caller-ID name and ``number`` as the number."""

    channel_id: str
    agent_id: str
    app_args: str
    ring_seconds: float
    label: str
    number: str = ANONYMOUS  # the caller's E.164 number, to phone them back; else anonymous


@quick_init
@dataclass(frozen=True)
class HangupLeg:
    """Hang up an agent's phone; once done (or Asterisk does not know it) it comes
    back as ``LegGone(channel, reason)``."""

    channel_id: str
    reason: str


@quick_init
@dataclass(frozen=True)
class DestroyBridge:
    """After whatever is still to be done on the caller's channel."""

    channel_id: str
    bridge_id: str


@quick_init
@dataclass(frozen=True, slots=True)
class Write:
    record: Record
    urgent: bool = False  # written at once (a restart must find it)


@quick_init
@dataclass(frozen=True, slots=True)
class WakeAt:
    at: datetime


@quick_init
@dataclass(frozen=True)
class CallOver:
    """The switchboard let go of this caller's channel (its record is final)."""

    channel_id: str
    record: CallRecord


@dataclass(frozen=True)
class LeaseCallback:
    """Take this callback's lease in PostgreSQL; fed back as ``CallbackLeased``."""

    callback_id: str


@dataclass(frozen=True)
class Dial:
    """Call a callback's person through the outbound route; the channel enters the
    application with ``app_args`` when answered (``DialAnswered``), a failed
    originate or an unanswered call comes back as ``DialGone``."""

    channel_id: str
    number: str
    app_args: str
    ring_seconds: float
    label: str
    route: str = ""  # the route's template ({number}); empty: the callbacks' route


@dataclass(frozen=True)
class TakeResults:
    """Take (lease) up to ``limit`` due notifications of these lines (their calling
    windows are open), none of ``holding`` (dialled now); fed back as ``ResultsTaken``."""

    lines: tuple[str, ...]
    limit: int
    holding: tuple[str, ...] = ()


@dataclass(frozen=True)
class ForResults:
    """A results call's check of the keyed secret, or its disclosure's audit row
    (``VerifySecret``, ``AuditDisclosure``): the answer goes back to the channel."""

    channel_id: str
    call_id: str
    command: cmd.VerifySecret | cmd.AuditDisclosure


Command = (
    ToChannel | Originate | HangupLeg | DestroyBridge | Write | WakeAt | CallOver | LeaseCallback | Dial
    | TakeResults | ForResults
)  # fmt: skip
