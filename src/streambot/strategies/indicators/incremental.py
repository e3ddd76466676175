"""Hand-written O(1) indicators where TA-Lib has no streaming equivalent we want.

Rolling high/low keep a monotonic deque: each value enters once and leaves once, so an update is
amortised O(1) however long the window. VWAP keeps running sums and, because subtracting what
leaves the window accumulates rounding, recomputes them exactly once per window length.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

from streambot.strategies.candles import Candle


class _RollingExtreme:
    __slots__ = ("_count", "_window", "period", "value")

    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError("period must be at least 1")
        self.period = period
        # (bar index, value), values strictly decreasing (high) or increasing (low) from the left.
        self._window: deque[tuple[int, float]] = deque()
        self._count = 0
        self.value: float | None = None

    @property
    def ready(self) -> bool:
        return self._count >= self.period

    def _beats(self, new: float, old: float) -> bool:
        raise NotImplementedError

    def update(self, price: float) -> float | None:
        window = self._window
        beats = self._beats
        while window and not beats(window[-1][1], price):
            window.pop()
        index = self._count
        window.append((index, price))
        self._count = index + 1
        if window[0][0] <= index - self.period:
            window.popleft()
        if self._count >= self.period:
            self.value = window[0][1]
        return self.value

    def peek(self, price: float) -> float | None:
        """The extreme if the forming bar closed at ``price``; commits nothing."""
        if self._count + 1 < self.period:
            return None
        window = self._window
        expired = self._count - self.period  # index leaving the window when the next bar lands
        best = price
        for index, value in window:
            if index > expired:
                if self._beats(value, best):
                    best = value
                break
        return best

    def at(self, price: float, final: bool) -> float | None:
        return self.value if final else self.peek(price)

    def seed_prices(self, prices: Sequence[float]) -> None:
        self._window.clear()
        self._count = 0
        self.value = None
        for price in prices[-self.period :]:
            self.update(price)


class RollingHigh(_RollingExtreme):
    """Highest value over the last ``period`` bars (candle highs on candle timeframes)."""

    __slots__ = ()

    def _beats(self, new: float, old: float) -> bool:
        return new > old

    def feed(self, candle: Candle) -> None:
        self.update(candle.high)

    def seed(self, candles: Sequence[Candle]) -> None:
        self.seed_prices([c.high for c in candles])


class RollingLow(_RollingExtreme):
    """Lowest value over the last ``period`` bars (candle lows on candle timeframes)."""

    __slots__ = ()

    def _beats(self, new: float, old: float) -> bool:
        return new < old

    def feed(self, candle: Candle) -> None:
        self.update(candle.low)

    def seed(self, candles: Sequence[Candle]) -> None:
        self.seed_prices([c.low for c in candles])


class Vwap:
    """Volume-weighted average price over the last ``period`` bars, or anchored.

    With ``period=None`` it accumulates since the anchor: ``anchor_seconds=86_400`` restarts it
    at each UTC day, the usual intraday VWAP. Candles are weighted at their typical price
    (high + low + close) / 3. Candle timeframes only: ticks carry no trade size.
    """

    __slots__ = (
        "_anchor",
        "_anchor_seconds",
        "_since_exact",
        "_sum_pv",
        "_sum_v",
        "_window",
        "period",
        "value",
    )

    def __init__(self, period: int | None = None, anchor_seconds: int | None = None) -> None:
        if period is not None and period < 1:
            raise ValueError("period must be at least 1")
        self.period = period
        self._anchor_seconds = anchor_seconds
        self._anchor = -1
        self._window: deque[tuple[float, float]] = deque()
        self._sum_pv = 0.0
        self._sum_v = 0.0
        self._since_exact = 0
        self.value: float | None = None

    @property
    def ready(self) -> bool:
        return self.value is not None

    def update(self, price: float, volume: float) -> float | None:
        pv = price * volume
        period = self.period
        if period is not None:
            window = self._window
            window.append((pv, volume))
            if len(window) > period:
                old_pv, old_v = window.popleft()
                self._sum_pv -= old_pv
                self._sum_v -= old_v
            self._since_exact += 1
            if self._since_exact >= period:
                self._since_exact = 0
                self._sum_pv = math.fsum(p for p, _ in window)
                self._sum_v = math.fsum(v for _, v in window)
                self.value = self._sum_pv / self._sum_v if self._sum_v > 0.0 else self.value
                return self.value
        self._sum_pv += pv
        self._sum_v += volume
        if self._sum_v > 0.0:
            self.value = self._sum_pv / self._sum_v
        return self.value

    def peek(self, price: float, volume: float) -> float | None:
        sum_pv = self._sum_pv + price * volume
        sum_v = self._sum_v + volume
        if self.period is not None and len(self._window) >= self.period:
            old_pv, old_v = self._window[0]
            sum_pv -= old_pv
            sum_v -= old_v
        return sum_pv / sum_v if sum_v > 0.0 else self.value

    def reset(self) -> None:
        self._window.clear()
        self._sum_pv = self._sum_v = 0.0
        self._since_exact = 0
        self.value = None

    def feed(self, candle: Candle) -> None:
        anchor_seconds = self._anchor_seconds
        if anchor_seconds:
            anchor = candle.start // anchor_seconds
            if anchor != self._anchor:
                self._anchor = anchor
                self.reset()
        self.update((candle.high + candle.low + candle.close) / 3.0, candle.volume)

    def seed(self, candles: Sequence[Candle]) -> None:
        self.reset()
        self._anchor = -1
        for candle in candles:
            self.feed(candle)
