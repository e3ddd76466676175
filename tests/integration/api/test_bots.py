"""Bot routes over HTTP: a bot that does not exist is a 404 naming it, whatever the operation."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from streambot.domain import ProductId, Side
from tests.integration.api.conftest import Api


async def test_every_operation_on_a_missing_bot_is_a_404_naming_it(api: Api) -> None:
    requests = [
        ("GET", "/api/v1/bots/424242", None),
        ("PATCH", "/api/v1/bots/424242", {"name": "renamed"}),
        ("DELETE", "/api/v1/bots/424242", None),
        ("POST", "/api/v1/bots/424242/start", None),
        ("POST", "/api/v1/bots/424242/stop", None),
        ("POST", "/api/v1/ws/start-streaming/424242", None),
        ("POST", "/api/v1/ws/stop-streaming/424242", None),
    ]
    for method, path, body in requests:
        async with api.http.request(method, api.url(path), headers=api.auth, json=body) as response:
            assert response.status == 404, (method, path, response.status)
            assert (await response.json())["detail"] == "bot 424242 does not exist", (method, path)


async def test_a_missing_bot_is_a_404_even_when_the_change_is_invalid(api: Api) -> None:
    # The manager looks the bot up before it judges the change: which is wrong first is answered.
    async with api.http.patch(
        api.url("/api/v1/bots/424242"), headers=api.auth, json={"params": {"no_such_param": 1}}
    ) as response:
        assert response.status == 404


async def test_the_summary_reports_orders_exchange_and_alerts(api: Api) -> None:
    async with api.http.get(api.url("/api/v1/metrics/summary"), headers=api.auth) as response:
        summary = await response.json()
    assert summary["orders"] == {"placed": 0, "filled": 0, "rejected": 0, "signals_ignored": 0}
    assert summary["exchange"] == {"rate_limited_429": 0, "breaker_state": "closed"}
    assert summary["alerts_active"] == 0
    assert isinstance(summary["feed"]["uptime_ratio"], float)
    async with api.http.get(api.url("/api/v1/health")) as response:
        health = await response.json()
    assert health["components"]["alerts"] == {"ok": True, "active": []}
    assert health["components"]["exchange"] == {"ok": True, "breaker": "closed"}


async def test_the_status_shows_unrealized_pnl_without_division_noise(api: Api) -> None:
    bots = api.platform.bots
    assert bots is not None
    bot = await bots.create(
        name="held", strategy="threshold", product_id="BTC-USD", params={}, budget=Decimal(500)
    )
    # A partial sell books a share of the cost by division: what is left carries 28 digits.
    position = bots.position(bot.id)
    position.apply_fill(Side.BUY, Decimal("0.69072474"), Decimal("125"), Decimal(0))
    position.apply_fill(Side.SELL, Decimal("0.23"), Decimal("41"), Decimal(0))
    async with asyncio.timeout(10):
        while api.platform.prices.get(ProductId("BTC-USD")) is None:  # noqa: ASYNC110 - no event to wait on
            await asyncio.sleep(0.02)
    async with api.http.get(api.url("/api/v1/bots/status/enhanced"), headers=api.auth) as response:
        (status,) = [s for s in await response.json() if s["id"] == bot.id]
    for name in ("cost", "average_entry", "realized_pnl"):
        assert _places(status["position"][name]) <= 12, (name, status["position"][name])
    assert _places(status["unrealized_pnl"]) <= 12, status["unrealized_pnl"]
    assert Decimal(status["unrealized_pnl"]) != 0


def _places(amount: str) -> int:
    return len(amount.partition(".")[2])
