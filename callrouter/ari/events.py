"""The application's events WebSocket: connect, read, reconnect with capped backoff.

A malformed event is logged and skipped; an unknown event type is counted and
ignored. ``ApplicationReplaced`` (another router took the app) stops the
stream for good: the router must stop acting at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import aiohttp

from callrouter.ari.models import EVENT_TYPES, ApplicationReplaced, BadEvent, Event, parse_event
from callrouter.metrics import Metrics
from callrouter.retry import Backoff

log = logging.getLogger(__name__)

EventHandler = Callable[[Event], None]
ConnectHook = Callable[[], Awaitable[None]]


class Replaced(Exception):
    """Another WebSocket subscribed to our application."""


HANDSHAKE_SECONDS = 10.0
# The ``type`` label of callrouter_ari_events_total: every event type the router
# reads, then the ones it skips. Given to Metrics at wiring time (app.py).
OTHER, MALFORMED = "other", "malformed"
EVENT_LABELS = (*EVENT_TYPES, OTHER, MALFORMED)


async def open_websocket(
    session: aiohttp.ClientSession, url: str, app: str
) -> aiohttp.ClientWebSocketResponse:
    """Open an ARI WebSocket for ``app``. A handshake Asterisk does not finish
    within ``HANDSHAKE_SECONDS`` raises TimeoutError (aiohttp alone would wait
    five minutes, without a word in the log)."""
    try:
        async with asyncio.timeout(HANDSHAKE_SECONDS):
            return await session.ws_connect(url, params={"app": app, "subscribeAll": "false"}, heartbeat=20)
    except TimeoutError as exc:
        raise TimeoutError(
            f"Asterisk finished no WebSocket handshake within {HANDSHAKE_SECONDS:g} s"
        ) from exc


def events_url(base_url: str) -> str:
    """The ARI events WebSocket address for an ARI base address (http -> ws)."""
    ws_base = base_url.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    return f"{ws_base}/ari/events"


class EventStream:
    def __init__(
        self,
        base_url: str,
        app: str,
        user: str,
        password: str,
        metrics: Metrics,
        reconnect_max_seconds: float = 10.0,
    ) -> None:
        self.url = events_url(base_url)
        self.app = app
        self._headers = {"Authorization": aiohttp.encode_basic_auth(user, password)}
        self._metrics = metrics
        self._cap = reconnect_max_seconds
        self.connected = asyncio.Event()
        # Connected, and the connect hook done (calls found in Asterisk taken up): ready.
        self.ready = asyncio.Event()

    async def run(self, handler: EventHandler, on_connect: ConnectHook) -> None:
        """Read events until cancelled or replaced; reconnect on any drop."""
        backoff = Backoff(self._cap)
        async with aiohttp.ClientSession(headers=self._headers) as session:
            while True:
                try:
                    async with await open_websocket(session, self.url, self.app) as ws:
                        self._set_connected(True)
                        backoff.reset()
                        log.info("ARI events connected", extra={"app": self.app})
                        await on_connect()
                        self.ready.set()
                        await self._read(ws, handler)
                    log.warning("ARI events closed by Asterisk; reconnecting")
                except Replaced:
                    self._set_connected(False)
                    raise
                except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                    log.warning("ARI events unavailable: %s", exc.__class__.__name__ + f": {exc}")
                self._set_connected(False)
                await backoff.wait()

    def _set_connected(self, up: bool) -> None:
        self._metrics.ari_connected.set(1 if up else 0)
        if up:
            self.connected.set()
        else:
            self.connected.clear()
            self.ready.clear()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse, handler: EventHandler) -> None:
        async for message in ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                if message.type is aiohttp.WSMsgType.ERROR:
                    log.warning("ARI events error: %s", ws.exception())
                continue
            self.handle_text(message.data, handler)

    def handle_text(self, text: str, handler: EventHandler) -> None:
        """Parse and dispatch one message; never raises but for ``Replaced``."""
        try:
            event = parse_event(text)
        except BadEvent as exc:
            self._metrics.ari_events.labels(type=MALFORMED).inc()
            log.warning("skipped a malformed ARI event: %s", exc)
            return
        if event is None:
            self._metrics.ari_events.labels(type=OTHER).inc()
            return
        self._metrics.ari_events.labels(type=event.type).inc()
        lag = (datetime.now(UTC) - event.timestamp).total_seconds()
        self._metrics.ari_event_lag.observe(max(lag, 0.0))
        if isinstance(event, ApplicationReplaced):
            log.error("another router took over application %s: stopping", self.app)
            raise Replaced(self.app)
        started = asyncio.get_running_loop().time()
        try:
            handler(event)
        except Exception:
            log.exception("handling %s failed; event skipped", event.type)
        finally:
            self._metrics.event_handling.observe(asyncio.get_running_loop().time() - started)
