"""``callrouter results import`` on a real PostgreSQL, in this process: the exit
code says whether every row went in (0), some were rejected (1) or nothing
could be done (2); rows go in batch by batch; no secret is ever printed."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from callrouter import cli, results_import
from devstack.configs import clockless_config
from devstack.util import free_port
from tests.integration.conftest import Cluster, Migrated

HEADER = "external_id,phone,secret,test_type,result,line"
GOOD = [
    "LAB-1,8 916 555-01-01,12.03.1980,PCR,negative,clinic-central",
    "LAB-2,+79165550102,0707,PCR,positive,clinic-north",
    "LAB-3,8 916 555-01-03,01/02/2003,HbA1c,inconclusive,clinic-central",
]
SECRETS = ("12031980", "12.03.1980", "0707", "01022003", "01/02/2003", "99999999", "-1234")


@pytest.fixture
def config(tmp_path: Path, empty_db: str, cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CALLROUTER_DATABASE_DSN", empty_db)
    monkeypatch.setenv("CALLROUTER_DATABASE_PASSWORD", cluster.password)
    return clockless_config(tmp_path / "callrouter.toml")


def csv_file(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "results.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def run(path: Path, config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """The command as a user runs it (in a thread: it runs its own event loop)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        code = await asyncio.to_thread(cli.main, ["results", "import", str(path), "-c", str(config)])
    finally:  # the command sets up logging to this test's stderr: never left to later tests
        root.handlers[:], root.level = handlers, level
    out, err = capsys.readouterr()
    for secret in SECRETS:
        assert secret not in out + err, "a secret printed"
    # No CALLROUTER_RESULTS_PEPPER here: said first, then the import's own words.
    warning, _, rest = err.partition("\n")
    assert warning.startswith("results import: warning: results secrets are hashed without a pepper"), err
    return code, out, rest


async def test_rows_go_in_batch_by_batch_bad_ones_are_named_and_exit_1(
    db: Migrated,
    config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(results_import, "BATCH_ROWS", 2)
    path = csv_file(
        tmp_path,
        HEADER,
        *GOOD,  # lines 2-4
        "LAB-4,12,99999999,PCR,negative,clinic-central",  # line 5: phone
        "LAB-1,8 916 555-01-01,12031980,PCR,positive,clinic-central",  # line 6: changed result
        "LAB-2,+79165550102,07-07,PCR,positive,clinic-north",  # line 7: the same again
        "LAB-5,++79165550105,12031980,PCR,negative,clinic-central",  # line 8: phone, two +
        "LAB-6,+79165550106,-1234,PCR,negative,clinic-central",  # line 9: secret, a sign before it
    )
    code, out, err = await run(path, config, capsys)
    assert code == 1, err
    assert err.splitlines() == [
        "line 5: phone: not a phone number (national numbers are read as RU)",
        "line 6: external_id: external id LAB-1 exists with a different result",
        "line 8: phone: not a phone number (one + at most, before its digits)",
        "line 9: secret: only digits, with . - / or spaces between them",
    ]
    assert out.splitlines() == [
        "accepted:   3",
        "duplicates: 1",
        "rejected:   4",
        "       1  external_id: exists with a different result",
        "       1  phone: not a phone number (national numbers are read as RU)",
        "       1  phone: not a phone number (one + at most, before its digits)",
        "       1  secret: only digits, with . - / or spaces between them",
        "total:      8",
    ]
    stored = await db.conn.fetch("SELECT external_id, result, secret_hash FROM notifications ORDER BY 1")
    assert [(r["external_id"], r["result"]) for r in stored] == [
        ("LAB-1", "negative"), ("LAB-2", "positive"), ("LAB-3", "inconclusive"),
    ]  # fmt: skip
    assert all(r["secret_hash"].startswith("$argon2id$") for r in stored)

    code, out, _ = await run(csv_file(tmp_path, HEADER, *GOOD), config, capsys)
    assert code == 0 and "duplicates: 3" in out, "the same file again: nothing new, nothing wrong"


async def test_an_unusable_file_writes_nothing_and_exits_2(
    db: Migrated, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = csv_file(
        tmp_path, "external_id,phone,test_type,result,line", "LAB-1,+79165550101,PCR,negative,x"
    )
    code, out, err = await run(missing, config, capsys)
    assert (code, out) == (2, "")
    assert err.strip() == f"{missing}: line 1 (the header): required column missing: secret" + (
        " (the fields: external_id, phone, secret, test_type, result, language, line)"
    )
    code, _, err = await run(tmp_path / "nowhere.csv", config, capsys)
    assert code == 2 and "cannot read" in err
    assert await db.conn.fetchval("SELECT count(*) FROM notifications") == 0


async def test_an_unreachable_database_exits_2(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "CALLROUTER_DATABASE_DSN", f"postgresql://callrouter@127.0.0.1:{free_port()}/callrouter"
    )
    code, out, err = await run(csv_file(tmp_path, HEADER, *GOOD), config, capsys)
    assert (code, out) == (2, "")
    assert "the database cannot take the results" in err and "0 rows went in" in err


async def test_a_database_without_the_results_tables_exits_2(
    empty_db: str, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = await run(csv_file(tmp_path, HEADER, *GOOD), config, capsys)
    assert code == 2 and "notifications" in err, err
