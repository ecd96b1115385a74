"""Forward-only numbered SQL migrations (``NNNN_name.sql``).

The files ship inside the package (``callrouter/store/migrations/``) and are
read through ``importlib.resources``, so an installed wheel migrates without
the repository. Each file is applied once, in its own transaction, and
recorded with its checksum in ``schema_migrations``; a session-level advisory
lock keeps two routers from racing. An applied file that changed since is
refused.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger(__name__)

LOCK_KEY = 0x63616C6C  # "call": one advisory lock id for migrations
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def default_dir() -> Traversable:
    """The migrations shipped with the package (a folder, or a place in a wheel or zip)."""
    return resources.files("callrouter.store") / "migrations"


def discover(directory: Traversable | None = None) -> list[Migration]:
    """The ``*.sql`` files of ``directory`` (a ``Path`` will do; by default the
    package's own), in order."""
    directory = default_dir() if directory is None else directory
    found: list[Migration] = []
    files = sorted((f for f in directory.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    for file in files:
        match = _NAME.match(file.name)
        if not match:
            raise MigrationError(f"{file.name}: migration files are named NNNN_name.sql")
        found.append(Migration(int(match.group(1)), match.group(2), file.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a number in {directory}")
    return found


async def apply(conn: asyncpg.Connection, directory: Traversable | None = None) -> list[Migration]:
    """Apply what is new; return the migrations applied now."""
    migrations = discover(directory)
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version    integer PRIMARY KEY,
                   name       text NOT NULL,
                   checksum   text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        applied = {row["version"]: row for row in rows}
        done: list[Migration] = []
        for migration in migrations:
            row = applied.get(migration.version)
            if row is not None:
                if row["checksum"] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version:04d}_{migration.name}.sql changed after it was "
                        "applied; write a new migration instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            log.info("applied migration %04d_%s", migration.version, migration.name)
            done.append(migration)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
