"""The Grafana dashboard: the committed JSON is what docker/grafana/panels.yaml
makes (devstack/dashboard.py), Grafana finds it where compose mounts it, and
every query asks only for what the composition's Prometheus holds. Whether the
queries parse and return data is proven on a real Prometheus by
tests/e2e/test_prometheus.py."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from devstack import dashboard
from tests.packaging.docker_files import (
    DOCKER,
    exported,
    kept_by,
    load_yaml,
    metric_names,
    mounted,
    prometheus_config,
    router_settings,
    scrape_job,
)

RULES = DOCKER / "prometheus/rules"


def grafana_dashboards() -> list[dict[str, Any]]:
    folder = mounted("grafana", "/etc/grafana/dashboards")
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.json"))]


def test_the_committed_dashboard_is_what_panels_yaml_makes() -> None:
    assert dashboard.DASHBOARD.read_text(encoding="utf-8") == dashboard.dashboard_text(dashboard.load()), (
        "run python -m devstack.dashboard"
    )
    assert dashboard.main(["--check"]) == 0
    assert [board["uid"] for board in grafana_dashboards()] == [dashboard.load().dashboard.uid]


def test_panels_yaml_is_refused_with_the_path_of_a_bad_key(tmp_path: Path) -> None:
    spec = yaml.safe_load(dashboard.PANELS.read_text(encoding="utf-8"))
    spec["rows"][1]["panels"][0]["colour"] = "red"
    spec["rows"][2]["panels"][0]["width"] = 20
    bad = tmp_path / "panels.yaml"
    bad.write_text(yaml.safe_dump(spec), encoding="utf-8")
    with pytest.raises(ValidationError) as error:
        dashboard.load(bad)
    assert {err["loc"][:4] for err in error.value.errors()} == {
        ("rows", 1, "panels", 0),  # the unknown key
        ("rows", 2),  # the row now wider than the screen
    }


def test_the_dashboard_reads_the_provisioned_prometheus_and_fits_the_screen() -> None:
    source = load_yaml(mounted("grafana", "/etc/grafana/provisioning") / "datasources/prometheus.yaml")
    (uid,) = [s["uid"] for s in source["datasources"]]
    for board in grafana_dashboards():
        panels = board["panels"]
        assert len({p["id"] for p in panels}) == len(panels)
        cells: set[tuple[int, int]] = set()
        for panel in panels:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= dashboard.COLUMNS, panel["title"]
            mine = {(grid["x"] + dx, grid["y"] + dy) for dx in range(grid["w"]) for dy in range(grid["h"])}
            assert not cells & mine, f"{panel['title']} overlaps another panel"
            cells |= mine
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] == uid, panel["title"]
            assert panel["targets"] and all(t["datasource"]["uid"] == uid for t in panel["targets"])
            assert panel["description"], panel["title"]


def test_every_query_asks_for_what_the_composition_prometheus_holds() -> None:
    """callrouter_ names the router exports (with the labels grouped by), asterisk_
    names the asterisk job keeps, and `up` of a configured job."""
    names = exported()
    jobs = {job["job_name"] for job in prometheus_config()["scrape_configs"]}
    for title, expr in dashboard.queries(dashboard.load()):
        used = metric_names(expr)
        scraped = re.findall(r'\bup\{job="([^"]+)"\}', expr)
        assert used or scraped, f"{title}: {expr}"
        assert set(scraped) <= jobs, title
        labels: set[str] = set()
        for name in used:
            if name.startswith("asterisk_"):
                assert kept_by(scrape_job("asterisk"), name), f"{title}: Prometheus drops {name}"
                continue
            assert name in names, f"{title}: {name} is not in callrouter/metrics.py"
            labels |= names[name]
        for group in re.findall(r"\bby \(([^)]*)\)", expr):
            for label in group.split(","):
                assert label.strip() in labels, f"{title}: no label {label.strip()!r}"


def test_the_service_level_bucket_is_the_routers_and_the_target_the_example_configs() -> None:
    """ "Answered within T" is the wait bucket the router marks for its configured T
    (callrouter_service_level_bucket, multiplied on le): no query names a bucket, so
    another [queue] service_level_seconds needs no edit (the stats' colour steps are
    the example's target)."""
    queue = router_settings().file.queue
    pick = "* on (le) group_left () max by (le) (callrouter_service_level_bucket)"
    texts = [dashboard.PANELS.read_text(encoding="utf-8")]
    texts += [path.read_text(encoding="utf-8") for path in sorted(RULES.glob("*.yml"))]
    for text in texts:
        queries = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        assert "le=" not in queries, "a bucket named by hand"
    assert any(pick in text for text in texts[1:]), "the service-level alert reads the bucket"
    for row in dashboard.load().rows:
        for panel in row.panels:
            if panel.title.startswith("SL"):
                assert pick in (panel.expr or "")
                assert panel.thresholds[1:] == (f"{queue.service_level_target} green",)
