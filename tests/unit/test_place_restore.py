"""A restarted router reads its waiting places back: PostgreSQL's word, then the spool's."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from callrouter.core.records import AgentStateRecord, PlaceRecord, PlaceState
from callrouter.store import spool
from callrouter.store.queries import DatabaseUnavailable, Queries
from callrouter.store.restore import read_spool, waiting_places

T0 = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
NODE = "asterisk-1"


def place(
    place_id: str, at: datetime, state: PlaceState = PlaceState.WAITING, **changes: object
) -> PlaceRecord:
    base = PlaceRecord(place_id, NODE, at, state, "+79161234567", "operator", 10, "ru", "clinic", T0, None)
    return replace(base, **changes)  # type: ignore[arg-type]


class FakeQueries:
    def __init__(self, rows: list[PlaceRecord] | None) -> None:
        self.rows = rows
        self.asked: tuple[str, set[str]] | None = None

    async def places(self, node: str, also: Collection[str] = ()) -> list[PlaceRecord]:
        self.asked = (node, set(also))
        if self.rows is None:
            raise DatabaseUnavailable("connection refused")
        return [
            r for r in self.rows if r.node == node and (r.state is PlaceState.WAITING or r.place_id in also)
        ]


async def test_the_spool_s_later_lines_win_and_only_waiting_places_of_this_node_come_back(
    tmp_path: Path,
) -> None:
    path, replaying = tmp_path / "records.jsonl", tmp_path / "records.replaying"
    db = FakeQueries([
        place("p-db", T0, joined_at=T0 - timedelta(minutes=2)),
        place("p-ended-later", T0 + timedelta(seconds=5), PlaceState.LEFT),  # newer than the spool's line
        place("p-left-in-spool", T0),
    ])  # fmt: skip
    spool.append(replaying, [
        spool.encode(place("p-ended-later", T0 + timedelta(seconds=1))),
        spool.encode(place("p-left-in-spool", T0 + timedelta(seconds=1), PlaceState.LEFT)),
        spool.encode(place("p-spool", T0, priority=10)),
    ])  # fmt: skip
    spool.append(path, [
        spool.encode(AgentStateRecord("agent1", T0, "idle", "login")),
        spool.encode(place("p-spool", T0 + timedelta(seconds=2), priority=50)),  # reprioritised
        spool.encode(place("p-other-node", T0, node="asterisk-2")),
        "{torn",
    ])  # fmt: skip
    waiting = await waiting_places(cast(Queries, db), NODE, await read_spool((replaying, path)))
    assert [(p.place_id, p.priority) for p in waiting] == [("p-db", 10), ("p-spool", 50)], "oldest first"
    assert db.asked == (NODE, {"p-ended-later", "p-left-in-spool", "p-spool"})
    assert path.exists() and replaying.exists(), "read, not moved: the replay writes them later"


async def test_without_the_database_the_spool_alone_is_read(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    spool.append(path, [spool.encode(place("p1", T0))])
    assert await waiting_places(cast(Queries, FakeQueries(None)), NODE, await read_spool((path,))) == [
        place("p1", T0)
    ]
