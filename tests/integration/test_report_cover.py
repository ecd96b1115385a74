"""Agents planned vs needed in ``callrouter report`` on a real PostgreSQL: the
day of tests/unit/cover_data.py goes in through the record store (calls and
agents' state records), the reader streams each agent's states from the last
one before the period, and every format tells the figures counted there."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from callrouter.core.erlang import agents_for
from callrouter.core.records import AgentStateRecord
from callrouter.report import collect
from callrouter.store import report as store_report
from callrouter.store.report import ReportReader
from devstack.configs import clockless_config
from tests.integration.conftest import Cluster, Migrated
from tests.integration.test_report import report
from tests.unit.cover_data import CALLS, SCOPE, STATES, at

DAY = ["--from", "2026-11-23", "--to", "2026-11-24"]
NEEDED_9 = agents_for(0.8, 20, 60 / 3600, 1 / 180, 1 / 110, definition="sl2")


@pytest.fixture
def config(tmp_path: Path, cluster: Cluster) -> Path:
    """The example config as the tests run it, with the day's 10 s wrap-up."""
    path = clockless_config(tmp_path / "callrouter.toml")
    path.write_text(path.read_text().replace("wrap_up_seconds = 1 ", "wrap_up_seconds = 10 "))
    return path


async def test_the_reader_starts_each_agent_from_its_last_state_before(
    db: Migrated, empty_db: str, cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    earlier = AgentStateRecord("agent1", at("08:00:00", -1), "idle", "login")
    later = AgentStateRecord("agent1", at("00:00:00", 1), "logged_out", "logout")  # after the period
    assert await db.store.write([earlier, *STATES, later]) == []
    monkeypatch.setattr(store_report, "BATCH", 3)  # several batches
    reader = ReportReader(empty_db, cluster.password)
    try:
        read = [state async for batch in reader.agent_states(SCOPE.start, SCOPE.end) for state in batch]
    finally:
        await reader.close()
    # agent1 from its last state before the day (22:00, not 08:00); agent3's last, logged out;
    # nothing after the day; by agent, then time
    assert [(s.agent, s.at, s.state) for s in read] == sorted((s.agent, s.at, s.state) for s in STATES)


async def test_every_format_tells_planned_vs_needed(
    db: Migrated, empty_db: str, cluster: Cluster, config: Path
) -> None:
    assert await db.store.write([*CALLS, *STATES]) == []
    done = report(config, empty_db, cluster.password, *DAY, "--format", "json")
    assert done.returncode == 0, done.stderr
    cover = json.loads(done.stdout)["cover"]
    assert (cover["abandoned"], cover["patience_seconds"], cover["wrap_up_seconds"]) == (10, 110, 10)
    hours = cover["hours"]
    assert [h["planned"] for h in hours[:12]] == [1.0] * 9 + [1.5, 1.5, 0.0]
    assert (hours[9]["queued"], hours[9]["load_erlangs"], hours[9]["needed"]) == (60, 3.0, NEEDED_9)
    assert hours[10]["needed"] == agents_for(0.8, 20, 10 / 3600, 1 / 180, 1 / 110, definition="sl2")
    assert hours[12]["needed"] == 0 and hours[12]["planned"] == 0
    done = report(config, empty_db, cluster.password, *DAY, "--format", "csv")
    rows = {(r["name"], r["figure"]): r["value"] for r in csv.DictReader(io.StringIO(done.stdout))
            if r["section"] == "cover"}  # fmt: skip
    assert rows["09", "needed"] == str(NEEDED_9) and rows["09", "planned"] == "1.5"
    table = report(config, empty_db, cluster.password, *DAY).stdout
    assert "agents planned vs needed by hour of the day (Europe/Moscow; mean patience 1:50" in table
    page = report(config, empty_db, cluster.password, *DAY, "--format", "html").stdout
    assert '<tr data-row="09" class="short"><td>09:00</td>' in page


async def test_a_period_still_going_counts_agents_up_to_now(
    db: Migrated, empty_db: str, cluster: Cluster
) -> None:
    assert await db.store.write([*CALLS, *STATES]) == []
    reader = ReportReader(empty_db, cluster.password)
    try:
        day = await collect(reader, SCOPE, now=at("10:30:00"))
    finally:
        await reader.close()
    assert day.cover is not None
    assert day.cover.hours[10].hours == 0.5 and day.cover.hours[10].planned == 2.0
    assert day.cover.hours[11].planned is None
