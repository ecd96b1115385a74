"""Places against a real PostgreSQL: the row is each place's latest change, whatever
order the records arrive in, and a restarted router reads back its waiting ones."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from callrouter.core.call import call_id_for
from callrouter.core.records import PlaceRecord, PlaceState
from callrouter.store import spool
from callrouter.store.postgres import PgRecordStore
from callrouter.store.queries import Queries
from callrouter.store.restore import read_spool, waiting_places
from tests.integration.conftest import Cluster
from tests.integration.test_record_store import migrated

T0 = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
NODE = "asterisk-1"


def place(
    place_id: str, seconds: float, state: PlaceState = PlaceState.WAITING, **changes: object
) -> PlaceRecord:
    base = PlaceRecord(
        place_id, NODE, T0 + timedelta(seconds=seconds), state, "+79161234567", "operator", 10, "ru",
        "clinic-central", T0, call_id_for(NODE, f"chan-{place_id}"),
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


async def test_an_older_record_never_overwrites_a_newer_one(empty_db: str, cluster: Cluster) -> None:
    conn = await migrated(empty_db, cluster)
    store = PgRecordStore(empty_db, cluster.password)
    taken, raised, connected = (
        place("p1", 0),
        place("p1", 5, priority=50),
        place("p1", 9, PlaceState.CONNECTED),
    )
    assert await store.write([taken, connected]) == []
    assert await store.write([raised]) == [], "a replayed spool line, late"
    row = await conn.fetchrow("SELECT * FROM places WHERE place_id = 'p1'")
    assert (row["state"], row["priority"], row["updated_at"]) == ("connected", 10, connected.at)
    assert str(row["call_id"]) == taken.call_id and row["person"] == "+79161234567"
    # One instant, two changes (overflowed to another topic's queue): the later write wins.
    moved = place("p2", 3, PlaceState.OVERFLOWED)
    assert await store.write([moved, replace(moved, state=PlaceState.WAITING, topic="urgent")]) == []
    assert (
        await conn.fetchval("SELECT state || '/' || topic FROM places WHERE place_id = 'p2'")
        == "waiting/urgent"
    )
    await store.close()
    await conn.close()


async def test_the_waiting_places_of_this_node_are_read_back(
    empty_db: str, cluster: Cluster, tmp_path: Path
) -> None:
    conn = await migrated(empty_db, cluster)
    store = PgRecordStore(empty_db, cluster.password)
    await store.write([
        place("waiting", 1, joined_at=T0 - timedelta(minutes=1), person=None),
        place("left", 1), place("left", 2, PlaceState.LEFT),
        place("overflowed", 1, PlaceState.OVERFLOWED),
        place("elsewhere", 1, node="asterisk-2"),
        place("ended-after-the-spool", 4, PlaceState.LEFT),
        place("spool-newer", 1),
    ])  # fmt: skip
    path = tmp_path / "records.jsonl"
    spool.append(path, [
        spool.encode(place("ended-after-the-spool", 3)),
        spool.encode(place("spool-newer", 2, PlaceState.CONNECTED)),
        spool.encode(place("spool-only", 2, call_id=None)),
    ])  # fmt: skip
    queries = Queries(empty_db, cluster.password)
    waiting = await waiting_places(queries, NODE, await read_spool((tmp_path / "records.replaying", path)))
    assert [p.place_id for p in waiting] == ["waiting", "spool-only"]
    assert waiting[0] == place("waiting", 1, joined_at=T0 - timedelta(minutes=1), person=None)
    index = await conn.fetchval("SELECT indexdef FROM pg_indexes WHERE indexname = 'places_waiting_node'")
    assert "(node, joined_at) WHERE (state = 'waiting'::text)" in index
    await queries.close()
    await store.close()
    await conn.close()
