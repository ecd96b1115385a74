"""The admin API's results (lab results phoned to patients): put in, listed, read,
cancelled, audited. Numbers are masked in every answer; no answer holds a
secret, its hash or the fingerprint.

- ``POST /results``: ``{"results": [item, ...]}``, up to 5,000 items and 4 MiB
  (413 beyond); 200 with one report per item, in order (``external_id``,
  ``status``: accepted, duplicate, refused or invalid, ``problems``) and the
  counts. 422 for a body of another shape, 503 while PostgreSQL cannot answer
  (a batch goes in whole or not at all: sent again, what went in is a
  duplicate). One batch at a time is put in, its secrets hashed in one worker
  thread, so the router's other cores stay with the calls (5,000 new results
  take a minute or two).
- ``GET /results?state=&line=&from=&to=&limit=&after=``: latest received first;
  each with its state, line, test, masked number, attempts and times, not its
  result; ``next`` is the ``after`` of the next page (none: the last page).
- ``GET /results/{external_id}``: one, with its result (the sender's own).
- ``POST /results/{external_id}/cancel``: ``{"reason": ...}``; only a pending one
  (404 none, 409 being dialled or already final).
- ``GET /results/{external_id}/audit``: its disclosures, oldest first.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from aiohttp import web

from callrouter.api.errors import ApiError
from callrouter.api.models import (
    RESULTS_BODY_BYTES,
    ResultCancelBody,
    ResultsBody,
    ResultsQuery,
    read_body,
    read_query,
)
from callrouter.api.openapi import Operation, Routes
from callrouter.core.numbers import mask
from callrouter.core.results_input import InputRules, NewNotification, Problem, read_item

Found = TypeVar("Found")
# A batch goes in by one statement, whole or not at all; sent again, what went in is a duplicate.
UNREACHABLE = "the database is unreachable; try again (a result already in is then a duplicate)"
# What a listed result shows (one read by its id shows its result too).
LISTED = (
    "external_id", "state", "line", "language", "test_type", "number", "attempts", "reason", "received_at",
    "due_at", "expires_at", "updated_at",
)  # fmt: skip
ONE = (*LISTED, "result", "leased_by", "lease_until")


class PutOutcome(Protocol):
    @property
    def external_id(self) -> str: ...
    @property
    def status(self) -> str: ...  # accepted, duplicate or refused
    @property
    def reason(self) -> str: ...  # refused: what differs


class CancelOutcome(Protocol):
    @property
    def status(self) -> str: ...  # cancelled, not found, being dialled, already final
    @property
    def message(self) -> str: ...
    @property
    def notification(self) -> dict[str, Any] | None: ...


class ResultsStore(Protocol):
    """store/notifications.py's Notifications, as the API uses it. Each method raises
    OSError or TimeoutError while PostgreSQL cannot answer."""

    async def put(self, items: Sequence[NewNotification], now: datetime) -> Sequence[PutOutcome]: ...

    async def get(self, external_id: str) -> dict[str, Any] | None: ...

    async def listing(
        self, state: str | None, line: str | None, since: datetime | None, until: datetime | None, limit: int,
        after: str | None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """Raises KeyError when no notification has the id ``after``."""
        ...

    async def cancel(self, external_id: str, reason: str, now: datetime) -> CancelOutcome: ...

    async def audit(self, external_id: str) -> list[dict[str, Any]] | None: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ResultsDesk:
    """What the results routes need: the store, the config's rules, a clock."""

    store: ResultsStore
    rules: InputRules
    clock: Callable[[], datetime] = _utcnow


def shown(row: Mapping[str, Any], fields: Sequence[str] = LISTED) -> dict[str, Any]:
    answer = {name: row.get(name) for name in fields}
    answer["number"] = mask(row["number"])
    return answer


def report(item: Mapping[str, Any], status: str, problems: Sequence[Problem] = ()) -> dict[str, Any]:
    external_id = item.get("external_id")
    return {
        "external_id": external_id.strip() if isinstance(external_id, str) else None,
        "status": status,
        "problems": [{"field": name, "message": message} for name, message in problems],
    }


