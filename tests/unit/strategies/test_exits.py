"""Stop-loss, take-profit and trailing stop: one wrapper around any strategy."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from streambot.domain import Side, Signal
from streambot.strategies.base import BotContext, close_strategy, history_needed
from streambot.strategies.exits import WithExits
from streambot.strategies.registry import build
from tests.unit.strategies.support import T0, context, tick_at

# A threshold bot whose own rules never fire at these prices, so whatever sells is an exit.
QUIET = {"buy_below": 1, "sell_above": 1_000_000, "buy_dip_pct": None, "sell_rise_pct": None}


def exits(**params: Any) -> WithExits:
    strategy = build("threshold", QUIET | params)
    assert isinstance(strategy, WithExits)
    return strategy


def run(strategy: WithExits, ctx: BotContext, prices: list[float]) -> list[Signal | None]:
    return [strategy.on_tick(tick_at(p, T0 + i), ctx) for i, p in enumerate(prices)]


def test_no_exit_set_means_no_wrapper() -> None:
    assert not isinstance(build("threshold", {}), WithExits)
    assert isinstance(build("dca", {}), WithExits)  # DCA's take-profit is on by default


def test_stop_loss_sells_the_position_and_names_the_exit() -> None:
    said = run(exits(stop_loss_pct=5), context(Decimal(2), entry=100.0), [99.0, 96.0, 95.0])
    assert said[:2] == [None, None]
    stop = said[2]
    assert stop is not None
    assert stop.side is Side.SELL
    assert stop.budget_pct == Decimal(100)
    assert stop.reason == "stop-loss: price 95 is 5.00% below entry 100"


def test_take_profit_sells_above_the_entry() -> None:
    said = run(exits(take_profit_pct=10), context(Decimal(1), entry=100.0), [105.0, 110.0])
    assert said[0] is None
    assert said[1] is not None
    assert said[1].reason == "take-profit: price 110 is 10.00% above entry 100"


def test_trailing_stop_follows_the_high_since_entry() -> None:
    said = run(exits(trailing_stop_pct=3), context(Decimal(1), entry=100.0), [100.0, 120.0, 117.0, 116.4])
    assert said[:3] == [None, None, None]
    trail = said[3]
    assert trail is not None
    assert trail.reason.startswith("trailing stop: price 116.4 is 3.00% below the high 120")


def test_exits_wait_for_a_position_and_follow_its_fills() -> None:
    strategy = exits(stop_loss_pct=10, trailing_stop_pct=5)
    ctx = context()
    assert run(strategy, ctx, [50.0, 10.0]) == [None, None]  # flat: nothing to protect
    ctx.position.apply_fill(Side.BUY, Decimal(1), Decimal(100), Decimal(0))
    assert strategy.on_tick(tick_at(100.0, T0 + 2), ctx) is None
    ctx.position.apply_fill(Side.BUY, Decimal(1), Decimal(80), Decimal(0))  # average entry now 90
    assert strategy.on_tick(tick_at(96.0, T0 + 3), ctx) is None  # within 5% of the high, 100
    stop = strategy.on_tick(tick_at(80.0, T0 + 4), ctx)
    assert stop is not None
    assert stop.reason.startswith("stop-loss: price 80 is 11.11% below entry 90")
    ctx.order_in_flight = True
    assert strategy.on_tick(tick_at(70.0, T0 + 5), ctx) is None  # the sell is already out
    ctx.order_in_flight = False
    ctx.position.apply_fill(Side.SELL, Decimal(2), Decimal(140), Decimal(0))
    assert strategy.on_tick(tick_at(10.0, T0 + 6), ctx) is None  # flat again


def test_trailing_stop_reached_at_the_first_tick_of_a_position() -> None:
    # 95 -> tracking starts at 95 when the position is first seen; 90.25 is 5% under it.
    said = run(exits(trailing_stop_pct=5), context(Decimal(1), entry=100.0), [95.0, 90.25])
    assert said[0] is None
    assert said[1] is not None
    assert said[1].reason.startswith("trailing stop")


def test_an_exit_overrides_the_strategys_own_signal_and_hooks_pass_through() -> None:
    strategy = build("sma_crossover", {"fast": 2, "slow": 4, "take_profit_pct": 1})
    assert isinstance(strategy, WithExits)
    assert history_needed(strategy) == history_needed(strategy.inner)
    ctx = context(Decimal(1), entry=100.0)
    signal = strategy.on_tick(tick_at(150.0, T0), ctx)
    assert signal is not None
    assert signal.reason.startswith("take-profit")
    close_strategy(strategy)


@pytest.mark.parametrize("name", ["threshold", "ema_crossover", "rsi_reversion", "bollinger", "grid", "dca"])
def test_every_strategy_accepts_exits(name: str) -> None:
    strategy = build(name, {"stop_loss_pct": 2, "take_profit_pct": 3, "trailing_stop_pct": 1})
    assert isinstance(strategy, WithExits)
    said = run(strategy, context(Decimal(1), entry=100.0), [100.0, 97.0])
    assert said[-1] is not None
    assert said[-1].reason.startswith("stop-loss")


def test_dust_below_the_minimum_order_size_is_no_position_to_exit() -> None:
    ctx = context(Decimal("0.00001"), entry=100.0)
    ctx.min_base = Decimal("0.0001")  # the product's minimum: this holding can never be sold
    assert run(exits(stop_loss_pct=5, take_profit_pct=3), ctx, [99.0, 50.0, 200.0]) == [None, None, None]


def test_every_strategy_accepts_allow_below_fee_and_lists_its_take_profits() -> None:
    from streambot.strategies.registry import strategies, validate_params

    for name in strategies():
        params = validate_params(name, {"allow_below_fee": True})
        assert params.allow_below_fee is True, name
    assert validate_params("threshold", {}).take_profits() == [("sell_rise_pct", 3.0)]
    assert validate_params("dca", {}).take_profits() == [("take_profit_pct", 5.0)]
    [(name, step)] = validate_params("grid", {"lower": 90, "upper": 110, "levels": 4}).take_profits()
    assert name == "levels"
    assert step == pytest.approx(5 / 105 * 100)
