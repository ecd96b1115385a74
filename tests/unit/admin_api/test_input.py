"""What the admin API accepts: bad bodies, priorities and times are answered
4xx in JSON, naming the field, and never reach the catch-all 500."""

from __future__ import annotations

import gzip
import json
import logging
import zlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callrouter.api.models import LATEST, MAX_BODY_BYTES, ResultsQuery
from callrouter.api.server import build_app
from callrouter.metrics import Metrics
from tests.unit.admin_api.harness import AUTH, TOKEN, Abandoned, Board, admin_of, call, refused

# -- bodies ---------------------------------------------------------------------------


def nested(depth: int) -> bytes:
    return b'{"reason": ' + b"[" * depth + b"]" * depth + b"}"


BAD_BODIES = {
    "malformed JSON": (b'{"reason": "lunch"', 400, "body"),
    "non-UTF-8": (b'{"reason": "\xff\xfe lunch"}', 400, "body"),
    "non-UTF-8 at the start": (b"\xff\xfe{}", 400, "body"),
    "nested 5000 deep (under the size limit)": (nested(5000), 400, "body"),
    "nested 100k deep": (nested(100_000), 413, None),
    "a number for the reason": (b'{"reason": 5}', 422, "reason"),
    "an empty reason": (b'{"reason": ""}', 422, "reason"),
    "a reason of 201 characters": (json.dumps({"reason": "x" * 201}).encode(), 422, "reason"),
    "a control character in the reason": (b'{"reason": "lunch\\n2024-01-01 FAKE LOG LINE"}', 422, "reason"),
    "an unknown field": (b'{"reason": "lunch", "extra": 1}', 422, "extra"),
    "not an object": (b'["lunch"]', 422, "body"),
    "null": (b"null", 422, "body"),
}


@pytest.mark.parametrize("command", ["pause", "login"])
@pytest.mark.parametrize("raw,status,field", BAD_BODIES.values(), ids=BAD_BODIES.keys())
async def test_a_bad_agent_command_body_is_refused_naming_the_field(
    client: TestClient[Any, Any],
    centre: Board,
    command: str,
    raw: bytes,
    status: int,
    field: str | None,
):
    headers = {**AUTH, "Content-Type": "application/json"}
    got, body = await call(client, "POST", f"/agents/agent1/{command}", data=raw, headers=headers)
    assert got == status, body
    if field is not None:
        assert any(p["field"] == field for p in body["problems"]), body
        assert field in body["error"]
    assert centre.centre.agents["agent1"].state.value == "logged_out"


async def test_a_pause_takes_a_bounded_reason(client: TestClient[Any, Any], centre: Board):
    assert (await call(client, "POST", "/agents/agent1/login", headers=AUTH))[0] == 200
    status, body = await call(client, "POST", "/agents/agent1/pause", json={"reason": "lunch"}, headers=AUTH)
    assert status == 200 and body["pause_reason"] == "lunch"
    assert (await call(client, "POST", "/agents/agent1/resume", json={}, headers=AUTH))[0] == 200
    status, body = await call(client, "POST", "/agents/agent1/pause", headers=AUTH)
    assert status == 200 and body["pause_reason"] == "admin", "no body: the default reason"


async def test_an_unknown_agent_is_404(client: TestClient[Any, Any]):
    status, body = await call(client, "POST", "/agents/nobody/login", headers=AUTH)
    assert status == 404 and "nobody" in body["error"]


async def test_a_body_over_the_limit_is_413_and_a_wrong_content_type_415(client: TestClient[Any, Any]):
    big = json.dumps({"reason": "x" * MAX_BODY_BYTES}).encode()
    headers = {**AUTH, "Content-Type": "application/json"}
    assert (await call(client, "POST", "/agents/agent1/pause", data=big, headers=headers))[0] == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds while reading
        for _ in range(MAX_BODY_BYTES // 1000 + 2):
            yield b" " * 1000

    assert (await call(client, "POST", "/agents/agent1/pause", data=chunks(), headers=headers))[0] == 413
    for content_type in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin-1",
    ):
        headers = {**AUTH, "Content-Type": content_type}
        status, body = await call(
            client, "POST", "/agents/agent1/pause", data=b'{"reason": "x"}', headers=headers
        )
        assert status == 415, (content_type, body)


