"""Candles built from ticks: one forming candle and the recent closed ones, per timeframe.

A candle closes when the first tick of a later interval arrives. The exchange sends no "candle
closed" event, and waiting on a timer would put a clock on the hot path, so a quiet market closes
its candle late, on the next tick. Intervals with no tick produce no candle, which is also how the
exchange's candles endpoint reports them, so warm-up history and live candles agree.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Final, Literal

from streambot.domain import Candle, Timeframe

__all__ = [
    "KEEP_CLOSED",
    "TIMEFRAME_SECONDS",
    "BarTimeframe",
    "Candle",
    "CandleBuilder",
    "CandleTimeframe",
    "FormingCandle",
]

BarTimeframe = Literal["tick", "1m", "5m", "15m", "1h"]
"""What one bar is, as a bot's parameters say it: a single tick, or a candle of that length."""

CandleTimeframe = Literal["1m", "5m", "15m", "1h"]

TIMEFRAME_SECONDS: Final[dict[str, int]] = {"tick": 0, **{t.value: t.seconds for t in Timeframe}}


KEEP_CLOSED: Final = 1000
"""Closed candles kept per timeframe: enough to seed a newly added indicator without a REST call."""


class FormingCandle:
    """The candle of the current interval, revised by every tick until it closes.

    Mutable on purpose: freezing a new object per tick would allocate on the hot path.
    """

    __slots__ = ("close", "high", "low", "open", "seconds", "start", "volume")

    def __init__(self, start: int, seconds: int, price: float) -> None:
        self.start = start
        self.seconds = seconds
        self.open = self.high = self.low = self.close = price
        self.volume = 0.0

    def freeze(self) -> Candle:
        return Candle(self.start, self.seconds, self.open, self.high, self.low, self.close, self.volume)


class CandleBuilder:
    """Turns one product's ticks into candles of one length.

    Volume is an estimate: the ticker channel carries no trade sizes, only a rolling 24-hour
    volume, so a candle gets the increases of that figure seen during it. It is good enough to
    weight a VWAP; it is not the exchange's candle volume.
    """

    __slots__ = ("_end", "_last_volume_24h", "closed", "closed_count", "forming", "last_closed", "seconds")

    def __init__(self, seconds: int, keep: int = KEEP_CLOSED) -> None:
        if seconds <= 0:
            raise ValueError("a candle needs a positive length in seconds")
        self.seconds = seconds
        self.forming: FormingCandle | None = None
        self.closed: deque[Candle] = deque(maxlen=keep)
        self.last_closed: Candle | None = None
        self.closed_count = 0
        self._last_volume_24h = -1.0
        self._end = 0  # end of the forming candle's interval

    def on_tick(self, price: float, time: float, volume_24h: float) -> Candle | None:
        """Add one tick; returns the candle this tick closed, if it closed one."""
        last_volume = self._last_volume_24h
        self._last_volume_24h = volume_24h
        forming = self.forming
        # A tick stamped before the forming candle (clock skew between frames) joins it too: a
        # closed candle has already been acted on and is never reopened.
        if time < self._end and forming is not None:
            if price > forming.high:
                forming.high = price
            elif price < forming.low:
                forming.low = price
            forming.close = price
            if volume_24h > last_volume >= 0.0:
                forming.volume += volume_24h - last_volume
            return None
        return self._roll(price, time, volume_24h - last_volume if volume_24h > last_volume >= 0.0 else 0.0)

    def _roll(self, price: float, time: float, traded: float) -> Candle | None:
        seconds = self.seconds
        start = int(time) - int(time) % seconds
        self._end = start + seconds
        closed = None
        forming = self.forming
        if forming is not None:
            closed = forming.freeze()
            self._append(closed)
        fresh = FormingCandle(start, seconds, price)
        fresh.volume = traded
        self.forming = fresh
        return closed

    def seed(self, history: Sequence[Candle]) -> list[Candle]:
        """Merge closed candles fetched from the exchange; returns those newer than any seen.

        Candles at or after the forming candle's start are ignored: the exchange reports its
        current interval too, and that one is still being built here from ticks.
        """
        forming_start = self.forming.start if self.forming is not None else None
        usable = [
            c
            for c in sorted(history, key=_start)
            if c.seconds == self.seconds and (forming_start is None or c.start < forming_start)
        ]
        if not usable:
            return []
        own = list(self.closed)
        first_own = own[0].start if own else None
        last_own = own[-1].start if own else None
        older = [c for c in usable if first_own is None or c.start < first_own]
        newer = [c for c in usable if last_own is not None and c.start > last_own]
        merged = older + own + newer if own else older
        self.closed = deque(merged, maxlen=self.closed.maxlen)
        added = newer if own else older
        self.closed_count += len(added)
        self.last_closed = self.closed[-1]
        return added

    def _append(self, candle: Candle) -> None:
        self.closed.append(candle)
        self.last_closed = candle
        self.closed_count += 1


def _start(candle: Candle) -> int:
    return candle.start
