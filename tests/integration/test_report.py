"""``callrouter report`` on a real PostgreSQL, run as a user runs it (``python -m
callrouter report``): the week of tests/unit/kpi_data.py goes in through the
record store (the callbacks too; the results by plain SQL, as the import puts
them), and every format tells the figures counted by hand there. Bad
arguments, an unreachable database and an unmigrated one exit 2 in one line.
No phone number is ever in the output."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from devstack.configs import clockless_config
from devstack.stack import REPO
from devstack.util import free_port
from tests.integration.conftest import Cluster, Migrated
from tests.unit import kpi_data as data

WEEK = ["--from", "2026-11-23", "--to", "2026-11-30"]
PHONE = re.compile(r"9160000\d\d|\+\d{4,}")  # the data set's numbers, or anything like a number
INSERT_RESULT = """
INSERT INTO notifications (notification_id, external_id, number, secret_hash, test_type, result, language,
                           line, fingerprint, received_at, due_at, expires_at, state, updated_at)
VALUES ($1, $2, '+79160000031', '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA', 'PCR', 'negative', 'ru',
        'clinic-central', $3, $4, $4, $4::timestamptz + interval '3 days', $5, $4)
"""


async def put_week(db: Migrated) -> None:
    """The week's calls and callbacks through the record store, its results as the import puts them."""
    assert await db.store.write([*data.CALLS, *data.CALLBACKS]) == []
    for name, received, state in data.NOTIFICATIONS:
        fingerprint = hashlib.sha256(name.encode()).hexdigest()
        await db.conn.execute(INSERT_RESULT, uuid.uuid4(), f"LAB-{name}", fingerprint, received, state)


@pytest.fixture
def config(tmp_path: Path, cluster: Cluster) -> Path:
    return clockless_config(tmp_path / "callrouter.toml")


