"""Shared handles: bots with the same (product, timeframe, indicator, parameters) share one."""

from __future__ import annotations

import gc

import numpy as np
import pytest
import talib

from streambot.strategies.base import close_strategy
from streambot.strategies.ema_crossover import EmaCrossover
from streambot.strategies.indicators import IndicatorHub, StreamIndicator, atr, ema
from streambot.strategies.indicators.hub import CandleFrame
from streambot.strategies.registry import build
from tests.unit.strategies.support import T0, context, tick_at


def _prices(count: int) -> list[float]:
    return [float(p) for p in 100 + np.cumsum(np.random.default_rng(3).normal(0, 1, count))]


def test_bots_with_the_same_parameters_share_one_handle_updated_once_per_tick() -> None:
    hub = IndicatorHub()
    bots = [build("ema_crossover", {"fast": 5, "slow": 20}) for _ in range(50)]
    other = build("ema_crossover", {"fast": 6, "slow": 20})
    contexts = [context(hub=hub) for _ in bots]
    prices = _prices(300)
    for i, price in enumerate(prices):
        tick = tick_at(price, T0 + i)
        for bot, ctx in zip(bots, contexts, strict=True):
            bot.on_tick(tick, ctx)
        other.on_tick(tick, context(hub=hub))
        bots[0].on_tick(tick, contexts[0])  # a repeat of the same tick changes nothing

    first = bots[0]
    assert isinstance(first, EmaCrossover)
    assert all(
        isinstance(b, EmaCrossover) and b._fast is first._fast and b._slow is first._slow for b in bots
    )
    assert isinstance(other, EmaCrossover)
    assert other._slow is first._slow
    assert other._fast is not first._fast
    frame = hub.frame("BTC-USD", "tick")
    assert len(frame) == 3
    assert frame.users(("EMA", 20)) == 51
    # Updated more than once per tick, the shared EMA would have drifted from the batch one.
    assert first._fast.value == pytest.approx(talib.EMA(np.array(prices), 5)[-1], rel=1e-12)


def test_products_hubs_and_timeframes_do_not_share() -> None:
    hub = IndicatorHub()
    a, b, c, d = (build("ema_crossover", {"fast": 5, "slow": 20}) for _ in range(4))
    e = build("ema_crossover", {"fast": 5, "slow": 20, "timeframe": "1m"})
    a.on_tick(tick_at(100.0, T0), context(hub=hub))
    b.on_tick(tick_at(100.0, T0, product_id="ETH-USD"), context(hub=hub, product_id="ETH-USD"))
    c.on_tick(tick_at(100.0, T0), context())
    d.on_tick(tick_at(100.0, T0), context(hub=hub))
    e.on_tick(tick_at(100.0, T0), context(hub=hub))
    fasts = [s._fast for s in (a, b, c, d, e) if isinstance(s, EmaCrossover)]
    assert fasts[0] is fasts[3]
    assert len({id(f) for f in fasts}) == 4


def test_a_handle_is_released_when_its_last_bot_closes_or_is_collected() -> None:
    hub = IndicatorHub()
    ctx = context(hub=hub)
    kept, closed = (
        build("sma_crossover", {"fast": 3, "slow": 9}),
        build("sma_crossover", {"fast": 3, "slow": 9}),
    )
    dropped = build("sma_crossover", {"fast": 4, "slow": 9})
    for strategy in (kept, closed, dropped):
        strategy.on_tick(tick_at(100.0, T0), ctx)
    del strategy
    frame = hub.frame("BTC-USD", "1m")
    assert len(frame) == 3  # SMA3, SMA4 and the shared SMA9
    close_strategy(closed)
    close_strategy(closed)  # twice is harmless
    assert frame.users(("SMA", 3)) == 1
    assert len(frame) == 3
    del dropped
    gc.collect()
    assert len(frame) == 2
    assert frame.users(("SMA", 4)) == 0
    close_strategy(kept)
    assert len(frame) == 0


def test_an_indicator_added_mid_stream_starts_from_the_frames_history() -> None:
    hub = IndicatorHub()
    prices = _prices(500)
    running = build("ema_crossover", {"fast": 5, "slow": 20})
    for i, price in enumerate(prices):
        running.on_tick(tick_at(price, T0 + i), context(hub=hub))
    late = build("ema_crossover", {"fast": 8, "slow": 30})
    late.on_tick(tick_at(prices[-1] + 1, T0 + 500), context(hub=hub))
    assert isinstance(late, EmaCrossover)
    assert late._slow.ready
    expected = talib.EMA(np.array([*prices, prices[-1] + 1]), 30)[-1]
    assert late._slow.value == pytest.approx(expected, rel=1e-12)


def test_candle_indicators_advance_on_closes_and_tick_frames_refuse_bar_indicators() -> None:
    hub = IndicatorHub()
    frame = hub.frame("BTC-USD", "1m")
    assert isinstance(frame, CandleFrame)
    owner = EmaCrossover.__new__(EmaCrossover)  # any object that can be weakly referenced
    shared, _ = frame.acquire(owner, ("EMA", 3), lambda: ema(3))
    assert isinstance(shared, StreamIndicator)
    closes = [10.0, 11.0, 12.0, 13.0, 14.0]
    for i, price in enumerate(closes):
        hub.on_tick(tick_at(price, T0 + i * 60))  # the evaluator may advance the hub itself
        hub.series("BTC-USD").on_tick(tick_at(price, T0 + i * 60))
    assert frame.builder.closed_count == 4
    assert frame.just_closed is None
    assert shared.value == pytest.approx(talib.EMA(np.array(closes[:4]), 3)[-1])
    with pytest.raises(ValueError, match="needs candles"):
        hub.frame("BTC-USD", "tick").acquire(owner, ("ATR", 14), lambda: atr(14))


def test_a_bad_price_is_skipped_rather_than_poisoning_shared_handles() -> None:
    hub = IndicatorHub()
    strategy = build("ema_crossover", {"fast": 2, "slow": 3})
    ctx = context(hub=hub)
    for i, price in enumerate([10.0, 11.0, 12.0]):
        strategy.on_tick(tick_at(price, T0 + i), ctx)
    assert isinstance(strategy, EmaCrossover)
    before = strategy._slow.value
    assert strategy.on_tick(tick_at(float("nan"), T0 + 3), ctx) is None
    assert strategy.on_tick(tick_at(-1.0, T0 + 4), ctx) is None
    assert strategy._slow.value == before
