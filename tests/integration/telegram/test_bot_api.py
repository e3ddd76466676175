"""The Bot API client against the loopback server: long messages cut to Telegram's limit, errors
that never carry the token (it is in the URL)."""

from __future__ import annotations

import aiohttp
import pytest

from streambot.telegram.bot_api import MAX_TEXT, BotApi, BotApiError
from tests.integration.telegram.bot_api_server import TOKEN, bot_api_server


async def test_a_long_message_is_cut_to_the_limit() -> None:
    async with bot_api_server() as server, aiohttp.ClientSession() as session:
        api = BotApi(session, TOKEN, server.url)
        await api.send_message(1, "x" * 5000, [("✅ Confirm", "confirm:abc")])
        (sent,) = server.sent
        assert len(sent["text"]) == MAX_TEXT
        assert sent["text"].endswith("\n…")
        assert sent["reply_markup"] == {
            "inline_keyboard": [[{"text": "✅ Confirm", "callback_data": "confirm:abc"}]]
        }
        await server.message(5, "/status")
        (update,) = await api.get_updates(None, 1)
        assert update.message is not None
        assert (update.message.chat.id, update.message.text) == (5, "/status")
        assert await api.get_updates(update.update_id + 1, 1) == []


async def test_errors_name_the_method_never_the_token() -> None:
    async with bot_api_server() as server, aiohttp.ClientSession() as session:
        wrong = BotApi(session, "999:wrong-token-value", server.url)
        with pytest.raises(BotApiError) as refused:
            await wrong.get_updates(None, 1)
        assert "getUpdates" in str(refused.value)
        assert "wrong-token-value" not in str(refused.value)
        empty = BotApi(session, TOKEN, server.url)
        with pytest.raises(BotApiError, match="sendMessage refused: message text is empty"):
            await empty.send_message(1, "")
    async with aiohttp.ClientSession() as session:
        gone = BotApi(session, TOKEN, "http://127.0.0.1:9")
        with pytest.raises(BotApiError, match="getUpdates: ClientConnectorError") as failed:
            await gone.get_updates(None, 1)
        assert TOKEN not in str(failed.value)
