"""The demo's lab results: a small batch phoned to patients through the trunk.

Five patients (one sipp UAS on the trunk's port answers as each of them): two
key the right secret and hear a negative and an inconclusive result; one keys a
wrong secret; one with a positive result keys the right one and presses 1 for a
medical consultant (an agent of the demo answers); one never answers. Each
result falls due 3 s after the one before, so the router dials them in that
order and each call meets its own patient's keys. Then their final states, as
PostgreSQL holds them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from dataclasses import dataclass

import asyncpg

from callrouter.core.numbers import mask
from callrouter.secrets_hash import hash_secret
from callrouter.secrets_pepper import Pepper
from devstack import sipp
from devstack.stack import StackInfo

SECRET = "12031980"
# The demo's results calls: quicker than the example's (see devstack.demo.demo_config).
CONFIG = {
    "ring_seconds = 30                  #": "ring_seconds = 5                  #",
    "consult_topic = ": "key_seconds = 4\npoll_seconds = 1\nconsult_topic = ",
    "after_seconds = 1800\nmax_attempts = 4": "after_seconds = 5\nmax_attempts = 2",  # no answer
    "after_seconds = 7200\nmax_attempts = 2": "after_seconds = 7200\nmax_attempts = 1",  # wrong secret
}
# Every answered call keys 10 keys: 8 digits and # (1.5 s in, over the greeting), then
# one more 11 s later: 1 (a consultant, please) or * (nothing).
PAUSES = [1500] + [250] * 8 + [11_000]


@dataclass(frozen=True)
class Patient:
    name: str
    number: str
    result: str
    answers: tuple[str, ...]  # how their phone answers each call made to it
    keys: str  # what they key on each answered call (10 keys)


PATIENTS = (
    Patient("negative, right secret", "+79055550101", "negative", ("answer",), SECRET + "#*"),
    Patient("inconclusive, right secret", "+79055550102", "inconclusive", ("answer",), SECRET + "#*"),
    Patient("negative, wrong secret", "+79055550103", "negative", ("answer",), "01011990#*"),
    Patient("positive, presses 1", "+79055550104", "positive", ("answer",), SECRET + "#1"),
    Patient("never answers", "+79055550105", "negative", ("no_answer", "no_answer"), "*" * 10),
)


def phones(trunk_port: int) -> sipp.Callee:
    """The trunk's UAS, one row per call in the order the calls come."""
    answers = [a for p in PATIENTS for a in p.answers]
    own = [p.keys for p in PATIENTS for _ in p.answers]
    keys = [(pause, "?") for pause in PAUSES]
    return sipp.Callee(
        trunk_port, answers, ring_ms=800, talk_ms=60_000, timeout_s=240, keys=keys, own_keys=own
    )


async def insert(
    conn: asyncpg.Connection,
    number: str,
    result: str = "negative",
    line: str = "clinic-central",
    due_in: float = 0.0,
    prefix: str = "demo",
    pepper: Pepper | None = None,
) -> str:
    """One due notification as the import leaves one (its secret, ``SECRET``, hashed
    with argon2id under ``pepper``), due ``due_in`` s from now; its id."""
    nid = uuid.uuid4()
    await conn.execute(
        "INSERT INTO notifications (notification_id, external_id, number, secret_hash, test_type,"
        " result, language, line, fingerprint, received_at, due_at, expires_at, state, attempts,"
        " reason, updated_at) VALUES ($1, $2, $3, $4, 'covid-19 PCR', $5, 'ru', $6, $7,"
        " now(), now() + make_interval(secs => $8), now() + interval '3 days', 'pending', '[]', '',"
        " now())",
        nid, f"{prefix}-{nid}", number, hash_secret(SECRET, pepper), result, line,
        hashlib.sha256(str(nid).encode()).hexdigest(), due_in,
    )  # fmt: skip
    return str(nid)


async def put(info: StackInfo) -> list[str]:
    """The batch in PostgreSQL, one result due every 3 s."""
    conn = await asyncpg.connect(info.dsn(), password=info.pg_password)
    try:
        pepper = Pepper.of(info.results_pepper)
        return [
            await insert(conn, p.number, p.result, due_in=3.0 * n, pepper=pepper)
            for n, p in enumerate(PATIENTS)
        ]
    finally:
        await conn.close()


async def settled(info: StackInfo, ids: list[str], within: float) -> list[asyncpg.Record]:
    """The batch's rows once none is pending or being dialled (or ``within`` s passed)."""
    conn = await asyncpg.connect(info.dsn(), password=info.pg_password)
    try:
        deadline = time.monotonic() + within
        while True:
            rows = await conn.fetch(
                "SELECT n.*, (SELECT count(*) FROM notification_audit a"
                "             WHERE a.notification_id = n.notification_id) AS told,"
                " (SELECT string_agg(c.agent || ' (' || c.outcome || ')', ', ') FROM calls c"
                "  WHERE c.direction = 'results' AND c.agent IS NOT NULL"
                "    AND c.call_id::text IN (SELECT a->>'call_id' FROM jsonb_array_elements(n.attempts) a))"
                "  AS consultant,"
                " (SELECT string_agg(e.kind || coalesce(' ' || nullif(e.detail, ''), ''), ', '"
                "                    ORDER BY e.at, e.id)"
                "  FROM call_events e WHERE e.kind IN ('queued', 'offered', 'agent_missed', 'bridged',"
                "                                      'callback_booked', 'ended')"
                "    AND e.call_id::text IN (SELECT a->>'call_id' FROM jsonb_array_elements(n.attempts) a))"
                "  AS queue"
                " FROM notifications n WHERE notification_id = ANY($1::uuid[])",
                [uuid.UUID(i) for i in ids],
            )
            talking = await conn.fetchval(
                "SELECT count(*) FROM calls WHERE direction = 'results' AND ended_at IS NULL"
                " AND caller_number = ANY($1::text[])",
                [p.number for p in PATIENTS],
            )
            done = all(r["state"] not in ("pending", "dialling") for r in rows) and talking == 0
            if done or time.monotonic() > deadline:
                order = {nid: n for n, nid in enumerate(ids)}
                return sorted(rows, key=lambda r: order[str(r["notification_id"])])
            await asyncio.sleep(1)
    finally:
        await conn.close()


def report(rows: list[asyncpg.Record]) -> str:
    head = f"{'patient':<28} {'phone':<13} {'result':<13} {'final state':<20} {'told':>4}  {'attempts':<22}"
    head += " consultant"
    lines = ["lab results phoned (one patient each):", head, "-" * len(head)]
    for patient, row in zip(PATIENTS, rows, strict=True):
        attempts = ", ".join(a["outcome"] for a in json.loads(row["attempts"])) or "-"
        lines.append(
            f"{patient.name:<28} {mask(row['number']):<13} {row['result']:<13} {row['state']:<20}"
            f" {row['told']:>4}  {attempts:<22} {row['consultant'] or '-'}"
        )
        if row["consultant"] is None and row["queue"] and "results_consult" in row["queue"]:
            lines.append(f"{'':<28} in the queue: {row['queue']}")
    lines.append("told: disclosures audited (each one committed before the result was played)")
    return "\n".join(lines)
