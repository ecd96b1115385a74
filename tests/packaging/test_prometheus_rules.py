"""The alert rules in docker/prometheus/rules/: promtool accepts them and the
config that loads them, promtool's unit tests (docker/prometheus/tests/) pass,
and they show every alert firing and then resolving. promtool comes from
Debian's prometheus package (./dev.sh installs it): missing, these tests fail,
never skip. tests/e2e/test_prometheus.py loads the same rules into a real
Prometheus scraping a real router."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import pytest

from tests.packaging.docker_files import DOCKER, REPO, exported, load_yaml, metric_names, prometheus_config

PROMETHEUS = DOCKER / "prometheus"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
TEST_FILES = sorted((PROMETHEUS / "tests").glob("*.yml"))
SEVERITIES = {"critical", "warning"}


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: apt-get install prometheus (./dev.sh installs it)")
    return path


def run(promtool: str, *args: str) -> str:
    result = subprocess.run(
        [promtool, *args], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result.stdout


def alerts() -> dict[str, dict[str, Any]]:
    found = {}
    for path in RULE_FILES:
        for group in load_yaml(path)["groups"]:
            found.update({rule["alert"]: rule for rule in group["rules"] if "alert" in rule})
    return found


def test_promtool_accepts_the_rules_and_the_config_that_loads_them(promtool: str) -> None:
    assert RULE_FILES
    out = run(promtool, "check", "rules", *map(str, RULE_FILES))
    assert f"SUCCESS: {len(alerts())} rules found" in out
    run(promtool, "check", "config", str(PROMETHEUS / "prometheus.yml"))


def test_promtool_unit_tests_pass(promtool: str) -> None:
    assert TEST_FILES
    run(promtool, "test", "rules", *map(str, TEST_FILES))


def test_every_alert_is_shown_firing_then_resolving() -> None:
    """In some test of docker/prometheus/tests/, each alert is expected firing at one
    time and expected silent at a later one."""
    shown: set[str] = set()
    for path in TEST_FILES:
        spec = load_yaml(path)
        assert all((path.parent / f).resolve() in RULE_FILES for f in spec["rule_files"])
        for test in spec["tests"]:
            checks = test.get("alert_rule_test", [])
            for name in {check["alertname"] for check in checks}:
                times = [
                    (_minutes(c["eval_time"]), bool(c["exp_alerts"]))
                    for c in checks
                    if c["alertname"] == name
                ]
                fired = [t for t, firing in times if firing]
                if fired and any(t > min(fired) for t, firing in times if not firing):
                    shown.add(name)
    assert shown == set(alerts())


def _minutes(duration: str) -> float:
    units = {"s": 1 / 60, "m": 1, "h": 60}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+)([smh])", duration))


def test_every_alert_says_how_bad_it_is_and_what_to_do() -> None:
    for name, rule in alerts().items():
        assert rule["labels"]["severity"] in SEVERITIES, name
        assert rule["annotations"]["summary"].strip(), name
        assert len(rule["annotations"]["description"]) > 100, f"{name}: a runbook hint, not a word"


def test_the_rules_read_only_what_the_router_exports_and_the_jobs_prometheus_has() -> None:
    names = exported()
    jobs = {job["job_name"] for job in prometheus_config()["scrape_configs"]}
    for name, rule in alerts().items():
        expr = rule["expr"]
        for metric in metric_names(expr):
            assert metric in names, f"{name}: {metric} is not in callrouter/metrics.py"
        assert set(re.findall(r'\bjob="([^"]+)"', expr)) <= jobs, name