def report(config: Path, dsn: str, password: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The command in a process of its own, with the database's address in the environment."""
    return run("report", config, dsn, password, *args)


def run(name: str, config: Path, dsn: str, password: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``callrouter NAME -c CONFIG ARGS...`` as a user runs it, no phone number in what it writes."""
    env = dict(os.environ, CALLROUTER_DATABASE_DSN=dsn, CALLROUTER_DATABASE_PASSWORD=password)
    command = [sys.executable, "-m", "callrouter", name, "-c", str(config), *args]
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert not PHONE.search(done.stdout + done.stderr), "a phone number in the output"
    assert "Traceback" not in done.stderr
    return done


class Week:
    """The week put in a migrated database, and the command run on it."""

    def __init__(self, dsn: str, cluster: Cluster, config: Path) -> None:
        self.dsn, self.password, self.config = dsn, cluster.password, config

    def report(self, *args: str) -> subprocess.CompletedProcess[str]:
        return report(self.config, self.dsn, self.password, *args)

    def json(self, *args: str) -> dict[str, Any]:
        done = self.report(*args, "--format", "json")
        assert done.returncode == 0, done.stderr
        figures: dict[str, Any] = json.loads(done.stdout)
        return figures


@pytest.fixture
async def week(db: Migrated, empty_db: str, cluster: Cluster, config: Path) -> Week:
    await put_week(db)
    return Week(empty_db, cluster, config)


def approx(expected: object) -> object:
    """The figures are written to 6 decimals."""
    return pytest.approx(expected, abs=1e-6)


def group(figures: dict[str, object]) -> tuple[object, ...]:
    return tuple(figures[name] for name in data.TABLE_FIELDS)


async def test_json_tells_every_figure(week: Week) -> None:
    figures = week.json(*WEEK)
    assert figures["period"] == {
        "from": "2026-11-23T00:00:00+03:00",
        "to": "2026-11-30T00:00:00+03:00",
        "zone": "Europe/Moscow",  # the zone of the opening hours most lines follow
    }
    assert figures["service_level"] == {"seconds": 20.0, "target": 0.8}
    overall = figures["overall"]
    assert {name: overall[name] for name in data.OVERALL} == approx(data.OVERALL)
    assert overall["repeats"] == data.REPEATS and overall["outcomes"] == data.OUTCOMES
    assert list(figures["lines"]) == sorted(data.LINES)
    for name, expected in data.LINES.items():
        assert group(figures["lines"][name]) == approx(expected), name
    assert list(figures["topics"]) == list(data.TOPICS)
    for name, expected in data.TOPICS.items():
        assert group(figures["topics"][name]) == approx(expected), name
    load = figures["load"]
    cells = {
        (day, h): n
        for day, row in zip(load["weekdays"], load["offered"], strict=True)
        for h, n in enumerate(row)
    }
    assert len(cells) == 168 and {cell: n for cell, n in cells.items() if n} == data.LOAD
    by_hour = {h["hour"]: (h["sl1"], h["sl2"]) for h in figures["by_hour"]}
    assert len(by_hour) == 24 and {h: sl for h, sl in by_hour.items() if sl != (None, None)} == data.BY_HOUR
    assert len(figures["waits"]) == data.WAIT_BINS
    assert {w["upto"]: w["total"] for w in figures["waits"] if w["total"]} == data.WAITS
    assert figures["callbacks"] == data.CALLBACK_FIGURES
    assert figures["results"] == data.RESULTS


async def test_csv_tells_the_same(week: Week) -> None:
    done = week.report(*WEEK, "--format", "csv")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert list(rows[0]) == ["section", "name", "figure", "value"]
    value = {(r["section"], r["name"], r["figure"]): r["value"] for r in rows}
    for name, expected in data.OVERALL.items():
        assert float(value["overall", "", name]) == approx(expected), name
    assert value["line", "clinic-north", "offered"] == "5" and value["line", "clinic-north", "sl1"] == "1.0"
    assert value["topic", "(none)", "asa_seconds"] == ""  # nothing to divide by
    assert value["load", "sun", "23"] == "1" and value["load", "fri", "16"] == "3"
    assert sum(int(v) for (section, _, _), v in value.items() if section == "load") == 14
    assert value["callbacks", "", "requested"] == "4" and value["results", "state", "delivered"] == "2"
    assert value["line", "clinic-central", "fcr"] == "0.75" and value["definition", "", "fcr"]


async def test_the_table_tells_the_same(week: Week) -> None:
    done = week.report(*WEEK)
    assert done.returncode == 0, done.stderr
    for line in (
        "offered                  14",
        "unique callers           11",
        "answered                 6 (3 within the service level)",
        "average speed of answer  33.3 s",  # 200 / 6
        "service level SL1        50.0% (target 80%)",
        "service level SL2        42.9% (target 80%; 1 abandoned after)",
        "abandonment              27.3% (3 abandoned)",
        "short abandonment        9.1% (1)",
        "average handling time    2:38",  # 950 / 6 = 158.3 s
        "repeat calls             21.4% (3: already_waiting 1, resumed 1, recent_contact 1,",
        "first-contact resolution 80.0% (1 of 5 answered called again)",
        "requested 4, completed 1, failed 1, cancelled 1, open 1",
        "results calls 2, consultations asked 1 (answered 1)",
    ):
        assert line in done.stdout, line
    row = r"clinic-central +8 +5 +7 +4 +43\.8 s +25\.0% +20\.0% +28\.6% +0\.0% +2:28 +37\.5% +75\.0%"
    assert re.search(row, done.stdout)
    assert re.search(r"\(none\) +2 +2 +0 +0 +— +— +— +— +— +— +0\.0% +—", done.stdout)


async def test_the_page_is_written_to_its_file(week: Week) -> None:
    page = week.config.parent / "kpi.html"
    done = week.report(*WEEK, "--format", "html", "--output", str(page))
    assert done.returncode == 0 and done.stdout == "" and str(page) in done.stderr
    html = page.read_text()
    assert html.count("<rect data-cell ") == 168 and html.count("<g data-bar ") == data.WAIT_BINS
    assert html.count("<g data-mark ") == 24
    assert '<div class="card short" data-headline="sl1" data-value="0.5000">' in html
    assert not PHONE.search(html) and "http" not in html and "<script" not in html


async def test_one_line(week: Week) -> None:
    figures = week.json(*WEEK, "--line", "clinic-north")
    assert figures["lines_selected"] == ["clinic-north"] and list(figures["lines"]) == ["clinic-north"]
    assert group(figures["overall"]) == approx(data.LINES["clinic-north"])
    assert figures["callbacks"]["requested"] == 0  # the week's callbacks are all clinic-central's
    assert (figures["results"]["calls"], figures["results"]["received"]) == (1, 0)  # c15 only


async def test_the_period_ends_before_to_and_takes_instants(week: Week) -> None:
    # Monday 09:00 to 09:10 Moscow, the start given in UTC: c1 alone (c2 starts at 09:10, the end)
    figures = week.json("--from", "2026-11-23T06:00:00+00:00", "--to", "2026-11-23T09:10")
    assert figures["overall"]["offered"] == 1 and figures["overall"]["asa_seconds"] == 10.0
    assert figures["period"]["from"] == "2026-11-23T09:00:00+03:00"  # told on the centre's clock
    # the same span on UTC's wall clock: the load's hour is 06 then
    figures = week.json("--from", "2026-11-23T06:00", "--to", "2026-11-23T06:10", "--zone", "UTC")
    assert figures["overall"]["offered"] == 1 and figures["load"]["offered"][0][6] == 1


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--from", "2026-13-01", "--to", "2026-11-30"], "argument --from: '2026-13-01' is neither a day"),
        (["--from", "2026-11-23", "--to", "next week"], "argument --to: 'next week' is neither a day"),
        (
            ["--from", "2026-11-30", "--to", "2026-11-23"],
            "report: --from (2026-11-30T00:00:00+03:00) must be",
        ),
        ([*WEEK, "--line", "clinic-nowhere"], "report: unknown line 'clinic-nowhere'"),
        ([*WEEK, "--zone", "Mars/Olympus"], "argument --zone: 'Mars/Olympus' is not a time zone"),
        ([*WEEK, "--format", "pdf"], "argument --format: invalid choice: 'pdf'"),
    ],
)
async def test_bad_arguments_exit_2_naming_them(week: Week, args: list[str], said: str) -> None:
    done = week.report(*args)
    assert done.returncode == 2 and done.stdout == ""
    assert said in done.stderr


async def test_an_unreachable_database_exits_2_in_one_line(config: Path) -> None:
    done = report(config, f"postgresql://callrouter@127.0.0.1:{free_port()}/nowhere", "x", *WEEK)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("report: cannot reach the database: ") and done.stderr.count("\n") == 1


async def test_an_unmigrated_database_exits_2_saying_so(
    empty_db: str, config: Path, cluster: Cluster
) -> None:
    done = report(config, empty_db, cluster.password, *WEEK)
    assert done.returncode == 2 and "is it migrated? callrouter migrate" in done.stderr
    assert done.stderr.count("\n") == 1
