"""O(1) incremental indicators on TA-Lib's streaming handles.

A TA-Lib handle needs its look-back of history before it opens; until then the indicator
collects values and reports ``None``. After that every update is one C call, never a pass over
history, and its value is bit-identical to the batch function's on the same bars.

``update`` commits a closed bar; ``peek`` answers what ``update`` would for a bar still forming
(the intra-candle view) and commits nothing. A peek is cached per input so that many bots asking
about the same forming price on one tick cost one C call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import numpy as np
import talib
from talib import stream

from streambot.strategies.candles import Candle

# Exported at run time but missing from the package's type stubs.
InsufficientHistory: type[Exception] = talib.InsufficientHistory  # type: ignore[attr-defined]

V = TypeVar("V")

Triple = tuple[float, float, float]
Pair = tuple[float, float]

_NAN = math.nan


class StreamIndicator(Generic[V]):
    """A TA-Lib stream function of one series (EMA, SMA, RSI, MACD, BBANDS, MAX, MIN, ...).

    ``V`` is ``float`` for single-output functions and a tuple, in the batch function's output
    order, for multi-output ones.
    """

    __slots__ = ("_history", "_min_history", "_open", "_params", "_peek_v", "_peek_x", "handle", "value")

    def __init__(self, function: Callable[..., Any], /, min_history: int = 1, **params: float) -> None:
        self._open = function
        self._params = params
        # Opening raises until there is enough history; skipping attempts below the known minimum
        # avoids building an array and catching an exception on every early bar.
        self._min_history = max(1, min_history)
        self._history: list[float] | None = []
        self.handle: Any = None
        self.value: V | None = None
        self._peek_x = _NAN
        self._peek_v: V | None = None

    @property
    def ready(self) -> bool:
        return self.handle is not None

    def update(self, price: float) -> V | None:
        """Commit one closed bar; returns the new value, ``None`` while warming up."""
        handle = self.handle
        if handle is not None:
            value: V = handle.update(price)
            self.value = value
            self._peek_x = _NAN
            return value
        history = self._history
        assert history is not None
        history.append(price)
        if len(history) >= self._min_history:
            self._try_open(history)
        return self.value

    def peek(self, price: float) -> V | None:
        """The value if the forming bar closed at ``price`` now; commits nothing."""
        if price == self._peek_x:
            return self._peek_v
        handle = self.handle
        if handle is None:
            return None
        value: V = handle.peek(price)
        self._peek_x = price
        self._peek_v = value
        return value

    def at(self, price: float, final: bool) -> V | None:
        """The committed value on a closed bar, the peeked one on a forming bar."""
        return self.value if final else self.peek(price)

    def feed(self, candle: Candle) -> None:
        self.update(candle.close)

    def seed_prices(self, prices: Sequence[float]) -> None:
        """Start over from this history (warm-up): the old handle, if any, is dropped."""
        self.handle = None
        self.value = None
        self._peek_x = _NAN
        self._history = list(prices)
        if len(self._history) >= self._min_history:
            self._try_open(self._history)

    def seed(self, candles: Sequence[Candle]) -> None:
        self.seed_prices([candle.close for candle in candles])

    def _try_open(self, history: list[float]) -> None:
        try:
            handle = self._open(np.asarray(history, dtype=np.float64), **self._params)
        except InsufficientHistory:
            return
        self.handle = handle
        self._history = None
        self.value = _plain(handle.value)


def update_open(indicators: Sequence[StreamIndicator[Any]], price: float, /) -> None:
    """``update`` of each of ``indicators``, every one open (its handle made), in one call: what
    a tick frame runs on every tick, with no call per indicator."""
    for indicator in indicators:
        indicator.value = indicator.handle.update(price)
        indicator._peek_x = _NAN


class BarStreamIndicator(Generic[V]):
    """A TA-Lib stream function of high, low and close (ATR, STOCH): candle timeframes only."""

    __slots__ = ("_history", "_min_history", "_open", "_params", "handle", "value")

    def __init__(self, function: Callable[..., Any], /, min_history: int = 1, **params: float) -> None:
        self._open = function
        self._params = params
        self._min_history = max(1, min_history)
        self._history: list[tuple[float, float, float]] | None = []
        self.handle: Any = None
        self.value: V | None = None

    @property
    def ready(self) -> bool:
        return self.handle is not None

    def update(self, high: float, low: float, close: float) -> V | None:
        handle = self.handle
        if handle is not None:
            value: V = handle.update(high, low, close)
            self.value = value
            return value
        history = self._history
        assert history is not None
        history.append((high, low, close))
        if len(history) >= self._min_history:
            self._try_open(history)
        return self.value

    def peek(self, high: float, low: float, close: float) -> V | None:
        handle = self.handle
        if handle is None:
            return None
        value: V = handle.peek(high, low, close)
        return value

    def feed(self, candle: Candle) -> None:
        self.update(candle.high, candle.low, candle.close)

    def seed(self, candles: Sequence[Candle]) -> None:
        self.handle = None
        self.value = None
        self._history = [(c.high, c.low, c.close) for c in candles]
        if len(self._history) >= self._min_history:
            self._try_open(self._history)

    def _try_open(self, history: list[tuple[float, float, float]]) -> None:
        bars = np.asarray(history, dtype=np.float64)
        try:
            handle = self._open(
                np.ascontiguousarray(bars[:, 0]),
                np.ascontiguousarray(bars[:, 1]),
                np.ascontiguousarray(bars[:, 2]),
                **self._params,
            )
        except InsufficientHistory:
            return
        self.handle = handle
        self._history = None
        self.value = _plain(handle.value)


def _plain(value: Any) -> Any:
    """A handle's opening value as plain floats, like ``update`` returns."""
    if isinstance(value, tuple):
        return tuple(float(v) for v in value)
    return float(value)


def ema(period: int) -> StreamIndicator[float]:
    return StreamIndicator(stream.EMA, min_history=period, timeperiod=period)


def sma(period: int) -> StreamIndicator[float]:
    return StreamIndicator(stream.SMA, min_history=period, timeperiod=period)


def rsi(period: int) -> StreamIndicator[float]:
    return StreamIndicator(stream.RSI, min_history=period + 1, timeperiod=period)


def macd(fast: int = 12, slow: int = 26, signal: int = 9) -> StreamIndicator[Triple]:
    """(macd, signal, histogram)."""
    return StreamIndicator(
        stream.MACD, min_history=slow + signal - 1, fastperiod=fast, slowperiod=slow, signalperiod=signal
    )


def bollinger(period: int = 20, deviations: float = 2.0) -> StreamIndicator[Triple]:
    """(upper, middle, lower) bands around an SMA."""
    return StreamIndicator(
        stream.BBANDS, min_history=period, timeperiod=period, nbdevup=deviations, nbdevdn=deviations, matype=0
    )


def atr(period: int = 14) -> BarStreamIndicator[float]:
    return BarStreamIndicator(stream.ATR, min_history=period + 1, timeperiod=period)


def stochastic(k_period: int = 5, k_slowing: int = 3, d_period: int = 3) -> BarStreamIndicator[Pair]:
    """(slow %K, slow %D), both smoothed with SMAs as the batch STOCH defaults to."""
    return BarStreamIndicator(
        stream.STOCH,
        min_history=k_period + k_slowing + d_period - 2,
        fastk_period=k_period,
        slowk_period=k_slowing,
        slowk_matype=0,
        slowd_period=d_period,
        slowd_matype=0,
    )
