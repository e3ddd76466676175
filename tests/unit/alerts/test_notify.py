"""Notifiers against a real local aiohttp server standing in for the webhook and Telegram."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from streambot.alerts.manager import AlertManager
from streambot.alerts.notify import TelegramNotifier, WebhookNotifier
from streambot.alerts.rules import Readings, Rules
from streambot.bus import InProcessBus
from streambot.clock import ManualClock
from streambot.domain import BotId, ClientOrderId, OrderStatus, ProductId, Side, Trade
from streambot.events import RiskHalted, TradeBooked


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    received: list[tuple[str, dict[str, Any]]] = []

    async def take(request: web.Request) -> web.Response:
        received.append((request.path, await request.json()))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/{tail:.*}", take)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        await runner.cleanup()


async def test_webhook_and_telegram_receive_raised_and_cleared(
    receiver: tuple[str, list[tuple[str, dict[str, Any]]]],
) -> None:
    base, received = receiver
    state = {"breaker": "open"}

    def read() -> Readings:
        return Readings("live", 0, 0, 0, state["breaker"])

    manager = AlertManager(
        InProcessBus(ManualClock()),
        read,
        ManualClock(),
        rules=Rules(breaker_clear_after_s=0),
        notifiers=[WebhookNotifier(f"{base}/hook"), TelegramNotifier("123:abc", "42", api_url=base)],
    )
    try:
        manager.check()
        state["breaker"] = "closed"
        manager.check()
        async with asyncio.timeout(10):
            while len(received) < 4:  # noqa: ASYNC110 - the server has no event to wait on
                await asyncio.sleep(0.02)
    finally:
        await manager.close()
    hooks = [body for path, body in received if path == "/hook"]
    telegram = [body for path, body in received if path == "/bot123:abc/sendMessage"]
    assert [h["event"] for h in hooks] == ["raised", "cleared"]
    assert hooks[0]["code"] == "breaker_open"
    assert hooks[0]["severity"] == "critical"
    assert [t["chat_id"] for t in telegram] == ["42", "42"]
    assert telegram[0]["text"].startswith("❌ streambot ALERT [critical] breaker_open")
    assert telegram[1]["text"].startswith("✅")


async def test_an_unreachable_webhook_is_logged_without_its_url(caplog: pytest.LogCaptureFixture) -> None:
    notifier = WebhookNotifier("http://127.0.0.1:9/secret-path-key")
    async with aiohttp.ClientSession() as session:
        await notifier.send(session, {"event": "raised", "code": "x", "severity": "warning", "message": "m"})
    assert "webhook notification failed" in caplog.text
    assert "secret-path-key" not in caplog.text


async def test_trades_go_only_to_the_channels_that_take_them(
    receiver: tuple[str, list[tuple[str, dict[str, Any]]]],
) -> None:
    base, received = receiver
    clock = ManualClock()
    bus = InProcessBus(clock)
    manager = AlertManager(
        bus,
        lambda: Readings("live", 0, 0, 0, "closed"),
        clock,
        notifiers=[
            WebhookNotifier(f"{base}/hook", trades=False),
            TelegramNotifier("123:abc", "42", api_url=base, trades=True),
        ],
    )
    trade = Trade(
        bot_id=BotId(3),
        product_id=ProductId("BTC-USD"),
        side=Side.BUY,
        base_size=Decimal("0.01"),
        price=Decimal("50000"),
        quote_amount=Decimal("500"),
        fee=Decimal("6"),
        net_total=Decimal("506"),
        status=OrderStatus.FILLED,
        client_order_id=ClientOrderId("c-1"),
        exchange_order_id="x-1",
        reason="dip",
        created_at=clock.now(),
    )
    try:
        bus.publish(TradeBooked(trade=trade))
        bus.publish(RiskHalted(scope="account", bot_id=None, code="daily_loss", reason="lost 5%"))
        async with asyncio.timeout(10):
            while len(received) < 3:  # noqa: ASYNC110 - the server has no event to wait on
                await asyncio.sleep(0.02)
    finally:
        await manager.close()
    hooks = [body for path, body in received if path == "/hook"]
    telegram = [body["text"] for path, body in received if path != "/hook"]
    assert [h["event"] for h in hooks] == ["raised"]  # the halt, an alert: every channel
    assert sorted(t[:2] for t in telegram) == ["❌ ", "💰 "]
    (fill,) = [t for t in telegram if t.startswith("💰")]
    assert fill == "💰 streambot trade: BUY 0.01 BTC-USD @ 50000 (fee 6, bot 3, filled)"
    assert manager.trades_notified == 1
