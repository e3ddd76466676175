"""Runs started from the API, as the runs part keeps them: searches listed again after a restart
(a finished one with its result, one stopped mid-search as failed by the stop), and the children
of backtests and searches load the user's strategy folder (STREAMBOT_STRATEGY_DIR)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from streambot.strategies.user import load_user_strategies
from tests.integration.api.backtest_recording import write_recording
from tests.integration.api.test_optimizations import write_ticks
from tests.integration.platform.conftest import Running, serving, settings_for

pytestmark = pytest.mark.integration

# A user strategy that buys on its first tick and sells on its tenth: trades, so figures show it ran.
USER_STRATEGY = """
from decimal import Decimal

from pydantic import Field

from streambot.domain import Side, Signal
from streambot.strategies.base import WHOLE_POSITION, StrategyParams, StrategySpec
from streambot.strategies.search import search


class Params(StrategyParams):
    hold: int = Field(default=10, ge=2, le=100, json_schema_extra=search(2, 100, step=1))


class BuyThenSell:
    def __init__(self, params: Params) -> None:
        self.params = params
        self.ticks = 0

    def on_tick(self, tick, ctx):
        self.ticks += 1
        if self.ticks == 1:
            return Signal(Side.BUY, "first tick", budget_pct=Decimal(50))
        if self.ticks == self.params.hold:
            return Signal(Side.SELL, "held long enough", budget_pct=WHOLE_POSITION)
        return None


SPEC = StrategySpec(
    name="buy_then_sell", description="Buys, holds, sells.", params_model=Params, factory=BuyThenSell
)
"""


@pytest.fixture
async def strategy_dir(tmp_path: Path) -> AsyncIterator[Path]:
    folder = tmp_path / "strategies"
    folder.mkdir()
    (folder / "buy_then_sell.py").write_text(USER_STRATEGY)
    try:
        yield folder
    finally:
        load_user_strategies(tmp_path / "no-such-dir")  # forget this test's user strategies


async def _post(running: Running, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with running.http.post(running.url(path), json=body, headers=running.auth) as response:
        assert response.status == 202, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer


async def _get(running: Running, path: str) -> Any:
    async with running.http.get(running.url(path), headers=running.auth) as response:
        assert response.status == 200, await response.text()
        return await response.json()


def _search(data: Path, strategy: str, trials: int) -> dict[str, Any]:
    return {
        "data": [str(data)],
        "strategy": strategy,
        "product_id": "BTC-USD",
        "budget": "1000",
        "trials": trials,
        "jobs": 1,
        "seed": 3,
    }


async def test_searches_are_listed_again_after_a_restart(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "data")
    data = write_ticks(tmp_path / "ticks.jsonl")
    space = {"fast": {"low": 3, "high": 8}, "slow": {"low": 12, "high": 30}}
    async with serving(settings) as running:
        done_id = (
            await _post(
                running, "/api/v1/optimizations", _search(data, "ema_crossover", 3) | {"space": space}
            )
        )["id"]
        runs = running.platform.optimizations
        while runs.runs[done_id].status == "running":
            await running.platform.clock.sleep(0.1)
        finished = await _get(running, f"/api/v1/optimizations/{done_id}")
        assert finished["status"] == "done", finished
        # A search far too long to end before the platform stops.
        long_id = (await _post(running, "/api/v1/optimizations", _search(data, "ema_crossover", 100_000)))[
            "id"
        ]
        assert (tmp_path / "data" / "optimizations" / long_id).is_dir()
    async with serving(settings) as running:
        listed = {item["id"]: item for item in await _get(running, "/api/v1/optimizations")}
        assert set(listed) == {done_id, long_id}
        assert listed[done_id] == finished, "a finished search is shown as it ended"
        assert listed[done_id]["best_params"] is not None
        interrupted = await _get(running, f"/api/v1/optimizations/{long_id}")
        assert interrupted["status"] == "failed"
        assert interrupted["error"].startswith("interrupted: the platform stopped during the search")
        async with running.http.post(
            running.url(f"/api/v1/optimizations/{done_id}/bots"), json={"name": "tuned"}, headers=running.auth
        ) as response:
            assert response.status == 201, await response.text()


async def test_backtests_and_searches_from_the_api_run_user_strategies(
    tmp_path: Path, strategy_dir: Path
) -> None:
    settings = settings_for(tmp_path / "data", strategy_dir=strategy_dir)
    write_recording(settings.data_dir / "recordings", 400)
    data = write_ticks(tmp_path / "ticks.jsonl", 200)
    bot = {
        "name": "mine",
        "strategy": "buy_then_sell",
        "product_id": "BTC-USD",
        "params": {},
        "budget": "500",
    }
    async with serving(settings) as running:
        backtest_id = (await _post(running, "/api/v1/backtests", {"data": ["recordings"], "bots": [bot]}))[
            "id"
        ]
        search = _search(data, "buy_then_sell", 2) | {"space": {"hold": {"low": 5, "high": 20}}}
        search_id = (await _post(running, "/api/v1/optimizations", search))["id"]
        queue, runs = running.platform.backtests, running.platform.optimizations
        while queue.get(backtest_id).active or runs.runs[search_id].status == "running":
            await running.platform.clock.sleep(0.1)
        backtest = await _get(running, f"/api/v1/backtests/{backtest_id}")
        assert backtest["state"] == "done", backtest["error"]
        assert backtest["figures"]["trades"] >= 1
        optimization = await _get(running, f"/api/v1/optimizations/{search_id}")
        assert optimization["status"] == "done", optimization["error"]
        assert 5 <= optimization["best_params"]["hold"] <= 20
