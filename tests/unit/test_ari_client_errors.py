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


@pytest.mark.parametrize("handler", [cut_short, hung_up], ids=["body-cut-short", "no-answer"])
async def test_an_answer_broken_off_is_an_ari_error(handler: object) -> None:
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
