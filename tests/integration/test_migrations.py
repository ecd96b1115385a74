"""Migrations against a real PostgreSQL: from zero, then again (a no-op)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from callrouter.core.records import RepeatKind
from callrouter.store import migrate
from tests.integration.conftest import Cluster

MIGRATIONS = migrate.default_dir()


async def connect(dsn: str, cluster: Cluster) -> asyncpg.Connection:
    return await asyncpg.connect(dsn, password=cluster.password)


async def test_apply_from_zero_then_noop(empty_db: str, cluster: Cluster):
    conn = await connect(empty_db, cluster)
    try:
        first = await migrate.apply(conn, MIGRATIONS)
        assert [m.version for m in first] == [m.version for m in migrate.discover(MIGRATIONS)]
        assert first, "there are migrations to apply"
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        }
        assert {"calls", "schema_migrations"} <= tables
        schema_before = await conn.fetch(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema='public' ORDER BY 1, 2"
        )
        second = await migrate.apply(conn, MIGRATIONS)
        assert second == []
        schema_after = await conn.fetch(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema='public' ORDER BY 1, 2"
        )
        assert schema_before == schema_after
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(first)
    finally:
        await conn.close()


async def test_two_routers_migrating_at_once_apply_each_file_once(empty_db: str, cluster: Cluster):
    a, b = await connect(empty_db, cluster), await connect(empty_db, cluster)
    try:
        done_a, done_b = await asyncio.gather(migrate.apply(a, MIGRATIONS), migrate.apply(b, MIGRATIONS))
        assert sorted(m.version for m in done_a + done_b) == [m.version for m in migrate.discover(MIGRATIONS)]
    finally:
        await a.close()
        await b.close()


async def test_changed_migration_is_refused(empty_db: str, cluster: Cluster, tmp_path: Path):
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE first (id int);")
    conn = await connect(empty_db, cluster)
    try:
        await migrate.apply(conn, tmp_path)
        (tmp_path / "0001_first.sql").write_text("CREATE TABLE first (id bigint);")
        with pytest.raises(migrate.MigrationError, match="changed after it was applied"):
            await migrate.apply(conn, tmp_path)
    finally:
        await conn.close()


async def test_failing_migration_leaves_nothing_half_done(empty_db: str, cluster: Cluster, tmp_path: Path):
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE ok (id int);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE half (id int); SELECT no_such_function();")
    conn = await connect(empty_db, cluster)
    try:
        with pytest.raises(asyncpg.PostgresError):
            await migrate.apply(conn, tmp_path)
        assert await conn.fetchval("SELECT max(version) FROM schema_migrations") == 1
        assert await conn.fetchval("SELECT to_regclass('half')") is None
    finally:
        await conn.close()


def test_badly_named_file_is_refused(tmp_path: Path):
    (tmp_path / "first.sql").write_text("SELECT 1;")
    with pytest.raises(migrate.MigrationError, match=r"NNNN_name\.sql"):
        migrate.discover(tmp_path)


async def test_repeats_apply_on_a_database_at_0003_and_keep_its_rows(
    empty_db: str, cluster: Cluster, tmp_path: Path
):
    """A router upgraded in place: its database has 0001-0003 and calls in it."""
    for migration in migrate.discover(MIGRATIONS):
        if migration.version <= 3:
            (tmp_path / f"{migration.version:04d}_{migration.name}.sql").write_text(migration.sql)
    conn = await connect(empty_db, cluster)
    try:
        assert [m.version for m in await migrate.apply(conn, tmp_path)] == [1, 2, 3]
        await conn.execute(
            """INSERT INTO calls (call_id, node, channel_id, did, caller_presentation, started_at, outcome)
               VALUES ('0b5c8a52-7c3e-4a4e-9a51-2f1f3c0c9d11', 'asterisk-1', '1.2', '103', 'withheld',
                       '2026-11-22T10:00:00Z', 'abandoned')"""
        )
        assert 4 in [m.version for m in await migrate.apply(conn, MIGRATIONS)]
        row = await conn.fetchrow("SELECT repeat_of, repeat_kind, outcome FROM calls")
        assert tuple(row) == (None, None, "abandoned")
        view = await conn.fetchrow("SELECT * FROM call_durations")
        assert list(view.keys())[-1] == "repeat_kind" and view["outcome"] == "abandoned"
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        assert {"people", "callbacks"} <= {r["tablename"] for r in tables}
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute("UPDATE calls SET repeat_kind = 'again'")
        for kind in RepeatKind:  # the CHECK knows every kind the core has
            await conn.execute("UPDATE calls SET repeat_kind = $1", kind.value)
        assert await migrate.apply(conn, MIGRATIONS) == []
    finally:
        await conn.close()
