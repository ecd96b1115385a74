"""The admin API's results on a stand-in store: a batch answered item by item in
order (invalid ones never reach the store), the body's own limit (4 MiB, the
other routes keep 16 KiB), 503 with nothing written, numbers masked, a result's
value only when one is read by its id, cancel's 404/409, the audit."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callrouter.api.models import MAX_BODY_BYTES, RESULTS_BODY_BYTES
from callrouter.api.results import ResultsDesk
from callrouter.api.server import build_app
from callrouter.core.results_input import NewNotification
from callrouter.metrics import Metrics
from callrouter.store.notifications import Cancelling, CancelStatus, Outcome, PutStatus
from tests.unit.admin_api.harness import AUTH, TOKEN, Board, admin_of, call
from tests.unit.test_results_input import GOOD, RULES

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Results:
    """``Notifications``' stand-in: rows in memory, as the store shows them (full numbers)."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.put_in: list[list[NewNotification]] = []
        self.asked: list[tuple[Any, ...]] = []
        self.down = False

    def _up(self) -> None:
        if self.down:
            raise OSError("connection refused")

    async def put(self, items: Sequence[NewNotification], now: datetime) -> list[Outcome]:
        self._up()
        self.put_in.append(list(items))
        answers = []
        for item in items:
            row = self.rows.get(item.external_id)
            if row is None:
                self.rows[item.external_id] = row_of(item, now)
                answers.append(Outcome(item.external_id, PutStatus.ACCEPTED))
            elif row["result"] != item.result:
                answers.append(Outcome(item.external_id, PutStatus.REFUSED, ("result",)))
            else:
                answers.append(Outcome(item.external_id, PutStatus.DUPLICATE))
        return answers

    async def get(self, external_id: str) -> dict[str, Any] | None:
        self._up()
        return self.rows.get(external_id)

    async def listing(self, state=None, line=None, since=None, until=None, limit=100, after=None):
        self._up()
        self.asked.append((state, line, since, until, limit, after))
        if after is not None and after not in self.rows:
            raise KeyError(after)
        return list(self.rows.values())[:limit]

    async def cancel(self, external_id: str, reason: str, now: datetime) -> Cancelling:
        row = self.rows.get(external_id)
        if row is None:
            return Cancelling(CancelStatus.NOT_FOUND)
        if row["state"] == "dialling":
            return Cancelling(CancelStatus.DIALLING, "dialling")
        if row["state"] != "pending":
            return Cancelling(CancelStatus.FINAL, row["state"])
        row.update(state="cancelled", reason=reason)
        return Cancelling(CancelStatus.CANCELLED, "cancelled", row)

    async def audit(self, external_id: str) -> list[dict[str, Any]] | None:
        if external_id not in self.rows:
            return None
        return [{"at": NOW.isoformat(), "node": "asterisk-1", "call_id": "c1", "verified_by": "secret",
                 "played": "negative"}]  # fmt: skip


def row_of(item: NewNotification, now: datetime) -> dict[str, Any]:
    return {
        "external_id": item.external_id, "notification_id": "n1", "state": "pending",
        "number": item.number, "test_type": item.test_type, "result": item.result.value,
        "language": item.language, "line": item.line,
        "received_at": now.isoformat(), "due_at": now.isoformat(),
        "expires_at": (now + timedelta(hours=72)).isoformat(), "attempts": [], "reason": "",
        "updated_at": now.isoformat(), "leased_by": None, "lease_until": None,
    }  # fmt: skip


@pytest.fixture
def results() -> Results:
    return Results()


@pytest.fixture
async def client(results: Results) -> AsyncIterator[TestClient[Any, Any]]:
    desk = ResultsDesk(results, RULES, clock=lambda: NOW)
    app = build_app(Metrics(), lambda: {"ok": True}, TOKEN, admin_of(Board()), desk)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


def item(n: int, **changes: object) -> dict[str, object]:
    return {**GOOD, "external_id": f"LAB-{n}", **changes}


async def post(client: TestClient[Any, Any], items: list[Any]) -> tuple[int, Any]:
    return await call(client, "POST", "/results", json={"results": items}, headers=AUTH)


