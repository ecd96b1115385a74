"""The admin API's read query while the real PostgreSQL cannot answer: it
raises ``DatabaseUnavailable`` (the API's 503), never asyncpg's own errors (a
500), and reads again once the database is back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import pytest

from callrouter.store.queries import DatabaseUnavailable, Queries
from tests.integration.conftest import Cluster
from tests.integration.test_record_store import migrated

DAY = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))


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
