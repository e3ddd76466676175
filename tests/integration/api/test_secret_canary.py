"""Canary secrets must never show up in logs, responses, WebSocket frames or tracebacks."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from streambot.events import RiskHalted
from streambot.observability.logging import RedactSecrets
from tests.chaos import report
from tests.integration.api.conftest import StartApi, next_frame

API_TOKEN = "canary-api-token-7f3a9c1e"
COINBASE_KEY = "canary-coinbase-key-51d2"
COINBASE_SECRET = "canary-coinbase-secret-a8e4"
TELEGRAM_TOKEN = "canary-telegram-token-9b0f"
WEBHOOK_KEY = "canary-webhook-key-c3d7"
CANARIES = (API_TOKEN, COINBASE_KEY, COINBASE_SECRET, TELEGRAM_TOKEN, WEBHOOK_KEY)


@pytest.fixture
async def failing_notify_server() -> AsyncIterator[str]:
    """A webhook/Telegram stand-in that answers 500, so the notifiers log their failure."""
    seen: list[str] = []

    async def fail(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.Response(status=500, text="boom")

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", fail)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.mark.chaos
async def test_canaries_never_leak(
    start: StartApi, failing_notify_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # As streambot.observability.logging.configure does for the real handler.
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactSecrets())
    api = await start(
        api_token=API_TOKEN,
        coinbase_api_key=COINBASE_KEY,
        coinbase_api_secret=COINBASE_SECRET,
        telegram_bot_token=TELEGRAM_TOKEN,
        telegram_chat_id="12345678",
        telegram_api_url=failing_notify_server,
        alert_webhook_url=f"{failing_notify_server}/hook/{WEBHOOK_KEY}",
        auth_max_failures=10_000,
    )
    seen: list[str] = []

    async def fetch(method: str, path: str, **kwargs: object) -> None:
        async with api.http.request(method, api.url(path), **kwargs) as response:  # type: ignore[arg-type]
            seen.append(await response.text())
            seen.append(json.dumps(dict(response.headers)))

    async with api.http.get(api.url("/openapi.json")) as response:
        schema = await response.json()
    for path, operations in schema["paths"].items():
        if "get" in operations and "{" not in path:
            await fetch("GET", path, headers=api.auth)
            await fetch("GET", path)
            await fetch("GET", path, headers={"Authorization": "Bearer wrong-token"})
    await fetch("GET", "/metrics", headers=api.auth)
    await fetch("POST", "/api/v1/bots", headers=api.auth, data=b"{not json")
    await fetch("POST", "/api/v1/bots", headers=api.auth, json={"name": API_TOKEN, "strategy": "nope"})
    await fetch("GET", "/api/v1/bots/999999", headers=api.auth)

    # A token put in a WebSocket query string (wrong, but it happens) is not logged by uvicorn.
    queried = await api.http.ws_connect(api.ws_url(f"/api/v1/ws/status?token={API_TOKEN}"))
    await queried.send_str(json.dumps({"type": "auth", "token": API_TOKEN}))
    seen.append(json.dumps(await next_frame(queried)))
    await queried.close()

    # An alert goes to the webhook and Telegram, which both fail: the failure is logged.
    status = await api.ws("/api/v1/ws/status")
    api.platform.bus.publish(RiskHalted(scope="account", bot_id=None, code="max_loss", reason="test"))
    for _ in range(3):
        seen.append(json.dumps(await next_frame(status)))
    await status.close()
    async with asyncio.timeout(10):
        while not any("notification" in r.getMessage() for r in caplog.records):  # noqa: ASYNC110 - caplog has no event
            await asyncio.sleep(0.05)

    text = "\n".join(seen)
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records) + caplog.text
    leaks = sum(canary in text or canary in logged for canary in CANARIES)
    report(
        "api_secret_canary",
        canaries=len(CANARIES),
        responses_and_frames=len(seen),
        log_lines=len(caplog.records),
        leaks=leaks,
    )
    assert "notification" in logged
    assert "WebSocket" in logged  # uvicorn's line about the queried socket is there, redacted
    for canary in CANARIES:
        assert canary not in text, f"{canary} leaked into a response or frame"
        assert canary not in logged, f"{canary} leaked into the logs"
