"""Every route of the app needs the token, except the few listed in PUBLIC with a reason.

The matrix is generated from the app's own routes: a new route is tested without anyone writing
a test for it, and a new route that is meant to be public fails until it is added to PUBLIC.
"""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from starlette.routing import BaseRoute, Mount, Route

from tests.chaos import report
from tests.integration.api.conftest import Api, StartApi, close_code, next_frame

PUBLIC: dict[str, str] = {
    "/api/v1/health": "monitors and load balancers probe it without credentials",
    "/": "the dashboard's HTML shell: no data, the token is entered in the page",
    "/openapi.json": "the API's schema (the issue asks for OpenAPI at /docs)",
    "/docs": "Swagger UI over the schema",
    "/docs/oauth2-redirect": "part of Swagger UI",
    "/redoc": "ReDoc over the schema",
    "/assets": "the dashboard's static files (scripts, styles): no data",
}
"""Paths that answer without a token, and why. Static mounts (the dashboard's assets) go here too."""


def _app(api: Api) -> FastAPI:
    app: Any = api.api.server.config.app
    assert isinstance(app, FastAPI)
    return app


def _routes(api: Api) -> list[tuple[str, BaseRoute]]:
    """(full path, route) of every route, however the routers were nested."""
    return [(ctx.path or "", ctx.original_route) for ctx in iter_route_contexts(_app(api).routes)]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


EVIL_ORIGIN = {"Origin": "https://evil.example"}


@pytest.mark.chaos
async def test_every_http_route_refuses_requests_without_a_valid_token(start: StartApi) -> None:
    # A generous lockout threshold and request rate: this test sends a wrong token to every route on
    # purpose, four requests a route as fast as it can (a 429 would hide whether the token counted).
    api = await start(auth_max_failures=10_000, api_rate_limit=100_000, api_rate_burst=100_000)
    checked = probes = 0
    for path, route in _routes(api):
        if isinstance(route, APIWebSocketRoute):
            continue
        if isinstance(route, Mount):
            assert path in PUBLIC, f"mount {path} serves without a token: add it to PUBLIC"
            continue
        assert isinstance(route, APIRoute | Route), route
        for method in sorted((route.methods or set()) - {"HEAD", "OPTIONS"}):
            url = api.url(_concrete(path))
            async with api.http.request(method, url) as response:
                if path in PUBLIC:
                    assert response.status < 400, (method, path, response.status)
                    continue
                assert response.status == 401, f"{method} {path} answered {response.status} without a token"
                assert response.headers.get("WWW-Authenticate") == "Bearer"
            async with api.http.request(method, url, headers={"Authorization": "Bearer wrong"}) as response:
                assert response.status == 401, f"{method} {path} answered {response.status} to a wrong token"
            # A token in the query string is no token (it would end up in access logs).
            async with api.http.request(method, f"{url}?token={api.token}") as response:
                assert response.status == 401, f"{method} {path} took a token from the query string"
            # A page on another site cannot ride on the browser: without the token it gets nothing.
            async with api.http.request(method, url, headers=EVIL_ORIGIN) as response:
                assert response.status == 401, (
                    f"{method} {path} answered {response.status} to a foreign Origin"
                )
                assert "Access-Control-Allow-Origin" not in response.headers
            async with api.http.request(method, url, headers=api.auth) as response:
                assert response.status not in {401, 403}, f"{method} {path} refused the right token"
            checked += 1
            probes += 5
    report("api_auth_matrix_http", routes=checked, probes=probes, bypasses=0)
    assert checked >= 10


@pytest.mark.chaos
async def test_every_websocket_refuses_a_missing_or_wrong_token_or_a_foreign_origin(start: StartApi) -> None:
    api = await start(ws_auth_timeout_s=0.3, auth_max_failures=10_000)
    paths = [path for path, route in _routes(api) if isinstance(route, APIWebSocketRoute)]
    assert len(paths) >= 4
    for path in paths:
        url = api.ws_url(_concrete(path))
        silent = await api.http.ws_connect(url)
        assert await close_code(silent) == 4401, path
        wrong = await api.http.ws_connect(url, protocols=("streambot.v1", "token.wrong"))
        assert await close_code(wrong) == 4401, path
        # A token in the query string is not a way in (it would end up in access logs).
        queried = await api.http.ws_connect(f"{url}?token={api.token}")
        assert await close_code(queried) == 4401, path
        # The right token from a page on another site (cross-site WebSocket hijacking): refused.
        foreign = await api.ws(_concrete(path), origin=EVIL_ORIGIN["Origin"])
        assert await close_code(foreign) == 4403, path
    report("api_auth_matrix_websocket", sockets=len(paths), probes=4 * len(paths), bypasses=0)


async def test_wrong_tokens_lock_the_guesser_out_never_the_owner(start: StartApi) -> None:
    api = await start(auth_max_failures=10)
    url = api.url("/api/v1/bots")
    for _ in range(10):
        async with api.http.get(url, headers={"Authorization": "Bearer guess"}) as response:
            assert response.status == 401
    # The 11th wrong token from 127.0.0.1 is locked out, and so is a request with none.
    for headers in ({"Authorization": "Bearer guess"}, {}):
        async with api.http.get(url, headers=headers) as response:
            assert response.status == 429
            assert int(response.headers["Retry-After"]) > 0
    # The owner shares the address and presents the right token: never locked out.
    async with api.http.get(url, headers=api.auth) as response:
        assert response.status == 200
    async with api.http.get(api.url("/api/v1/health")) as response:
        assert response.status == 200
    # The dashboard's page asks for no token (it carries one in its address for the API calls):
    # the owner opening it from the locked address gets it.
    async with api.http.get(api.url("/?token=x")) as response:
        assert response.status == 200
    owner = await api.ws("/api/v1/ws/market")
    assert (await next_frame(owner))["type"] == "hello"
    await owner.close()
    guesser = await api.ws("/api/v1/ws/market", token="guess")
    assert await close_code(guesser) == 4429


async def test_request_rate_is_limited_per_address(start: StartApi) -> None:
    api = await start(api_rate_limit=1.0, api_rate_burst=5)
    statuses = []
    for _ in range(8):
        async with api.http.get(api.url("/api/v1/bots"), headers=api.auth) as response:
            statuses.append(response.status)
    assert statuses[:5] == [200] * 5
    assert 429 in statuses[5:]


async def test_cors_is_off_unless_configured(start: StartApi) -> None:
    api = await start()
    preflight = {"Origin": "https://dash.example", "Access-Control-Request-Method": "GET"}
    async with api.http.options(api.url("/api/v1/bots"), headers=preflight) as response:
        assert "Access-Control-Allow-Origin" not in response.headers
    configured = await start(cors_origins="https://dash.example")
    async with aiohttp.ClientSession() as http:
        async with http.options(configured.url("/api/v1/bots"), headers=preflight) as response:
            assert response.headers.get("Access-Control-Allow-Origin") == "https://dash.example"
        async with http.get(
            configured.url("/api/v1/bots"), headers={**configured.auth, "Origin": "https://other.example"}
        ) as response:
            assert "Access-Control-Allow-Origin" not in response.headers
