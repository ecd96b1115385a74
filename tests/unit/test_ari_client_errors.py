"""What the ARI client raises when Asterisk's HTTP answer breaks off: the errors every
caller handles ((AriError, OSError, TimeoutError)), never aiohttp's own. A
ServerDisconnectedError (neither OSError nor timeout) used to end the periodic check
against Asterisk for good, and to drop a channel's command without a word."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from callrouter.ari.client import AriError, HttpAriClient


async def cut_short(request: web.Request) -> web.StreamResponse:
    """Headers of a JSON answer promising more than comes, then the connection closed."""
    response = web.StreamResponse(headers={"Content-Type": "application/json", "Content-Length": "100"})
    await response.prepare(request)
    await response.write(b'{"id": ')
    assert request.transport is not None
    request.transport.close()
    return response


async def hung_up(request: web.Request) -> web.StreamResponse:
    """No answer at all: the connection closed as soon as the request came."""
    assert request.transport is not None
    request.transport.close()
    await asyncio.sleep(1)
    return web.Response()


async def not_json(request: web.Request) -> web.Response:
    return web.Response(text="{not json", content_type="application/json")


async def no_channel(request: web.Request) -> web.Response:
    return web.json_response({"id": "c1"})  # a channel without its other fields


@pytest.mark.parametrize(
    "handler",
    [cut_short, hung_up, not_json, no_channel],
    ids=["body-cut-short", "no-answer", "not-json", "not-a-channel"],
)
async def test_an_answer_broken_off_or_unreadable_is_an_ari_error(handler: object) -> None:
    app = web.Application()
    app.router.add_get("/ari/channels/{id}", handler)  # type: ignore[arg-type]
    async with TestServer(app) as server:
        client = HttpAriClient(str(server.make_url("")), "user", "secret")
        try:
            with pytest.raises(AriError) as caught:
                await client.get_channel("c1")
            assert caught.value.status == 0 and "GET /channels/c1" in str(caught.value)
        finally:
            await client.close()


async def test_an_error_names_no_number_the_request_carried() -> None:
    """aiohttp's own words name the whole URL, a dialled number in its query: the error
    (which the router logs) says the path and what went wrong only."""

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 2x0 garbage\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(garbage, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = HttpAriClient(f"http://127.0.0.1:{port}", "user", "secret")
    try:
        with pytest.raises(AriError) as caught:
            await client.originate(
                "results-n1", "PJSIP/+79161234567@trunk", "callrouter", "results,n1", 30, ""
            )
        assert "79161234567" not in str(caught.value), caught.value
    finally:
        await client.close()
        server.close()
        await server.wait_closed()