async def put_in(desk: ResultsDesk, items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One report per item, in order. Checked in a thread: 5,000 numbers parsed
    would hold the event loop (and every call) for a good part of a second."""
    checked = await asyncio.to_thread(lambda: [read_item(item, desk.rules) for item in items])
    valid = [c for c in checked if isinstance(c, NewNotification)]
    outcomes = iter(await stored(desk.store.put(valid, desk.clock())))
    reports = []
    for item, result in zip(items, checked, strict=True):
        if isinstance(result, list):
            reports.append(report(item, "invalid", result))
            continue
        outcome = next(outcomes)
        problems = [("external_id", outcome.reason)] if outcome.reason else []
        reports.append(report(item, str(outcome.status), problems))
    return reports


async def stored(answer: Awaitable[Found]) -> Found:
    """The store's answer; 503 while PostgreSQL cannot answer."""
    try:
        return await answer
    except (OSError, TimeoutError):  # the store's DatabaseUnavailable is an OSError
        raise ApiError(503, UNREACHABLE) from None


def unknown(external_id: str) -> ApiError:
    return ApiError(404, f"no result has the external id {external_id!r}")


def add_results_routes(routes: Routes, desk: ResultsDesk) -> None:
    one_at_a_time = asyncio.Lock()  # a second batch waits: hashing keeps to one core

    async def put_route(request: web.Request) -> web.Response:
        body = await read_body(request, ResultsBody, RESULTS_BODY_BYTES)
        async with one_at_a_time:
            reports = await put_in(desk, body.results)
        counts = Counter(r["status"] for r in reports)
        statuses = ("accepted", "duplicate", "refused", "invalid")
        return web.json_response(
            {"results": reports, "counts": {**{s: counts[s] for s in statuses}, "total": len(reports)}}
        )

    async def list_route(request: web.Request) -> web.Response:
        query = read_query(request, ResultsQuery)
        since, until = query.window()
        listing = desk.store.listing(query.state, query.line, since, until, query.limit, query.after)
        try:
            rows = await stored(listing)
        except KeyError:
            raise ApiError(404, f"after: no result has the external id {query.after!r}") from None
        # A line the config does not have and no result names: a typo, said (an empty list
        # read as "no results there"); a line since taken out of the config still lists its own.
        if not rows and query.line is not None and query.line not in desk.rules.lines:
            known = ", ".join(sorted(desk.rules.lines))
            raise ApiError(404, f"line: no line {query.line!r} in the config (its lines: {known})")
        last = rows[-1]["external_id"] if len(rows) == query.limit else None
        return web.json_response({"results": [shown(row) for row in rows], "next": last})

    routes.add(
        Operation(
            "POST", "/results", "put results in (each answered on its own)", ResultsBody, statuses=(503,)
        ),
        put_route,
    )
    routes.add(
        Operation("GET", "/results", "results, latest received first, no result values",
                  query=ResultsQuery, statuses=(404, 503)),
        list_route,
    )  # fmt: skip
    _add_one_result_routes(routes, desk)


def _add_one_result_routes(routes: Routes, desk: ResultsDesk) -> None:
    async def one_route(request: web.Request) -> web.Response:
        external_id = request.match_info["external_id"]
        row = await stored(desk.store.get(external_id))
        if row is None:
            raise unknown(external_id)
        return web.json_response(shown(row, ONE))

    async def cancel_route(request: web.Request) -> web.Response:
        external_id = request.match_info["external_id"]
        body = await read_body(request, ResultCancelBody)
        outcome = await stored(desk.store.cancel(external_id, body.reason, desk.clock()))
        if outcome.status == "not found":
            raise unknown(external_id)
        if outcome.notification is None:
            raise ApiError(409, f"{external_id!r} cannot be cancelled: {outcome.message}")
        return web.json_response(shown(outcome.notification, ONE))

    async def audit_route(request: web.Request) -> web.Response:
        external_id = request.match_info["external_id"]
        audit = await stored(desk.store.audit(external_id))
        if audit is None:
            raise unknown(external_id)
        return web.json_response({"external_id": external_id, "audit": audit})

    one = Operation("GET", "/results/{external_id}", "one result, with its value", statuses=(404, 503))
    routes.add(one, one_route)
    cancelling = Operation(
        "POST", "/results/{external_id}/cancel", "cancel a pending result", ResultCancelBody,
        statuses=(404, 409, 503),
    )  # fmt: skip
    routes.add(cancelling, cancel_route)
    audit = Operation(
        "GET", "/results/{external_id}/audit", "a result's disclosures, oldest first", statuses=(404, 503)
    )
    routes.add(audit, audit_route)
