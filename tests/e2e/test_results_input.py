"""Lab results put in for real: ``callrouter results import`` as an operator runs it
(a subprocess on the stack's PostgreSQL) with bad rows among the good, then the
running router's admin API: a mixed batch, the list, one result, a cancel, the
audit. The router's config has no ``[results]``: results go in without a dialler (and
none is dialled under the test)."""

from __future__ import annotations

import json
import os
import random
import string
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from callrouter.core.results_input import fingerprint
from callrouter.secrets_hash import verify_secret
from callrouter.secrets_pepper import Pepper
from devstack.router import RouterProcess
from devstack.stack import REPO, StackInfo
from tests.e2e.conftest import CONFIG, admin, start_router
from tests.e2e.test_admin_api import log_problems

# Each secret as written in the file or the batch, and what a row or a log must never show.
SECRETS = (
    "12.03.1980",
    "12031980",
    "07 07",
    "0707",
    "01/02/2003",
    "01022003",
    "31.12.1999",
    "31121999",
    "4455",
    "4456",
)


def phone() -> str:
    """A number of its own, whose digits never spell a secret above."""
    return "+7905" + "".join(random.choices("2368", k=7))


@pytest.fixture
async def run_id(db: asyncpg.Connection) -> AsyncIterator[str]:
    """This run's prefix of external ids (the stack's database is the whole suite's);
    what it put in is cancelled at the end: no later router dials a test's result."""
    prefix = "E2E-" + "".join(random.choices(string.ascii_uppercase, k=8))
    yield prefix
    await db.execute(
        "UPDATE notifications SET state = 'cancelled', reason = 'test over', leased_by = NULL,"
        " lease_until = NULL WHERE external_id LIKE $1 AND state IN ('pending', 'dialling')",
        f"{prefix}-%",
    )


def without_results(text: str) -> str:
    """The config's text without ``[results]`` and its tables: no router dials what a
    test puts in, and the input side is shown to need no dialler."""
    kept, skipping = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith("["):
            skipping = line.startswith(("[results]", "[results."))
        if not skipping:
            kept.append(line)
    return "".join(kept)


@pytest.fixture
def router(stack: StackInfo, tmp_path: Path) -> Iterator[RouterProcess]:
    """The router on the test config without ``[results]``."""
    config = tmp_path / "callrouter.toml"
    config.write_text(without_results(CONFIG.read_text()))
    router = start_router(stack, tmp_path, config)
    yield router
    code = router.stop()
    assert router.killed or code == 0, f"router exited {code}:\n{router.log()}"


def import_csv(stack: StackInfo, path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, **stack.env())
    command = [sys.executable, "-m", "callrouter", "results", "import", str(path), "-c", str(CONFIG)]
    return subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)


async def ask(router: RouterProcess, method: str, path: str, body: object = None) -> tuple[int, Any]:
    return await admin(router, method, path, body)


async def rows_of(db: asyncpg.Connection, prefix: str) -> dict[str, asyncpg.Record]:
    found = await db.fetch("SELECT * FROM notifications WHERE external_id LIKE $1", f"{prefix}-%")
    return {r["external_id"].removeprefix(prefix + "-"): r for r in found}


def no_secret_in(row: asyncpg.Record) -> None:
    for name, value in row.items():
        # A uuid or a timestamp cannot hold text, and may spell a secret by chance: a random
        # notification id's hex, or a time's microseconds, can read "4455" or "0707".
        if isinstance(value, uuid.UUID | datetime):
            continue
        if name == "fingerprint":  # a sha256 in hex (which may read "0707" by chance): proved
            # instead to be the digest of the row's columns without its secret
            said = [row[key] for key in ("external_id", "number", "test_type", "result", "language", "line")]
            assert value == fingerprint(*said), "the fingerprint is of the columns, not the secret"
            continue
        for secret in SECRETS:
            assert secret not in str(value), f"a secret in clear in {name}"


