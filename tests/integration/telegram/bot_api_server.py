"""A loopback server speaking the Bot API's methods streambot uses: getUpdates (long polling with
offsets, as Telegram does), sendMessage and answerCallbackQuery. Tests queue updates as users'
messages and button presses and read what the bot sent back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456:test-token-abcdef"


@dataclass
class BotApiServer:
    url: str = ""
    updates: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)  # sendMessage bodies
    answered: list[dict[str, Any]] = field(default_factory=list)  # answerCallbackQuery bodies
    polls: int = 0
    _next_id: int = 100
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def message(self, chat_id: int, text: str) -> None:
        self._next_id += 1
        await self._add(
            {
                "update_id": self._next_id,
                "message": {
                    "message_id": self._next_id,
                    "from": {"id": chat_id, "is_bot": False, "first_name": "Trader"},
                    "chat": {"id": chat_id, "type": "private"},
                    "date": 1700000000,
                    "text": text,
                },
            }
        )

    async def press(self, chat_id: int, data: str) -> None:
        self._next_id += 1
        await self._add(
            {
                "update_id": self._next_id,
                "callback_query": {
                    "id": f"cb{self._next_id}",
                    "from": {"id": chat_id, "is_bot": False, "first_name": "Trader"},
                    "chat_instance": "1",
                    "data": data,
                    "message": {
                        "message_id": 1,
                        "chat": {"id": chat_id, "type": "private"},
                        "date": 1700000000,
                        "text": "confirm?",
                    },
                },
            }
        )

    async def reply(self, chat_id: int, after: int, within: float = 10.0) -> dict[str, Any]:
        """The first message sent to ``chat_id`` beyond the first ``after`` sent."""
        async with asyncio.timeout(within):
            while True:
                for body in self.sent[after:]:
                    if str(body["chat_id"]) == str(chat_id):  # Telegram takes either
                        return body
                await asyncio.sleep(0.02)

    async def _add(self, update: dict[str, Any]) -> None:
        async with self._arrived:
            self.updates.append(update)
            self._arrived.notify_all()

    async def _get_updates(self, request: web.Request) -> web.Response:
        self._check(request)
        body = await request.json()
        self.polls += 1
        offset = body.get("offset") or 0
        # Confirmed updates are forgotten, as Telegram forgets them.
        self.updates = [u for u in self.updates if u["update_id"] >= offset]
        timeout = min(float(body.get("timeout", 0)), 1.0)
        async with self._arrived:
            if not self.updates:
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), timeout)
        return web.json_response({"ok": True, "result": list(self.updates)})

    async def _send_message(self, request: web.Request) -> web.Response:
        self._check(request)
        body = await request.json()
        if not body.get("text"):
            return web.json_response({"ok": False, "error_code": 400, "description": "message text is empty"})
        self.sent.append(body)
        return web.json_response({"ok": True, "result": {"message_id": len(self.sent)}})

    async def _answer(self, request: web.Request) -> web.Response:
        self._check(request)
        self.answered.append(await request.json())
        return web.json_response({"ok": True, "result": True})

    def _check(self, request: web.Request) -> None:
        if request.match_info["token"] != TOKEN:
            raise web.HTTPUnauthorized(
                text='{"ok":false,"error_code":401,"description":"Unauthorized"}',
                content_type="application/json",
            )


@asynccontextmanager
async def bot_api_server() -> AsyncIterator[BotApiServer]:
    server = BotApiServer()
    app = web.Application()
    app.router.add_post("/bot{token}/getUpdates", server._get_updates)
    app.router.add_post("/bot{token}/sendMessage", server._send_message)
    app.router.add_post("/bot{token}/answerCallbackQuery", server._answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()
