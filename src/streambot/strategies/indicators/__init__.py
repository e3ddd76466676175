"""Incremental indicators (O(1) per bar) and the hub that shares them between bots.

TA-Lib's streaming handles where TA-Lib has the function (EMA, SMA, RSI, MACD, Bollinger, ATR,
Stochastic, ...), hand-written incremental ones where it does not (VWAP, rolling high/low).
"""

from streambot.strategies.indicators.hub import (
    CandleFrame,
    CandleIndicator,
    Frame,
    IndicatorHub,
    PriceIndicator,
    ProductSeries,
    TickFrame,
)
from streambot.strategies.indicators.incremental import RollingHigh, RollingLow, Vwap
from streambot.strategies.indicators.talib_stream import (
    BarStreamIndicator,
    InsufficientHistory,
    Pair,
    StreamIndicator,
    Triple,
    atr,
    bollinger,
    ema,
    macd,
    rsi,
    sma,
    stochastic,
)

__all__ = [
    "BarStreamIndicator",
    "CandleFrame",
    "CandleIndicator",
    "Frame",
    "IndicatorHub",
    "InsufficientHistory",
    "Pair",
    "PriceIndicator",
    "ProductSeries",
    "RollingHigh",
    "RollingLow",
    "StreamIndicator",
    "TickFrame",
    "Triple",
    "Vwap",
    "atr",
    "bollinger",
    "ema",
    "macd",
    "rsi",
    "sma",
    "stochastic",
]
