"""The admin API's callbacks and queue: the list from PostgreSQL (numbers masked),
a follow-up made by hand (checked against the config, one open callback per
number), a cancel (404 unknown, 409 being dialled), and the queue showing who
holds each place (a caller's number masked, a callback marked), never the
person's key."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from callrouter.core import switchboard as sb
from callrouter.core.callbacks import FollowUp, InvalidFollowUp, Stage
from callrouter.core.records import CallbackRecord, CallbackState
from tests.unit.admin_api.harness import AUTH, Board, Callbacks, admin_of, call, refused
from tests.unit.test_switchboard import T0

ANNA = "+79161234567"
MASKED = "+79*******67"
EXCLUDED = "+78162700000"  # the example's [repeat] exclude
FOLLOW_UP = {"number": "8 916 123-45-67", "line": "clinic-central", "topic": "home_visit", "by": "agent2"}


def listed_row(**changes: Any) -> dict[str, Any]:
    """A row as ``Queries.callbacks`` answers it (full number, the person's key)."""
    row = {
        "callback_id": "6f1c1d8e-5d4f-4a43-9c1e-0c8f6c1b2a11", "state": "failed", "number": ANNA,
        "person": "0123456789abcdef0123456789abcdef", "requested_at": T0.isoformat(),
        "joined_at": T0.isoformat(), "topic": "operator", "line": "clinic-central", "language": "ru",
        "priority": 0, "call_id": None, "reason": "no_answer x3", "updated_at": T0.isoformat(),
        "attempts": [{"at": T0.isoformat(), "agent": "agent1", "outcome": "no_answer"}],
        "leased_by": None, "lease_until": None,
    }  # fmt: skip
    return {**row, **changes}


# -- the list --------------------------------------------------------------------------


async def test_the_list_masks_numbers_keeps_attempts_and_never_shows_the_persons_key(
    client: TestClient[Any, Any], callbacks: Callbacks
):
    callbacks.rows = [listed_row(), listed_row(callback_id="x", state="pending", attempts=[])]
    status, body = await call(client, "GET", "/callbacks", headers=AUTH)
    assert status == 200 and callbacks.asked == [(None, 100)]
    first = body["callbacks"][0]
    assert first["number"] == MASKED and first["state"] == "failed"
    assert first["attempts"] == [{"at": T0.isoformat(), "agent": "agent1", "outcome": "no_answer"}]
    assert "person" not in first and "0123456789abcdef" not in str(body)
    status, body = await call(client, "GET", "/callbacks?state=pending&limit=1", headers=AUTH)
    assert status == 200 and [c["callback_id"] for c in body["callbacks"]] == ["x"]
    assert callbacks.asked[-1] == ("pending", 1)


BAD_QUERIES = {
    "an unknown state": ("state=open", "state"),
    "a state in capitals": ("state=PENDING", "state"),
    "limit 0": ("limit=0", "limit"),
    "limit 1001": ("limit=1001", "limit"),
    "limit 1.5": ("limit=1.5", "limit"),
    "limit 1e999": ("limit=1e999", "limit"),
    "limit not a number": ("limit=all", "limit"),
    "an empty limit": ("limit=", "limit"),
    "given twice": ("state=failed&state=pending", "state"),
    "an unknown parameter": ("number=%2B79161234567", "number"),
}


@pytest.mark.parametrize("query,field", BAD_QUERIES.values(), ids=BAD_QUERIES.keys())
async def test_a_bad_list_query_is_422_naming_it_and_reads_nothing(
    client: TestClient[Any, Any], callbacks: Callbacks, query: str, field: str
):
    await refused(client, "GET", f"/callbacks?{query}", field)
    assert callbacks.asked == []


# -- made by hand ------------------------------------------------------------------------


async def test_a_follow_up_joins_the_queue_as_a_callback_in_the_lines_country(
    client: TestClient[Any, Any], centre: Board
):
    status, body = await call(client, "POST", "/callbacks", json=FOLLOW_UP, headers=AUTH)
    assert status == 200, body
    assert body["number"] == MASKED and body["state"] == "pending"
    assert body["language"] == "ru" and body["priority"] == 5, "the line's language, the topic's priority"
    assert body["joined_at"] == body["requested_at"] == T0.isoformat() and body["call_id"] is None
    assert body["reason"] == "made by agent2"
    callback = centre.board.callbacks[body["callback_id"]]
    assert callback.record.number == ANNA, "8 916 ... read as Russian (the line's country)"
    assert callback.record.person == centre.board.rules.repeat.key_of(ANNA)
    assert body["callback_id"] in centre.centre.queue
    uuid.UUID(body["callback_id"])  # the callbacks table's key


async def test_a_follow_up_at_a_later_time_joins_then_and_a_time_gone_by_joins_now(
    client: TestClient[Any, Any], centre: Board
):
    later = {**FOLLOW_UP, "at": "2026-11-23T14:00:00+03:00", "priority": 50, "language": "en"}
    status, body = await call(client, "POST", "/callbacks", json=later, headers=AUTH)
    assert status == 200, body
    assert body["joined_at"] == (T0 + timedelta(hours=4)).isoformat() and body["priority"] == 50
    assert body["callback_id"] not in centre.centre.queue, "not before its time"
    centre.now = T0 + timedelta(hours=4)
    centre.step(sb.Wake())
    assert body["callback_id"] in centre.centre.queue
    gone_by = {**FOLLOW_UP, "number": "+79167654321", "at": "2026-01-01T00:00:00Z"}
    status, body = await call(client, "POST", "/callbacks", json=gone_by, headers=AUTH)
    assert status == 200 and body["joined_at"] == centre.now.isoformat(), "never ahead of those waiting"


BAD_FOLLOW_UPS = {
    "an unknown line": ({"line": "clinic-moon"}, "line"),
    "an unknown topic": ({"topic": "astrology"}, "topic"),
    "a language the menu lacks": ({"language": "fr"}, "language"),
    "too few digits": ({"number": "12"}, "number"),
    "not a number": ({"number": "call me"}, "number"),
    "anonymous": ({"number": "anonymous"}, "number"),
    "an excluded number": ({"number": EXCLUDED}, "number"),
    "an excluded number by pattern": ({"number": "+78162700091"}, "number"),
    "over a year ahead": ({"at": "2028-01-01T00:00:00Z"}, "at"),
    "a time without a zone": ({"at": "2026-11-23T14:00:00"}, "at"),
    "a Unix time": ({"at": 1795000000}, "at"),
    "a priority of 1.5": ({"priority": 1.5}, "priority"),
    "a priority over 1000": ({"priority": 1001}, "priority"),
    "a number as a number": ({"number": 79161234567}, "number"),
    "a control character": ({"by": "agent2\nFAKE LOG LINE"}, "by"),
    "an unknown field": ({"person": "0123456789abcdef0123456789abcdef"}, "person"),
}


@pytest.mark.parametrize("change,field", BAD_FOLLOW_UPS.values(), ids=BAD_FOLLOW_UPS.keys())
async def test_a_follow_up_the_config_cannot_take_is_422_naming_the_field(
    client: TestClient[Any, Any], centre: Board, change: dict[str, Any], field: str
):
    body = await refused(client, "POST", "/callbacks", field, json={**FOLLOW_UP, **change})
    assert [(p["field"], p["in"]) for p in body["problems"]] == [(field, "body")]
    assert not centre.board.callbacks


async def test_every_field_the_config_refuses_is_named_at_once(client: TestClient[Any, Any]):
    wrong = {"number": "12", "line": "clinic-moon", "topic": "astrology", "at": "2099-01-01T00:00:00Z"}
    status, body = await call(client, "POST", "/callbacks", json=wrong, headers=AUTH)
    assert status == 422
    assert {p["field"] for p in body["problems"]} == {"line", "topic", "at"}, "the number needs a line"


@pytest.mark.parametrize("raw", [b'{"number": "+79161234567"', b"\xff\xfe{}", b"[]", b"null", b"{}"], ids=str)
async def test_a_garbage_body_is_4xx_never_500(client: TestClient[Any, Any], centre: Board, raw: bytes):
    headers = {**AUTH, "Content-Type": "application/json"}
    status, body = await call(client, "POST", "/callbacks", data=raw, headers=headers)
    assert status in (400, 422), body
    assert body["problems"] and not centre.board.callbacks


async def test_a_second_open_callback_for_the_number_is_409(client: TestClient[Any, Any], centre: Board):
    assert (await call(client, "POST", "/callbacks", json=FOLLOW_UP, headers=AUTH))[0] == 200
    again = {**FOLLOW_UP, "number": ANNA, "line": "clinic-north"}  # the same number, written otherwise
    status, body = await call(client, "POST", "/callbacks", json=again, headers=AUTH)
    assert status == 409 and "pending" in body["error"]
    assert len(centre.board.callbacks) == 1


async def test_no_follow_up_while_callbacks_are_off(client: TestClient[Any, Any], centre: Board):
    centre.board = replace(centre.board, rules=replace(centre.board.rules, callback=None))
    status, body = await call(client, "POST", "/callbacks", json=FOLLOW_UP, headers=AUTH)
    assert status == 409 and "off" in body["error"]
    assert not centre.board.callbacks


# -- cancelled ---------------------------------------------------------------------------


async def test_cancelling_takes_the_callback_out_of_the_queue_once(
    client: TestClient[Any, Any], centre: Board
):
    _, made = await call(client, "POST", "/callbacks", json=FOLLOW_UP, headers=AUTH)
    path = f"/callbacks/{made['callback_id']}/cancel"
    status, body = await call(client, "POST", path, json={"reason": "sorted by mail"}, headers=AUTH)
    assert status == 200 and body["state"] == "cancelled" and body["reason"] == "sorted by mail"
    assert body["number"] == MASKED
    assert (
        made["callback_id"] not in centre.board.callbacks and made["callback_id"] not in centre.centre.queue
    )
    status, body = await call(client, "POST", path, headers=AUTH)
    assert status == 404 and made["callback_id"] in body["error"]


@pytest.mark.parametrize("callback_id", ["cb-nobody", str(uuid.uuid4()), "%2B79161234567", "x" * 300])
async def test_cancelling_an_unknown_callback_is_404(client: TestClient[Any, Any], callback_id: str):
    status, body = await call(client, "POST", f"/callbacks/{callback_id}/cancel", headers=AUTH)
    assert status == 404 and "no open callback" in body["error"]


async def test_a_callback_is_cancelled_by_the_id_the_list_gives(client: TestClient[Any, Any], centre: Board):
    """A caller's callback is keyed by its place's id (hex); PostgreSQL lists it as a uuid."""
    record = CallbackRecord(
        uuid.uuid4().hex, T0, CallbackState.PENDING, ANNA, T0, T0, "operator", "clinic-central", "ru", 0,
    )  # fmt: skip
    centre.step(sb.ScheduleCallback(record))
    listed = str(uuid.UUID(record.callback_id))
    status, body = await call(client, "POST", f"/callbacks/{listed}/cancel", headers=AUTH)
    assert status == 200 and body["reason"] == "admin", "no body: the default reason"
    assert not centre.board.callbacks


async def test_a_callback_being_dialled_cannot_be_cancelled(client: TestClient[Any, Any], centre: Board):
    centre.step(sb.AgentCommand("agent2", "login"))
    _, made = await call(client, "POST", "/callbacks", json=FOLLOW_UP, headers=AUTH)
    callback_id = made["callback_id"]
    assert centre.board.callbacks[callback_id].stage is Stage.LEASING, "agent2 reserved for it"
    centre.step(sb.CallbackLeased(callback_id, sb.Lease.TAKEN))
    centre.step(sb.LegAnswered(centre.board.leg_of[callback_id]))
    assert centre.board.callbacks[callback_id].stage is Stage.DIALLING
    status, body = await call(client, "POST", f"/callbacks/{callback_id}/cancel", headers=AUTH)
    assert status == 409 and "dialled" in body["error"]
    assert centre.board.callbacks[callback_id].stage is Stage.DIALLING


BAD_REASONS = {
    "empty": b'{"reason": ""}',
    "a number": b'{"reason": 5}',
    "a control character": b'{"reason": "done\\r\\n"}',
    "too long": b'{"reason": "' + b"x" * 201 + b'"}',
    "an unknown field": b'{"why": "done"}',
    "malformed": b'{"reason": ',
}


@pytest.mark.parametrize("raw", BAD_REASONS.values(), ids=BAD_REASONS.keys())
async def test_a_bad_cancel_body_changes_nothing(client: TestClient[Any, Any], centre: Board, raw: bytes):
    _, made = await call(client, "POST", "/callbacks", json=FOLLOW_UP, headers=AUTH)
    headers = {**AUTH, "Content-Type": "application/json"}
    path = f"/callbacks/{made['callback_id']}/cancel"
    status, body = await call(client, "POST", path, data=raw, headers=headers)
    assert status in (400, 422), body
    assert made["callback_id"] in centre.board.callbacks


# -- the queue -----------------------------------------------------------------------------


async def test_the_queue_shows_each_callers_number_masked_and_a_callbacks_place_marked(
    client: TestClient[Any, Any], centre: Board
):
    centre.call_in("c1", ANNA)
    centre.call_in("c2", "+79167654321", presentation="prohib_passed_screen")  # asked for privacy
    centre.now = T0 + timedelta(seconds=30)
    status, made = await call(
        client,
        "POST",
        "/callbacks",
        json={**FOLLOW_UP, "number": "+79031112233", "topic": "operator"},
        headers=AUTH,
    )
    assert status == 200
    status, body = await call(client, "GET", "/queue", headers=AUTH)
    assert status == 200
    shown = [(p["caller"], p["callback"], p["call_id"] is None) for p in body["queue"]]
    assert shown == [(MASKED, False, False), ("withheld", False, False), ("+79*******33", True, True)]
    assert body["queue"][2]["entry_id"] == made["callback_id"]
    people = [centre.board.rules.repeat.key_of(n) for n in (ANNA, "+79167654321", "+79031112233")]
    assert not any(person in str(body) for person in people), "never the person's key"


async def test_a_call_taking_over_a_place_shows_its_own_number(client: TestClient[Any, Any], centre: Board):
    entry_id = centre.call_in("c1", ANNA)
    assert centre.call_in("c2", "8 916 123 45 67") == entry_id, "the same person: one place"
    status, body = await call(client, "GET", "/queue", headers=AUTH)
    assert status == 200 and [p["caller"] for p in body["queue"]] == [MASKED]
    assert body["queue"][0]["call_id"] == centre.board.calls["c2"].record.call_id


async def test_a_place_nobody_holds_is_shown_as_unknown(client: TestClient[Any, Any], centre: Board):
    centre.queue_someone("e1")
    status, body = await call(client, "GET", "/queue", headers=AUTH)
    assert status == 200 and body["queue"][0]["caller"] == "unknown"
    assert "person-key" not in str(body)


# -- the facade ------------------------------------------------------------------------------


def test_the_facade_names_who_holds_each_place() -> None:
    board = Board()
    admin = admin_of(board)
    board.call_in("c1", ANNA)
    record = admin.schedule_callback(FollowUp("+79031112233", "clinic-central", "operator", "agent1"))
    holders = [admin.holder(entry) for entry in admin.queue()]
    assert [type(h).__name__ for h in holders] == ["CallRecord", "CallbackRecord"]
    assert holders[1] == record
    with pytest.raises(InvalidFollowUp) as refused:
        admin.schedule_callback(FollowUp("+79031112233", "clinic-central", "nothing", "agent1", "xx"))
    assert [field for field, _ in refused.value.problems] == ["topic", "language"]
    with pytest.raises(sb.CallbackError):
        admin.schedule_callback(FollowUp("8 903 111 22 33", "clinic-north", "operator", "agent1"))
    cancelled = admin.cancel_callback(record.callback_id, "done")
    assert cancelled.state is CallbackState.CANCELLED and cancelled.reason == "done"
    with pytest.raises(KeyError):
        admin.cancel_callback(record.callback_id, "again")
