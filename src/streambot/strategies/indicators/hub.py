"""Shared indicator handles: one per (product, timeframe, indicator, parameters).

Bots on one product see the same ticks in the same order, so bots that ask for the same
indicator with the same parameters can share one handle. Whichever bot sees a tick first
advances the product's candles and every handle on them; the rest find ``last_tick is tick``
and only read. However many bots share it, an indicator is updated once per bar.

The platform owns one hub per tick stream (the live evaluator, each backtest run): two streams in
one hub would interleave their candles.

A handle lives as long as some strategy holds it: a strategy releases it on ``close()`` or,
failing that, when it is garbage-collected.
"""

from __future__ import annotations

import weakref
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Protocol, TypeVar

from streambot.domain import ProductId, Ticker
from streambot.strategies.candles import (
    KEEP_CLOSED,
    TIMEFRAME_SECONDS,
    BarTimeframe,
    Candle,
    CandleBuilder,
    FormingCandle,
)
from streambot.strategies.indicators.talib_stream import StreamIndicator, update_open


class CandleIndicator(Protocol):
    """What a frame needs of an indicator to keep it current on candles."""

    @property
    def ready(self) -> bool: ...
    def feed(self, candle: Candle) -> None: ...
    def seed(self, candles: Sequence[Candle]) -> None: ...


class PriceIndicator(CandleIndicator, Protocol):
    """An indicator of one series, which a tick frame can feed one price at a time."""

    def update(self, price: float, /) -> Any: ...
    def seed_prices(self, prices: Sequence[float], /) -> None: ...


IndicatorT = TypeVar("IndicatorT", bound=CandleIndicator)

TICK_HISTORY = 2048
"""Recent prices a tick frame keeps, to seed an indicator that a bot adds mid-stream."""


class Frame:
    """One product's bars of one timeframe, and the shared indicators computed on them."""

    __slots__ = ("_entries", "_feeds", "product_id", "timeframe")

    def __init__(self, product_id: ProductId, timeframe: BarTimeframe) -> None:
        self.product_id = product_id
        self.timeframe = timeframe
        self._entries: dict[Hashable, list[Any]] = {}  # key -> [indicator, users]
        self._feeds: list[Any] = []

    def on_tick(self, tick: Ticker) -> None:
        raise NotImplementedError

    def acquire(
        self, owner: object, key: Hashable, factory: Callable[[], IndicatorT]
    ) -> tuple[IndicatorT, Callable[[], Any]]:
        """The shared indicator under ``key``, created by ``factory`` if no one holds it yet.

        Returns it with a release callable; the release also runs when ``owner`` is collected.
        """
        entry = self._entries.get(key)
        if entry is None:
            indicator = factory()
            self._check(indicator)
            self._seed_new(indicator)
            entry = [indicator, 0]
            self._entries[key] = entry
            self._feeds = [*self._feeds, indicator]  # a new list: a tick frame sorts it again
        entry[1] += 1
        release = weakref.finalize(owner, self._release, key)
        release.atexit = False
        shared: IndicatorT = entry[0]
        return shared, release

    def users(self, key: Hashable) -> int:
        entry = self._entries.get(key)
        return entry[1] if entry is not None else 0

    def __len__(self) -> int:
        return len(self._feeds)

    def _release(self, key: Hashable) -> None:
        entry = self._entries.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            del self._entries[key]
            # A new list, not remove(): a release can run from the garbage collector while
            # on_tick is iterating the old one, which must not skip an indicator.
            self._feeds = [feed for feed in self._feeds if feed is not entry[0]]

    def _check(self, indicator: CandleIndicator) -> None:
        """Refuse an indicator this frame cannot feed (a frame-specific rule)."""

    def _seed_new(self, indicator: Any) -> None:
        raise NotImplementedError


class TickFrame(Frame):
    """Every tick is a bar: indicators advance on each price."""

    __slots__ = ("_open", "_others", "_sorted", "_warming", "prices")

    def __init__(self, product_id: ProductId) -> None:
        super().__init__(product_id, "tick")
        self.prices: deque[float] = deque(maxlen=TICK_HISTORY)
        # The feeds sorted: TA-Lib stream indicators already open are advanced in one call
        # (``update_open``), the others (still warming up, or of other kinds) one by one. Sorted
        # again whenever the feeds list is replaced (an indicator acquired or released) and
        # after a tick that advanced one still warming up.
        self._sorted: list[Any] | None = None
        self._open: list[StreamIndicator[Any]] = []
        self._others: list[Any] = []
        self._warming: list[StreamIndicator[Any]] = []  # those of the others that may open

    def _sort(self) -> None:
        feeds = self._sorted = self._feeds
        self._open = [f for f in feeds if type(f) is StreamIndicator and f.handle is not None]
        self._others = [f for f in feeds if not (type(f) is StreamIndicator and f.handle is not None)]
        self._warming = [f for f in self._others if type(f) is StreamIndicator]

    def on_tick(self, tick: Ticker) -> None:
        price = tick.price
        self.prices.append(price)
        if self._feeds is not self._sorted:
            self._sort()
        if self._open:
            update_open(self._open, price)
        others = self._others
        if others:
            for indicator in others:
                indicator.update(price)
            if any(f.handle is not None for f in self._warming):
                self._sort()  # those that opened now are advanced with the open ones from now on

    def _check(self, indicator: CandleIndicator) -> None:
        if not hasattr(indicator, "seed_prices"):
            raise ValueError(
                f"{type(indicator).__name__} needs candles (high, low, volume); "
                "use a candle timeframe such as 1m"
            )

    def _seed_new(self, indicator: Any) -> None:
        if self.prices:
            indicator.seed_prices(list(self.prices))


