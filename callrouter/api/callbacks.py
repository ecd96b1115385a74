"""The admin API's callbacks: the list (from PostgreSQL), one made by hand, one cancelled.

- ``GET /callbacks?state=&limit=``: the latest callbacks (by default 100, any
  state), latest change first, with their attempts (time, agent, outcome);
  numbers masked (the people to phone back are on ``GET /calls/abandoned``:
  a failed callback is listed there with its full number); 503 while
  PostgreSQL cannot answer.
- ``POST /callbacks``: a follow-up scheduled by hand (``FollowUpBody``): it
  joins the one queue at ``at`` and is dialled like any callback; 422 naming
  the field the config cannot take (line, topic, language, number, at), 409
  when callbacks are off or the number has an open callback, 503 (Retry-After)
  while the open callbacks stored before this start are not read from PostgreSQL.
- ``POST /callbacks/{callback_id}/cancel``: ``{"reason": ...}``; 404 when no open
  callback has this id, 409 while it is being dialled.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callrouter.api.errors import ApiError, Problem
from callrouter.api.facade import AdminFacade
from callrouter.api.models import CallbacksQuery, CancelBody, FollowUpBody, read_body, read_query
from callrouter.api.openapi import Operation, Routes
from callrouter.core.callbacks import FollowUp, InvalidFollowUp
from callrouter.core.numbers import mask
from callrouter.core.records import CallbackRecord
from callrouter.core.switchboard import CallbackError

# What a listed callback shows (the store's row has more: the person's keyed hash stays in).
LISTED = (
    "callback_id", "state", "number", "requested_at", "joined_at", "topic", "line", "language", "priority",
    "call_id", "attempts", "reason", "updated_at", "leased_by", "lease_until",
)  # fmt: skip


def listed_json(row: dict[str, Any]) -> dict[str, Any]:
    """A callback as PostgreSQL has it, its number masked."""
    answer = {name: row.get(name) for name in LISTED}
    answer["number"] = mask(row["number"])
    return answer


def callback_json(record: CallbackRecord) -> dict[str, Any]:
    """A callback as the switchboard has it, in the list's shape, its number masked."""
    return {
        "callback_id": record.callback_id,
        "state": record.state.value,
        "number": mask(record.number),
        "requested_at": record.requested_at.isoformat(),
        "joined_at": record.joined_at.isoformat(),
        "topic": record.topic,
        "line": record.line,
        "language": record.language,
        "priority": record.priority,
        "call_id": record.call_id,
        "attempts": [
            {"at": a.at.isoformat(), "agent": a.agent, "outcome": a.outcome} for a in record.attempts
        ],
        "reason": record.reason,
        "updated_at": record.at.isoformat(),
    }


def add_callback_routes(routes: Routes, admin: AdminFacade) -> None:
    async def list_route(request: web.Request) -> web.Response:
        query = read_query(request, CallbacksQuery)
        try:
            rows = await admin.callbacks(query.state, query.limit)
        except (OSError, TimeoutError):  # the store's DatabaseUnavailable is an OSError
            raise ApiError(503, "the database is unreachable; try again") from None
        return web.json_response({"callbacks": [listed_json(row) for row in rows]})

    async def schedule_route(request: web.Request) -> web.Response:
        body = await read_body(request, FollowUpBody)
        order = FollowUp(body.number, body.line, body.topic, body.by, body.language, body.at, body.priority)
        wait = admin.booking_wait()
        if wait is not None:  # the number may have an open callback only PostgreSQL knows of
            message = "the open callbacks are not read from the database yet; try again"
            raise ApiError(503, message, headers={"Retry-After": str(wait)})
        try:
            record = admin.schedule_callback(order)
        except InvalidFollowUp as exc:
            problems = [Problem(field, "body", message) for field, message in exc.problems]
            raise ApiError(422, str(exc), problems) from None
        except CallbackError as exc:
            raise ApiError(409, str(exc)) from None
        return web.json_response(callback_json(record))

    async def cancel_route(request: web.Request) -> web.Response:
        callback_id = request.match_info["callback_id"]
        body = await read_body(request, CancelBody)
        try:
            record = admin.cancel_callback(callback_id, body.reason)
        except KeyError:
            raise ApiError(404, f"no open callback {callback_id}") from None
        except CallbackError as exc:
            raise ApiError(409, str(exc)) from None
        return web.json_response(callback_json(record))

    listing = Operation(
        "GET", "/callbacks", "callbacks, latest change first, numbers masked", query=CallbacksQuery,
        statuses=(503,),
    )  # fmt: skip
    routes.add(listing, list_route)
    making = Operation("POST", "/callbacks", "schedule a follow-up call", FollowUpBody, statuses=(409, 503))
    routes.add(making, schedule_route)
    cancelling = Operation(
        "POST", "/callbacks/{callback_id}/cancel", "cancel an open callback", CancelBody, statuses=(404, 409)
    )
    routes.add(cancelling, cancel_route)
