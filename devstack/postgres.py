"""A throwaway PostgreSQL 15 cluster per stack, outside the checkout.

initdb refuses root, so the cluster runs as the ``postgres`` user; the
``callrouter`` role gets a password generated per stack (never committed).
That user must reach the data, socket and log paths, and a checkout may sit
where only root can enter (root's home is 0700), so the cluster lives under
``/var/lib/callrouter-dev/<key>/pg``: the key names the checkout and the stack
(a short hash of the checkout's absolute path and the stack name, plus both
names to read). Nothing in the checkout's folders is opened up for it.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

from devstack.util import ensure_debian_packages, log

PG_BIN = Path("/usr/lib/postgresql/15/bin")
CLUSTERS = Path("/var/lib/callrouter-dev")


def cluster_dir(checkout: Path, name: str) -> Path:
    """The folder of the checkout's cluster for the stack ``name``.

    Readable names are cut short: the socket path must stay under 108 bytes."""
    checkout = checkout.resolve()
    digest = hashlib.sha256(f"{checkout}\0{name}".encode()).hexdigest()[:10]
    readable = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{checkout.name[:20]}-{name[:20]}")
    return CLUSTERS / f"{digest}-{readable}"


def owner_note(checkout: Path, name: str) -> str:
    """What the cluster folder of the stack ``name`` of ``checkout`` says of whose it is."""
    return f"{checkout.resolve()} stack {name}"


def refusal_to_remove(cluster: Path, checkout: Path, name: str) -> str | None:
    """Why the stack ``name`` of ``checkout`` must leave ``cluster`` alone; None
    when it may stop and delete it.

    ``stack.json`` names the folder, and a copied checkout carries the
    original's, a damaged one names anything: only a folder of the clusters
    root whose owner note names this checkout and stack, or a checkout of that
    name that no longer exists (moved or deleted), is this stack's. A note
    naming no checkout (written by a restart that gave no owner) is accepted
    only on the folder named after this checkout and stack."""
    if not cluster.exists() and not cluster.is_symlink():
        return None  # nothing to stop or delete
    root = CLUSTERS.resolve()
    if cluster.is_symlink() or cluster.resolve().parent != root:
        return f"it is not a cluster folder of {root}"
    try:
        owner = (cluster / "owner").read_text().strip()
    except OSError:
        owner = ""
    if owner == owner_note(checkout, name):
        return None
    place, named, stack = owner.rpartition(" stack ")
    if named and stack == name and not Path(place).exists():
        return None  # its checkout moved away: an orphan of this stack
    if not named and cluster.resolve() == cluster_dir(checkout, name).resolve():
        return None
    return f"its owner note says {owner!r}, not {owner_note(checkout, name)!r}"


def _as_postgres(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        what = Path(args[0]).name
        raise RuntimeError(f"{what} as postgres failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def running(cluster: Path) -> bool:
    data = cluster / "pg/data"
    if not data.exists():
        return False
    return _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "status", check=False).returncode == 0


def _prepare(cluster: Path, owner: str) -> Path:
    """``cluster`` (root's, 0755, with a note of whose it is) and its ``pg``
    folder (the postgres user's); umask-proof."""
    for folder in (CLUSTERS, cluster):
        folder.mkdir(exist_ok=True)
        folder.chmod(0o755)
    note = cluster / "owner"
    if owner or not note.exists():  # a restart without an owner keeps the note
        note.write_text((owner or str(cluster)) + "\n")
    pg = cluster / "pg"
    pg.mkdir(exist_ok=True)
    pg.chmod(0o700)
    shutil.chown(pg, "postgres", "postgres")
    return pg


def start(cluster: Path, port: int, password: str, owner: str = "") -> None:
    """Start the cluster (made on first use); ``owner`` says whose it is (none:
    the note stays as it was)."""
    ensure_debian_packages({str(PG_BIN / "initdb"): "postgresql-15"})
    pg = _prepare(cluster, owner)
    data, sockets = pg / "data", pg / "sockets"
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
    log(f"PostgreSQL up on 127.0.0.1:{port} (data {data}, log {pg / 'log'})")


def stop(cluster: Path) -> None:
    """Stop the cluster and keep its data (a test's outage)."""
    data = cluster / "pg/data"
    for mode in ("fast", "immediate"):
        if not running(cluster):
            return
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", mode, "-w", "stop", check=False)


def remove(cluster: Path) -> None:
    """Stop the cluster and delete its folder (``refusal_to_remove`` says whether
    a stack may)."""
    stop(cluster)
    if running(cluster):
        raise RuntimeError(f"PostgreSQL in {cluster} did not stop; its folder is kept")
    if cluster.exists():
        shutil.rmtree(cluster)
