from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
import talib

from streambot.clock import ManualClock
from streambot.domain import BotId, Position, Side
from streambot.strategies.base import BotContext
from streambot.strategies.indicators import ema
from streambot.strategies.registry import StrategyError, build, get_spec, strategies, validate_params
from tests.factories import tick


def ctx(holding: Decimal = Decimal(0), entry: float = 0.0) -> BotContext:
    return BotContext(
        bot_id=BotId(1),
        product_id="BTC-USD",
        budget=Decimal(1000),
        position=Position(base=holding, cost=holding * Decimal(100)),
        last_fill_price=entry,
        clock=ManualClock(),
    )


def test_both_builtins_are_registered_with_schema_and_defaults() -> None:
    assert {"threshold", "ema_crossover"} <= set(strategies())
    spec = get_spec("ema_crossover")
    assert spec.defaults()["fast"] == 12
    assert "fast" in spec.json_schema()["properties"]


def test_unknown_strategy_and_bad_params_name_the_field() -> None:
    with pytest.raises(StrategyError) as unknown:
        validate_params("nope", {})
    assert unknown.value.field == "strategy"
    with pytest.raises(StrategyError) as bad:
        validate_params("ema_crossover", {"fast": 1})
    assert bad.value.field == "params.fast"
    with pytest.raises(StrategyError) as extra:
        validate_params("threshold", {"colour": "blue"})
    assert extra.value.field == "params.colour"
    with pytest.raises(StrategyError, match="fast must be shorter"):
        validate_params("ema_crossover", {"fast": 30, "slow": 20})


def test_threshold_buys_on_a_dip_from_the_high_and_sells_on_a_rise_over_entry() -> None:
    strategy = build("threshold", {"buy_dip_pct": 1.0, "sell_rise_pct": 2.0, "order_pct": 10})
    flat = ctx()
    assert strategy.on_tick(tick(price=100.0), flat) is None
    assert strategy.on_tick(tick(price=99.5), flat) is None
    buy = strategy.on_tick(tick(price=98.9), flat)
    assert buy is not None
    assert buy.side is Side.BUY
    assert buy.budget_pct == Decimal(10)
    assert "below its high" in buy.reason

    holding = ctx(Decimal(1), entry=98.9)
    assert strategy.on_tick(tick(price=100.0), holding) is None
    sell = strategy.on_tick(tick(price=100.9), holding)
    assert sell is not None
    assert sell.side is Side.SELL
    assert sell.budget_pct == Decimal(100)


def test_threshold_absolute_levels() -> None:
    strategy = build(
        "threshold", {"buy_below": 90, "sell_above": 110, "buy_dip_pct": None, "sell_rise_pct": None}
    )
    assert strategy.on_tick(tick(price=95.0), ctx()) is None
    assert strategy.on_tick(tick(price=90.0), ctx()) is not None
    assert strategy.on_tick(tick(price=105.0), ctx(Decimal(1), 90.0)) is None
    assert strategy.on_tick(tick(price=110.0), ctx(Decimal(1), 90.0)) is not None
    with pytest.raises(StrategyError, match="lower than sell_above"):
        validate_params("threshold", {"buy_below": 120, "sell_above": 110})


def test_incremental_ema_matches_batch_talib() -> None:
    prices = 100 + np.cumsum(np.random.default_rng(7).normal(0, 1, 2000))
    indicator = ema(21)
    values = [indicator.update(float(p)) for p in prices]
    batch = talib.EMA(prices, timeperiod=21)
    assert values[19] is None
    assert values[20] == pytest.approx(batch[20], rel=1e-12)
    assert values[-1] == pytest.approx(batch[-1], rel=1e-12)


def test_ema_crossover_buys_on_the_cross_up_and_sells_on_the_cross_down() -> None:
    strategy = build("ema_crossover", {"fast": 3, "slow": 6})
    flat, holding = ctx(), ctx(Decimal(1))
    decisions = []
    for price in [100.0] * 8 + [99.0, 98.0, 97.0, 96.0] + [100.0, 104.0, 108.0]:
        signal = strategy.on_tick(tick(price=price), flat)
        if signal:
            decisions.append(signal.side)
    assert decisions == [Side.BUY]
    for price in [100.0, 95.0, 90.0]:
        signal = strategy.on_tick(tick(price=price), holding)
        if signal:
            decisions.append(signal.side)
    assert decisions == [Side.BUY, Side.SELL]


def test_absolute_threshold_levels_replace_the_relative_defaults() -> None:
    params = validate_params("threshold", {"buy_below": 90, "sell_above": 110})
    assert params.model_dump()["buy_dip_pct"] is None
    assert params.model_dump()["sell_rise_pct"] is None
    strategy = build("threshold", {"buy_below": 90, "sell_above": 110})
    # 5 % over the entry would trigger the default sell_rise_pct; the user asked for 110 only.
    assert strategy.on_tick(tick(price=105.0), ctx(Decimal(1), 100.0)) is None


def test_dust_below_the_minimum_order_size_is_not_a_position() -> None:
    dusty = ctx(Decimal("0.000000005"))
    dusty.min_base = Decimal("0.00000001")
    assert not dusty.holding
    dusty.min_base = Decimal(0)
    assert dusty.holding


def test_holding_follows_every_change_of_the_position_and_the_minimum() -> None:
    state = ctx(Decimal(0))
    assert not state.holding
    state.position.apply_fill(Side.BUY, Decimal("0.5"), Decimal(50), Decimal(0))
    assert state.holding  # the same Position, a new base
    state.min_base = Decimal(1)
    assert not state.holding
    state.position = Position(base=Decimal(2))
    assert state.holding
    state.position.apply_fill(Side.SELL, Decimal(2), Decimal(200), Decimal(0))
    assert not state.holding
    assert not state.holding  # asked again: the same answer
