"""The admin HTTP server (aiohttp): /health and /metrics open, the rest behind a token.

- ``GET /agents``: every agent with state.
- ``POST /agents/{id}/{login|logout|pause|resume}``: change state (JSON ``{"reason": ...}``
  for a pause); 409 when the change is not possible now (e.g. logging out mid-call).
- ``GET /queue``: the queue in order, numbers masked.
- ``POST /queue/{entry_id}/priority``: ``{"priority": N}``; the queue reorders at once.
- ``GET /calls/abandoned?since=&until=``: callers who hung up while waiting, with full
  numbers, for operators to phone back (ISO 8601 times; default the last 24 hours).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from callrouter.core.agents import Agent, AgentStateError
from callrouter.core.numbers import mask
from callrouter.core.queue import QueueError
from callrouter.metrics import Metrics

if TYPE_CHECKING:
    from callrouter.calls.centre import CentreRunner

OPEN_PATHS = {"/health", "/metrics"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
AbandonedQuery = Callable[[datetime, datetime], Awaitable[list[dict[str, Any]]]]


def token_auth(token: str | None) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in OPEN_PATHS:
            return await handler(request)
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token is None or not hmac.compare_digest(given.encode(), token.encode()):
            return web.json_response({"error": "a valid bearer token is required"}, status=401)
        return await handler(request)

    return middleware


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


def _time_param(request: web.Request, name: str, default: datetime) -> datetime:
    text = request.query.get(name)
    if not text:
        return default
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name}: not an ISO 8601 time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def build_app(
    metrics: Metrics,
    health: Callable[[], dict[str, Any]],
    token: str | None,
    centre: CentreRunner | None = None,
    abandoned: AbandonedQuery | None = None,
) -> web.Application:
    app = web.Application(middlewares=[token_auth(token)])

    async def health_route(request: web.Request) -> web.Response:
        state = health()
        return web.json_response(state, status=200 if state.get("ok") else 503)

    async def metrics_route(request: web.Request) -> web.Response:
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/health", health_route)
    app.router.add_get("/metrics", metrics_route)
    if centre is not None:
        _add_centre_routes(app, centre)
    if abandoned is not None:

        async def abandoned_route(request: web.Request) -> web.Response:
            now = datetime.now(UTC)
            since = _time_param(request, "since", now - timedelta(days=1))
            until = _time_param(request, "until", now)
            return web.json_response({"since": since.isoformat(), "until": until.isoformat(),
                                      "calls": await abandoned(since, until)})  # fmt: skip

        app.router.add_get("/calls/abandoned", abandoned_route)
    return app


def _add_centre_routes(app: web.Application, centre: CentreRunner) -> None:
    async def agents_route(request: web.Request) -> web.Response:
        agents = sorted(centre.centre.agents.values(), key=lambda a: a.agent_id)
        return web.json_response({"agents": [agent_json(a) for a in agents]})

    async def agent_command_route(request: web.Request) -> web.Response:
        agent_id, command = request.match_info["agent"], request.match_info["command"]
        if agent_id not in centre.centre.agents:
            return web.json_response({"error": f"no agent {agent_id}"}, status=404)
        if command not in ("login", "logout", "pause", "resume"):
            return web.json_response({"error": f"unknown command {command}"}, status=404)
        reason = ""
        if request.can_read_body:
            body = await request.json()
            reason = str(body.get("reason", "")) if isinstance(body, dict) else ""
        try:
            agent = centre.agent_command(agent_id, command, reason or "admin")
        except AgentStateError as exc:
            return web.json_response({"error": str(exc)}, status=409)
        return web.json_response(agent_json(agent))

    async def queue_route(request: web.Request) -> web.Response:
        now = datetime.now(UTC)
        entries = []
        for place, entry in enumerate(centre.centre.queue.ordered(), 1):
            entries.append(
                {
                    "position": place,
                    "entry_id": entry.entry_id,
                    "line": entry.line,
                    "topic": entry.topic,
                    "language": entry.language,
                    "priority": entry.priority,
                    "waiting_seconds": round((now - entry.joined_at).total_seconds(), 1),
                    "caller": mask(entry.caller_key) if entry.caller_key else "withheld",
                    "offered_to": entry.offered_to,
                }
            )
        return web.json_response({"queue": entries})

    app.router.add_get("/agents", agents_route)
    app.router.add_post("/agents/{agent}/{command}", agent_command_route)

    async def priority_route(request: web.Request) -> web.Response:
        entry_id = request.match_info["entry"]
        try:
            body = await request.json()
            priority = int(body["priority"])
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": 'send {"priority": N}'}, status=400)
        if not 0 <= priority <= 1000:
            return web.json_response({"error": "priority is 0-1000"}, status=400)
        try:
            entry = centre.reprioritise(entry_id, priority)
        except (QueueError, KeyError):
            return web.json_response({"error": f"{entry_id} is not waiting in the queue"}, status=404)
        waiting = entry.offered_to is None
        position = centre.centre.queue.position(entry_id) if waiting else None
        return web.json_response(
            {"entry_id": entry.entry_id, "priority": entry.priority, "position": position}
        )

    app.router.add_get("/queue", queue_route)
    app.router.add_post("/queue/{entry}/priority", priority_route)
