from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from streambot.api.server import RunningApi, start_api
from streambot.app import Platform
from tests.integration.platform.conftest import settings_for


@dataclass
class Api:
    platform: Platform
    api: RunningApi
    http: aiohttp.ClientSession

    @property
    def token(self) -> str:
        return self.platform.api_token

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def url(self, path: str) -> str:
        return f"{self.api.url}{path}"

    def ws_url(self, path: str) -> str:
        return f"ws://{self.api.host}:{self.api.port}{path}"

    async def ws(
        self, path: str, *, token: str | None = None, origin: str | None = None
    ) -> aiohttp.ClientWebSocketResponse:
        """Open a WebSocket authenticated with the subprotocol header (the browser's way)."""
        protocols = ("streambot.v1", f"token.{token if token is not None else self.token}")
        headers = {"Origin": origin} if origin else {}
        return await self.http.ws_connect(self.ws_url(path), protocols=protocols, headers=headers)


async def next_frame(
    ws: aiohttp.ClientWebSocketResponse, kind: str | None = None, within: float = 10.0
) -> dict[str, Any]:
    """The next text frame (of ``kind``, skipping others); fails on close or timeout."""
    async with asyncio.timeout(within):
        while True:
            message = await ws.receive()
            if message.type is not aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"expected a frame, got {message.type.name} {message.data!r}")
            frame: dict[str, Any] = json.loads(message.data)
            if kind is None or frame["type"] == kind:
                return frame


async def close_code(ws: aiohttp.ClientWebSocketResponse, within: float = 10.0) -> int | None:
    """Read until the server closes; its close code."""
    async with asyncio.timeout(within):
        while True:
            message = await ws.receive()
            if message.type in {aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING}:
                return ws.close_code


StartApi = Callable[..., Awaitable[Api]]


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[StartApi]:
    """Start a platform and its API with settings overrides; everything stops after the test."""
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(aiohttp.ClientSession())
        started = 0

        async def starter(**overrides: Any) -> Api:
            nonlocal started
            started += 1
            platform = await Platform.open(settings_for(tmp_path / f"data{started}", **overrides))
            await platform.start()
            stack.push_async_callback(platform.stop)
            api = await start_api(platform, "127.0.0.1", 0)
            stack.push_async_callback(api.stop)
            return Api(platform, api, http)

        yield starter


@pytest.fixture
async def api(start: StartApi) -> Api:
    return await start(ws_auth_timeout_s=1.0)
