"""Who may call the admin API: the token rule, every route behind it but the
open ones, and the description of the routes."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from callrouter.api.auth import TokenError, bearer_credentials, check_token
from callrouter.api.models import CancelBody, FollowUpBody, PauseBody, PriorityBody
from callrouter.api.openapi import REF
from callrouter.api.server import build_app
from callrouter.core.records import CallbackState
from callrouter.metrics import Metrics
from tests.unit.admin_api.harness import AUTH, TOKEN, Abandoned, Board, Callbacks, admin_of, call

SECURED = [
    ("GET", "/agents"),
    ("POST", "/agents/agent1/login"),
    ("POST", "/agents/agent1/logout"),
    ("POST", "/agents/agent1/pause"),
    ("POST", "/agents/agent1/resume"),
    ("GET", "/queue"),
    ("POST", "/queue/e1/priority"),
    ("GET", "/calls/abandoned"),
    ("GET", "/callbacks"),
    ("POST", "/callbacks"),
    ("POST", "/callbacks/cb-1/cancel"),
]
OPEN = ["/health", "/metrics", "/openapi.json"]
WRONG_AUTHORIZATION = {
    "none": None,
    "empty": "",
    "scheme only": "Bearer",
    "scheme and space": "Bearer ",
    "wrong token": "Bearer wrong-token-0123456789abc",
    "a prefix of the token": f"Bearer {TOKEN[:-1]}",
    "the token and more": f"Bearer {TOKEN}x",
    "no scheme": TOKEN,
    "another scheme": f"Basic {TOKEN}",
    "scheme glued on": f"Bearer{TOKEN}",
}


# -- the token --------------------------------------------------------------------


@pytest.mark.parametrize(
    "token", [None, "", "short", "x" * 15, " " * 20, "sixteen-chars-but space", "ünicode-token-0123456"]
)
def test_a_token_that_cannot_protect_the_api_is_refused(token: str | None):
    with pytest.raises(TokenError, match="CALLROUTER_ADMIN_TOKEN"):
        check_token(token)


def test_a_sixteen_character_token_is_enough():
    assert check_token("x" * 16) == "x" * 16


def test_the_app_cannot_be_built_without_a_usable_token(centre: Board, abandoned: Abandoned):
    for token in ("", "short"):
        with pytest.raises(TokenError, match="CALLROUTER_ADMIN_TOKEN"):
            build_app(Metrics(), lambda: {"ok": True}, token, admin_of(centre, abandoned))


def test_only_the_bearer_scheme_carries_the_token():
    assert bearer_credentials(f"Bearer {TOKEN}") == TOKEN
    assert bearer_credentials(f"bearer  {TOKEN} ") == TOKEN, "the scheme is case-insensitive (RFC 9110)"
    assert bearer_credentials(TOKEN) is None
    assert bearer_credentials(f"Basic {TOKEN}") is None
    assert bearer_credentials("Bearer ") is None


@pytest.mark.parametrize("method,path", SECURED)
@pytest.mark.parametrize("authorization", WRONG_AUTHORIZATION.values(), ids=WRONG_AUTHORIZATION.keys())
async def test_every_route_but_the_open_ones_needs_the_right_token(
    client: TestClient[Any, Any], centre: Board, abandoned: Abandoned, callbacks: Callbacks, method: str,
    path: str, authorization: str | None,
):  # fmt: skip
    headers = {"Authorization": authorization} if authorization is not None else {}
    body = {"priority": 5, "number": "+79161234567", "line": "clinic-central", "topic": "operator"}
    async with client.request(method, path, headers=headers, json=body) as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "CALLROUTER_ADMIN_TOKEN" in (await response.json())["error"]
    assert centre.centre.agents["agent1"].state.value == "logged_out", "nothing changed"
    assert abandoned.asked == [] and callbacks.asked == [], "no numbers were read"
    assert not centre.board.callbacks, "no callback was made"


@pytest.mark.parametrize("method,path", SECURED)
async def test_the_right_token_opens_every_route(client: TestClient[Any, Any], method: str, path: str):
    async with client.request(method, path, headers=AUTH) as response:
        assert response.status != 401, await response.text()
        assert response.status < 500


async def test_the_scheme_may_be_in_any_case(client: TestClient[Any, Any]):
    status, _ = await call(client, "GET", "/agents", headers={"Authorization": f"bEaReR {TOKEN}"})
    assert status == 200


@pytest.mark.parametrize("path", OPEN)
async def test_health_metrics_and_the_description_are_open(client: TestClient[Any, Any], path: str):
    async with client.get(path) as response:
        assert response.status == 200


async def test_an_unknown_route_is_a_json_404_but_only_with_the_token(client: TestClient[Any, Any]):
    assert (await call(client, "GET", "/nowhere"))[0] == 401, "no token: nothing to learn about routes"
    status, body = await call(client, "GET", "/nowhere", headers=AUTH)
    assert status == 404 and "error" in body
    status, body = await call(client, "POST", "/agents/agent1/fly", headers=AUTH)
    assert status == 404
    status, body = await call(client, "DELETE", "/agents", headers=AUTH)
    assert status == 405 and "error" in body


# -- the description ----------------------------------------------------------------


async def test_the_description_lists_every_route_with_the_models_schemas(client: TestClient[Any, Any]):
    status, doc = await call(client, "GET", "/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.1")
    registered = {
        (route.method, route.resource.canonical)
        for route in client.app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    described = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    assert registered == described
    schemas = doc["components"]["schemas"]
    for model in (PauseBody, PriorityBody, FollowUpBody, CancelBody):
        assert schemas[model.__name__] == model.model_json_schema(ref_template=REF)
    priority = doc["paths"]["/queue/{entry_id}/priority"]["post"]
    assert priority["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("PriorityBody")
    assert priority["security"] == [{"bearer": []}]
    assert doc["paths"]["/health"]["get"]["security"] == []
    states = doc["paths"]["/callbacks"]["get"]["parameters"][0]
    assert states["name"] == "state" and states["schema"]["enum"] == [s.value for s in CallbackState]


async def test_metrics_asked_many_times_at_once_are_rendered_once_and_fresh_after_a_moment(
    monkeypatch: pytest.MonkeyPatch,
):
    """/metrics is open: a flood of scrapes must not each cost a page's render on the loop."""
    import asyncio

    from aiohttp.test_utils import TestServer

    import callrouter.api.server as server

    renders = 0
    from prometheus_client import generate_latest as real

    def counted(registry: Any) -> bytes:
        nonlocal renders
        renders += 1
        return real(registry)

    monkeypatch.setattr(server, "generate_latest", counted)
    metrics = Metrics()
    app = build_app(metrics, lambda: {"ok": True}, TOKEN, admin_of(Board(), Abandoned()))
    async with TestClient(TestServer(app)) as client:

        async def scrape() -> str:
            async with client.get("/metrics") as response:
                assert response.status == 200
                return await response.text()

        pages = await asyncio.gather(*(scrape() for _ in range(50)))
        assert renders == 1 and len(set(pages)) == 1
        metrics.ari_errors.labels(command="test").inc()
        await asyncio.sleep(server.METRICS_REUSE_SECONDS + 0.05)
        assert 'command="test"' in await scrape() and renders == 2, "a moment later: rendered anew"
