"""How the admin API answers when it cannot do what was asked: always JSON.

``ApiError`` carries a status and the problems (each naming its field); the
``errors`` middleware renders it, turns aiohttp's own HTTP errors (404, 405,
413...) into the same JSON shape, and is the last resort for a bug: one log
line (the route and where it failed, never the request's data) and a JSON 500
with no traceback.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import ValidationError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Problem:
    field: str  # "priority", "since", "body" (the body as a whole)...
    where: str  # "body", "query" or "path"
    message: str

    def json(self) -> dict[str, str]:
        return {"field": self.field, "in": self.where, "message": self.message}


class ApiError(Exception):
    """An answer other than success, for the client to correct or retry."""

    def __init__(
        self,
        status: int,
        message: str,
        problems: list[Problem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = problems or []
        self.headers = headers or {}  # Retry-After on a 503...

    def response(self) -> web.Response:
        body: dict[str, Any] = {"error": self.message}
        if self.problems:
            body["problems"] = [p.json() for p in self.problems]
        return web.json_response(body, status=self.status, headers=self.headers)


def invalid(exc: ValidationError, where: str) -> ApiError:
    """A pydantic error as a 400 (not JSON at all) or a 422 (JSON of the wrong shape).
    Only the field and the rule are kept: never the value sent."""
    problems = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        field = ".".join(str(part) for part in err["loc"]) or where
        message = err["msg"].removeprefix("Value error, ")
        problems.append(Problem(field, where, message))
    status = 400 if any(err["type"] == "json_invalid" for err in exc.errors()) else 422
    return ApiError(status, "; ".join(f"{p.field}: {p.message}" for p in problems), problems)


def _where(exc: BaseException) -> str:
    """The innermost frame of a failure as ``file.py:123 in function``."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{Path(last.filename).name}:{last.lineno} in {last.name}"


def _route_name(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "(no route)"


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = f"{request.method} {request.path}: {exc.reason}"
        answer = ApiError(exc.status, message).response()
        if exc.status == 405:
            answer.headers["Allow"] = exc.headers.get("Allow", "")
        return answer
    except Exception as exc:
        # The route's pattern, not its path, and no exception message: either may
        # carry a caller's number. Input never gets here (tests/e2e/test_admin_api.py fuzzes
        # every route; tests/unit/admin_api/test_input.py).
        log.error(
            "admin API: %s %s failed: %s at %s",
            request.method,
            _route_name(request),
            type(exc).__name__,
            _where(exc),
        )
        return ApiError(500, "internal error").response()
