"""ARI REST requests over WebSockets, against the real Asterisk: replies come
back to the right request, errors keep their status, and with no WebSocket
open the same client goes over HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from callrouter.ari.client import AriError, AriNotFound, HttpAriClient
from callrouter.ari.rest_ws import WsRestTransport
from devstack import rootfs
from devstack.stack import StackInfo


def client(stack: StackInfo, transport: WsRestTransport | None) -> HttpAriClient:
    return HttpAriClient(stack.ari_url, stack.ari_user, stack.ari_password, 10, transport)


async def opened(transport: WsRestTransport, count: int) -> None:
    for _ in range(100):
        if transport.connected == count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{transport.connected} of {count} REST WebSockets open")


async def gone(ari: HttpAriClient, bridge_id: str) -> None:
    """A second destroy of the bridge answers 404, its status kept over the WebSocket.
    Asterisk takes the bridge down after its reply to the first: until then, a second
    destroy finds it still there but out of the application (409), so that one is retried."""
    for _ in range(40):
        try:
            await ari.destroy_bridge(bridge_id)
        except AriNotFound:
            return
        except AriError as error:
            if error.status != 409:
                raise
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"bridge {bridge_id} destroyed twice")
    raise AssertionError(f"bridge {bridge_id} still being taken down after 2 s")


async def test_requests_go_over_the_websockets_and_replies_match(stack: StackInfo):
    transport = WsRestTransport(stack.ari_url, "wstest", stack.ari_user, stack.ari_password, connections=2)
    transport.start()
    ari = client(stack, transport)
    try:
        await opened(transport, 2)
        await ari.create_bridge("ws-test-bridge")
        await ari.destroy_bridge("ws-test-bridge")
        await gone(ari, "ws-test-bridge")
        # Many at once over both connections: every reply reaches its own request.
        names = [transport.apps[n % 2] for n in range(200)]
        found = await asyncio.gather(*(ari.application(name) for name in names))
        assert [a.name for a in found] == names
        assert ari._session is None, "nothing went over HTTP while the WebSockets were open"
    finally:
        await ari.close()


async def test_without_an_open_websocket_the_client_uses_http(stack: StackInfo):
    transport = WsRestTransport(stack.ari_url, "wstest-off", stack.ari_user, stack.ari_password)
    ari = client(stack, transport)  # never started: no WebSocket is open
    try:
        await ari.create_bridge("ws-test-http")
        await ari.destroy_bridge("ws-test-http")
        assert ari._session is not None, "the requests went over HTTP"
    finally:
        await ari.close()


def test_the_messages_match_the_installed_asterisk():
    api = rootfs.ensure_template() / "usr/share/asterisk/rest-api/events.json"
    catalogue: dict[str, Any] = json.loads(api.read_text())["models"]
    sent = {"type", "request_id", "transaction_id", "method", "uri", "query_strings", "content_type",
            "message_body"}  # fmt: skip
    read = {"request_id", "status_code", "reason_phrase", "content_type", "message_body"}
    assert sent <= set(catalogue["RESTRequest"]["properties"])
    assert read <= set(catalogue["RESTResponse"]["properties"])
    assert set(catalogue["RESTQueryStringParameter"]["properties"]) == {"name", "value"}
