"""ARI REST requests over WebSockets instead of one HTTP exchange each.

Asterisk (20.14, 21.9, 22.4 and later) answers a ``RESTRequest`` message on
an ARI WebSocket with a ``RESTResponse`` carrying the same ``request_id``. A
request then costs one small frame each way on an open connection, instead
of an HTTP request and response with headers, a URL to build and a pooled
connection to check out: the router's CPU per call was a third aiohttp client
before (bench/, py-spy).

Asterisk handles the requests of one WebSocket one after the other (in the
thread reading it), and a channel command waits until the channel's thread
has carried it out. So the transport keeps a few connections, each its own
application name that never owns a channel (``<app>-rest-<n>``), and sends
each request on the one with the fewest replies outstanding, so a request
that waits on a busy channel holds up as few others as possible. While none
is open, ``request`` returns None and the client falls back to HTTP: a
dropped WebSocket never stops a call.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from typing import Any

import aiohttp

from callrouter.ari.events import events_url, open_websocket
from callrouter.retry import Backoff

log = logging.getLogger(__name__)

Reply = tuple[int, str, Any]  # status, reason, parsed body (None when there is none)


class WsRestTransport:
    def __init__(
        self,
        base_url: str,
        app: str,
        user: str,
        password: str,
        connections: int = 2,
        timeout: float = 10.0,
        reconnect_max_seconds: float = 10.0,
    ) -> None:
        self.url = events_url(base_url)
        self.apps = [f"{app}-rest-{n}" for n in range(1, connections + 1)]
        self._headers = {"Authorization": aiohttp.encode_basic_auth(user, password)}
        self._timeout = timeout
        self._cap = reconnect_max_seconds
        self._open: dict[str, aiohttp.ClientWebSocketResponse] = {}
        self._pending: dict[str, tuple[str, asyncio.Future[Reply]]] = {}  # request id -> (app, reply)
        self._ids = itertools.count(1)
        self._in_flight: dict[str, int] = {}  # app -> replies outstanding
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None

    @property
    def connected(self) -> int:
        return len(self._open)

    def start(self) -> None:
        self._session = aiohttp.ClientSession(headers=self._headers)
        self._tasks = [asyncio.create_task(self._keep(app), name=f"ari-rest-{app}") for app in self.apps]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def request(
        self, method: str, path: str, params: dict[str, str] | None = None, body: Any = None
    ) -> Reply | None:
        """Send one request; None when no WebSocket is open (the caller uses HTTP)."""
        if not self._open:
            return None
        app = min(self._open, key=lambda name: self._in_flight.get(name, 0))
        request_id = str(next(self._ids))
        message: dict[str, Any] = {
            "type": "RESTRequest",
            "request_id": request_id,
            "transaction_id": "",
            "method": method,
            "uri": path.lstrip("/"),
        }
        if params:
            message["query_strings"] = [{"name": k, "value": v} for k, v in params.items()]
        if body is not None:
            message["content_type"] = "application/json"
            message["message_body"] = json.dumps(body)
        reply: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (app, reply)
        self._in_flight[app] = self._in_flight.get(app, 0) + 1
        try:
            await self._open[app].send_str(json.dumps(message))
            # Not asyncio.wait_for: on Python 3.11 it returns a reply that lands
            # in the same loop turn as a cancel, and the cancel is lost.
            async with asyncio.timeout(self._timeout):
                return await reply
        except KeyError as exc:  # closed between the choice and the send
            raise ConnectionResetError(f"ARI WebSocket {app} closed") from exc
        finally:
            self._pending.pop(request_id, None)
            self._in_flight[app] -= 1

    def handle(self, text: str) -> None:
        """One message from Asterisk: a reply to match (anything else is ignored)."""
        try:
            data = json.loads(text)
        except ValueError:
            log.warning("skipped a malformed message on the ARI REST WebSocket")
            return
        if not isinstance(data, dict) or data.get("type") != "RESTResponse":
            return
        pending = self._pending.get(str(data.get("request_id", "")))
        if pending is None or pending[1].done():
            return
        body: Any = None
        raw = data.get("message_body")
        if raw:
            try:
                body = json.loads(raw) if data.get("content_type") == "application/json" else raw
            except ValueError:
                body = raw
        pending[1].set_result((int(data.get("status_code", 500)), str(data.get("reason_phrase", "")), body))

    async def _keep(self, app: str) -> None:
        """Keep one WebSocket open: connect, read replies, reconnect with backoff."""
        assert self._session is not None
        backoff = Backoff(self._cap)
        while True:
            try:
                async with await open_websocket(self._session, self.url, app) as ws:
                    self._open[app] = ws
                    backoff.reset()
                    async for message in ws:
                        if message.type is aiohttp.WSMsgType.TEXT:
                            self.handle(message.data)
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                log.warning("ARI REST WebSocket %s unavailable: %s", app, exc)
            finally:
                self._open.pop(app, None)
                self._fail(app)
            await backoff.wait()

    def _fail(self, app: str) -> None:
        for _, (owner, reply) in list(self._pending.items()):
            if owner == app and not reply.done():
                reply.set_exception(ConnectionResetError(f"ARI WebSocket {app} closed"))
