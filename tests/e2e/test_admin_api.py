"""The admin API of the real router (real Asterisk, real PostgreSQL): it will not
start without a usable token, it wants the token on every route but the open
ones, and no input, from the reported cases to schemathesis' fuzzing of every
route in its own /openapi.json, gets a 5xx or a traceback in its log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import APIOperation, GenerationMode
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import positive_data_acceptance

from callrouter.api.models import NOT_A_REAL_DAY, SINCE_AFTER_NOW, UNTIL_BEFORE_SINCE
from devstack.router import RouterProcess
from devstack.stack import REPO, StackInfo
from devstack.util import free_port
from tests.e2e.conftest import CONFIG

# What JSON Schema cannot say of a time: the window's order, and which days a month has.
SCHEMA_CANNOT_SAY = (SINCE_AFTER_NOW, UNTIL_BEFORE_SINCE, NOT_A_REAL_DAY)
FUZZ_EXAMPLES = 25  # per route and mode: 18 operations x 2 modes
# What JSON Schema cannot say of a follow-up: which lines, topics and numbers the config takes.
CONFIG_DECIDES = "POST /callbacks"


def log_problems(router: RouterProcess) -> list[str]:
    """Error lines and tracebacks in the router's JSON log."""
    problems = []
    for line in router.log().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            problems.append(line)  # not the router's JSON: a raw traceback, say
            continue
        if entry.get("level") in ("error", "critical") or "exc" in entry or "Traceback" in line:
            problems.append(line)
    return problems


def call(
    router: RouterProcess, method: str, path: str, data: bytes | None = None, **headers: str
) -> tuple[int, dict[str, object]]:
    headers = {"Authorization": f"Bearer {router.token}", "Content-Type": "application/json", **headers}
    response = requests.request(method, router.admin_url + path, data=data, headers=headers, timeout=10)
    assert response.headers["Content-Type"].startswith("application/json"), response.text
    return response.status_code, response.json()


# -- the token --------------------------------------------------------------------


@pytest.mark.parametrize("token", ["", "short-token", None], ids=["empty", "11 characters", "unset"])
def test_the_router_refuses_to_start_without_a_usable_token(
    stack: StackInfo, tmp_path: Path, token: str | None
):
    env = dict(os.environ, **stack.env(), CALLROUTER_ADMIN_BIND=f"127.0.0.1:{free_port()}",
               CALLROUTER_SPOOL_DIR=str(tmp_path / "spool"))  # fmt: skip
    env.pop("CALLROUTER_ADMIN_TOKEN", None)
    if token is not None:
        env["CALLROUTER_ADMIN_TOKEN"] = token
    command = [sys.executable, "-m", "callrouter", "--log-format", "text", "run", "-c", str(CONFIG)]
    started = time.monotonic()
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "CALLROUTER_ADMIN_TOKEN" in done.stderr and "16" in done.stderr, done.stderr
    assert "admin HTTP on" not in done.stderr, "the admin API never opened"
    assert time.monotonic() - started < 30


def test_a_second_router_on_a_working_ones_admin_address_stops_before_reaching_asterisk(
    stack: StackInfo, router: RouterProcess, tmp_path: Path
):
    """Started by mistake with the running router's admin address: one line and exit 2, and
    the running router keeps its ARI application (the second took it over, so stopping the
    working one, before failing to listen with a traceback)."""
    bind = router.admin_url.removeprefix("http://")
    env = dict(os.environ, **stack.env(), CALLROUTER_ADMIN_BIND=bind, CALLROUTER_ADMIN_TOKEN=router.token,
               CALLROUTER_SPOOL_DIR=str(tmp_path / "second-spool"))  # fmt: skip
    command = [sys.executable, "-m", "callrouter", "--log-format", "text", "run", "-c", str(CONFIG)]
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert f"cannot listen on admin.bind {bind}: Address already in use" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    time.sleep(1)  # a take-over would have stopped the first router by now
    assert router.proc.poll() is None, router.log()[-2000:]
    health = router.health()
    assert health["ari_connected"] and health["ready"], health
    assert "took over" not in router.log()


WRONG = {
    "no header": None,
    "empty": "",
    "wrong token": "Bearer not-the-token-0123456789",
    "no scheme": "{token}",
    "another scheme": "Basic {token}",
}
SECURED = [
    ("GET", "/agents"),
    ("POST", "/agents/agent1/login"),
    ("POST", "/agents/agent1/pause"),
    ("GET", "/queue"),
    ("POST", "/queue/e1/priority"),
    ("GET", "/calls/abandoned"),
    ("GET", "/callbacks"),
    ("POST", "/callbacks"),
    ("POST", "/callbacks/00000000-0000-0000-0000-000000000000/cancel"),
    ("POST", "/results"),
    ("GET", "/results"),
    ("GET", "/results/LAB-1"),
    ("POST", "/results/LAB-1/cancel"),
    ("GET", "/results/LAB-1/audit"),
]