async def test_a_body_not_in_the_content_encoding_it_names_is_400_not_500(client: TestClient[Any, Any]):
    for encoding in ("gzip", "deflate"):
        headers = {
            **AUTH,
            "Content-Type": "application/json",
            "Content-Encoding": encoding,
            "Connection": "close",
        }
        status, body = await call(
            client, "POST", "/agents/agent1/pause", data=b'{"reason": "x"}', headers=headers
        )
        assert status == 400 and "body" in str(body), (encoding, status, body)
    headers = {**AUTH, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    for data in (gzip.compress(b'{"reason": "x"}') + b"junk", gzip.compress(b'{"reason": "x"}')[:-3]):
        status, body = await call(client, "POST", "/agents/agent1/pause", data=data, headers=headers)
        assert status == 400 and "body" in str(body), (data, status, body)  # trailing junk, cut short


@pytest.mark.parametrize("encoding", ["br", "zstd", "compress", "gzip, br", "x-" + "z" * 300])
async def test_a_content_encoding_not_taken_is_a_json_415_naming_it(
    client: TestClient[Any, Any], encoding: str
):
    """aiohttp refused br and zstd itself (its libraries missing) with a plain-text 400,
    and read a body in any coding it did not know as if it were in none."""
    headers = {**AUTH, "Content-Type": "application/json", "Content-Encoding": encoding}
    async with client.post("/agents/agent1/login", data=b"{}", headers=headers) as response:
        assert response.status == 415 and response.content_type == "application/json", await response.text()
        assert response.headers["Accept-Encoding"] == "gzip, deflate"
        body = await response.json()
    assert encoding[:40] in body["error"] and len(body["error"]) < 200
    assert body["problems"][0]["field"] == "body"
    _, agents = await call(client, "GET", "/agents", headers=AUTH)
    assert agents["agents"][0]["state"] == "logged_out", "not read as a body in no coding"


async def test_a_content_encoding_on_two_header_lines_is_one_list(client: TestClient[Any, Any]):
    """Only the first line counted: gzip then br was read as gzip alone (200)."""
    from multidict import CIMultiDict

    headers = CIMultiDict({**AUTH, "Content-Type": "application/json"})
    headers.add("Content-Encoding", "gzip")
    headers.add("Content-Encoding", "br")
    async with client.post("/agents/agent1/login", data=gzip.compress(b"{}"), headers=headers) as response:
        assert response.status == 415, await response.text()


@pytest.mark.parametrize(
    ("encoding", "pack"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("Deflate", lambda data: zlib.compress(data)[2:-4]),  # without its zlib header, as some clients send
        ("identity", lambda data: data),
        ("x-gzip", gzip.compress),  # gzip's old name (RFC 9110)
        ("gzip", lambda data: gzip.compress(data[:7]) + gzip.compress(data[7:])),  # two members (RFC 1952)
    ],
)
async def test_a_body_in_a_content_encoding_taken_is_read(
    client: TestClient[Any, Any], encoding: str, pack: Callable[[bytes], bytes]
):
    json_headers = {**AUTH, "Content-Type": "application/json"}
    assert (await call(client, "POST", "/agents/agent1/login", headers=json_headers))[0] == 200
    headers = {**json_headers, "Content-Encoding": encoding}
    data = pack(b'{"reason": "lunch"}')
    status, body = await call(client, "POST", "/agents/agent1/pause", data=data, headers=headers)
    assert status == 200 and body["pause_reason"] == "lunch", body


async def test_a_small_body_that_decodes_past_the_limit_is_413(client: TestClient[Any, Any]):
    headers = {**AUTH, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    bomb = gzip.compress(b'{"reason": "' + b"x" * 10_000_000 + b'"}')
    assert len(bomb) < 16 * 1024
    status, body = await call(client, "POST", "/agents/agent1/pause", data=bomb, headers=headers)
    assert status == 413 and "decoded" in body["error"], body


PRIORITIES = {
    "1e999": b"1e999",
    "Infinity": b"Infinity",
    "-Infinity": b"-Infinity",
    "NaN": b"NaN",
    "1.5": b"1.5",
    "true": b"true",
    "a string": b'"5"',
    "null": b"null",
    "negative": b"-1",
    "over 1000": b"1001",
    "huge": b"1" + b"0" * 400,
}


@pytest.mark.parametrize("value", PRIORITIES.values(), ids=PRIORITIES.keys())
async def test_a_priority_is_an_integer_from_0_to_1000(
    client: TestClient[Any, Any], centre: Board, value: bytes
):
    centre.queue_someone("e1")
    headers = {**AUTH, "Content-Type": "application/json"}
    raw = b'{"priority": ' + value + b"}"
    status, body = await call(client, "POST", "/queue/e1/priority", data=raw, headers=headers)
    assert status == 422, body
    assert body["problems"][0]["field"] == "priority" and "priority" in body["error"]
    assert centre.centre.queue.entries["e1"].priority == 0


async def test_a_valid_priority_moves_the_caller(client: TestClient[Any, Any], centre: Board):
    centre.queue_someone("e1")
    status, body = await call(client, "POST", "/queue/e1/priority", json={"priority": 1000}, headers=AUTH)
    assert status == 200 and body["priority"] == 1000
    headers = {**AUTH, "Content-Type": "application/json"}
    status, body = await call(
        client, "POST", "/queue/e1/priority", data=b'{"priority": 2.6e1}', headers=headers
    )
    assert status == 200 and body["priority"] == 26, "JSON has one number type: 26.0 is 26"
    status, body = await call(client, "POST", "/queue/e1/priority", json={}, headers=AUTH)
    assert status == 422 and body["problems"][0]["field"] == "priority"
    status, body = await call(client, "POST", "/queue/e9/priority", json={"priority": 1}, headers=AUTH)
    assert status == 404


# -- the abandoned calls' times -------------------------------------------------------

BAD_TIMES = {
    "year 1 at +14:00 (year 0 in UTC)": ("since=0001-01-01T00:00:00%2B14:00", "since"),
    "year 1": ("since=0001-01-01T00:00:00Z", "since"),
    "before 1970": ("since=1969-12-31T23:59:59Z", "since"),
    "year 10000": ("until=10000-01-01T00:00:00Z", "until"),
    "no seconds": ("since=2026-01-01T00:00Z", "since"),
    "seven decimals": ("since=2026-01-01T00:00:00.1234567Z", "since"),
    "a Unix time": ("since=1700000000", "since"),
    "31 February": ("since=2026-02-31T00:00:00Z", "since"),
    "no time zone": ("since=2026-01-01T00:00:00", "since"),
    "a date alone": ("since=2026-01-01", "since"),
    "not a time": ("since=yesterday", "since"),
    "month 13": ("until=2026-13-01T00:00:00Z", "until"),
    "until before since": ("since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", "until"),
    "since in the future, until by default": ("since=2999-01-01T00:00:00Z", "since"),
    "given twice": ("since=2026-01-01T00:00:00Z&since=2026-01-02T00:00:00Z", "since"),
    "an unknown parameter": ("from=2026-01-01T00:00:00Z", "from"),
    "an unknown parameter without a value": ("since=2026-01-01T00:00:00Z&x=", "x"),
    "an empty value": ("since=", "since"),
}


@pytest.mark.parametrize("query,field", BAD_TIMES.values(), ids=BAD_TIMES.keys())
async def test_abandoned_calls_take_only_times_postgresql_can_hold(
    client: TestClient[Any, Any], abandoned: Abandoned, query: str, field: str
):
    await refused(client, "GET", f"/calls/abandoned?{query}", field)
    assert abandoned.asked == []


async def test_abandoned_calls_in_a_window_given_in_any_zone(
    client: TestClient[Any, Any], abandoned: Abandoned
):
    query = "since=2026-01-01T03:00:00%2B03:00&until=2026-01-02T00:00:00Z"
    status, body = await call(client, "GET", f"/calls/abandoned?{query}", headers=AUTH)
    assert status == 200 and body["calls"][0]["caller_number"] == "+79161234567"
    assert abandoned.asked == [(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))]
    query = "since=1970-01-01T00:00:00%2B14:00&until=9999-12-31T23:00:00-05:00"
    status, body = await call(client, "GET", f"/calls/abandoned?{query}", headers=AUTH)
    assert status == 200, "the ends of the range, in any zone, are times PostgreSQL holds"
    assert abandoned.asked[-1] == (datetime(1969, 12, 31, 10, tzinfo=UTC), datetime.max.replace(tzinfo=UTC))
    status, body = await call(client, "GET", "/calls/abandoned", headers=AUTH)
    assert status == 200, "by default: the last 24 hours"
    since, until = abandoned.asked[-1]
    assert until - since == timedelta(days=1)


# -- the last resort ------------------------------------------------------------------


async def test_a_bug_is_one_log_line_and_a_json_500_without_traceback(
    centre: Board,
    abandoned: Abandoned,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
):
    def broken(*args: object) -> None:
        raise RuntimeError("lost +79161234567")

    monkeypatch.setattr(centre, "step", broken)
    app = build_app(Metrics(), lambda: {"ok": True}, TOKEN, admin_of(centre, abandoned))
    async with TestClient(TestServer(app)) as test_client:
        status, body = await call(test_client, "POST", "/agents/agent1/login", headers=AUTH)
    assert status == 500 and body == {"error": "internal error"}
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None
    line = errors[0].getMessage()
    assert "RuntimeError" in line and "/agents/{agent_id}/login" in line
    assert "7916" not in line


def test_the_last_day_a_results_query_takes_ends_at_the_last_time_python_holds() -> None:
    """``to`` is a day included: the day after 9999-12-31 does not exist (it was a 500)."""
    query = ResultsQuery.model_validate({"from": "9999-12-31", "to": "9999-12-31"})
    start, end = query.window()
    assert start == datetime(9999, 12, 31, tzinfo=UTC) and end == LATEST
    assert ResultsQuery.model_validate({"to": "2026-11-30"}).window()[1] == datetime(2026, 12, 1, tzinfo=UTC)
