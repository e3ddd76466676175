"""The few Bot API methods streambot uses: getUpdates (long polling), sendMessage,
answerCallbackQuery.

Why not python-telegram-bot or aiogram: three methods over the aiohttp session the platform
already has, on its one loop, with backoff on its Clock, restarted by its supervisor. Either
library brings its own HTTP client, update loop and lifecycle to fit around ours, for nothing we
would use. The URL carries the bot token: it is never logged, and errors name type and status only.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import msgspec


class BotApiError(Exception):
    """A Bot API call failed; the message never holds the URL (it carries the token)."""


class Chat(msgspec.Struct):
    id: int


class Sender(msgspec.Struct):
    id: int
    username: str | None = None


class Message(msgspec.Struct):
    message_id: int
    chat: Chat
    text: str | None = None
    sender: Sender | None = msgspec.field(default=None, name="from")


class CallbackQuery(msgspec.Struct):
    id: str
    data: str | None = None
    message: Message | None = None
    sender: Sender | None = msgspec.field(default=None, name="from")


class Update(msgspec.Struct):
    update_id: int
    message: Message | None = None
    callback_query: CallbackQuery | None = None


class _UpdatesReply(msgspec.Struct):
    ok: bool
    result: list[Update] = []
    description: str = ""


class _Reply(msgspec.Struct):
    ok: bool
    description: str = ""


Button = tuple[str, str]  # label, callback data
MAX_TEXT = 4096  # characters in one message


class BotApi:
    def __init__(self, session: aiohttp.ClientSession, token: str, api_url: str) -> None:
        self._session = session
        self._base = f"{api_url.rstrip('/')}/bot{token}"
        self._updates = msgspec.json.Decoder(_UpdatesReply)
        self._reply = msgspec.json.Decoder(_Reply)

    async def get_updates(self, offset: int | None, timeout_s: int) -> list[Update]:
        """Updates after ``offset``; the server holds the request up to ``timeout_s`` for one."""
        body: dict[str, Any] = {"timeout": timeout_s, "allowed_updates": ["message", "callback_query"]}
        if offset is not None:
            body["offset"] = offset
        raw = await self._call("getUpdates", body, timeout_s + 10)
        try:
            reply = self._updates.decode(raw)
        except msgspec.DecodeError as exc:
            raise BotApiError(f"getUpdates answered an unexpected shape: {exc}") from None
        if not reply.ok:
            raise BotApiError(f"getUpdates refused: {reply.description[:200]}")
        return reply.result

    async def send_message(self, chat_id: int | str, text: str, buttons: list[Button] | None = None) -> None:
        if len(text) > MAX_TEXT:  # Telegram refuses longer messages outright
            text = text[: MAX_TEXT - 2] + "\n…"
        body: dict[str, Any] = {"chat_id": chat_id, "text": text}
        if buttons:
            body["reply_markup"] = {
                "inline_keyboard": [[{"text": label, "callback_data": data} for label, data in buttons]]
            }
        await self._checked("sendMessage", body)

    async def answer_callback_query(self, query_id: str, text: str) -> None:
        await self._checked("answerCallbackQuery", {"callback_query_id": query_id, "text": text[:200]})

    async def _checked(self, method: str, body: dict[str, Any]) -> None:
        raw = await self._call(method, body, 10)
        try:
            reply = self._reply.decode(raw)
        except msgspec.DecodeError as exc:
            raise BotApiError(f"{method} answered an unexpected shape: {exc}") from None
        if not reply.ok:
            raise BotApiError(f"{method} refused: {reply.description[:200]}")

    async def _call(self, method: str, body: dict[str, Any], timeout_s: float) -> bytes:
        try:
            async with self._session.post(
                f"{self._base}/{method}", json=body, timeout=aiohttp.ClientTimeout(total=timeout_s)
            ) as response:
                raw = await response.read()
                # The Bot API answers errors as JSON with ok=false and a description; anything
                # else (a proxy's HTML page) is reported by status only.
                if response.status >= 500 or not raw.startswith(b"{"):
                    raise BotApiError(f"{method}: HTTP {response.status}")
                return raw
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BotApiError(f"{method}: {type(exc).__name__}") from None