def test_the_real_router_wants_the_bearer_token(router: RouterProcess):
    for method, path in SECURED:
        for name, authorization in WRONG.items():
            headers = (
                {} if authorization is None else {"Authorization": authorization.format(token=router.token)}
            )
            response = requests.request(method, router.admin_url + path, headers=headers, timeout=10)
            assert response.status_code == 401, (method, path, name, response.text)
            assert "CALLROUTER_ADMIN_TOKEN" in response.json()["error"]
    agents = {a["id"]: a["state"] for a in call(router, "GET", "/agents")[1]["agents"]}  # type: ignore[attr-defined]
    assert agents["agent1"] == "logged_out", "no refused request changed anything"
    assert call(router, "GET", "/calls/abandoned")[0] == 200, "the right token reads PostgreSQL"
    assert call(router, "POST", "/agents/agent1/login")[0] == 200
    for path in ("/health", "/metrics", "/openapi.json"):
        assert requests.get(router.admin_url + path, timeout=10).status_code == 200, path
    assert log_problems(router) == []


# -- bad input ----------------------------------------------------------------------

DEEP = b'{"reason": ' + b"[" * 5000 + b"]" * 5000 + b"}"
DEEPER = b'{"reason": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
REPORTED = [
    ("POST", "/agents/agent1/login", b'{"reason": "lunch"', 400, "body"),
    ("POST", "/agents/agent1/pause", b'{"reason": "lunch"', 400, "body"),
    ("POST", "/agents/agent1/login", b'{"reason": "\xff\xfe"}', 400, "body"),
    ("POST", "/agents/agent1/pause", b'{"reason": "\xff\xfe"}', 400, "body"),
    ("POST", "/agents/agent1/pause", DEEP, 400, "body"),
    ("POST", "/agents/agent1/pause", DEEPER, 413, None),
    ("POST", "/queue/e1/priority", b'{"priority": 1e999}', 422, "priority"),
    ("POST", "/queue/e1/priority", b'{"priority": Infinity}', 422, "priority"),
    ("POST", "/queue/e1/priority", b'{"priority": NaN}', 422, "priority"),
    ("POST", "/queue/e1/priority", b'{"priority": 1.5}', 422, "priority"),
    ("GET", "/calls/abandoned?since=0001-01-01T00:00:00%2B14:00", None, 422, "since"),
    ("GET", "/calls/abandoned?until=10000-01-01T00:00:00Z", None, 422, "until"),
    (
        "GET",
        "/calls/abandoned?since=1970-01-01T00:00:00%2B14:00&until=9999-12-31T23:00:00-05:00",
        None,
        200,
        None,
    ),
    ("GET", "/calls/abandoned?since=2026-01-01T00:00:00", None, 422, "since"),
    ("GET", "/nowhere", None, 404, None),
    ("GET", "/callbacks?state=open", None, 422, "state"),
    ("GET", "/callbacks?limit=1e999", None, 422, "limit"),
    ("POST", "/callbacks", b'{"number": "+79161234567"', 400, "body"),
    ("POST", "/callbacks", b'{"number": "12", "line": "clinic-central", "topic": "operator"}', 422, "number"),
    ("POST", "/callbacks", b'{"number": "+79161234567", "line": "moon", "topic": "operator"}', 422, "line"),
    ("POST", "/callbacks/not-a-callback/cancel", None, 404, None),
    ("GET", "/results/LAB%00", None, 404, None),  # PostgreSQL's text holds no NUL: no result's id
    ("POST", "/results/LAB%00/cancel", None, 404, None),
    ("GET", "/results/LAB%00/audit", None, 404, None),
    ("GET", "/results?after=%00", None, 404, None),
    ("GET", "/results?from=2026-02-30", None, 422, "from"),
    ("GET", "/results?to=9999-12-31", None, 200, None),  # the last day: to Python's last time (was a 500)
    ("GET", "/results?from=9999-12-31&to=9999-12-31", None, 200, None),
    ("POST", "/results", b'{"results": [1]}', 422, "results.0"),
]


def test_the_reported_inputs_are_4xx_naming_the_field_and_log_no_traceback(router: RouterProcess):
    for method, path, data, status, field in REPORTED:
        got, body = call(router, method, path, data)
        assert got == status, (method, path, data[:40] if data else None, body)
        if field is not None:
            assert body["problems"][0]["field"] == field, body  # type: ignore[index]
    got, body = call(
        router, "POST", "/agents/agent1/pause", b"reason=lunch", **{"Content-Type": "text/plain"}
    )
    assert got == 415, body
    assert log_problems(router) == []


