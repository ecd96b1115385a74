"""The simulate page as a reader sees it: the page ``callrouter simulate
--compare separate-lines --format html`` writes for the small example, opened in headless Chromium
(tests/integration/chromium.py, no database): every chart drawn once per set-up
with its 24 hours, the comparison table's rows, no error in the console, nothing
fetched. The screenshot is kept in .run/artifacts/."""

from __future__ import annotations

from pathlib import Path

from callrouter.simulate import compare, page
from callrouter.simulate.scenario import load_scenario
from devstack.stack import REPO
from tests.integration import chromium

SMALL = REPO / "examples" / "scenario-small.toml"
ARTIFACT = REPO / ".run" / "artifacts" / "simulate-compare.png"
MARKS = """(() => {
  const all = (selector) => [...document.querySelectorAll(selector)];
  const drawn = (el) => { const box = el.getBoundingClientRect(); return box.width > 0 && box.height > 0; };
  return {
    charts: all('[data-chart]').map((el) => [el.dataset.chart,
      [...el.querySelectorAll('[data-setup]')].map((f) => f.dataset.setup)]),
    svgs: all('[data-setup] svg').filter(drawn).length,
    hours: all('[data-chart="offered-answered"] [data-setup] [data-mark]').filter(drawn).length,
    offered: all('[data-chart="offered-answered"] [data-setup="unified"] [data-mark]')
      .reduce((sum, el) => sum + +el.dataset.first, 0),
    rows: all('[data-table="compare"] [data-row]').map((el) => el.dataset.row),
    lines: all('[data-table="agents-by-line"] [data-row]').map((el) => el.dataset.row),
    linked: all('[src], [href], link, script, iframe, img').length,
  };
})()"""


async def test_chromium_shows_the_three_set_ups_side_by_side(tmp_path: Path) -> None:
    comparison = compare.compare(load_scenario(SMALL))
    path = tmp_path / "compare.html"
    path.write_text(page.compare_page(comparison), encoding="utf-8")
    shown = await chromium.show(path.as_uri(), MARKS, tmp_path / "browser")
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_bytes(shown.screenshot)
    print(f"screenshot of the simulate page: {ARTIFACT}")
    assert shown.errors == []
    marks = shown.value
    charts = ["offered-answered", "sl-by-hour", "waits", "agents-by-hour"]
    assert marks["charts"] == [[chart, list(compare.SETUPS)] for chart in charts]
    assert marks["svgs"] == len(charts) * 3 and marks["hours"] == 24 * 3
    assert marks["offered"] == comparison.summaries["unified"].day.offered
    assert marks["rows"][:3] == ["offered", "people", "answered"] and "callbacks" in marks["rows"]
    assert marks["lines"] == ["clinic-central", "clinic-north", "hotline-health", "ambulance"]
    assert marks["linked"] == 0
