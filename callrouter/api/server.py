"""The admin HTTP server (aiohttp): /health, /metrics and /openapi.json open, the
rest behind ``Authorization: Bearer <CALLROUTER_ADMIN_TOKEN>`` (api/auth.py).

- ``GET /agents``: every agent with state, and ``calls_taken``: the calls they answered
  since their log-in (0 while logged out; a restart of the router keeps it).
- ``POST /agents/{agent_id}/{login|logout|pause|resume}``: change state (JSON
  ``{"reason": ...}`` for a pause); 409 when the change is not possible now
  (e.g. logging out mid-call).
- ``GET /queue``: the queue in order: each place's caller number masked (or how
  the caller withheld it), a callback's place (no call) marked as such.
- ``POST /queue/{entry_id}/priority``: ``{"priority": N}``; the queue reorders at once.
- ``GET /calls/abandoned?since=&until=``: callers who hung up while waiting, with full
  numbers, for operators to phone back; a caller who withheld their number (or asked for
  privacy) is listed as withheld, with no number (ISO 8601 times with a zone; default the last 24 hours);
  503 while PostgreSQL cannot answer (down, starting, full, or over 5 s).
- ``/callbacks``: list, make by hand, cancel (api/callbacks.py).
- ``/results``: lab results put in, listed, read, cancelled, audited (api/results.py).

Bodies and queries are checked by the models in api/models.py (400/413/415/422,
naming the field); every error is JSON (api/errors.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from callrouter.api.auth import token_auth
from callrouter.api.callbacks import add_callback_routes
from callrouter.api.errors import ApiError, errors
from callrouter.api.facade import AdminFacade
from callrouter.api.models import (
    MAX_BODY_BYTES,
    AbandonedQuery,
    AgentCommandBody,
    PauseBody,
    PriorityBody,
    read_body,
    read_query,
)
from callrouter.api.openapi import Operation, Routes
from callrouter.api.results import ResultsDesk, add_results_routes
from callrouter.core.agents import Agent, AgentStateError
from callrouter.core.numbers import mask
from callrouter.core.queue import QueueEntry
from callrouter.core.records import CallbackRecord, CallRecord
from callrouter.metrics import Metrics

METRICS_REUSE_SECONDS = 0.25  # a /metrics page served again for this long (see metrics_route)

AGENT_COMMANDS: dict[str, type[AgentCommandBody | PauseBody]] = {
    "login": AgentCommandBody,
    "logout": AgentCommandBody,
    "pause": PauseBody,
    "resume": AgentCommandBody,
}


def agent_json(agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.agent_id,
        "state": agent.state.value,
        "since": agent.since.isoformat() if agent.since else None,
        "pause_reason": agent.pause_reason,
        "reachable": agent.reachable,
        "topics": sorted(agent.topics),
        "languages": sorted(agent.languages),
        "calls_taken": agent.calls_taken,
    }


def build_app(
    metrics: Metrics,
    health: Callable[[], dict[str, Any]],
    token: str,
    admin: AdminFacade,
    results: ResultsDesk | None = None,
) -> web.Application:
    """The admin app; ``token`` must pass ``auth.check_token`` (TokenError otherwise);
    without ``results``, no /results routes."""
    app = web.Application(
        middlewares=[errors, token_auth(token)],
        client_max_size=MAX_BODY_BYTES,
        handler_args={"auto_decompress": False},  # bodies are decoded by the routes (api/encodings.py)
    )
    routes = Routes(app)

    async def health_route(request: web.Request) -> web.Response:
        state = health()
        return web.json_response(state, status=200 if state.get("ok") else 503)

    # /metrics is open (Prometheus scrapes it without the token), and a page costs tens of ms
    # on the loop: rendered at most once per METRICS_REUSE_SECONDS, however many ask (300 at
    # once stalled the loop for 7 s, and callers were turned away as the router fell behind).
    rendered: list[tuple[float, bytes]] = []

    async def metrics_route(request: web.Request) -> web.Response:
        now = asyncio.get_running_loop().time()
        if not rendered or now - rendered[0][0] >= METRICS_REUSE_SECONDS:
            rendered[:] = [(now, generate_latest(metrics.registry))]
        return web.Response(body=rendered[0][1], headers={"Content-Type": CONTENT_TYPE_LATEST})

    text = {"type": "string"}
    routes.add(
        Operation("GET", "/health", "the router's health", statuses=(503,), secured=False), health_route
    )
    routes.add(
        Operation(
            "GET", "/metrics", "Prometheus metrics", secured=False, content_type="text/plain", answer=text
        ),
        metrics_route,
    )
    description: dict[str, Any] = {}

    async def openapi_route(request: web.Request) -> web.Response:
        return web.json_response(description)

    routes.add(Operation("GET", "/openapi.json", "this description", secured=False), openapi_route)
    _add_agent_routes(routes, admin)
    _add_queue_routes(routes, admin)
    _add_abandoned_route(routes, admin)
    add_callback_routes(routes, admin)
    if results is not None:
        add_results_routes(routes, results)
    description.update(routes.describe())
    return app


def _add_agent_routes(routes: Routes, admin: AdminFacade) -> None:
    async def agents_route(request: web.Request) -> web.Response:
        return web.json_response({"agents": [agent_json(a) for a in admin.agents()]})

    def command_route(command: str, model: type[AgentCommandBody | PauseBody]) -> Any:
        async def route(request: web.Request) -> web.Response:
            body = await read_body(request, model)
            agent_id = request.match_info["agent_id"]
            reason = body.reason if isinstance(body, PauseBody) else "admin"
            try:
                agent = admin.agent_command(agent_id, command, reason)
            except KeyError:
                raise ApiError(404, f"no agent {agent_id}") from None
            except AgentStateError as exc:
                raise ApiError(409, str(exc)) from None
            return web.json_response(agent_json(agent))

        return route

    summary = "every agent with state, and calls_taken: the calls answered since their log-in"
    routes.add(Operation("GET", "/agents", summary), agents_route)
    for command, model in AGENT_COMMANDS.items():
        operation = Operation(
            "POST", f"/agents/{{agent_id}}/{command}", f"{command} an agent", model, statuses=(404, 409)
        )
        routes.add(operation, command_route(command, model))


def caller_shown(holder: CallRecord | CallbackRecord | None) -> str:
    """The number of whoever holds a place, masked; for a caller who showed none, how
    (withheld, unparseable). Never the person's key: a keyed hash of the number."""
    if isinstance(holder, CallbackRecord):
        return mask(holder.number)
    if holder is None:
        return "unknown"
    return mask(holder.caller_number) if holder.caller_number else holder.caller_presentation


