"""``callrouter simulate --format html``: one self-contained page (no script, no
URL) whose charts and tables carry the day's figures, every name escaped; with
``--compare``, each chart once per set-up."""

from __future__ import annotations

import re
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from callrouter import cli
from callrouter.simulate import compare, figures, page
from callrouter.simulate.engine import simulate
from callrouter.simulate.figures import Summary
from callrouter.simulate.scenario import Scenario, build

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "examples" / "scenario-small.toml"
ODD = '<i>clinic & "co"</i>.toml'  # a scenario named to break a page that forgets to escape
VOID = frozenset({"meta", "br", "img", "input", "link", "hr", "col", "wbr"})
CHARTS = ["offered-answered", "sl-by-hour", "waits", "agents-by-hour"]


class Marks(HTMLParser):
    """Checks that every element closes in order, and keeps the data- marks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.problems: list[str] = []
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
        else:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def having(self, attribute: str) -> list[dict[str, str | None]]:
        return [attrs for _, attrs in self.elements if attribute in attrs]


def parsed(html: str) -> Marks:
    assert html.startswith("<!DOCTYPE html>\n<html") and html.endswith("</html>\n")
    marks = Marks()
    marks.feed(html)
    marks.close()
    assert marks.problems == [] and marks.open == []
    # self-contained: no script, no link, no URL of any kind
    assert not re.search(r"<script|<link|<img|<iframe|\bsrc=|\bhref=|url\(|https?:", html)
    return marks


def small(source: str = "small.toml") -> Scenario:
    data = tomllib.loads(SMALL.read_text())
    data["config"] = "callrouter.example.toml"
    return build(data, source, ROOT)


@pytest.fixture(scope="module")
def day() -> tuple[Scenario, Summary]:
    scenario = small(ODD)
    return scenario, figures.summary(simulate(scenario))


def test_the_page_shows_the_days_figures_in_charts_and_tables(day: tuple[Scenario, Summary]) -> None:
    scenario, summary = day
    marks = parsed(page.page(scenario, summary))
    assert [m["data-chart"] for m in marks.having("data-chart")] == CHARTS
    hourly = [m for m in marks.having("data-mark") if "data-first" in m]
    assert [int(m["data-first"] or "") for m in hourly] == [f.offered for f in summary.hours]
    assert [int(m["data-second"] or "") for m in hourly] == [f.answered for f in summary.hours]
    agents = [m for m in marks.having("data-agents")]
    assert [float(m["data-agents"] or "") for m in agents] == pytest.approx(
        [f.agents for f in summary.hours], abs=0.01
    )
    assert len([m for m in marks.having("data-sl1")]) == 24 and len(marks.having("data-target")) == 1
    bars = marks.having("data-upto")
    assert sum(int(b["data-count"] or "") for b in bars) == summary.kpi.overall.queued
    headlines = {m["data-headline"]: m["data-value"] for m in marks.having("data-headline")}
    assert headlines["offered"] == str(summary.day.offered) and headlines["people"] == str(summary.day.people)
    assert headlines["abandonment"] == f"{summary.day.abandonment:.4f}"
    rows = [m["data-row"] for m in marks.having("data-row")]
    assert rows[0] == "day" and rows[1:] == [
        f"{h:02d}" for h, f in enumerate(summary.hours) if f.offered or f.agents
    ]


def test_every_name_is_escaped(day: tuple[Scenario, Summary]) -> None:
    scenario, summary = day
    html = page.page(scenario, summary)
    assert "<i>" not in html and '"co"' not in html
    assert "&lt;i&gt;clinic &amp; &quot;co&quot;&lt;/i&gt;.toml" in html
    assert ODD in "".join(parsed(html).text)  # a reader sees the name as it is


def test_the_comparison_page_draws_each_chart_once_per_set_up() -> None:
    comparison = compare.compare(small(ODD))
    html = page.compare_page(comparison)
    marks = parsed(html)
    assert "<i>" not in html
    assert [m["data-chart"] for m in marks.having("data-chart")] == CHARTS
    assert [m["data-setup"] for m in marks.having("data-setup")] == list(compare.SETUPS) * len(CHARTS)
    rows = {m["data-row"] for m in marks.having("data-row")}
    assert {"offered", "abandonment", "never served", "callbacks"} <= rows
    assert set(comparison.agents_by_line) <= rows
    separate = comparison.summaries["separate_lines"].day
    text = "".join(marks.text)
    assert "The same people (the same first calls) and 68 agent-hours in each set-up." in text
    assert f"{separate.offered}" in text and "one queue + keep-your-place + callbacks" in text


def test_html_is_one_day_not_replications(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["simulate", str(SMALL), "--format", "html", "--replications", "2"]) == 2
    assert "not with --replications" in capsys.readouterr().err
