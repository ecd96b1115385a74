"""Integration fixtures: a real, throwaway PostgreSQL 15 cluster (no Asterisk)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from callrouter.store import migrate
from callrouter.store.postgres import PgRecordStore
from callrouter.store.queries import Queries
from devstack import postgres
from devstack.stack import REPO
from devstack.util import free_port


@dataclass
class Cluster:
    port: int
    password: str
    pg_dir: Path

    def dsn(self, database: str) -> str:
        return f"postgresql://callrouter@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        """Stop it and keep its data (an outage)."""
        postgres.stop(self.pg_dir)

    def start(self) -> None:
        postgres.start(self.pg_dir, self.port, self.password, f"{REPO} integration tests")

    def remove(self) -> None:
        postgres.remove(self.pg_dir)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    cluster = Cluster(free_port(), secrets.token_urlsafe(12), postgres.cluster_dir(REPO, "itest"))
    cluster.remove()  # one left over from an interrupted run
    cluster.start()
    yield cluster
    cluster.remove()


@pytest.fixture
async def empty_db(cluster: Cluster) -> AsyncIterator[str]:
    """A brand-new empty database; its DSN."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(cluster.dsn("callrouter"), password=cluster.password)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    yield cluster.dsn(name)
    # A fresh connection: the test may have restarted the cluster.
    admin = await asyncpg.connect(cluster.dsn("callrouter"), password=cluster.password)
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


@dataclass
class Migrated:
    """A migrated database: a connection to look into it, a record store and the queries."""

    conn: asyncpg.Connection
    store: PgRecordStore
    queries: Queries


@pytest.fixture
async def db(empty_db: str, cluster: Cluster) -> AsyncIterator[Migrated]:
    conn = await asyncpg.connect(empty_db, password=cluster.password)
    await migrate.apply(conn, migrate.default_dir())
    migrated = Migrated(conn, PgRecordStore(empty_db, cluster.password), Queries(empty_db, cluster.password))
    yield migrated
    await migrated.queries.close()
    await migrated.store.close()
    await conn.close()