def place_json(admin: AdminFacade, position: int, entry: QueueEntry, now: datetime) -> dict[str, Any]:
    holder = admin.holder(entry)
    return {
        "position": position,
        "entry_id": entry.entry_id,
        "call_id": entry.call_id,
        "callback": isinstance(holder, CallbackRecord),  # a callback's place: no call holds it
        "line": entry.line,
        "topic": entry.topic,
        "language": entry.language,
        "priority": entry.priority,
        "waiting_seconds": round((now - entry.joined_at).total_seconds(), 1),
        "caller": caller_shown(holder),
        "offered_to": entry.offered_to,
    }


def _add_queue_routes(routes: Routes, admin: AdminFacade) -> None:
    async def queue_route(request: web.Request) -> web.Response:
        now = datetime.now(UTC)
        entries = [place_json(admin, place, entry, now) for place, entry in enumerate(admin.queue(), 1)]
        return web.json_response({"queue": entries})

    async def priority_route(request: web.Request) -> web.Response:
        entry_id = request.match_info["entry_id"]
        body = await read_body(request, PriorityBody)
        try:
            entry, position = admin.reprioritise(entry_id, body.priority)
        except KeyError:
            raise ApiError(404, f"{entry_id} is not waiting in the queue") from None
        return web.json_response(
            {"entry_id": entry.entry_id, "priority": entry.priority, "position": position}
        )

    routes.add(
        Operation("GET", "/queue", "the queue in order, numbers masked, callbacks' places marked"),
        queue_route,
    )
    routes.add(
        Operation(
            "POST",
            "/queue/{entry_id}/priority",
            "change a waiting caller's priority",
            PriorityBody,
            statuses=(404,),
        ),
        priority_route,
    )


def _add_abandoned_route(routes: Routes, admin: AdminFacade) -> None:
    async def abandoned_route(request: web.Request) -> web.Response:
        since, until = read_query(request, AbandonedQuery).window(datetime.now(UTC))
        try:
            calls = await admin.abandoned(since, until)
        except (OSError, TimeoutError):  # the store's DatabaseUnavailable is an OSError
            raise ApiError(503, "the database is unreachable; try again") from None
        return web.json_response({"since": since.isoformat(), "until": until.isoformat(), "calls": calls})

    operation = Operation(
        "GET",
        "/calls/abandoned",
        "callers who hung up while waiting (full numbers; withheld callers as withheld)",
        query=AbandonedQuery,
        statuses=(503,),
    )
    routes.add(operation, abandoned_route)
