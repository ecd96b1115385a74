"""The dashboard and the alert rules, proven on a real Prometheus: Debian's
prometheus runs the composition's own config (docker/prometheus/prometheus.yml,
its rules and its relabelling; devstack/prometheus.py) against the test stack's
router and Asterisk, scraping and evaluating every second. During real calls,
every panel query of docker/grafana/panels.yaml must parse and return numbers,
and every alert rule evaluate cleanly; then two alerts fire for real."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstack import dashboard, sipp
from devstack.prometheus import COMPOSE_CONFIG, PrometheusProcess
from devstack.router import RouterProcess
from devstack.stack import StackInfo
from devstack.util import wait_for

RULES = sorted(COMPOSE_CONFIG.parent.glob("rules/*.yml"))
CLINIC_CENTRAL = "+78162700101"
# Asterisk's figures the composition keeps (metric_relabel_configs of job "asterisk").
ASTERISK_KEPT = {
    "asterisk_channels_count", "asterisk_endpoints_count", "asterisk_endpoints_state",
    "asterisk_endpoints_channels_count", "asterisk_core_uptime_seconds",
}  # fmt: skip


def number() -> str:
    return f"+7904{random.randint(1_000_000, 9_999_999)}"


def alert_rules() -> dict[str, str]:
    """Every alert of the project's rule files: name -> expression."""
    rules = {}
    for path in RULES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            rules.update({r["alert"]: r["expr"] for r in group["rules"] if "alert" in r})
    return rules


@pytest.fixture
def prometheus(stack: StackInfo, router: RouterProcess, tmp_path: Path) -> Iterator[PrometheusProcess]:
    targets = {
        "callrouter": router.admin_url.removeprefix("http://"),
        "asterisk": f"127.0.0.1:{stack.ari_port}",
    }
    with PrometheusProcess(tmp_path / "prometheus", targets) as prometheus:
        # Service discovery hands the targets over after about 5 s.
        wait_for(
            lambda: {s["metric"]["job"] for s in prometheus.query("up == 1")} >= set(targets),
            20,
            "targets up",
        )
        yield prometheus


def value(prometheus: PrometheusProcess, expr: str) -> float:
    (sample,) = prometheus.query(expr)
    return float(sample["value"][1])


def problems_of(prometheus: PrometheusProcess, name: str, expr: str) -> str | None:
    """What is wrong with one panel query's answer now (None: numbers came back)."""
    try:
        result = prometheus.query(expr)
    except RuntimeError as exc:
        return f"{name}: {exc}"
    if not result:
        return f"{name}: no data\n  {expr}"
    values = [float(s["value"][1]) for s in result]
    if not all(math.isfinite(v) for v in values):
        return f"{name}: {values}\n  {expr}"
    return None


def active(prometheus: PrometheusProcess, alertname: str, **labels: str) -> list[dict[str, Any]]:
    """That alert, pending or firing, with these labels."""
    return [
        a
        for a in prometheus.alerts()
        if a["labels"]["alertname"] == alertname
        and a["state"] in ("pending", "firing")
        and all(a["labels"].get(k) == v for k, v in labels.items())
    ]


def test_every_panel_query_and_alert_rule_evaluates_on_real_calls(
    stack: StackInfo, router: RouterProcess, prometheus: PrometheusProcess
) -> None:
    """Three callers answered by two agents (each hangs up after 2 s of talk, so
    the third caller waits for one), and one abandon: a topic neither agent takes
    (infection) waits ~7 s and hangs up."""
    agents = [
        sipp.Agent(stack.agent_ports[a], calls=3, ring_ms=300, talk_ms=2000) for a in ("agent2", "agent4")
    ]
    try:
        for agent in ("agent2", "agent4"):
            assert router.request("POST", f"/agents/{agent}/login")[0] == 200
        answered = [(number(), CLINIC_CENTRAL) for _ in range(3)]
        with ThreadPoolExecutor(2) as pool:
            waiting = pool.submit(sipp.call, stack.sip_port, answered, 9000, [(1000, "0")])
            gave_up = pool.submit(
                sipp.call, stack.sip_port, [(number(), CLINIC_CENTRAL)], 9000, [(1000, "1")]
            )
            results = [waiting.result(), gave_up.result()]
    finally:
        for phone in agents:
            phone.stop()
    assert all(r.ok for r in results), [r.output[-1500:] for r in results if not r.ok]

    # Counted when each call ends, then scraped.
    answered_waits = 'sum(callrouter_queue_wait_seconds_count{outcome="answered"})'
    wait_for(lambda: value(prometheus, answered_waits) >= 3, 15, "three answered waits scraped")
    wait_for(
        lambda: value(prometheus, 'sum(callrouter_calls_total{outcome="abandoned"})') >= 1, 15, "the abandon"
    )
    time.sleep(2)  # a few more scrapes and rule evaluations

    panel_queries = dashboard.queries(dashboard.load())
    problems = [p for name, expr in panel_queries if (p := problems_of(prometheus, name, expr)) is not None]
    assert not problems, "\n".join(problems)

    rules = alert_rules()
    for expr in rules.values():
        prometheus.query(expr)  # parses and evaluates (empty while nothing is wrong)
    loaded = {r["name"]: r for r in prometheus.alerting_rules()}
    assert set(loaded) == set(rules)
    assert all(r["health"] == "ok" for r in loaded.values()), [
        (n, r.get("lastError")) for n, r in loaded.items()
    ]

    # What the wall screen says of these calls.
    by_name = dict(panel_queries)
    assert value(prometheus, by_name["SL1, last hour"]) == pytest.approx(1.0)  # all answered within 20 s
    assert value(prometheus, by_name["Abandoned"]) == pytest.approx(0.25, rel=0.01)  # 1 of 4 who waited
    kinds = {
        s["metric"]["kind"]: float(s["value"][1])
        for s in prometheus.query(by_name["Inbound calls by line kind [{{kind}}]"])
    }
    assert kinds["clinic"] > 0 and kinds["ambulance"] == kinds["hotline"] == 0
    # Asterisk's figures: its channel and endpoint counts, no series per channel.
    names = {s["metric"]["__name__"] for s in prometheus.query('{job="asterisk", __name__=~"asterisk_.*"}')}
    assert "asterisk_channels_count" in names and names <= ASTERISK_KEPT, names
    print(f"{len(panel_queries)} panel queries and {len(rules)} alert rules evaluated")


def test_alerts_fire_when_every_agent_logs_out_and_when_the_router_stops(
    router: RouterProcess, prometheus: PrometheusProcess
) -> None:
    no_agent = "CallrouterNoAgentLoggedIn"
    assert router.request("POST", "/agents/agent1/login")[0] == 200
    wait_for(lambda: value(prometheus, 'sum(callrouter_agents{state!="logged_out"})') == 1, 10, "agent1 seen")
    wait_for(lambda: not active(prometheus, no_agent), 10, f"{no_agent} inactive while agent1 is in")

    assert router.request("POST", "/agents/agent1/logout")[0] == 200
    assert value(prometheus, "max(callrouter_line_open)") == 1  # the test config's lines are open
    wait_for(lambda: bool(active(prometheus, no_agent)), 10, f"{no_agent} pending or firing")

    instance = router.admin_url.removeprefix("http://")
    assert router.stop() == 0
    wait_for(lambda: bool(active(prometheus, "CallrouterDown", instance=instance)), 15, "CallrouterDown")
