"""The KPI page as a manager sees it: the week of tests/unit/kpi_data.py in
PostgreSQL, ``callrouter report --format html`` writes the page, headless
Chromium opens it (tests/integration/chromium.py) and counts what it shows:
every chart with the marks the week implies, the headline numbers counted by
hand, the agents planned vs needed by hour (short hours marked), no error in the
console. The screenshot is kept in .run/artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest

from callrouter.core.records import AgentStateRecord
from devstack.configs import clockless_config
from devstack.stack import REPO
from tests.integration import chromium
from tests.integration.conftest import Cluster, Migrated
from tests.integration.test_report import WEEK, put_week, report
from tests.unit import kpi_data as data

ARTIFACT = REPO / ".run" / "artifacts" / "kpi-report.png"
# agent1 logged in 09:00-11:00 each day of the week: the hours 09 and 10 have the one agent
# their few calls need; the other hours with calls (11, 12, 14, 16, 23) have none: short
LOGINS = [
    AgentStateRecord("agent1", data.local(day, clock), state, reason)
    for day in range(7)
    for clock, state, reason in (("09:00:00", "idle", "login"), ("11:00:00", "logged_out", "logout"))
]
# What the page shows, read as a person reads it (rendered text, drawn boxes).
MARKS = """(() => {
  const all = (selector) => [...document.querySelectorAll(selector)];
  const drawn = (el) => { const box = el.getBoundingClientRect(); return box.width > 0 && box.height > 0; };
  const cells = all('[data-chart="heatmap"] [data-cell]');
  return {
    charts: all('[data-chart]').map((el) => el.dataset.chart),
    cells: cells.length,
    drawnCells: cells.filter(drawn).length,
    busy: cells.filter((el) => el.dataset.count !== "0")
               .map((el) => [el.dataset.day, +el.dataset.hour, +el.dataset.count]),
    legendSteps: all('[data-chart="heatmap"] [data-legend] [data-legend-step]').length,
    bars: all('[data-chart="waits"] [data-bar]').map((el) => [el.dataset.upto, +el.dataset.count]),
    hours: all('[data-chart="sl-by-hour"] [data-mark]').map((el) => [+el.dataset.hour, el.dataset.sl1]),
    target: all('[data-chart="sl-by-hour"] [data-target]').length,
    headlines: Object.fromEntries(all('[data-headline]').map((el) =>
      [el.dataset.headline, [el.querySelector('.value').innerText, el.dataset.value]])),
    lines: all('[data-table="lines"] [data-row]').map((el) => el.dataset.row),
    topics: all('[data-table="topics"] [data-row]').map((el) => el.dataset.row),
    cover: all('[data-table="cover"] [data-row]').map((el) =>
      [el.dataset.row, el.className, drawn(el), getComputedStyle(el.cells[0]).backgroundColor,
       [...el.cells].map((cell) => cell.innerText)]),
    coverHead: all('[data-table="cover"] th').map((el) => el.innerText),
    linked: all('[src], [href], link, script, iframe, img').length,
  };
})()"""


@pytest.fixture
async def page(db: Migrated, empty_db: str, cluster: Cluster, tmp_path: Path) -> Path:
    """The week's page, written by the command."""
    await put_week(db)
    assert await db.store.write(LOGINS) == []
    path = tmp_path / "kpi.html"
    config = clockless_config(tmp_path / "callrouter.toml")
    done = report(config, empty_db, cluster.password, *WEEK, "--format", "html", "--output", str(path))
    assert done.returncode == 0, done.stderr
    return path


async def test_chromium_shows_the_weeks_figures(page: Path, tmp_path: Path) -> None:
    shown = await chromium.show(page.as_uri(), MARKS, tmp_path / "browser")
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_bytes(shown.screenshot)
    print(f"screenshot of the KPI page: {ARTIFACT}")
    assert shown.screenshot.startswith(b"\x89PNG") and len(shown.screenshot) > 20_000
    assert shown.errors == []
    marks = shown.value
    assert marks["charts"] == ["heatmap", "waits", "sl-by-hour"]
    # the heat map: always 7 x 24 cells, all drawn, busy where the week was, with its legend
    assert marks["cells"] == marks["drawnCells"] == 7 * 24
    assert {(day, hour): n for day, hour, n in marks["busy"]} == data.LOAD
    assert marks["legendSteps"] == 4  # 0, 1, 2, 3 calls (the busiest cell: Friday 16:00)
    # one bar per wait bin (16 bounds and one beyond), holding the week's 11 waits
    assert len(marks["bars"]) == data.WAIT_BINS
    assert {float(upto): n for upto, n in marks["bars"] if n} == data.WAITS
    # 24 marks for the service level by hour, and the target's line
    assert [hour for hour, _ in marks["hours"]] == list(range(24)) and marks["target"] == 1
    assert {hour: float(sl1) for hour, sl1 in marks["hours"] if sl1} == {
        hour: sl1 for hour, (sl1, _) in data.BY_HOUR.items() if sl1 is not None
    }
    # the headline numbers as the page shows them, and their values
    assert {key: text for key, (text, _) in marks["headlines"].items()} == data.HEADLINE
    values = {key: value for key, (_, value) in marks["headlines"].items()}
    assert values == {
        "offered": "14", "unique_callers": "11", "answered": "6", "asa": "33.3333", "sl1": "0.5000",
        "sl2": "0.4286", "abandonment": "0.2727",
    }  # fmt: skip
    assert marks["lines"] == sorted(data.LINES) and marks["topics"] == list(data.TOPICS)
    assert marks["linked"] == 0  # self-contained: nothing fetched, no script
    # agents planned vs needed: a drawn row per hour with calls, its figures as the report counts
    # them (a week of each hour; planned, needed, gap), marked short (amber) where planned < needed
    assert marks["coverHead"][0] == "hour" and marks["coverHead"][-3:] == ["planned", "needed", "gap"]
    amber = "rgb(254, 243, 199)"  # report_html: tr.short td{background:#fef3c7}
    cover = {
        row: (mark, drawn, background == amber, cells[0], cells[1], cells[-3:])
        for row, mark, drawn, background, cells in marks["cover"]
    }
    assert cover == {
        "09": ("", True, False, "09:00", "7.00", ["1.0", "1", "+0.0"]),
        "10": ("", True, False, "10:00", "7.00", ["1.0", "1", "+0.0"]),
        **{
            f"{h:02d}": ("short", True, True, f"{h:02d}:00", "7.00", ["0.0", "1", "-1.0"])
            for h in (11, 12, 14, 16, 23)
        },
    }