async def test_a_batch_is_answered_item_by_item_in_order(client: TestClient[Any, Any], results: Results):
    await post(client, [item(1)])
    batch = [item(2), item(1), {"phone": "12", "secret": "1", "dob": "x"}, item(1, result="positive"), 7]
    status, body = await post(client, batch[:4])
    assert status == 200, body
    assert [(r["external_id"], r["status"]) for r in body["results"]] == [
        ("LAB-2", "accepted"), ("LAB-1", "duplicate"), (None, "invalid"), ("LAB-1", "refused"),
    ]  # fmt: skip
    assert body["results"][2]["problems"] == [
        {"field": "external_id", "message": "required"},
        {"field": "secret", "message": "must be 4 to 8 digits"},
        {"field": "test_type", "message": "required"},
        {"field": "result", "message": "required"},
        {"field": "line", "message": "required"},
        {"field": "dob", "message": "unknown field"},
    ]
    assert body["results"][3]["problems"] == [
        {"field": "external_id", "message": "external id LAB-1 exists with a different result"}
    ]
    assert body["counts"] == {"accepted": 1, "duplicate": 1, "refused": 1, "invalid": 1, "total": 4}
    assert [i.external_id for i in results.put_in[-1]] == ["LAB-2", "LAB-1", "LAB-1"], "the valid ones only"
    assert "12031980" not in json.dumps(body) and "12.03.1980" not in json.dumps(body)
    status, body = await post(client, batch)
    assert status == 422 and body["problems"][0]["field"] == "results.4", "an item is an object"


async def test_a_signed_secret_and_a_doubled_plus_are_refused_by_field(
    client: TestClient[Any, Any], results: Results
):
    status, body = await post(client, [item(1, phone="++79161234567", secret="-1234"), item(2)])
    assert status == 200, body
    assert [(r["external_id"], r["status"]) for r in body["results"]] == [
        ("LAB-1", "invalid"),
        ("LAB-2", "accepted"),
    ]
    assert body["results"][0]["problems"] == [
        {"field": "phone", "message": "not a phone number (one + at most, before its digits)"},
        {"field": "secret", "message": "only digits, with . - / or spaces between them"},
    ]
    assert [i.external_id for i in results.put_in[-1]] == ["LAB-2"]


@pytest.mark.parametrize(
    ("data", "status", "field"),
    [
        (b'{"results": [', 400, "body"),
        (b"{}", 422, "results"),
        (b'{"results": {}}', 422, "results"),
        (b'{"results": [], "more": 1}', 422, "more"),
    ],
)
async def test_a_body_of_another_shape_is_refused_whole(
    client: TestClient[Any, Any], results: Results, data: bytes, status: int, field: str
):
    headers = {**AUTH, "Content-Type": "application/json"}
    got, body = await call(client, "POST", "/results", data=data, headers=headers)
    assert (got, body["problems"][0]["field"]) == (status, field), body
    assert results.put_in == []


