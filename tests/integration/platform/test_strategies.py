"""Strategies in the running platform: user files, their failures, warm-up from exchange candles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from streambot.strategies.indicators.hub import CandleFrame
from streambot.strategies.user import load_user_strategies
from tests.integration.platform.conftest import Running, serving, settings_for
from tests.integration.platform.test_paper_trading import poll

USER_STRATEGY = """
from streambot.strategies.base import StrategyParams, StrategySpec


class Params(StrategyParams):
    fail_after: int = 0


class FailsLater:
    def __init__(self, params: Params) -> None:
        self.params = params
        self.ticks = 0

    def on_tick(self, tick, ctx):
        self.ticks += 1
        if self.params.fail_after and self.ticks >= self.params.fail_after:
            raise RuntimeError("boom in user code")
        return None


SPEC = StrategySpec(
    name="fails_later", description="Fails on purpose.", params_model=Params, factory=FailsLater
)
"""


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    strategy_dir = tmp_path / "strategies"
    strategy_dir.mkdir()
    (strategy_dir / "fails_later.py").write_text(USER_STRATEGY)
    (strategy_dir / "broken.py").write_text("import a_module_that_does_not_exist\n")
    try:
        async with serving(settings_for(tmp_path / "data", strategy_dir=strategy_dir)) as served:
            yield served
    finally:
        load_user_strategies(tmp_path / "no-such-dir")  # forget this test's user strategies


async def create(running: Running, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with running.http.post(running.url("/api/v1/bots"), json=body, headers=running.auth) as response:
        return response.status, await response.json()


async def test_user_strategies_load_from_the_directory_and_a_broken_one_says_why(running: Running) -> None:
    async with running.http.get(running.url("/api/v1/strategies"), headers=running.auth) as response:
        names = {s["name"] for s in await response.json()}
    assert "fails_later" in names
    assert "broken" not in names

    status, body = await create(
        running, {"name": "b", "strategy": "broken", "product_id": "BTC-USD", "budget": "100"}
    )
    assert status == 422
    assert "broken.py:1: ModuleNotFoundError" in str(body)
    async with running.http.get(running.url("/api/v1/bots"), headers=running.auth) as response:
        assert await response.json() == []  # nothing was stored


async def test_a_user_strategy_that_raises_puts_only_its_bot_in_error_with_the_reason(
    running: Running,
) -> None:
    status, bot = await create(
        running,
        {
            "name": "fails",
            "strategy": "fails_later",
            "product_id": "BTC-USD",
            "params": {"fail_after": 3},
            "budget": "100",
        },
    )
    assert status == 201, bot
    async with running.http.post(running.url(f"/api/v1/bots/{bot['id']}/start"), headers=running.auth) as r:
        assert r.status == 200
    failed = await poll(running, f"/api/v1/bots/{bot['id']}", lambda b: b["state"] == "error")
    assert "RuntimeError: boom in user code" in failed["error_reason"]
    async with running.http.get(running.url("/api/v1/metrics/summary"), headers=running.auth) as r:
        assert (await r.json())["bots_running"] == 0  # listed with its reason, but not running
    # The platform goes on: prices keep flowing.
    before = running.platform.prices.ticks_published
    await poll(running, "/api/v1/health", lambda _: running.platform.prices.ticks_published > before + 5)


async def test_a_candle_bot_is_warmed_up_from_the_exchange_candles_when_it_starts(running: Running) -> None:
    status, bot = await create(
        running,
        {
            "name": "ema 1m",
            "strategy": "ema_crossover",
            "product_id": "ETH-USD",
            "params": {"fast": 8, "slow": 21, "timeframe": "1m"},
            "budget": "100",
        },
    )
    assert status == 201, bot
    async with running.http.post(running.url(f"/api/v1/bots/{bot['id']}/start"), headers=running.auth) as r:
        assert r.status == 200
    evaluator = running.platform.evaluator
    assert evaluator is not None
    # Started means seeded: no need to wait 21 minutes of live candles.
    frame = evaluator.hub.frame("ETH-USD", "1m")
    assert isinstance(frame, CandleFrame)
    assert frame.builder.closed_count >= 21


async def test_a_strategy_sees_its_parameters_and_the_cached_balances(running: Running) -> None:
    status, bot = await create(
        running,
        {"name": "t", "strategy": "threshold", "product_id": "BTC-USD", "budget": "100"},
    )
    assert status == 201, bot
    async with running.http.post(running.url(f"/api/v1/bots/{bot['id']}/start"), headers=running.auth) as r:
        assert r.status == 200
    assert running.platform.bots is not None
    assert running.platform.balances is not None
    runtime = running.platform.bots.runtime(bot["id"])
    assert runtime is not None
    ctx = runtime.ctx
    assert ctx.params is not None
    assert ctx.params.model_dump(mode="json") == bot["params"]
    await running.platform.balances.balances()  # a refresh, as the executor's sizing does
    assert ctx.balances["USD"].available > 0  # the view follows the cache: nothing copied per bot
