"""Without the database, a restarted router still reads the people it remembers and
the open callbacks from the spool, the later line winning."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest

from callrouter.core.records import AgentStateRecord, CallbackRecord, CallbackState, PersonRecord
from callrouter.store import spool
from callrouter.store.queries import DatabaseUnavailable, Queries
from callrouter.store.restore import (
    last_agent_states,
    open_callbacks,
    people,
    read_spool,
    stored_open_callbacks,
)

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


class AwayQueries:
    async def people(
        self, now: datetime, resume_seconds: float, contact_seconds: float, also: Collection[str] = ()
    ) -> list[PersonRecord]:
        raise DatabaseUnavailable("connection refused")

    async def open_callbacks(self, also: Collection[str] = ()) -> list[CallbackRecord]:
        raise DatabaseUnavailable("connection refused")

    async def last_agent_states(self, agents: Sequence[str]) -> dict[str, AgentStateRecord]:
        raise DatabaseUnavailable("connection refused")


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


async def test_without_the_database_the_spool_s_people_come_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "records.jsonl"
    spool.append(path, [
        spool.encode(PersonRecord("+79160000001", ago(30), left_at=ago(30), joined_at=ago(300))),
        spool.encode(PersonRecord("+79160000001", ago(10), contact_at=ago(10), contact_agent="agent1")),
        spool.encode(PersonRecord("+79160000002", ago(600), left_at=ago(600))),  # past the resume window
        spool.encode(PersonRecord("+79160000003", ago(60), left_at=ago(60))),
    ])  # fmt: skip
    back = await people(cast(Queries, AwayQueries()), NOW, 120, 3600, await read_spool((path,)))
    assert back == [
        PersonRecord("+79160000001", ago(10), contact_at=ago(10), contact_agent="agent1"),
        PersonRecord("+79160000003", ago(60), left_at=ago(60)),
    ]
    assert "people not read from the database" in caplog.text


async def test_without_the_database_the_spool_s_open_callbacks_come_back(tmp_path: Path) -> None:
    def made(callback_id: str, at: datetime, state: CallbackState, joined_at: datetime) -> CallbackRecord:
        return CallbackRecord(callback_id, at, state, "+79160000001", ago(900), joined_at, "operator",
                              "clinic", "ru", 10)  # fmt: skip

    path = tmp_path / "records.jsonl"
    spool.append(path, [
        spool.encode(made("cb-1", ago(50), CallbackState.PENDING, ago(900))),
        spool.encode(made("cb-1", ago(40), CallbackState.COMPLETED, ago(900))),
        spool.encode(made("cb-2", ago(30), CallbackState.PENDING, ago(100))),
        spool.encode(made("cb-3", ago(30), CallbackState.DIALLING, ago(200))),
    ])  # fmt: skip
    back = await open_callbacks(cast(Queries, AwayQueries()), await read_spool((path,)))
    assert [(c.callback_id, c.state) for c in back] == [
        ("cb-3", CallbackState.DIALLING),
        ("cb-2", CallbackState.PENDING),
    ]
    # What the spool says is not all there is: the router is told PostgreSQL did not answer.
    assert await stored_open_callbacks(cast(Queries, AwayQueries()), await read_spool((path,))) is None


async def test_agents_states_without_the_database_are_the_spools_and_said_to_be_unknown(
    tmp_path: Path,
) -> None:
    path = tmp_path / "records.jsonl"
    spool.append(path, [
        spool.encode(AgentStateRecord("agent1", ago(50), "idle")),
        spool.encode(AgentStateRecord("agent1", ago(40), "paused", "lunch")),
    ])  # fmt: skip
    last, answered = await last_agent_states(
        cast(Queries, AwayQueries()), await read_spool((path,)), ["agent1"]
    )
    assert not answered, "the states only PostgreSQL holds are unknown: read again later"
    assert [(r.agent, r.state, r.reason) for r in last.values()] == [("agent1", "paused", "lunch")]


class StoredQueries:
    """PostgreSQL's answer: its uuid column spells a callback's id with dashes."""

    def __init__(self, callbacks: list[CallbackRecord]) -> None:
        self.callbacks = callbacks

    async def open_callbacks(self, also: Collection[str] = ()) -> list[CallbackRecord]:
        return self.callbacks


async def test_a_callback_the_spool_has_ended_is_not_brought_back_by_the_database_s_spelling(
    tmp_path: Path,
) -> None:
    """The router names a callback after its place (32 hex digits); read back from the
    database the same id has dashes. The spool's later change (completed while the
    database was away) is the same callback's: it is not dialled again."""
    place_id = "0f8e4a3c5b6d4e7f8a9b0c1d2e3f4a5b"
    stored = CallbackRecord(str(uuid.UUID(place_id)), ago(50), CallbackState.PENDING, "+79160000001",
                            ago(900), ago(900), "operator", "clinic", "ru", 0)  # fmt: skip
    path = tmp_path / "records.jsonl"
    spool.append(path, [spool.encode(replace(stored, callback_id=place_id, at=ago(40),
                                             state=CallbackState.COMPLETED))])  # fmt: skip
    assert await open_callbacks(cast(Queries, StoredQueries([stored])), await read_spool((path,))) == []