async def test_an_operators_csv_goes_in_but_its_bad_rows_named_by_line(
    stack: StackInfo, db: asyncpg.Connection, run_id: str, tmp_path: Path
) -> None:
    one, two, six = phone(), phone(), phone()
    national = f"8 ({one[2:5]}) {one[5:8]}-{one[8:10]}-{one[10:]}"
    lines = [
        "external_id,phone,secret,test_type,result,line,language",  # 1
        f"{run_id}-1,{national},12.03.1980,PCR,negative,clinic-central,",  # 2
        f"{run_id}-2,{two},07 07,HbA1c,Positive,clinic-north,en",  # 3
        f'{run_id}-7,{phone()},1234,"PCR\nnasal swab",negative,clinic-central,',  # 4-5: one line, a test
        f"{run_id}-3,12345,12031980,PCR,negative,clinic-central,",  # 6: the phone
        f"{run_id}-4,{phone()},12031980,PCR,negative,moon,",  # 7: no such line
        f"{run_id}-5,{phone()},,PCR,negative,clinic-central,",  # 8: no secret
        f"{run_id}-1,{one},12031980,PCR,positive,clinic-central,",  # 9: the same id, another result
        f"{run_id}-2,{two},0707,HbA1c,positive,clinic-north,en",  # 10: the same again
        f"{run_id}-6,{six},01/02/2003,PCR,inconclusive,clinic-south,",  # 11
    ]
    path = tmp_path / "results.csv"
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode())
    done = import_csv(stack, path)
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        "line 4: test_type: must be 1-64 printable characters",
        "line 6: phone: not a phone number (national numbers are read as RU)",
        "line 7: line: unknown organisation/line 'moon'",
        "line 8: secret: required",
        f"line 9: external_id: external id {run_id}-1 exists with a different result",
    ]
    assert done.stdout.splitlines() == [
        "accepted:   3",
        "duplicates: 1",
        "rejected:   5",
        "       1  external_id: exists with a different result",
        "       1  line: unknown organisation/line 'moon'",
        "       1  phone: not a phone number (national numbers are read as RU)",
        "       1  secret: required",
        "       1  test_type: must be 1-64 printable characters",
        "total:      9",
    ]
    for secret in SECRETS:
        assert secret not in done.stdout + done.stderr

    stored = await rows_of(db, run_id)
    assert sorted(stored) == ["1", "2", "6"], "exactly the good rows"
    expected = {
        "1": (one, "PCR", "negative", "ru", "clinic-central", "12031980"),
        "2": (two, "HbA1c", "positive", "en", "clinic-north", "0707"),
        "6": (six, "PCR", "inconclusive", "ru", "clinic-south", "01022003"),
    }
    for key, (number, test_type, result, language, line, secret) in expected.items():
        row = stored[key]
        assert (row["number"], row["test_type"], row["result"], row["language"], row["line"]) == (
            number, test_type, result, language, line,
        )  # fmt: skip
        assert (row["state"], json.loads(row["attempts"]), row["due_at"]) == (
            "pending",
            [],
            row["received_at"],
        )
        # hashed under the stack's pepper: the row alone verifies nothing
        pepper = Pepper.of(stack.results_pepper)
        assert pepper is not None, "a new stack hashes results secrets under a pepper"
        assert row["secret_hash"].startswith(f"$callrouter-pepper${pepper.id}$argon2id$")
        assert verify_secret(row["secret_hash"], secret, pepper)
        assert not verify_secret(row["secret_hash"], secret)
        no_secret_in(row)

    again = import_csv(stack, path)
    assert again.returncode == 1 and "duplicates: 4" in again.stdout, again.stdout
    assert sorted(await rows_of(db, run_id)) == ["1", "2", "6"]


