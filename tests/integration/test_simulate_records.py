"""``callrouter simulate --from --to`` on a real PostgreSQL: the day of
tests/unit/cover_data.py goes in through the record store; the reader counts
its first calls per quarter hour, talk times and abandons as recorded, and the
command plays the day (alone, or over a base scenario), run as a user runs it.
A window of more than a day, or no scenario at all, exits 2 in plain words."""

from __future__ import annotations

import json
import subprocess
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from callrouter.core.records import RepeatKind
from callrouter.store.arrivals import ArrivalReader
from devstack.configs import clockless_config
from devstack.stack import REPO
from tests.integration.conftest import Cluster, Migrated
from tests.integration.test_report import run
from tests.unit.cover_data import CALLS, START, STATES, at

MORNING = ["--from", "2026-11-23T08:00", "--to", "2026-11-23T12:00"]


async def test_the_reader_counts_first_calls_talks_and_abandons(
    db: Migrated, empty_db: str, cluster: Cluster
) -> None:
    redial = replace(CALLS[0], call_id=str(uuid.uuid4()), channel_id="redial", repeat_kind=RepeatKind.RESUMED)
    again = replace(
        CALLS[0], call_id=str(uuid.uuid4()), channel_id="again", repeat_kind=RepeatKind.RECENT_CONTACT
    )
    english = replace(CALLS[0], call_id=str(uuid.uuid4()), channel_id="english", language="en")
    assert await db.store.write([*CALLS, redial, again, english]) == []
    reader = ArrivalReader(empty_db, cluster.password)
    try:
        traffic = await reader.traffic(at("08:00:00"), at("12:00:01"), START)
    finally:
        await reader.close()
    # 60 first calls 09:00-09:59, one a minute; 10 from 10:00, one each 6 minutes; not the redial
    # of an unserved caller (the simulator redials), but one calling again after talking: a new need
    quarters = {36: 15 + 1, 37: 15, 38: 15, 39: 15, 40: 3, 41: 2, 42: 3, 43: 2}
    # by the language the call ended in: the fixture's calls recorded none, one English caller besides
    assert traffic.first_calls == {
        ("clinic-central", "operator", None): quarters,
        ("clinic-central", "operator", "en"): {36: 1},
    }
    assert traffic.without_topic == 1  # the menu hang-up at 12:00
    # every answered call talked, the three copies of the first too (each 10 s waited, 170 s talked)
    assert traffic.talk_seconds == [170.0] * 63
    assert traffic.talk_by_topic == {"operator": [170.0] * 63}, "by topic too, for each stream's own"
    assert traffic.abandoned == 10 and traffic.waited_seconds == pytest.approx(1100 + 3 * 10)


@pytest.fixture
def config(tmp_path: Path, cluster: Cluster) -> Path:
    return clockless_config(tmp_path / "callrouter.toml")


def simulate(config: Path, dsn: str, password: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run("simulate", config, dsn, password, *args)


def figures(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


async def test_a_recorded_morning_is_played_again(
    db: Migrated, empty_db: str, cluster: Cluster, config: Path
) -> None:
    assert await db.store.write([*CALLS, *STATES]) == []
    day = figures(simulate(config, empty_db, cluster.password, *MORNING, "--format", "json", "--seed", "3"))
    assert day["scenario"].startswith("records 2026-11-23T08:00:00+03:00 to 2026-11-23T12:00:00+03:00")
    assert day["date"] == "2026-11-23" and day["zone"] == "Europe/Moscow"
    hours = day["hours"]
    # Poisson first calls at the recorded rates: 60 expected in 09:00, 10 in 10:00, none before
    assert hours[8]["offered"] == 0 and 35 <= hours[9]["offered"] <= 90 and hours[10]["offered"] <= 25
    # the recorded logins as shifts: agent1 from 08:00 (the window's start) to 10:30, agent2 09:30-11:00
    assert hours[8]["agents"] == pytest.approx(1.0) and hours[9]["agents"] == pytest.approx(1.5)
    assert hours[11]["agents"] == 0 and day["day"]["answered"] > 0


async def test_a_base_scenario_gives_the_rest(
    db: Migrated, empty_db: str, cluster: Cluster, config: Path
) -> None:
    assert await db.store.write([*CALLS, *STATES]) == []
    base = REPO / "examples" / "scenario-small.toml"
    day = figures(
        simulate(config, empty_db, cluster.password, *MORNING, "--base", str(base), "--format", "json")
    )
    assert day["hours"][9]["agents"] == pytest.approx(4.0)  # the base's shifts: agent1 to agent4
    assert day["hours"][13]["offered"] == 0  # the base's arrivals are not played: the records' are


async def test_a_range_of_days_is_played_as_its_average_day(
    db: Migrated, empty_db: str, cluster: Cluster, config: Path
) -> None:
    """The recorded Monday and an empty Tuesday: the average day has half Monday's first
    calls, and [staff] the agents logged in each hour on average."""
    assert await db.store.write([*CALLS, *STATES]) == []
    week = ["--from", "2026-11-23", "--to", "2026-11-25"]
    day = figures(simulate(config, empty_db, cluster.password, *week, "--format", "json", "--seed", "3"))
    assert day["scenario"] == (
        "records 2026-11-23T00:00:00+03:00 to 2026-11-25T00:00:00+03:00 (2 days averaged)"
    )
    assert day["date"] == "2026-11-23", "played on the range's first date"
    hours = day["hours"]
    # Poisson at half the recorded rate: 30 expected in 09:00 (60 on Monday, none on Tuesday)
    assert hours[8]["offered"] == 0 and 12 <= hours[9]["offered"] <= 52, hours[9]
    # agent1 logged in from Sunday 22:00 to 10:30 and agent2 09:30-11:00 on Monday, nobody on Tuesday:
    # 0.5 agents each hour to 09:00, 0.75 in 09:00 and 10:00, then none: one agent, rounded
    assert [h["agents"] for h in hours[7:12]] == pytest.approx([1.0, 1.0, 1.0, 1.0, 0.0])
    done = simulate(config, empty_db, cluster.password, "--from", "2026-11-23T08:00", "--to", "2026-11-25")
    assert done.returncode == 2 and "make a range of whole days" in done.stderr
    # --weekdays: the recorded Monday and the empty Monday after it, the days between left out
    mondays = ["--from", "2026-11-23", "--to", "2026-12-01", "--weekdays", "mon"]
    day = figures(simulate(config, empty_db, cluster.password, *mondays, "--format", "json", "--seed", "3"))
    assert day["scenario"].endswith("(2 days averaged: mon)") and day["date"] == "2026-11-23"
    assert 12 <= day["hours"][9]["offered"] <= 52, day["hours"][9]
    done = simulate(config, empty_db, cluster.password, *week, "--weekdays", "sat-sun")
    assert (
        done.returncode == 2 and "no day from 2026-11-23 to 2026-11-25 (excluded) is a sat,sun" in done.stderr
    )


async def test_bad_windows_and_arguments_exit_2(
    db: Migrated, empty_db: str, cluster: Cluster, config: Path
) -> None:
    done = simulate(
        config, empty_db, cluster.password, "--from", "2026-11-23T12:00", "--to", "2026-11-23T08:00"
    )
    assert done.returncode == 2 and "must be before" in done.stderr
    done = simulate(config, empty_db, cluster.password, "--from", "2026-11-24", "--to", "2026-11-25")
    assert done.returncode == 2 and "no first call that chose a topic was recorded" in done.stderr
    done = simulate(config, empty_db, cluster.password)
    assert done.returncode == 2 and "give a SCENARIO, or --from and --to" in done.stderr
