"""A paper platform with its API on loopback, restartable on the same data dir."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from streambot.api.server import RunningApi, start_api
from streambot.app import Platform
from streambot.domain import BotId
from streambot.events import Event
from tests.integration.platform.conftest import settings_for

# Risk limits that would pause a bot trading as fast as the churn bot: what the tests that use it
# examine is the feed and the orders, not the rules.
NO_RISK_LIMITS: dict[str, object] = {
    "risk_loss_cooldown_s": 0,
    "risk_max_trades_per_hour": 0,
    "risk_daily_loss_pct": 0,
    "risk_max_drawdown_pct": 0,
}


@dataclass
class Trading:
    data_dir: Path
    http: aiohttp.ClientSession
    overrides: dict[str, object]
    platform: Platform | None = None
    api: RunningApi | None = None
    events: list[Event] = field(default_factory=list)

    async def start(self, **overrides: object) -> Platform:
        self.overrides.update(overrides)
        platform = await Platform.open(settings_for(self.data_dir, **self.overrides))
        platform.bus.subscribe("", self.events.append)
        await platform.start()
        self.platform = platform
        self.api = await start_api(platform, "127.0.0.1", 0)
        return platform

    async def stop(self) -> None:
        if self.api is not None:
            await self.api.stop()
            self.api = None
        if self.platform is not None:
            await self.platform.stop()
            self.platform = None

    async def restart(self, **overrides: object) -> Platform:
        await self.stop()
        return await self.start(**overrides)

    @property
    def p(self) -> Platform:
        assert self.platform is not None
        return self.platform

    def url(self, path: str) -> str:
        assert self.api is not None
        return f"{self.api.url}{path}"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.p.api_token}"}

    async def get(self, path: str) -> Any:
        async with self.http.get(self.url(path), headers=self.auth) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def post(self, path: str, body: object) -> tuple[int, Any]:
        async with self.http.post(self.url(path), json=body, headers=self.auth) as response:
            return response.status, await response.json()

    async def bot(self, budget: str = "500", order_pct: int = 10, **params: object) -> BotId:
        """A running threshold bot on BTC-USD that buys on its first tick."""
        values: dict[str, object] = {"buy_below": 1e9, "sell_above": 2e9, "order_pct": order_pct}
        values.update(params)
        bots = self.p.bots
        assert bots is not None
        record = await bots.create(
            name="trader", strategy="threshold", product_id="BTC-USD", params=values, budget=Decimal(budget)
        )
        await bots.start(record.id)
        return record.id

    async def churn_bot(self) -> BotId:
        """A started bot that orders every tick or two, whichever way the price drifts: it buys
        whenever flat and sells on the smallest rise or fall."""
        record = await self.p.bots.create(
            name="churn",
            strategy="threshold",
            product_id="BTC-USD",
            params={
                "buy_below": 1e9,
                "sell_rise_pct": 0.0001,
                "stop_loss_pct": 0.0001,
                "order_pct": 20,
                "allow_below_fee": True,
            },
            budget=Decimal(1000),
        )
        await self.p.bots.start(record.id)
        return record.id

    async def poll(self, path: str, ready: Callable[[Any], object], within: float = 20.0) -> Any:
        """GET ``path`` every 50 ms until ``ready(body)``; the body then."""

        async def fetch() -> Any:
            body = await self.get(path)
            return body if ready(body) else None

        return await self.until(fetch, within)

    async def until(self, ready: Callable[[], Any], within: float = 20.0) -> Any:
        deadline = asyncio.get_running_loop().time() + within
        while asyncio.get_running_loop().time() < deadline:
            value = ready()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value
            await asyncio.sleep(0.05)
        raise AssertionError(f"condition not met within {within}s")


@pytest.fixture
async def trading(tmp_path: Path) -> AsyncIterator[Trading]:
    async with aiohttp.ClientSession() as http:
        harness = Trading(tmp_path / "data", http, {})
        try:
            yield harness
        finally:
            await harness.stop()