# -- fuzzing from the description -------------------------------------------------------


FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,  # the same inputs every run: a failure here is a bug, not bad luck
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def fuzz(
    operation: APIOperation[Any, Any, Any, Any], mode: GenerationMode, session: requests.Session, **path: str
) -> set[int]:
    """Send FUZZ_EXAMPLES generated requests (path parameters fixed by ``path``); the statuses seen."""
    seen: set[int] = set()

    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path or None))
    def send(case):
        response = case.call(session=session, timeout=10)
        seen.add(response.status_code)
        assert response.status_code < 500, (case.as_curl_command(), response.text)
        # since after until is schema-valid (no JSON Schema for an order across fields) yet refused,
        # as is 2026-02-31 (a pattern has no calendar); so is a follow-up the config does not take
        # (a line, topic or number it does not know).
        order = response.status_code == 422 and any(m in response.text for m in SCHEMA_CANNOT_SAY)
        config = response.status_code == 422 and operation.label == CONFIG_DECIDES
        excluded = [positive_data_acceptance] if order or config else None
        case.validate_response(response, excluded_checks=excluded)

    send()
    return seen


def test_fuzzing_every_route_from_its_description_finds_no_5xx(router: RouterProcess):
    started = time.monotonic()
    schema = schemathesis.openapi.from_url(router.admin_url + "/openapi.json")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {router.token}"
    statuses: dict[str, set[int]] = {}
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        raw = operation.definition.raw
        negatable = "parameters" in raw or "requestBody" in raw  # else nothing can be made invalid
        seen = statuses.setdefault(operation.label, set())
        for mode in (
            (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if negatable else (GenerationMode.POSITIVE,)
        ):
            seen |= fuzz(operation, mode, session)
            if "{agent_id}" in operation.path:  # and with a real agent, whose state changes
                seen |= fuzz(operation, mode, session, agent_id="agent1")
    assert log_problems(router) == []
    print(f"fuzzed {len(statuses)} operations in {time.monotonic() - started:.1f} s: {statuses}")
    assert len(statuses) >= 18, statuses
    assert 200 in statuses["POST /agents/{agent_id}/login"], "the real agent was reached"
    assert {409, 422} <= statuses["POST /agents/{agent_id}/pause"], "bodies were checked, states changed"


# -- callbacks made and cancelled by hand ------------------------------------------------


def test_a_follow_up_is_listed_from_postgresql_masked_and_cancelled(router: RouterProcess):
    def ask(method: str, path: str, body: dict[str, str] | None = None) -> tuple[int, Any]:
        return call(router, method, path, json.dumps(body).encode() if body is not None else None)

    follow_up = {"number": "8 916 555-01-23", "line": "clinic-central", "topic": "operator", "by": "agent2"}
    status, made = ask("POST", "/callbacks", {**follow_up, "at": "2099-01-01T00:00:00Z"})
    assert status == 422 and made["problems"][0]["field"] == "at", "a year ahead at most"
    status, made = ask("POST", "/callbacks", {**follow_up, "at": "2020-01-01T00:00:00Z"})  # gone by: now
    assert status == 200, made
    assert made["number"] == "+79*******23" and made["reason"] == "made by agent2"
    assert ask("POST", "/callbacks", follow_up)[0] == 409, "one open callback per number"
    deadline = time.monotonic() + 10
    listed: list[dict[str, Any]] = []
    while not any(c["callback_id"] == made["callback_id"] for c in listed) and time.monotonic() < deadline:
        time.sleep(0.2)  # written at once, by the record writer
        listed = ask("GET", "/callbacks?state=pending")[1]["callbacks"]
    (row,) = [c for c in listed if c["callback_id"] == made["callback_id"]]
    assert row["number"] == "+79*******23" and "person" not in row and row["reason"] == "made by agent2"
    queue = ask("GET", "/queue")[1]["queue"]
    shown = [
        (p["caller"], p["callback"], p["call_id"]) for p in queue if p["entry_id"] == made["callback_id"]
    ]
    assert shown == [("+79*******23", True, None)]
    status, cancelled = ask("POST", f"/callbacks/{made['callback_id']}/cancel", {"reason": "by mail"})
    assert status == 200 and cancelled["state"] == "cancelled"
    assert made["callback_id"] not in [p["entry_id"] for p in ask("GET", "/queue")[1]["queue"]]
    assert ask("POST", f"/callbacks/{made['callback_id']}/cancel")[0] == 404
    assert log_problems(router) == []
