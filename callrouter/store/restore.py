"""What a restarted router reads back at start: the agents' last states, the
queue's waiting places, the people the switchboard remembers and the open
callbacks.

From PostgreSQL and from the spool (what the last process could not write yet),
the newest of the two winning. Read once, before the first call; never on a
call's path: the spool is scanned once (``read_spool``) for all four readers. A
database that cannot answer leaves the spool's word alone (and agents it does not
know stay logged out).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol, TypeVar

import asyncpg

from callrouter.core.records import (
    AgentStateRecord,
    CallbackRecord,
    CallbackState,
    CallRecord,
    PersonRecord,
    PlaceRecord,
    PlaceState,
    Record,
    callback_key,
)
from callrouter.core.records import calls_taken as carried
from callrouter.store import spool
from callrouter.store.queries import DatabaseUnavailable, Queries

log = logging.getLogger(__name__)

OPEN = (CallbackState.PENDING, CallbackState.DIALLING)


class _Change(Protocol):
    @property
    def at(self) -> datetime: ...


_R = TypeVar("_R", bound=_Change)
_T = TypeVar("_T")


async def _stored(what: str, read: Awaitable[_T], nothing: _T) -> _T:
    """PostgreSQL's word, or ``nothing`` (said in the log) when it cannot answer."""
    try:
        return await read
    except (DatabaseUnavailable, asyncpg.PostgresError) as exc:
        log.warning("%s not read from the database (%s); the spool's only", what, exc)
        return nothing


def _newest(stored: Iterable[_R], spooled: Iterable[_R], key: Callable[[_R], str]) -> dict[str, _R]:
    """Each thing's latest change: the database's, then the spool's, a later change
    winning (equal times: the spool's, and in the spool a later line)."""
    last = {key(r): r for r in stored}
    for record in spooled:
        known = last.get(key(record))
        if known is None or record.at >= known.at:
            last[key(record)] = record
    return last


async def read_spool(spool_files: tuple[Path, ...]) -> list[Record]:
    """Every record the spool files hold, in order (off the event loop): the readers'
    ``spooled``. The spool is large only after an outage, so it is read once."""
    return await asyncio.to_thread(spool.scan, *spool_files)


def _of(spooled: Sequence[Record], kind: type[_R]) -> list[_R]:
    return [r for r in spooled if isinstance(r, kind)]


async def last_agent_states(
    queries: Queries, spooled: Sequence[Record], agents: Sequence[str]
) -> tuple[dict[str, AgentStateRecord], bool]:
    """Each of ``agents``' last state (PostgreSQL's, then the spool's), and whether PostgreSQL
    answered: if not, the states only it holds are unknown (those agents stay logged
    out until it is read again: ``calls.stored_agents``)."""
    read = queries.last_agent_states(agents)
    stored: dict[str, AgentStateRecord] | None = await _stored("agents' last states", read, None)
    last = _newest((stored or {}).values(), _of(spooled, AgentStateRecord), lambda r: r.agent)
    return last, stored is not None


async def calls_taken(
    queries: Queries, spooled: Sequence[Record], agents: Sequence[str]
) -> dict[str, int] | None:
    """Each agent's calls taken since their log-in (``Agent.calls_taken``): PostgreSQL's
    count, carried on through the spool's later rows; None (said in the log) when
    PostgreSQL cannot answer: each agent's count is then 0, or what the spool alone tells
    (read again only with the states of agents a late read restores: ``calls.stored_agents``)."""
    stored = await _stored("calls taken", queries.calls_taken(agents), None)
    if stored is None:
        return None
    counts = {agent: count for agent, (count, _) in stored.items()}
    rows: dict[str, list[AgentStateRecord]] = {}
    for row in _of(spooled, AgentStateRecord):
        _, last_at = stored.get(row.agent, (0, None))
        if last_at is None or row.at > last_at:  # not in PostgreSQL yet
            rows.setdefault(row.agent, []).append(row)
    for agent, later in rows.items():
        counts[agent] = carried(counts.get(agent, 0), sorted(later, key=lambda r: r.at))
    return counts