class CandleFrame(Frame):
    """Candles of one length: indicators advance when a candle closes."""

    __slots__ = ("builder", "just_closed")

    def __init__(self, product_id: ProductId, timeframe: BarTimeframe, keep: int = KEEP_CLOSED) -> None:
        super().__init__(product_id, timeframe)
        self.builder = CandleBuilder(TIMEFRAME_SECONDS[timeframe], keep)
        self.just_closed: Candle | None = None  # the candle the latest tick closed, if any

    @property
    def forming(self) -> FormingCandle | None:
        return self.builder.forming

    @property
    def closed(self) -> deque[Candle]:
        return self.builder.closed

    @property
    def last_closed(self) -> Candle | None:
        return self.builder.last_closed

    def on_tick(self, tick: Ticker) -> None:
        closed = self.builder.on_tick(tick.price, tick.time, tick.volume_24h)
        self.just_closed = closed
        if closed is not None:
            for indicator in self._feeds:
                indicator.feed(closed)

    def seed(self, history: Sequence[Candle]) -> list[Candle]:
        """Merge exchange candles (warm-up). Indicators that are ready catch up on the newer
        candles; those still short of history start over from everything now known."""
        added = self.builder.seed(history)
        known = self.builder.closed
        for indicator in self._feeds:
            if indicator.ready:
                for candle in added:
                    indicator.feed(candle)
            else:
                indicator.seed(known)
        return added

    def _seed_new(self, indicator: Any) -> None:
        if self.builder.closed:
            indicator.seed(self.builder.closed)


class ProductSeries:
    """All frames of one product, advanced together once per tick."""

    __slots__ = ("_frames", "_ordered", "last_tick", "product_id")

    def __init__(self, product_id: ProductId) -> None:
        self.product_id = product_id
        self.last_tick: Ticker | None = None
        self._frames: dict[BarTimeframe, Frame] = {}
        self._ordered: list[Frame] = []

    def frame(self, timeframe: BarTimeframe) -> Frame:
        frame = self._frames.get(timeframe)
        if frame is None:
            frame = (
                TickFrame(self.product_id) if timeframe == "tick" else CandleFrame(self.product_id, timeframe)
            )
            self._frames[timeframe] = frame
            self._ordered.append(frame)
        return frame

    def on_tick(self, tick: Ticker) -> None:
        """Advance every frame by ``tick``; a repeat of the last tick is ignored."""
        if tick is self.last_tick:
            return
        self.last_tick = tick
        if not tick.price > 0.0:
            # A NaN or non-positive price would poison every shared handle (TA-Lib rejects a NaN
            # bar, and the first bot to see it would fail for all); the bar is skipped instead.
            return
        for frame in self._ordered:
            frame.on_tick(tick)


class IndicatorHub:
    """Every product's frames and shared indicators for one tick stream."""

    __slots__ = ("_series", "_watchers")

    def __init__(self) -> None:
        self._series: dict[ProductId, ProductSeries] = {}
        self._watchers: list[Callable[[ProductSeries], None]] = []

    def series(self, product_id: ProductId) -> ProductSeries:
        series = self._series.get(product_id)
        if series is None:
            series = self._series[product_id] = ProductSeries(product_id)
            for watcher in self._watchers:
                watcher(series)
        return series

    def watch(self, watcher: Callable[[ProductSeries], None]) -> None:
        """Call ``watcher`` with every series made from now on (a strategy binding to a product
        makes its series): an evaluator keeps each product's series so, with no lookup per tick."""
        self._watchers.append(watcher)

    def frame(self, product_id: ProductId, timeframe: BarTimeframe) -> Frame:
        return self.series(product_id).frame(timeframe)

    def lookup(self) -> Callable[[ProductId], ProductSeries | None]:
        """A product's series if it has one yet (none before a strategy binds to it): the hub's
        own dictionary lookup, for a hot path (``on_tick`` is a Python call on top). A series,
        once made, stays for the hub's life, so the lookup stays valid."""
        return self._series.get

    def on_tick(self, tick: Ticker) -> None:
        """Advance the tick's product once. Optional: strategies do it themselves on first use,
        but an evaluator that calls this before its bots spares each bot the check."""
        series = self._series.get(tick.product_id)
        if series is not None and series.last_tick is not tick:
            series.on_tick(tick)

    def seed(self, product_id: ProductId, timeframe: BarTimeframe, history: Sequence[Candle]) -> list[Candle]:
        frame = self.frame(product_id, timeframe)
        if not isinstance(frame, CandleFrame):
            return []
        return frame.seed(history)
