"""Each incremental indicator against the batch TA-Lib function (or a plain reference) on 10,000 bars."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import talib

from streambot.strategies.candles import Candle
from streambot.strategies.indicators import (
    RollingHigh,
    RollingLow,
    StreamIndicator,
    Vwap,
    atr,
    bollinger,
    ema,
    macd,
    rsi,
    sma,
    stochastic,
)

N = 10_000


@pytest.fixture(scope="module")
def bars() -> tuple[np.ndarray[Any, np.dtype[np.float64]], ...]:
    rng = np.random.default_rng(42)
    close = 100 + np.cumsum(rng.normal(0, 1, N))
    high = close + rng.uniform(0, 2, N)
    low = close - rng.uniform(0, 2, N)
    volume = rng.uniform(0.1, 5, N)
    return close, high, low, volume


def _as_rows(values: list[Any], outputs: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Streamed values (None while warming up) as an array shaped like the batch output."""
    nan = (math.nan,) * outputs if outputs > 1 else math.nan
    return np.array([nan if v is None else v for v in values], dtype=np.float64)


@pytest.mark.parametrize(
    ("make", "batch", "outputs"),
    [
        (lambda: ema(21), lambda c: talib.EMA(c, timeperiod=21), 1),
        (lambda: sma(50), lambda c: talib.SMA(c, timeperiod=50), 1),
        (lambda: rsi(14), lambda c: talib.RSI(c, timeperiod=14), 1),
        (lambda: macd(12, 26, 9), lambda c: np.column_stack(talib.MACD(c, 12, 26, 9)), 3),
        (
            lambda: bollinger(20, 2.0),
            lambda c: np.column_stack(talib.BBANDS(c, timeperiod=20, nbdevup=2.0, nbdevdn=2.0)),
            3,
        ),
    ],
    ids=["EMA", "SMA", "RSI", "MACD", "BBANDS"],
)
def test_stream_indicator_matches_the_batch_function(
    bars: tuple[np.ndarray[Any, np.dtype[np.float64]], ...], make: Any, batch: Any, outputs: int
) -> None:
    close = bars[0]
    indicator: StreamIndicator[Any] = make()
    streamed = _as_rows([indicator.update(float(p)) for p in close], outputs)
    expected = batch(close)
    # Warming up reports None exactly where the batch reports NaN, then every value agrees.
    np.testing.assert_array_equal(np.isnan(streamed), np.isnan(expected))
    np.testing.assert_allclose(streamed, expected, rtol=1e-12, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize(
    ("make", "batch", "outputs"),
    [
        (lambda: atr(14), lambda h, lo, c: talib.ATR(h, lo, c, timeperiod=14), 1),
        (
            lambda: stochastic(5, 3, 3),
            lambda h, lo, c: np.column_stack(
                talib.STOCH(h, lo, c, fastk_period=5, slowk_period=3, slowd_period=3)
            ),
            2,
        ),
    ],
    ids=["ATR", "STOCH"],
)
def test_bar_indicator_matches_the_batch_function(
    bars: tuple[np.ndarray[Any, np.dtype[np.float64]], ...], make: Any, batch: Any, outputs: int
) -> None:
    close, high, low, _ = bars
    indicator = make()
    streamed = _as_rows(
        [indicator.update(float(h), float(lo), float(c)) for h, lo, c in zip(high, low, close, strict=True)],
        outputs,
    )
    expected = batch(high, low, close)
    np.testing.assert_array_equal(np.isnan(streamed), np.isnan(expected))
    np.testing.assert_allclose(streamed, expected, rtol=1e-12, atol=1e-12, equal_nan=True)


def test_peek_says_what_update_will_and_commits_nothing(
    bars: tuple[np.ndarray[Any, np.dtype[np.float64]], ...],
) -> None:
    close = [float(p) for p in bars[0][:500]]
    indicator = macd()
    assert indicator.peek(close[0]) is None  # nothing to peek at before it opens
    for price in close[:100]:
        indicator.update(price)
    for price in close[100:]:
        # A forming bar revised several times: each peek answers for that price alone.
        for revision in (price * 1.01, price * 0.99, price):
            peeked = indicator.peek(revision)
            assert peeked is not None
        assert indicator.peek(price) == indicator.update(price)
        assert indicator.at(price, final=True) == indicator.value


def test_seeding_from_history_equals_feeding_it(
    bars: tuple[np.ndarray[Any, np.dtype[np.float64]], ...],
) -> None:
    close = [float(p) for p in bars[0][:1000]]
    fed, seeded = rsi(14), rsi(14)
    for price in close[:800]:
        fed.update(price)
    seeded.seed_prices(close[:800])
    assert seeded.ready
    assert seeded.value == fed.value
    for price in close[800:]:
        assert seeded.update(price) == fed.update(price)
    short = ema(50)
    short.seed_prices(close[:10])
    assert not short.ready
    assert short.value is None
    candles = [Candle(i * 60, 60, p, p, p, p) for i, p in enumerate(close[:200])]
    from_candles = ema(50)
    from_candles.seed(candles)
    assert from_candles.value == pytest.approx(talib.EMA(np.array(close[:200]), 50)[-1], rel=1e-12)


@pytest.mark.parametrize(("cls", "batch"), [(RollingHigh, talib.MAX), (RollingLow, talib.MIN)])
def test_rolling_high_and_low_match_talib_max_and_min(
    bars: tuple[np.ndarray[Any, np.dtype[np.float64]], ...], cls: type[RollingHigh | RollingLow], batch: Any
) -> None:
    close = bars[0]
    indicator = cls(30)
    streamed = []
    for price in close:
        p = float(price)
        peeked = indicator.peek(p)
        value = indicator.update(p)
        assert peeked is None or peeked == value
        streamed.append(value)
    np.testing.assert_array_equal(_as_rows(streamed, 1), batch(close, timeperiod=30))


def test_rolling_high_and_low_feed_on_candle_highs_and_lows(
    bars: tuple[np.ndarray[Any, np.dtype[np.float64]], ...],
) -> None:
    close, high, low, _ = bars
    candles = [
        Candle(i * 60, 60, float(c), float(h), float(lo), float(c))
        for i, (c, h, lo) in enumerate(zip(close[:300], high[:300], low[:300], strict=True))
    ]
    highest, lowest = RollingHigh(20), RollingLow(20)
    for candle in candles:
        highest.feed(candle)
        lowest.feed(candle)
    assert highest.value == max(high[280:300])
    assert lowest.value == min(low[280:300])
    reseeded = RollingHigh(20)
    reseeded.seed(candles)
    assert reseeded.value == highest.value


def test_rolling_vwap_matches_a_plain_reference(
    bars: tuple[np.ndarray[Any, np.dtype[np.float64]], ...],
) -> None:
    close, _, _, volume = bars
    window = 50
    vwap = Vwap(window)
    for i, (price, size) in enumerate(zip(close, volume, strict=True)):
        peeked = vwap.peek(float(price), float(size))
        value = vwap.update(float(price), float(size))
        assert value == pytest.approx(peeked, rel=1e-9)
        lo = max(0, i + 1 - window)
        reference = float(np.sum(close[lo : i + 1] * volume[lo : i + 1]) / np.sum(volume[lo : i + 1]))
        assert value == pytest.approx(reference, rel=1e-9)


def test_anchored_vwap_restarts_each_day_on_typical_prices() -> None:
    day = 86_400
    candles = [
        Candle(0, 3600, 10, 12, 9, 11, 2.0),
        Candle(3600, 3600, 11, 13, 10, 12, 1.0),
        Candle(day, 3600, 20, 21, 19, 20, 4.0),
    ]
    vwap = Vwap(anchor_seconds=day)
    vwap.feed(candles[0])
    vwap.feed(candles[1])
    typical = [(12 + 9 + 11) / 3, (13 + 10 + 12) / 3]
    assert vwap.value == pytest.approx((typical[0] * 2 + typical[1] * 1) / 3)
    vwap.feed(candles[2])
    assert vwap.value == pytest.approx(20.0)
    assert Vwap().update(5.0, 0.0) is None  # no volume yet: no average
