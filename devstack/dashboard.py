"""The Grafana dashboard, written from docker/grafana/panels.yaml.

panels.yaml holds every panel's title, kind, unit, thresholds and PromQL in
one readable place; this module checks it (pydantic: an unknown key or a row
wider than the screen is refused with its path) and lays it out as Grafana's
JSON model in docker/grafana/dashboards/callrouter.json. The tests read the
queries from here too (``queries``).

    python -m devstack.dashboard           write the dashboard JSON
    python -m devstack.dashboard --check   exit 1 if the committed JSON differs
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from devstack.stack import REPO

PANELS = REPO / "docker/grafana/panels.yaml"
DASHBOARD = REPO / "docker/grafana/dashboards/callrouter.json"
# docker/grafana/provisioning/datasources/prometheus.yaml
DATASOURCE = {"type": "prometheus", "uid": "callrouter-prometheus"}
COLUMNS = 24  # Grafana's grid width


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(_Strict):
    expr: str
    legend: str | None = None


class Panel(_Strict):
    title: str
    type: Literal["stat", "bargauge", "timeseries"]
    width: int = Field(ge=1, le=COLUMNS)
    unit: str
    description: str
    expr: str | None = None
    targets: tuple[Target, ...] = ()
    thresholds: tuple[str, ...] = ()  # a base colour, then "VALUE colour" steps
    mappings: dict[int, str] = Field(default_factory=dict)  # value -> text
    min: float | None = None
    max: float | None = None
    decimals: int | None = None
    no_value: str | None = None

    @model_validator(mode="after")
    def _one_way_to_query(self) -> Self:
        if (self.expr is None) == (not self.targets):
            raise ValueError("give either expr or targets")
        for step in self.thresholds[1:]:
            value, _, colour = step.partition(" ")
            float(value)  # ValueError names the bad step
            if not colour:
                raise ValueError(f"threshold step {step!r}: VALUE colour")
        return self

    def queries(self) -> tuple[Target, ...]:
        return self.targets or (Target(expr=self.expr or ""),)


class Row(_Strict):
    title: str | None = None
    height: int = Field(ge=2)
    panels: tuple[Panel, ...]

    @model_validator(mode="after")
    def _fits(self) -> Self:
        width = sum(panel.width for panel in self.panels)
        if width > COLUMNS:
            raise ValueError(f"panels {width} wide: the screen is {COLUMNS}")
        return self


class Meta(_Strict):
    uid: str
    title: str
    description: str
    refresh: str
    from_: str = Field(alias="from")


class Spec(_Strict):
    dashboard: Meta
    rows: tuple[Row, ...]


def load(path: Path = PANELS) -> Spec:
    return Spec.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def queries(spec: Spec) -> list[tuple[str, str]]:
    """Every (panel title and legend, PromQL) the dashboard asks Prometheus."""
    found = []
    for row in spec.rows:
        for panel in row.panels:
            for target in panel.queries():
                name = f"{panel.title} [{target.legend}]" if target.legend else panel.title
                found.append((name, target.expr))
    return found


def _number(text: str) -> float | int:
    value = float(text)
    return int(value) if value.is_integer() else value


def _field_config(panel: Panel) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": panel.unit}
    if panel.thresholds:
        steps: list[dict[str, Any]] = [{"color": panel.thresholds[0], "value": None}]
        for step in panel.thresholds[1:]:
            value, _, colour = step.partition(" ")
            steps.append({"color": colour, "value": _number(value)})
        defaults["thresholds"] = {"mode": "absolute", "steps": steps}
    if panel.mappings:
        options = {str(v): {"text": text, "index": i} for i, (v, text) in enumerate(panel.mappings.items())}
        defaults["mappings"] = [{"type": "value", "options": options}]
    limits: dict[str, float | None] = {"min": panel.min, "max": panel.max, "decimals": panel.decimals}
    defaults.update({key: value for key, value in limits.items() if value is not None})
    if panel.no_value is not None:
        defaults["noValue"] = panel.no_value
    return {"defaults": defaults, "overrides": []}


_LAST = {"calcs": ["lastNotNull"], "fields": "", "values": False}
_OPTIONS: dict[str, dict[str, Any]] = {
    "stat": {"reduceOptions": _LAST, "colorMode": "background", "graphMode": "none", "textMode": "auto"},
    "bargauge": {"reduceOptions": _LAST, "orientation": "horizontal", "displayMode": "basic",
                 "showUnfilled": True},
    "timeseries": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
}  # fmt: skip


def _panel(panel: Panel, panel_id: int, grid: dict[str, int]) -> dict[str, Any]:
    instant = panel.type != "timeseries"  # a wall screen's figures: the latest value only
    targets = []
    for ref, target in zip("ABCDEFGHIJ", panel.queries(), strict=False):
        query: dict[str, Any] = {"datasource": DATASOURCE, "expr": target.expr, "refId": ref}
        if target.legend:
            query["legendFormat"] = target.legend
        if instant:
            query.update(instant=True, range=False)
        targets.append(query)
    return {
        "id": panel_id,
        "type": panel.type,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": grid,
        "targets": targets,
        "options": _OPTIONS[panel.type],
        "fieldConfig": _field_config(panel),
    }


def render(spec: Spec) -> dict[str, Any]:
    """Grafana's JSON model of the dashboard: rows one under the other, panels
    left to right in each."""
    panels: list[dict[str, Any]] = []
    y = 0
    for row in spec.rows:
        if row.title is not None:
            grid = {"h": 1, "w": COLUMNS, "x": 0, "y": y}
            panels.append({"id": len(panels) + 1, "type": "row", "title": row.title, "collapsed": False,
                           "gridPos": grid, "panels": []})  # fmt: skip
            y += 1
        x = 0
        for panel in row.panels:
            grid = {"h": row.height, "w": panel.width, "x": x, "y": y}
            panels.append(_panel(panel, len(panels) + 1, grid))
            x += panel.width
        y += row.height
    meta = spec.dashboard
    return {
        "uid": meta.uid,
        "title": meta.title,
        "description": meta.description,
        "tags": ["callrouter"],
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": meta.refresh,
        "time": {"from": meta.from_, "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": panels,
    }


def dashboard_text(spec: Spec) -> str:
    return json.dumps(render(spec), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.dashboard", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed dashboard differs")
    args = parser.parse_args(argv)
    try:
        text = dashboard_text(load())
    except ValidationError as exc:
        print(f"{PANELS.relative_to(REPO)}: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if DASHBOARD.read_text(encoding="utf-8") != text:
            print(f"{DASHBOARD.relative_to(REPO)} is not what panels.yaml makes: "
                  "run python -m devstack.dashboard", file=sys.stderr)  # fmt: skip
            return 1
        return 0
    DASHBOARD.write_text(text, encoding="utf-8")
    print(f"wrote {DASHBOARD.relative_to(REPO)}: {len(queries(load()))} queries", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
