"""``callrouter staffing --from --to`` on a real PostgreSQL: the morning of
tests/unit/cover_data.py goes in through the record store, and the command
advises on it as a user runs it: planned = the agents' recorded logins, needed
from the recorded first calls and talk times. --scenario with --from/--to, one
of --from/--to alone, neither, or --output with a recorded day exit 2 in plain
words."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from devstack.configs import clockless_config
from devstack.stack import REPO
from tests.integration.conftest import Cluster, Migrated
from tests.integration.test_report import run
from tests.unit.cover_data import CALLS, STATES

MORNING = ["--from", "2026-11-23T08:00", "--to", "2026-11-23T12:00"]
QUICK = ["--target", "80/20", "--replications", "2", "--iterations", "4", "--seed", "3"]


@pytest.fixture
def config(tmp_path: Path, cluster: Cluster) -> Path:
    return clockless_config(tmp_path / "callrouter.toml")


def staffing(config: Path, dsn: str, password: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run("staffing", config, dsn, password, *args)


async def test_a_recorded_morning_is_staffed(
    db: Migrated, empty_db: str, cluster: Cluster, config: Path
) -> None:
    assert await db.store.write([*CALLS, *STATES]) == []
    done = staffing(config, empty_db, cluster.password, *MORNING, *QUICK, "--format", "json")
    assert done.returncode == 0, done.stderr
    advice = json.loads(done.stdout)
    assert advice["scenario"].startswith("records 2026-11-23T08:00:00+03:00 to 2026-11-23T12:00:00+03:00")
    hours = advice["hours"]
    # planned: the recorded logins, agent1 08:00-10:30 and agent2 09:30-11:00
    assert [hours[h]["planned"] for h in (7, 8, 9, 10, 11)] == [0, 1, 1.5, 1.5, 0]
    # needed: 60 first calls in 09:00 of 170 s talk each (2.8 Erlangs) need a few agents;
    # 10 in 10:00 one or two; none before 09:00 or after 11:00
    assert 3 <= hours[9]["needed"] <= 8 and 1 <= hours[10]["needed"] <= 3
    assert hours[8]["needed"] == 0 and hours[12]["needed"] == 0
    assert advice["met"] and "staffing: try 1:" in done.stderr

    table = staffing(config, empty_db, cluster.password, *MORNING, *QUICK)
    assert table.returncode == 0, table.stderr
    rows = {cells[0]: cells for cells in map(str.split, table.stdout.splitlines()) if cells}
    # hour, planned, Erlang A, needed (* when too few calls to judge, ~ within the noise): as in the JSON
    for hour in (9, 10):
        planned, needed = rows[f"{hour:02d}"][1], rows[f"{hour:02d}"][3].rstrip("*~")
        assert (planned, needed) == ("1.5", str(hours[hour]["needed"])), table.stdout
    assert "agent-hours: planned 4.0," in table.stdout, table.stdout


async def test_bad_combinations_exit_2(db: Migrated, empty_db: str, cluster: Cluster, config: Path) -> None:
    scenario = str(REPO / "examples" / "scenario-small.toml")
    one_of = "give --scenario FILE, or --from and --to (a recorded day): one of them"
    for args in (
        [*MORNING, "--scenario", scenario],
        ["--from", "2026-11-23T08:00"],
        ["--to", "2026-11-23T12:00", "--scenario", scenario],
        [],
    ):
        done = staffing(config, empty_db, cluster.password, *args, *QUICK)
        assert done.returncode == 2 and one_of in done.stderr, (args, done.stderr)
        assert done.stdout == ""
    done = staffing(config, empty_db, cluster.password, *MORNING, *QUICK, "--output", "advised.toml")
    assert done.returncode == 2 and "--output" in done.stderr and "with --scenario only" in done.stderr
    done = staffing(config, empty_db, cluster.password, "--scenario", scenario, "--base", scenario, *QUICK)
    assert done.returncode == 2 and "--base goes with --from and --to" in done.stderr
    # the records' problems too, said by the staffing command
    done = staffing(config, empty_db, cluster.password, "--from", "2026-11-24", "--to", "2026-11-25", *QUICK)
    assert done.returncode == 2 and "no first call that chose a topic was recorded" in done.stderr
