"""The demo: the real stack, the real router, sipp callers on several DIDs, and
a report of what PostgreSQL recorded.

    ./dev.sh demo
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import asyncpg

from callrouter.core.numbers import mask
from devstack import sipp
from devstack.stack import REPO, Stack, StackInfo
from devstack.util import free_port, log

CONFIG = REPO / "callrouter.example.toml"

# (caller as the network sends it, DID dialled, what it shows)
CALLS = [
    ("+79161234567", "+78162700101", "mobile caller to the Central City Polyclinic"),
    ("88162555123", "78162700105", "landline in national format to Children's Polyclinic No. 1"),
    ("anonymous", "+78162700300", "withheld number to the International Patients Line"),
    ("+79161234567", "+78162700102", "the same mobile caller again, another clinic"),
    ("+442079460958", "+78162700342", "a UK visitor, a DID inside the international line's block"),
    ("+79035550011", "103", "short number to the ambulance line"),
    ("+79035550022", "+78166400100", "district hospital, Borovichi"),
    ("+79035550033", "+78169999999", "a DID no line lists (goes to the default line)"),
]


def start_router(info: StackInfo, run_dir: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    env = dict(
        os.environ,
        **info.env(),
        CALLROUTER_ADMIN_BIND=f"127.0.0.1:{port}",
        CALLROUTER_SPOOL_DIR=str(run_dir / "spool"),
    )
    subprocess.run([sys.executable, "-m", "callrouter", "migrate", "-c", str(CONFIG)], check=True, env=env)
    log_path = run_dir / "router.log"
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "callrouter", "--log-format", "json", "run", "-c", str(CONFIG)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    admin = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(admin + "/health", timeout=2) as response:
                if response.status == 200:
                    return proc, admin, log_path
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit(f"the router did not come up; see {log_path}")


async def report(info: StackInfo, since: float) -> str:
    conn = await asyncpg.connect(info.dsn(), password=info.pg_password)
    try:
        rows = await conn.fetch(
            """SELECT started_at, did, line, caller_number, caller_presentation, outcome, end_reason,
                      EXTRACT(EPOCH FROM answered_at - started_at) * 1000 AS answer_ms,
                      EXTRACT(EPOCH FROM ended_at - started_at) AS seconds
               FROM calls WHERE started_at >= to_timestamp($1) ORDER BY started_at""",
            since,
        )
    finally:
        await conn.close()
    lines = [
        f"{'time':<12} {'DID dialled':<14} {'line':<22} {'caller':<14} {'outcome':<14}"
        f" {'answer':>7} {'length':>7}",
        "-" * 96,
    ]
    for r in rows:
        caller = mask(r["caller_number"]) if r["caller_number"] else r["caller_presentation"]
        answer = f"{r['answer_ms']:.0f} ms" if r["answer_ms"] is not None else "-"
        length = f"{r['seconds']:.1f} s" if r["seconds"] is not None else "-"
        lines.append(
            f"{r['started_at']:%H:%M:%S.%f}"[:12]
            + f" {r['did']:<14} {r['line'] or '-':<22} {caller:<14} {r['outcome'] or 'in progress':<14}"
            f" {answer:>7} {length:>7}"
        )
    by_outcome: dict[str, int] = {}
    for r in rows:
        by_outcome[r["outcome"] or "in progress"] = by_outcome.get(r["outcome"] or "in progress", 0) + 1
    lines.append("-" * 96)
    lines.append(
        f"{len(rows)} calls recorded: " + ", ".join(f"{n} {k}" for k, n in sorted(by_outcome.items()))
    )
    return "\n".join(lines)


def main() -> int:
    stack = Stack("demo")
    info = stack.up()
    run_dir = Path(info.run_dir)
    since = time.time() - 1
    proc, admin, log_path = start_router(info, run_dir)
    try:
        log(f"router up (admin {admin}); placing {len(CALLS)} calls with sipp")
        for _, _, what in CALLS:
            log(f"  {what}")
        result = sipp.call(info.sip_port, [(c, d) for c, d, _ in CALLS], rate=4)
        time.sleep(1)  # the writer batches; give it a moment
        print()
        print("callrouter demo: calls recorded in PostgreSQL")
        print(asyncio.run(report(info, since)))
        print()
        print(f"sipp: {result.successful} calls completed, {result.failed} failed")
        with urllib.request.urlopen(admin + "/metrics", timeout=5) as response:
            wanted = (
                "callrouter_ari_connected ",
                "callrouter_active_calls ",
                "callrouter_records_written_total ",
            )
            for line in response.read().decode().splitlines():
                if line.startswith(wanted):
                    print(f"metrics: {line}")
        print(f"router log: {log_path}   Asterisk log: {info.asterisk_log}")
        return 0 if result.ok else 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        stack.down()


if __name__ == "__main__":
    sys.exit(main())
