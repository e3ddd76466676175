"""Each built-in trades as its docstring says; candles, repainting and warm-up behave as promised."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from decimal import Decimal

import pytest

from streambot.domain import Side, Signal, Timeframe
from streambot.strategies.base import WarmUpRequest, history_needed, warm_up_bot
from streambot.strategies.candle_strategy import CandleParams
from streambot.strategies.candles import Candle
from streambot.strategies.registry import (
    StrategyError,
    build,
    describe_strategies,
    strategies,
    validate_params,
)
from tests.unit.strategies.support import T0, context, feed_closes, feed_ticks, tick_at

BUILT_INS = {
    "threshold",
    "ema_crossover",
    "sma_crossover",
    "rsi_reversion",
    "macd_cross",
    "bollinger",
    "grid",
    "dca",
}


def sides(signals: Sequence[Signal | None]) -> list[Side]:
    return [s.side for s in signals if s is not None]


def test_every_builtin_documents_its_own_parameters() -> None:
    shared = set(CandleParams.model_fields)  # documented once, on CandleParams
    for name in BUILT_INS:
        spec = strategies()[name]
        doc = sys.modules[spec.factory.__module__].__doc__ or ""
        for field in set(spec.params_model.model_fields) - shared:
            assert f"``{field}``" in doc, f"{name}: {field} is not documented"


def test_every_builtin_is_listed_with_schema_defaults_and_exits() -> None:
    assert set(strategies()) >= BUILT_INS
    described = {entry["name"]: entry for entry in describe_strategies()}
    for name in BUILT_INS:
        entry = described[name]
        assert set(entry) == {"name", "description", "schema", "defaults"}
        assert entry["description"]
        properties = entry["schema"]["properties"]
        assert {"stop_loss_pct", "take_profit_pct", "trailing_stop_pct"} <= set(properties)
        assert set(entry["defaults"]) == set(properties)
    assert described["dca"]["defaults"]["take_profit_pct"] == 5.0
    assert described["ema_crossover"]["defaults"]["timeframe"] == "tick"
    assert described["rsi_reversion"]["defaults"]["timeframe"] == "1m"
    assert described["rsi_reversion"]["defaults"]["order_pct"] == "25"  # Decimal, as JSON


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("rsi_reversion", {"oversold": 80, "overbought": 70}, "params"),
        ("rsi_reversion", {"timeframe": "2m"}, "params.timeframe"),
        ("bollinger", {"mode": "sideways"}, "params.mode"),
        ("grid", {"lower": 100}, "params"),
        ("grid", {"levels": 1}, "params.levels"),
        ("dca", {"stop_loss_pct": 100}, "params.stop_loss_pct"),
        ("macd_cross", {"fast": 30, "slow": 20}, "params"),
        ("sma_crossover", {"act_on": "sometimes"}, "params.act_on"),
    ],
)
def test_bad_parameters_name_the_field(name: str, params: dict[str, object], field: str) -> None:
    with pytest.raises(StrategyError) as error:
        validate_params(name, params)
    assert error.value.field == field


def test_sma_crossover_trades_on_candle_closes() -> None:
    strategy = build("sma_crossover", {"fast": 2, "slow": 4})
    flat, holding = context(), context(Decimal(1))
    # Candles close at 10, 10, 10, 10, 9, 8, 7 (fast below), then 12, 14 (fast crosses above).
    said = feed_closes(strategy, flat, [10, 10, 10, 10, 9, 8, 7, 12, 14, 15])
    buys = [(i, s) for i, s in enumerate(said) if s is not None]
    assert len(buys) == 1
    index, buy = buys[0]
    assert buy.side is Side.BUY
    assert buy.budget_pct == Decimal(25)
    assert index == 8  # the tick that closed the candle at 12: SMA2 9.5 > SMA4 9
    assert buy.reason == "SMA2 crossed above SMA4 on the 1m close"
    later = feed_closes(strategy, holding, [10, 6, 5, 5], start=T0 + 600)
    assert sides(later) == [Side.SELL]


def test_a_crossover_that_does_not_sell_on_the_cross_leaves_selling_to_its_take_profit() -> None:
    """The demo EMA bots: a cross back down within the round-trip fee is no loss-making sell."""
    closes = [10, 10, 10, 10, 9, 8, 7, 12, 14, 15]
    selling = build("sma_crossover", {"fast": 2, "slow": 4})
    holding = build("sma_crossover", {"fast": 2, "slow": 4, "sell_on_cross": False, "take_profit_pct": 5})
    feed_closes(selling, context(), closes)
    feed_closes(holding, context(), closes)
    crossing_down = [10, 6, 5, 5]
    assert sides(feed_closes(selling, context(Decimal(1)), crossing_down, start=T0 + 600)) == [Side.SELL]
    assert sides(feed_closes(holding, context(Decimal(1)), crossing_down, start=T0 + 600)) == []
    with pytest.raises(StrategyError) as error:
        validate_params("ema_crossover", {"sell_on_cross": "no"})
    assert error.value.field == "params.sell_on_cross"


def test_ema_crossover_on_candles_ignores_ticks_inside_a_candle() -> None:
    strategy = build("ema_crossover", {"fast": 2, "slow": 4, "timeframe": "5m"})
    ctx = context()
    # Many ticks per 5m candle; only the closes count.
    prices = [10.0] * 5 * 300 + [9.0] * 300 + [8.0] * 300 + [20.0] * 300 + [21.0] * 10
    signals = feed_ticks(strategy, ctx, prices)
    assert sides(signals) == [Side.BUY]
    assert "on the 5m close" in signals[0].reason


def test_rsi_reversion_buys_oversold_and_sells_overbought() -> None:
    strategy = build("rsi_reversion", {"period": 5, "timeframe": "tick"})
    down = [100.0 - i for i in range(12)]
    signals = feed_ticks(strategy, context(), down)
    assert signals
    assert all(s.side is Side.BUY for s in signals)
    assert signals[0].reason.startswith("RSI5 0.0 ≤ oversold 30")
    up = [92.0 + 2 * i for i in range(8)]
    sells = feed_ticks(strategy, context(Decimal(1)), up)
    assert sells
    assert all(s.side is Side.SELL and s.budget_pct == Decimal(100) for s in sells)
    assert "overbought 70" in sells[-1].reason


def test_macd_cross_buys_when_macd_crosses_above_signal_and_sells_below() -> None:
    strategy = build("macd_cross", {"fast": 3, "slow": 6, "signal": 3, "timeframe": "tick"})
    falling = [100.0 - i for i in range(15)]
    rising = [86.0 + 2 * i for i in range(6)]
    signals = feed_ticks(strategy, context(), falling + rising)
    assert sides(signals) == [Side.BUY]
    assert "crossed above its signal" in signals[0].reason
    sells = feed_ticks(strategy, context(Decimal(1)), [90.0, 85.0, 80.0])
    assert sides(sells) == [Side.SELL]


def test_bollinger_reversion_buys_the_lower_band_and_sells_the_middle() -> None:
    strategy = build("bollinger", {"period": 5, "deviations": 1.5, "timeframe": "tick"})
    calm = [100.0, 101.0, 100.0, 101.0, 100.0, 101.0]
    signals = feed_ticks(strategy, context(), [*calm, 95.0])
    assert sides(signals) == [Side.BUY]
    assert "touched the lower band" in signals[0].reason
    sells = feed_ticks(strategy, context(Decimal(1)), [97.0, 100.5])
    assert sides(sells) == [Side.SELL]
    assert "reverted to the middle band" in sells[0].reason


def test_bollinger_breakout_buys_above_the_upper_band_and_sells_back_at_the_middle() -> None:
    # A close is part of its own band, so one jump clears 2 deviations only over enough bars.
    strategy = build("bollinger", {"period": 10, "mode": "breakout", "timeframe": "tick"})
    calm = [100.0, 101.0] * 5
    signals = feed_ticks(strategy, context(), [*calm, 108.0])
    assert sides(signals) == [Side.BUY]
    assert "broke above the upper band" in signals[0].reason
    assert feed_ticks(strategy, context(Decimal(1)), [109.0]) == []
    sells = feed_ticks(strategy, context(Decimal(1)), [100.0])
    assert sides(sells) == [Side.SELL]
    assert "fell back to the middle band" in sells[0].reason


def test_grid_buys_each_line_down_and_sells_each_line_up() -> None:
    strategy = build("grid", {"lower": 90, "upper": 110, "levels": 4, "order_pct": 20})
    flat, holding = context(), context(Decimal(2))
    assert strategy.on_tick(tick_at(101.0, T0), flat) is None  # sets the starting cell
    assert strategy.on_tick(tick_at(100.5, T0 + 1), flat) is None  # same cell
    first = strategy.on_tick(tick_at(99.0, T0 + 2), flat)
    assert first is not None
    assert first.side is Side.BUY
    assert first.budget_pct == Decimal(20)
    assert first.reason == "grid: price 99 crossed down through line 100 (slot 1 of 4)"
    second = strategy.on_tick(tick_at(94.0, T0 + 3), holding)
    assert second is not None
    assert second.side is Side.BUY
    assert "slot 2 of 4" in second.reason
    half = strategy.on_tick(tick_at(96.0, T0 + 4), holding)
    assert half is not None
    assert half.side is Side.SELL
    assert half.budget_pct == Decimal(50)
    rest = strategy.on_tick(tick_at(101.0, T0 + 5), holding)
    assert rest is not None
    assert rest.side is Side.SELL
    assert rest.budget_pct == Decimal(100)
    assert strategy.on_tick(tick_at(106.0, T0 + 6), holding) is None  # no slots left to sell


def test_grid_waits_while_an_order_is_out_and_centres_itself_without_bounds() -> None:
    strategy = build("grid", {"range_pct": 10, "levels": 4})  # lines 90, 95, 100, 105, 110
    ctx = context()
    assert strategy.on_tick(tick_at(100.0, T0), ctx) is None
    ctx.order_in_flight = True
    assert strategy.on_tick(tick_at(99.0, T0 + 1), ctx) is None
    ctx.order_in_flight = False
    buy = strategy.on_tick(tick_at(99.0, T0 + 2), ctx)  # the crossing was kept for later
    assert buy is not None
    assert buy.side is Side.BUY
    assert "line 100" in buy.reason


def test_dca_on_a_timer() -> None:
    strategy = build("dca", {"interval_minutes": 1, "max_orders": 3})
    ctx = context()
    said = [strategy.on_tick(tick_at(100.0, T0 + t), ctx) for t in (0, 30, 59, 60, 90, 120, 180, 240)]
    assert [t for t, s in zip((0, 30, 59, 60, 90, 120, 180, 240), said, strict=True) if s] == [0, 60, 120]
    first, _, _, second, *_ = said
    assert first is not None
    assert first.reason == "DCA buy 1 of 3: first buy of the cycle"
    assert second is not None
    assert second.reason == "DCA buy 2 of 3: 1 min since the last buy"
    assert history_needed(strategy) is None


def test_dca_on_drops_starts_a_new_cycle_once_the_position_is_sold() -> None:
    strategy = build("dca", {"mode": "drop", "drop_pct": 2, "take_profit_pct": None})
    ctx = context()
    assert strategy.on_tick(tick_at(100.0, T0), ctx) is not None
    ctx.position.apply_fill(Side.BUY, Decimal(1), Decimal(100), Decimal(0))
    assert strategy.on_tick(tick_at(98.5, T0 + 1), ctx) is None
    again = strategy.on_tick(tick_at(98.0, T0 + 2), ctx)
    assert again is not None
    assert again.reason.startswith("DCA buy 2 of 10: price 98 is 2.00% below")
    ctx.position.apply_fill(Side.SELL, Decimal(1), Decimal(110), Decimal(0))
    fresh = strategy.on_tick(tick_at(110.0, T0 + 3), ctx)
    assert fresh is not None
    assert "buy 1 of 10" in fresh.reason


def test_acting_intra_candle_can_repaint_and_says_so() -> None:
    """A spike inside a candle crosses the averages for a moment; the candle closes back down."""
    spike = [10.0] * 5 + [9.0, 8.0]  # closes: fast below slow
    ticks_in_candle = [8.0, 30.0, 31.0, 8.0]  # forming candle spikes, then closes at 8
    on_close = build("sma_crossover", {"fast": 2, "slow": 4})
    intra = build("sma_crossover", {"fast": 2, "slow": 4, "act_on": "tick"})
    for strategy in (on_close, intra):
        feed_closes(strategy, context(), spike)
    start = T0 + len(spike) * 60
    close_ctx, intra_ctx = context(), context()
    closed = [on_close.on_tick(tick_at(p, start + 5 + i), close_ctx) for i, p in enumerate(ticks_in_candle)]
    early = [intra.on_tick(tick_at(p, start + 5 + i), intra_ctx) for i, p in enumerate(ticks_in_candle)]
    assert sides(closed) == []
    # One buy for the candle however many of its ticks agree, and the reason warns of repainting.
    assert sides(early) == [Side.BUY]
    buy = next(s for s in early if s is not None)
    assert buy.reason == "SMA2 crossed above SMA4 intra-candle (1m, may repaint)"
    # The candle closed back below: at the close nothing crossed, so nothing more is said.
    after = intra.on_tick(tick_at(8.0, start + 61), intra_ctx)
    assert after is None


def test_warm_up_lets_a_new_bot_trade_on_its_first_candle() -> None:
    strategy = build("sma_crossover", {"fast": 3, "slow": 10, "timeframe": "5m"})
    request = history_needed(strategy)
    assert request == WarmUpRequest(Timeframe.FIVE_MINUTES, 10)
    ctx = context()
    first_live = T0 + 3600
    history = [
        Candle(first_live - (40 - i) * 300, 300, 1, 1, 1, 100.0 - i * 0.5) for i in range(40)
    ]  # a long decline: the fast average sits below the slow one
    warm_up_bot(strategy, ctx, history)
    first = strategy.on_tick(tick_at(120.0, first_live + 1), ctx)  # opens the first live candle
    assert first is None
    buy = strategy.on_tick(tick_at(121.0, first_live + 301), ctx)  # ...which closed at 120
    assert buy is not None
    assert buy.side is Side.BUY

    cold = build("sma_crossover", {"fast": 3, "slow": 10, "timeframe": "5m"})
    assert cold.on_tick(tick_at(120.0, first_live + 1), context()) is None
    assert cold.on_tick(tick_at(121.0, first_live + 301), context()) is None  # still warming up


def test_tick_strategies_need_no_warm_up_and_ignore_it() -> None:
    strategy = build("ema_crossover", {})
    assert history_needed(strategy) is None
    warm_up_bot(strategy, context(), [Candle(T0, 60, 1, 1, 1, 1)])
    assert history_needed(build("threshold", {})) is None
    assert history_needed(build("rsi_reversion", {})) == WarmUpRequest(Timeframe.ONE_MINUTE, 140)
    assert history_needed(build("macd_cross", {"stop_loss_pct": 5})) == WarmUpRequest(
        Timeframe.ONE_MINUTE, 105
    )
