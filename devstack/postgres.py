"""A throwaway PostgreSQL 15 cluster under the stack's run folder.

initdb refuses root, so the cluster runs as the ``postgres`` user; the
``callrouter`` role gets a password generated per stack (never committed).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from devstack.util import ensure_debian_packages, log

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True, check=check
    )


def running(run_dir: Path) -> bool:
    data = run_dir / "pg/data"
    if not data.exists():
        return False
    return _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "status", check=False).returncode == 0


def start(run_dir: Path, port: int, password: str) -> None:
    ensure_debian_packages({str(PG_BIN / "initdb"): "postgresql-15"})
    pg = run_dir / "pg"
    data, sockets = pg / "data", pg / "sockets"
    pg.mkdir(parents=True, exist_ok=True)
    subprocess.run(["chown", "postgres:postgres", str(pg)], check=True)
    probe = _as_postgres("test", "-w", str(pg), check=False)
    if probe.returncode != 0:
        raise SystemExit(
            f"the postgres user cannot reach {pg}: a folder above it is closed to other users "
            "(clone the project somewhere world-searchable, such as /srv or /tmp)"
        )
    if not (data / "PG_VERSION").exists():
        _as_postgres("mkdir", "-p", str(sockets))
        _as_postgres(
            str(PG_BIN / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        )
    _as_postgres(
        str(PG_BIN / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(pg / "log"),
        "-w",
        "-t",
        "60",
        "-o",
        f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off",
        "start",
    )
    sql = (
        "DO $$ BEGIN "
        "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'callrouter') THEN "
        "CREATE ROLE callrouter LOGIN CREATEDB; END IF; END $$;"
        f"ALTER ROLE callrouter PASSWORD '{password}';"
    )
    psql = [
        str(PG_BIN / "psql"),
        "-h",
        str(sockets),
        "-p",
        str(port),
        "-U",
        "postgres",
        "-v",
        "ON_ERROR_STOP=1",
    ]
    _as_postgres(*psql, "-c", sql)
    exists = _as_postgres(*psql, "-tAc", "SELECT 1 FROM pg_database WHERE datname = 'callrouter'")
    if exists.stdout.strip() != "1":
        _as_postgres(*psql, "-c", "CREATE DATABASE callrouter OWNER callrouter")
    log(f"PostgreSQL up on 127.0.0.1:{port} (data {data})")


def stop(run_dir: Path) -> None:
    data = run_dir / "pg/data"
    if running(run_dir):
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop", check=False)
