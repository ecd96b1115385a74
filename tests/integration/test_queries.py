"""The admin API's read query on the real PostgreSQL: the abandoned callers'
numbers (withheld ones listed as withheld), and, while PostgreSQL cannot answer,
``DatabaseUnavailable`` (the API's 503), never asyncpg's own errors (a 500),
reading again once the database is back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from callrouter.core.records import Outcome
from callrouter.store.postgres import PgRecordStore
from callrouter.store.queries import DatabaseUnavailable, Queries
from tests.integration.conftest import Cluster
from tests.integration.test_record_store import migrated, record

DAY = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))


async def test_abandoned_callers_with_their_numbers_and_withheld_ones_as_withheld(
    empty_db: str, cluster: Cluster
) -> None:
    await (await migrated(empty_db, cluster)).close()
    store = PgRecordStore(empty_db, cluster.password)
    started = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    when = {"started_at": started, "outcome": Outcome.ABANDONED}
    shown = record(1, **when)
    withheld = record(2, **when, caller_number=None, caller_presentation="withheld")
    # A row no router writes (a withheld caller with a number): still no number.
    mixed = record(3, **when, caller_presentation="withheld")
    assert await store.write([shown, withheld, mixed]) == []
    await store.close()
    query = Queries(empty_db, cluster.password)
    try:
        hour = timedelta(hours=1)
        listed = {c["call_id"]: c for c in await query.abandoned(started - hour, started + hour)}
    finally:
        await query.close()
    assert listed[shown.call_id]["caller_number"] == shown.caller_number, "a number to phone back"
    for call in (withheld, mixed):
        assert listed[call.call_id]["caller_number"] is None
        assert listed[call.call_id]["caller_presentation"] == "withheld"


async def test_abandoned_calls_while_postgresql_is_stopped(empty_db: str, cluster: Cluster) -> None:
    await (await migrated(empty_db, cluster)).close()
    query = Queries(empty_db, cluster.password, timeout=5)
    try:
        assert await query.abandoned(*DAY) == []  # the pool now holds a connection
        await asyncio.to_thread(cluster.stop)
        try:
            with pytest.raises(DatabaseUnavailable):
                await query.abandoned(*DAY)
        finally:
            await asyncio.to_thread(cluster.start)
        assert await query.abandoned(*DAY) == [], "back to normal"
    finally:
        await query.close()


async def test_abandoned_calls_while_postgresql_takes_no_more_connections(
    empty_db: str, cluster: Cluster
) -> None:
    """A database at its connection limit: PostgreSQL refuses with 53300, as when
    max_connections is reached (asyncpg's TooManyConnectionsError)."""
    admin = await migrated(empty_db, cluster)
    name = empty_db.rsplit("/", 1)[1]
    await admin.execute(f'ALTER DATABASE "{name}" CONNECTION LIMIT 0')
    query = Queries(empty_db, cluster.password, timeout=5)
    try:
        with pytest.raises(DatabaseUnavailable) as raised:
            await query.abandoned(*DAY)
        assert isinstance(raised.value.__cause__, asyncpg.TooManyConnectionsError)
    finally:
        await query.close()
        await admin.execute(f'ALTER DATABASE "{name}" CONNECTION LIMIT -1')
        await admin.close()


async def test_why_postgresql_cannot_be_asked_is_said_in_an_operators_words(
    empty_db: str, cluster: Cluster
) -> None:
    """A wrong password, a database that does not exist, nothing listening: each a
    DatabaseUnavailable that says so and where to look, no Python class name."""
    base, _, name = empty_db.rpartition("/")
    cases = (
        (Queries(empty_db, "not-the-password", timeout=5), "password authentication failed"),
        (Queries(f"{base}/no_such_db", cluster.password, timeout=5), 'database "no_such_db" does not exist'),
        (Queries("postgresql://x@127.0.0.1:9/db", "p", timeout=5), "nothing listens at 127.0.0.1:9"),
    )
    assert name
    for query, said in cases:
        try:
            with pytest.raises(DatabaseUnavailable) as raised:
                await query.abandoned(*DAY)
        finally:
            await query.close()
        text = str(raised.value)
        assert said in text and "CALLROUTER_DATABASE" in text, text
        assert "Error" not in text, text
