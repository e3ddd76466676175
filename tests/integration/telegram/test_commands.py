"""Telegram control end to end: a platform polling a loopback Bot API server, commands in,
replies out, the kill switch and bots moved through the same objects the API uses."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from streambot.domain import BotState, Side
from streambot.events import RiskHalted, TradeBooked
from tests.factories import trade_record
from tests.integration.platform.conftest import Running, serving, settings_for
from tests.integration.telegram.bot_api_server import TOKEN, BotApiServer, bot_api_server

OWNER = 4242  # STREAMBOT_TELEGRAM_CHAT_ID, where alerts go
FRIEND = 777  # in STREAMBOT_TELEGRAM_ALLOWED_CHATS
STRANGER = 999


@pytest.fixture
async def telegram(tmp_path: Path) -> AsyncIterator[tuple[BotApiServer, Running]]:
    async with bot_api_server() as server:
        settings = settings_for(
            tmp_path / "data",
            telegram_bot_token=TOKEN,
            telegram_chat_id=str(OWNER),
            telegram_allowed_chats=str(FRIEND),
            telegram_api_url=server.url,
            telegram_poll_timeout_s=1,
        )
        async with serving(settings) as running:
            yield server, running


def _code(text: str) -> str:
    match = re.search(r"/confirm ([0-9a-f]+)", text)
    assert match, text
    return match.group(1)


async def test_reading_commands_answer_allowed_chats(telegram: tuple[BotApiServer, Running]) -> None:
    server, running = telegram
    bot = await running.platform.bots.create(
        name="Dip", strategy="threshold", product_id="ETH-USD", params={}, budget=Decimal(100)
    )
    for chat, command, expected in (
        (OWNER, "/status", f"#{bot.id} Dip · ETH-USD · stopped"),
        (FRIEND, "/profit", "P&L: +0.00"),
        (OWNER, "/balance", "USD: "),
        (OWNER, "/positions", "No open positions."),
        (FRIEND, "/trades@streambot_bot", "No trades yet."),
        (OWNER, "/help", "/start_bot <id>"),
        (OWNER, "/frobnicate", "Unknown command /frobnicate"),
    ):
        before = len(server.sent)
        await server.message(chat, command)
        reply = await server.reply(chat, before)
        assert expected in reply["text"], (command, reply["text"])
    assert "Feed: " in (await server.reply(OWNER, 0))["text"]


async def test_a_stranger_is_ignored_and_counted(telegram: tuple[BotApiServer, Running]) -> None:
    server, running = telegram
    control = running.platform.telegram
    assert control is not None
    await server.message(STRANGER, "/kill")
    await server.press(STRANGER, "confirm:abcdef")
    before = len(server.sent)
    await server.message(OWNER, "/status")  # processed after the stranger's updates
    await server.reply(OWNER, before)
    assert control.ignored["message"] == 1
    assert control.ignored["callback"] == 1
    assert all(body["chat_id"] != STRANGER for body in server.sent)
    assert server.answered == []
    assert not running.platform.trading.risk.account.kill_switch
    metrics = await (await running.http.get(running.url("/metrics"), headers=running.auth)).text()
    assert 'streambot_telegram_ignored_updates_total{kind="message"} 1.0' in metrics
    assert 'streambot_telegram_ignored_updates_total{kind="callback"} 1.0' in metrics


async def test_kill_and_resume_wait_for_confirmation(telegram: tuple[BotApiServer, Running]) -> None:
    server, running = telegram
    risk = running.platform.trading.risk
    before = len(server.sent)
    await server.message(OWNER, "/kill going on holiday")
    asked = await server.reply(OWNER, before)
    assert "kill switch ON" in asked["text"]
    buttons = asked["reply_markup"]["inline_keyboard"][0]
    assert [b["text"] for b in buttons] == ["✅ Confirm", "✖️ Cancel"]
    assert not risk.account.kill_switch  # nothing happens before the confirmation

    # Another chat cannot confirm the owner's code.
    code = _code(asked["text"])
    before = len(server.sent)
    await server.message(FRIEND, f"/confirm {code}")
    assert "No confirmation" in (await server.reply(FRIEND, before))["text"]
    assert not risk.account.kill_switch

    before = len(server.sent)
    await server.message(OWNER, f"/confirm {code}")
    done = await server.reply(OWNER, before)
    assert "Kill switch ON" in done["text"]
    assert risk.account.kill_switch
    assert risk.account.kill_reason == "going on holiday"

    # A code confirms once.
    before = len(server.sent)
    await server.message(OWNER, f"/confirm {code}")
    assert "No confirmation" in (await server.reply(OWNER, before))["text"]

    # /resume, confirmed with the inline button.
    before = len(server.sent)
    await server.message(FRIEND, "/resume")
    asked = await server.reply(FRIEND, before)
    data = asked["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    before = len(server.sent)
    await server.press(FRIEND, data)
    done = await server.reply(FRIEND, before)
    assert "Trading resumed" in done["text"]
    assert not risk.account.kill_switch
    assert server.answered[-1]["text"] == done["text"]


async def test_start_stop_and_close_a_bot(telegram: tuple[BotApiServer, Running]) -> None:
    server, running = telegram
    bots = running.platform.bots
    bot = await bots.create(
        name="Dip", strategy="threshold", product_id="ETH-USD", params={}, budget=Decimal(100)
    )
    before = len(server.sent)
    await server.message(OWNER, f"/start_bot {bot.id}")
    asked = await server.reply(OWNER, before)
    assert (await bots.get(bot.id)).state is BotState.STOPPED
    before = len(server.sent)
    await server.message(OWNER, f"/confirm {_code(asked['text'])}")
    assert "is running" in (await server.reply(OWNER, before))["text"]
    assert (await bots.get(bot.id)).state is BotState.RUNNING

    before = len(server.sent)
    await server.message(OWNER, f"/stop_bot {bot.id}")
    asked = await server.reply(OWNER, before)
    code = _code(asked["text"])
    before = len(server.sent)
    await server.message(OWNER, f"/cancel {code}")
    assert "Cancelled: stop bot" in (await server.reply(OWNER, before))["text"]
    assert (await bots.get(bot.id)).state is BotState.RUNNING

    for command, expected in (
        (f"/close {bot.id}", "has no position to close"),
        ("/close 99999", "Bot 99999 does not exist"),
        ("/close", "Send /close <bot id>"),
        ("/stop_bot x", "Send /stop_bot <bot id>"),
        ("/confirm", "Send /confirm <code>"),
    ):
        before = len(server.sent)
        await server.message(OWNER, command)
        assert expected in (await server.reply(OWNER, before))["text"], command


async def test_an_unreachable_bot_api_is_retried_without_stopping_anything(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path / "data",
        telegram_bot_token=TOKEN,
        telegram_chat_id=str(OWNER),
        telegram_api_url="http://127.0.0.1:9",  # nothing listens there
        telegram_poll_timeout_s=1,
    )
    async with serving(settings) as running:
        control = running.platform.telegram
        assert control is not None
        async with asyncio.timeout(10):
            while control.poll_errors == 0:  # noqa: ASYNC110 - a counter, no event to wait on
                await asyncio.sleep(0.05)
        assert running.platform.supervisor.restarts.get("telegram", 0) == 0
        async with running.http.get(running.url("/api/v1/health")) as response:
            assert response.status == 200


async def test_trades_and_alerts_reach_the_alert_chat(tmp_path: Path) -> None:
    async with bot_api_server() as server:
        settings = settings_for(
            tmp_path / "data",
            telegram_bot_token=TOKEN,
            telegram_chat_id=str(OWNER),
            telegram_api_url=server.url,
            telegram_poll_timeout_s=1,
            alert_trades_telegram=True,
        )
        async with serving(settings) as running:
            running.platform.bus.publish(TradeBooked(trade=trade_record(1, Side.BUY)))
            trade = await server.reply(OWNER, 0)
            assert trade["text"].startswith("💰 streambot trade: BUY ")
            before = len(server.sent)
            halted = RiskHalted(scope="account", bot_id=None, code="daily_loss", reason="lost 10 %")
            running.platform.bus.publish(halted)
            alert = await server.reply(OWNER, before)
            assert alert["text"].startswith("❌ streambot ALERT [critical] halted")