async def waiting_places(queries: Queries, node: str, spooled_records: Sequence[Record]) -> list[PlaceRecord]:
    """This node's places whose latest state is "waiting" (oldest first): PostgreSQL's
    word, then the spool's, a later change winning (in the spool, a later line)."""
    spooled = [r for r in _of(spooled_records, PlaceRecord) if r.node == node]
    stored = await _stored("waiting places", queries.places(node, {r.place_id for r in spooled}), [])
    last = _newest(stored, spooled, lambda r: r.place_id)
    waiting = [r for r in last.values() if r.node == node and r.state is PlaceState.WAITING]
    return sorted(waiting, key=lambda r: (r.joined_at, r.place_id))


async def people(
    queries: Queries,
    now: datetime,
    resume_seconds: float,
    contact_seconds: float,
    spooled_records: Sequence[Record],
) -> list[PersonRecord]:
    """The people whose latest snapshot hung up while waiting within ``resume_seconds``
    of ``now``, or talked to an agent within ``contact_seconds``."""
    spooled = _of(spooled_records, PersonRecord)
    read = queries.people(now, resume_seconds, contact_seconds, {r.person for r in spooled})
    last = _newest(await _stored("people", read, []), spooled, lambda r: r.person)
    left_since, contact_since = (
        now - timedelta(seconds=resume_seconds),
        now - timedelta(seconds=contact_seconds),
    )
    return sorted(
        (
            r
            for r in last.values()
            if (r.left_at is not None and r.left_at >= left_since)
            or (r.contact_at is not None and r.contact_at >= contact_since)
        ),
        key=lambda r: r.person,
    )


async def open_callbacks(queries: Queries, spooled_records: Sequence[Record]) -> list[CallbackRecord]:
    """The callbacks whose latest change is pending or dialling, in queue order
    (their places' join times); the spool's only when PostgreSQL cannot answer."""
    read = await stored_open_callbacks(queries, spooled_records)
    return read if read is not None else spooled_open_callbacks(spooled_records)


def spooled_open_callbacks(spooled_records: Sequence[Record]) -> list[CallbackRecord]:
    """``open_callbacks`` as the spool alone has them."""
    return _open([], _of(spooled_records, CallbackRecord))


async def stored_open_callbacks(
    queries: Queries, spooled_records: Sequence[Record]
) -> list[CallbackRecord] | None:
    """``open_callbacks`` as PostgreSQL (then the spool) has them; None (said in the
    log) when PostgreSQL cannot answer: the callbacks only it holds are unknown then."""
    spooled = _of(spooled_records, CallbackRecord)
    read = queries.open_callbacks({r.callback_id for r in spooled})
    stored: list[CallbackRecord] | None = await _stored("open callbacks", read, None)
    return _open(stored, spooled) if stored is not None else None


def _open(stored: Iterable[CallbackRecord], spooled: Iterable[CallbackRecord]) -> list[CallbackRecord]:
    last = _newest(stored, spooled, lambda r: callback_key(r.callback_id))
    waiting = [r for r in last.values() if r.state in OPEN]
    return sorted(waiting, key=lambda r: (r.joined_at, r.callback_id))


async def named_callbacks(
    queries: Queries, callback_ids: Collection[str], spooled_records: Sequence[Record]
) -> list[CallbackRecord]:
    """The callbacks ``callback_ids`` name, in any state: PostgreSQL's latest change,
    then the spool's (the spool's alone when PostgreSQL cannot answer)."""
    wanted = {callback_key(i) for i in callback_ids}
    spooled = [r for r in _of(spooled_records, CallbackRecord) if callback_key(r.callback_id) in wanted]
    stored = await _stored("callbacks named", queries.open_callbacks(set(callback_ids)), [])
    named = [r for r in stored if callback_key(r.callback_id) in wanted]
    return list(_newest(named, spooled, lambda r: callback_key(r.callback_id)).values())


async def close_lost_calls(
    queries: Queries, node: str, before: datetime, in_asterisk: Iterable[str], spool_files: tuple[Path, ...]
) -> int:
    """Close this node's calls that ended while no router ran (``Queries.close_lost_calls``);
    those with a record in the spool are left to it. How many were closed. The spool is
    read again here: this runs once Asterisk's calls are taken up, later than the rest."""
    records = await read_spool(spool_files)
    spooled = {r.call_id for r in records if isinstance(r, CallRecord)}
    return await queries.close_lost_calls(node, before, set(in_asterisk), spooled)
