"""The KPI report's formats (report_render.py, report_html.py) without a database:
an empty period writes "—" and nulls, never a division error, and the page keeps
its 7 x 24 cells; numbers read as people read them; the centre's zone."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from callrouter import compiled, report
from callrouter.config import load
from callrouter.core import kpi
from callrouter.report_render import percent, seconds
from devstack.configs import EXAMPLE, clockless_config
from tests.unit import kpi_data as data


def test_an_empty_period_in_every_format() -> None:
    empty = kpi.report(data.SCOPE, [])
    table = report.render(empty, "table")
    assert "average speed of answer  —" in table and "service level SL1        — (target 80%)" in table
    figures = json.loads(report.render(empty, "json"))
    assert figures["overall"]["asa_seconds"] is None and figures["overall"]["offered"] == 0
    assert figures["lines"] == {} and sum(map(sum, figures["load"]["offered"])) == 0
    rows = {
        (r["section"], r["figure"]): r["value"]
        for r in csv.DictReader(io.StringIO(report.render(empty, "csv")))
    }
    assert rows["overall", "sl2"] == "" and rows["overall", "offered"] == "0"
    page = report.render(empty, "html")
    assert page.count("<rect data-cell ") == 168 and page.count("<g data-mark ") == 24
    assert 'data-headline="asa" data-value=""' in page and "no calls" in page


@pytest.mark.parametrize(
    ("value", "shown"),
    [(None, "—"), (0.0, "0.0 s"), (33.333, "33.3 s"), (59.94, "59.9 s"), (59.96, "1:00"), (158.33, "2:38"),
     (147.5, "2:28"), (3725.0, "62:05")],
)  # fmt: skip
def test_seconds_as_people_read_them(value: float | None, shown: str) -> None:
    assert seconds(value) == shown


def test_shares_as_percent() -> None:
    assert (percent(None), percent(3 / 7), percent(1.0), percent(0.0)) == ("—", "42.9%", "100.0%", "0.0%")


def test_the_centres_zone_is_that_of_most_lines_hours(tmp_path) -> None:
    # the example: every clinic on [hours.clinics] (Moscow); the tests' config moves one to UTC
    assert compiled.centre_zone(load(EXAMPLE, environ={})) == "Europe/Moscow"
    assert compiled.centre_zone(load(clockless_config(tmp_path / "c.toml"), environ={})) == "Europe/Moscow"
    text = (
        EXAMPLE.read_text().replace('hours = "clinics"', 'hours = "utc"')
        + '\n[hours.utc]\nzone = "UTC"\nweekly = {}\n'
    )
    (tmp_path / "utc.toml").write_text(text)
    assert compiled.centre_zone(load(tmp_path / "utc.toml", environ={})) == "UTC"


def test_first_contact_resolution_and_its_definition_in_every_format() -> None:
    week = kpi.report(data.SCOPE, data.IN_WEEK)  # FCR 4/5 (kpi_data.py counts it)
    table = report.render(week, "table")
    assert "first-contact resolution 80.0% (1 of 5 answered called again)" in table
    assert "  fcr                first-contact resolution: 1 - answered calls" in table
    figures = json.loads(report.render(week, "json"))
    assert (figures["overall"]["fcr"], figures["lines"]["clinic-north"]["fcr"]) == (0.8, None)
    assert figures["definitions"]["fcr"].startswith("first-contact resolution")
    rows = {
        (r["section"], r["name"], r["figure"]): r["value"]
        for r in csv.DictReader(io.StringIO(report.render(week, "csv")))
    }
    assert (rows["overall", "", "fcr"], rows["overall", "", "fcr_called_again"]) == ("0.8", "1")
    assert rows["line", "clinic-central", "fcr"] == "0.75" and rows["line", "clinic-north", "fcr"] == ""
    assert rows["definition", "", "fcr"].startswith("first-contact resolution")
    page = report.render(week, "html")
    assert "<th>FCR</th>" in page and "80.0%: 1 of 5 answered calls from a number called again" in page
    assert "<dt>fcr</dt><dd>first-contact resolution" in page


def test_the_report_is_never_written_over_the_config(tmp_path: Path) -> None:
    from datetime import date

    from callrouter import config as config_module
    from callrouter import report

    config = tmp_path / "callrouter.toml"
    text = (Path(__file__).resolve().parents[2] / "callrouter.example.toml").read_text()
    config.write_text(text)
    settings = config_module.load(config, environ={})
    request = report.Request(date(2026, 11, 23), date(2026, 11, 30), fmt="html", output=config, config=config)
    stderr = io.StringIO()
    assert report.run(request, settings, None, io.StringIO(), stderr) == 2  # type: ignore[arg-type]
    assert "is the config file" in stderr.getvalue() and config.read_text() == text
