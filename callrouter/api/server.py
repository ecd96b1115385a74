"""The admin HTTP server (aiohttp): /health and /metrics open, the rest behind a token."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from callrouter.metrics import Metrics

OPEN_PATHS = {"/health", "/metrics"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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


def build_app(metrics: Metrics, health: Callable[[], dict[str, Any]], token: str | None) -> web.Application:
    app = web.Application(middlewares=[token_auth(token)])

    async def health_route(request: web.Request) -> web.Response:
        state = health()
        return web.json_response(state, status=200 if state.get("ok") else 503)

    async def metrics_route(request: web.Request) -> web.Response:
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/health", health_route)
    app.router.add_get("/metrics", metrics_route)
    return app
