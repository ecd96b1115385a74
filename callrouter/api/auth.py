"""The admin API's one credential: ``Authorization: Bearer <CALLROUTER_ADMIN_TOKEN>``.

The token is required: unset, empty, shorter than 16 characters, or holding
anything but printable ASCII (it travels in an HTTP header), the router refuses
to start. There is no "no authentication" mode; /health, /metrics and
/openapi.json are the only open paths.
"""

from __future__ import annotations

import hmac

from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware

from callrouter.api.errors import ApiError, Handler

TOKEN_VARIABLE = "CALLROUTER_ADMIN_TOKEN"
MIN_TOKEN_LENGTH = 16
OPEN_PATHS = frozenset({"/health", "/metrics", "/openapi.json"})


class TokenError(ValueError):
    """The configured token cannot protect the admin API; the message says why."""


def check_token(token: str | None) -> str:
    """The token, if it may guard the admin API; else TokenError naming the variable."""
    advice = f"set it to at least {MIN_TOKEN_LENGTH} random characters, e.g. `openssl rand -hex 32`"
    if token is None:
        raise TokenError(f"{TOKEN_VARIABLE} is not set: the admin API needs a bearer token; {advice}")
    if not token:
        raise TokenError(f"{TOKEN_VARIABLE} is empty: an empty token never disables authentication; {advice}")
    if len(token) < MIN_TOKEN_LENGTH:
        raise TokenError(f"{TOKEN_VARIABLE} is too short ({len(token)} characters); {advice}")
    if not all("!" <= char <= "~" for char in token):
        raise TokenError(
            f"{TOKEN_VARIABLE} may hold only printable ASCII without spaces (it is sent in an HTTP header)"
        )
    return token


def bearer_credentials(header: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme in any case), else None."""
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip() or None


def token_auth(token: str) -> Middleware:
    expected = check_token(token).encode()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in OPEN_PATHS:
            return await handler(request)
        given = bearer_credentials(request.headers.get(hdrs.AUTHORIZATION, ""))
        # compare_digest takes as long for a wrong token as for a right one.
        if given is None or not hmac.compare_digest(given.encode("utf-8", "replace"), expected):
            error = ApiError(401, f"send Authorization: Bearer <{TOKEN_VARIABLE}>")
            answer = error.response()
            answer.headers[hdrs.WWW_AUTHENTICATE] = 'Bearer realm="callrouter"'
            return answer
        return await handler(request)

    return middleware