async def test_the_running_router_takes_a_mixed_batch_lists_cancels_and_audits(
    stack: StackInfo, router: RouterProcess, db: asyncpg.Connection, run_id: str
) -> None:
    first, second = phone(), phone()

    def result(n: int, **changes: str) -> dict[str, str]:
        number = first if n == 1 else second
        return {"external_id": f"{run_id}-{n}", "phone": number, "secret": "31.12.1999", "test_type": "PCR",
                "result": "negative", "line": "clinic-central", **changes}  # fmt: skip

    status, body = await ask(router, "POST", "/results", {"results": [result(1)]})
    assert status == 200 and body == {
        "results": [{"external_id": f"{run_id}-1", "status": "accepted", "problems": []}],
        "counts": {"accepted": 1, "duplicate": 0, "refused": 0, "invalid": 0, "total": 1},
    }
    batch = [
        result(2, secret="4455", language="en"),
        result(1, secret="31121999"),  # the same
        result(1, phone=second),  # another number under the same id
        result(3, result="maybe", line="moon"),
        result(2, secret="4456", language="en"),  # the same, but another secret
    ]
    status, answer = await ask(router, "POST", "/results", {"results": batch})
    assert status == 200, answer
    reports: list[dict[str, Any]] = answer["results"]
    assert [(r["external_id"], r["status"], r["problems"]) for r in reports] == [
        (f"{run_id}-2", "accepted", []),
        (f"{run_id}-1", "duplicate", []),
        (f"{run_id}-1", "refused", [
            {"field": "external_id", "message": f"external id {run_id}-1 exists with a different phone"}
        ]),
        (f"{run_id}-3", "invalid", [
            {"field": "result", "message": "must be one of negative, positive, inconclusive"},
            {"field": "line", "message": "unknown organisation/line 'moon'"},
        ]),
        (f"{run_id}-2", "refused", [
            {"field": "external_id", "message": f"external id {run_id}-2 exists with a different secret"}
        ]),
    ]  # fmt: skip
    assert answer["counts"] == {"accepted": 1, "duplicate": 1, "refused": 2, "invalid": 1, "total": 5}
    stored = await rows_of(db, run_id)
    assert sorted(stored) == ["1", "2"] and stored["1"]["number"] == first
    pepper = Pepper.of(stack.results_pepper)
    assert verify_secret(stored["2"]["secret_hash"], "4455", pepper) and stored["2"]["language"] == "en"
    assert not verify_secret(stored["2"]["secret_hash"], "4455")
    for row in stored.values():
        no_secret_in(row)

    today = datetime.now(UTC).date().isoformat()
    status, listed = await ask(router, "GET", f"/results?line=clinic-central&from={today}&limit=1000")
    assert status == 200
    mine = {r["external_id"]: r for r in listed["results"] if r["external_id"].startswith(run_id)}
    assert sorted(mine) == [f"{run_id}-1", f"{run_id}-2"]
    shown = mine[f"{run_id}-1"]
    assert shown["number"] == first[:3] + "*" * (len(first) - 5) + first[-2:] and "result" not in shown
    assert shown["state"] == "pending" and shown["attempts"] == [] and shown["test_type"] == "PCR"

    status, one = await ask(router, "GET", f"/results/{run_id}-1")
    assert status == 200 and one["result"] == "negative" and first not in json.dumps(one)
    assert not {"secret", "secret_hash", "fingerprint"} & set(one)
    assert (await ask(router, "GET", f"/results/{run_id}-9"))[0] == 404

    status, cancelled = await ask(router, "POST", f"/results/{run_id}-1/cancel", {"reason": "told in person"})
    assert status == 200 and cancelled["state"] == "cancelled"
    assert (await rows_of(db, run_id))["1"]["reason"] == "told in person"
    status, again = await ask(router, "POST", f"/results/{run_id}-1/cancel")
    assert status == 409 and "already final: cancelled" in again["error"]
    await db.execute("UPDATE notifications SET state = 'dialling' WHERE external_id = $1", f"{run_id}-2")
    status, dialling = await ask(router, "POST", f"/results/{run_id}-2/cancel")
    assert status == 409 and "being dialled" in dialling["error"]
    assert (await ask(router, "POST", f"/results/{run_id}-9/cancel"))[0] == 404

    status, audit = await ask(router, "GET", f"/results/{run_id}-1/audit")
    assert (status, audit) == (200, {"external_id": f"{run_id}-1", "audit": []})
    call_id = uuid.uuid4()
    await db.execute(
        "INSERT INTO notification_audit (notification_id, at, node, call_id, verified_by, played)"
        " VALUES ($1, now(), 'asterisk-1', $2, 'date_of_birth', 'negative')",
        stored["1"]["notification_id"],
        call_id,
    )
    status, audit = await ask(router, "GET", f"/results/{run_id}-1/audit")
    assert status == 200 and [(a["call_id"], a["played"]) for a in audit["audit"]] == [
        (str(call_id), "negative")
    ]

    log = router.log()
    assert log_problems(router) == []
    for secret in (*SECRETS, first, second):
        assert secret not in log
