"""Matching replies on the REST WebSocket: bad or stray messages never break it."""

from __future__ import annotations

import asyncio
import json

from callrouter.ari.rest_ws import Reply, WsRestTransport


def transport_with(request_id: str) -> tuple[WsRestTransport, asyncio.Future[Reply]]:
    transport = WsRestTransport("http://127.0.0.1:1", "app", "u", "p")
    reply: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
    transport._pending[request_id] = ("app-rest-1", reply)
    return transport, reply


def response(request_id: str, **extra: object) -> str:
    return json.dumps({"type": "RESTResponse", "request_id": request_id, "status_code": 200,
                       "reason_phrase": "OK", **extra})  # fmt: skip


async def test_a_reply_resolves_its_request_with_the_parsed_body():
    transport, reply = transport_with("7")
    transport.handle(response("7", content_type="application/json", message_body='{"id": "x"}'))
    assert reply.result() == (200, "OK", {"id": "x"})


async def test_stray_and_malformed_messages_are_ignored():
    transport, reply = transport_with("7")
    for text in ("not json", "[1, 2]", '{"type": "StasisStart"}', response("8"), response("")):
        transport.handle(text)
    assert not reply.done()
    transport.handle(response("7", content_type="application/json", message_body="{broken"))
    assert reply.result() == (200, "OK", "{broken")


async def test_a_closed_connection_fails_only_its_own_requests():
    transport, mine = transport_with("1")
    other: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
    transport._pending["2"] = ("app-rest-2", other)
    transport._fail("app-rest-1")
    assert isinstance(mine.exception(), ConnectionResetError)
    assert not other.done()


async def test_no_open_websocket_means_no_request():
    transport = WsRestTransport("http://127.0.0.1:1", "app", "u", "p")
    assert await transport.request("GET", "/applications") is None


class FakeSocket:
    def __init__(self) -> None:
        self.sent: list[dict[str, object]] = []

    async def send_str(self, text: str) -> None:
        self.sent.append(json.loads(text))


async def test_a_request_goes_to_the_connection_with_fewest_replies_outstanding():
    transport = WsRestTransport("http://127.0.0.1:1", "app", "u", "p", connections=2)
    one, two = FakeSocket(), FakeSocket()
    transport._open = {"app-rest-1": one, "app-rest-2": two}  # type: ignore[dict-item]
    slow = asyncio.create_task(transport.request("POST", "/bridges/b1/addChannel", {"channel": "c1"}))
    await asyncio.sleep(0)
    assert len(one.sent) == 1, "the first goes to the first connection"
    quick = asyncio.create_task(transport.request("DELETE", "/channels/c2"))
    await asyncio.sleep(0)
    assert len(two.sent) == 1, "the first still waits: the second goes elsewhere"
    assert one.sent[0]["query_strings"] == [{"name": "channel", "value": "c1"}]
    assert one.sent[0]["uri"] == "bridges/b1/addChannel"
    transport.handle(response(str(two.sent[0]["request_id"])))
    assert await quick == (200, "OK", None)
    third = asyncio.create_task(transport.request("GET", "/channels"))
    await asyncio.sleep(0)
    assert len(two.sent) == 2, "the second connection is free again"
    for sock in (one, two):
        transport.handle(response(str(sock.sent[-1]["request_id"])))
    assert await slow == (200, "OK", None)
    assert await third == (200, "OK", None)


async def test_a_cancel_is_kept_when_the_reply_arrives_in_the_same_turn():
    """The router stops by cancelling its tasks. A reply that lands in the same
    loop turn as the cancel must not swallow it (asyncio.wait_for on Python
    3.11 did: a stopping router then ran on for a minute)."""
    transport = WsRestTransport("http://127.0.0.1:1", "app", "u", "p", connections=1)
    socket = FakeSocket()
    transport._open["app-rest-1"] = socket  # type: ignore[assignment]
    task = asyncio.create_task(transport.request("GET", "/asterisk/info"))
    await asyncio.sleep(0)  # the request is sent and waits for its reply
    assert socket.sent, "the request went out"
    transport.handle(response(str(socket.sent[0]["request_id"])))
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    else:
        raise AssertionError("the reply swallowed the cancel")
    assert transport._pending == {}