async def test_5000_items_in_up_to_4_mib_the_other_routes_keep_16_kib(client: TestClient[Any, Any]):
    status, body = await post(client, [item(n, phone="+44 20 7946 0958") for n in range(5000)])
    assert status == 200 and body["counts"]["accepted"] == 5000
    status, body = await post(client, [item(n) for n in range(5001)])
    assert status == 422 and body["problems"][0]["field"] == "results"
    big = json.dumps({"results": [item(1, test_type="x" * RESULTS_BODY_BYTES)]}).encode()
    headers = {**AUTH, "Content-Type": "application/json"}
    assert (await call(client, "POST", "/results", data=io.BytesIO(big), headers=headers))[0] == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds while reading
        yield b'{"results": [], "x": "'
        for _ in range(RESULTS_BODY_BYTES // 100_000 + 1):
            yield b"x" * 100_000
        yield b'"}'

    assert (await call(client, "POST", "/results", data=chunks(), headers=headers))[0] == 413
    pause = json.dumps({"reason": "x" * MAX_BODY_BYTES}).encode()
    assert (await call(client, "POST", "/agents/agent1/pause", data=pause, headers=headers))[0] == 413


async def test_postgresql_unreachable_is_503(client: TestClient[Any, Any], results: Results):
    results.down = True
    status, body = await post(client, [item(1)])
    assert status == 503 and "try again" in body["error"]
    for path in ("/results", "/results/LAB-1"):
        assert (await call(client, "GET", path, headers=AUTH))[0] == 503


async def test_the_list_masks_numbers_shows_no_result_and_pages(
    client: TestClient[Any, Any], results: Results
):
    await post(client, [item(1), item(2, result="positive")])
    status, body = await call(
        client, "GET", "/results?limit=1&state=pending&line=clinic-central", headers=AUTH
    )
    assert status == 200
    (listed,) = body["results"]
    assert (
        listed["number"] == "+79*******23"
        and "result" not in listed
        and listed["test_type"] == "PCR SARS-CoV-2"
    )
    assert body["next"] == "LAB-1"
    assert results.asked[-1] == ("pending", "clinic-central", None, None, 1, None)
    status, body = await call(client, "GET", "/results?after=LAB-1", headers=AUTH)
    assert status == 200 and body["next"] is None
    status, body = await call(client, "GET", "/results?after=LAB-9", headers=AUTH)
    assert status == 404 and "LAB-9" in body["error"]


@pytest.mark.parametrize(
    ("query", "since", "until"),
    [
        (
            "from=2026-12-01&to=2026-12-01",
            datetime(2026, 12, 1, tzinfo=UTC),
            datetime(2026, 12, 2, tzinfo=UTC),
        ),
        ("from=2026-12-01T12:00:00%2B03:00", datetime(2026, 12, 1, 9, tzinfo=UTC), None),
        ("to=2026-12-31T23:59:59Z", None, datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
async def test_from_and_to_are_days_or_times(
    client: TestClient[Any, Any], results: Results, query: str, since: datetime | None, until: datetime | None
):
    status, body = await call(client, "GET", f"/results?{query}", headers=AUTH)
    assert status == 200, body
    assert results.asked[-1][2:4] == (since, until)


@pytest.mark.parametrize(
    ("query", "field"),
    [("state=lost", "state"), ("from=2026-02-30", "from"), ("to=yesterday", "to"), ("limit=0", "limit"),
     ("from=2026-12-01T10:00:00", "from")],
)  # fmt: skip
async def test_a_bad_query_is_422_naming_it(client: TestClient[Any, Any], query: str, field: str):
    status, body = await call(client, "GET", f"/results?{query}", headers=AUTH)
    assert status == 422 and body["problems"][0]["field"] == field, body


async def test_a_time_without_a_zone_is_told_the_form_in_words(client: TestClient[Any, Any]):
    status, body = await call(client, "GET", "/results?from=2026-12-01T10:00:00", headers=AUTH)
    assert status == 422
    message = body["problems"][0]["message"]
    assert message.startswith("must be a day (2026-11-30) or a time with seconds and a zone"), message
    assert "^" not in body["error"] and "pattern" not in body["error"]


async def test_an_unknown_line_is_refused_with_the_lines_of_the_config(client: TestClient[Any, Any]):
    status, body = await call(client, "GET", "/results?line=nope", headers=AUTH)
    assert status == 404 and "'nope'" in body["error"] and "clinic-central" in body["error"], body


async def test_a_line_taken_out_of_the_config_still_lists_its_results(
    client: TestClient[Any, Any], results: Results
):
    await post(client, [item(1)])
    results.rows["LAB-1"]["line"] = "clinic-closed"  # (the fake store lists every row whatever the line)
    status, body = await call(client, "GET", "/results?line=clinic-closed", headers=AUTH)
    assert status == 200 and [r["external_id"] for r in body["results"]] == ["LAB-1"], body


async def test_one_shows_its_result_cancel_only_a_pending_one_and_the_audit(
    client: TestClient[Any, Any], results: Results
):
    await post(client, [item(1, result="positive"), item(2), item(3)])
    status, one = await call(client, "GET", "/results/LAB-1", headers=AUTH)
    assert status == 200 and one["result"] == "positive" and one["number"] == "+79*******23"
    assert not {"secret", "secret_hash", "fingerprint"} & set(one)
    assert (await call(client, "GET", "/results/LAB-9", headers=AUTH))[0] == 404
    results.rows["LAB-2"]["state"] = "dialling"
    results.rows["LAB-3"]["state"] = "delivered"
    status, cancelled = await call(
        client, "POST", "/results/LAB-1/cancel", json={"reason": "by mail"}, headers=AUTH
    )
    assert status == 200 and (cancelled["state"], cancelled["reason"]) == ("cancelled", "by mail")
    for external_id, expected, words in (
        ("LAB-2", 409, "being dialled"), ("LAB-3", 409, "already final: delivered"), ("LAB-9", 404, "LAB-9"),
    ):  # fmt: skip
        status, body = await call(client, "POST", f"/results/{external_id}/cancel", headers=AUTH)
        assert status == expected and words in body["error"], body
    status, audit = await call(client, "GET", "/results/LAB-3/audit", headers=AUTH)
    assert status == 200 and audit["audit"][0]["verified_by"] == "secret"
    assert (await call(client, "GET", "/results/LAB-9/audit", headers=AUTH))[0] == 404


async def test_the_description_has_the_results_routes(client: TestClient[Any, Any]):
    status, description = await call(client, "GET", "/openapi.json")
    assert status == 200
    paths = description["paths"]
    assert {
        "/results",
        "/results/{external_id}",
        "/results/{external_id}/cancel",
        "/results/{external_id}/audit",
    } <= set(paths)
    parameters = {p["name"] for p in paths["/results"]["get"]["parameters"]}
    assert parameters == {"state", "line", "from", "to", "limit", "after"}
    assert "ResultsBody" in description["components"]["schemas"]
