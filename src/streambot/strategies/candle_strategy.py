"""The base of strategies that decide on bars: ticks, or candles built from ticks.

A subclass acquires its (shared) indicators in ``setup`` and decides in ``evaluate(price, final,
ctx)``:

- ``final=True``: a bar closed at ``price``; indicators hold committed values (``.value``). State
  such as "which average was above" is committed only here.
- ``final=False``: intra-candle, ``price`` is the forming candle's close so far; read indicators
  with ``.peek(price)``, and commit nothing.

Repainting is a parameter, never an accident: with ``act_on="close"`` a bot decides once per
closed candle on values that never change afterwards. With ``act_on="tick"`` it decides on every
tick from the forming candle, earlier but on values the rest of the candle may revise; such a bot
signals at most once per side per candle, and its reasons say "intra-candle".
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, Generic, Literal, TypeVar

from pydantic import Field

from streambot.domain import Candle, Side, Signal, Ticker, Timeframe
from streambot.strategies.base import BotContext, StrategyParams, WarmUpRequest
from streambot.strategies.candles import BarTimeframe
from streambot.strategies.indicators.hub import CandleFrame, CandleIndicator, Frame, ProductSeries

WARM_UP_LIMIT = 1000
"""Most candles a warm-up asks for (the exchange pages them 350 at a time)."""


class CandleParams(StrategyParams):
    timeframe: BarTimeframe = Field(
        default="1m",
        description="What one bar is: 'tick' (every tick is a bar) or a candle length built from ticks.",
    )
    act_on: Literal["close", "tick"] = Field(
        default="close",
        description="'close': decide once per closed candle, on values that never repaint. "
        "'tick': decide on every tick from the forming candle — earlier, but the candle may still "
        "move against the signal before it closes.",
    )


ParamsT = TypeVar("ParamsT", bound=CandleParams)
IndicatorT = TypeVar("IndicatorT", bound=CandleIndicator)


class CandleStrategy(Generic[ParamsT]):
    """Binds to its product's shared frame on the first tick (or warm-up), then decides per bar."""

    __slots__ = (
        "__weakref__",
        "_bought_bar",
        "_candles",
        "_intra",
        "_releases",
        "_series",
        "_sold_bar",
        "params",
    )

    def __init__(self, params: ParamsT) -> None:
        self.params = params
        self._series: ProductSeries | None = None
        self._candles: CandleFrame | None = None  # None on the tick timeframe
        self._releases: list[Callable[[], Any]] = []
        self._intra = params.act_on == "tick" and params.timeframe != "tick"
        self._bought_bar = -1  # the candle of the last intra-candle buy
        self._sold_bar = -1

    # --- for subclasses ---------------------------------------------------------------------

    def setup(self, frame: Frame) -> None:
        """Acquire indicators with ``self.share``; called once, when the bot binds."""

    def evaluate(self, price: float, final: bool, ctx: BotContext) -> Signal | None:
        raise NotImplementedError

    def on_candle(self, candle: Candle, ctx: BotContext) -> Signal | None:
        """A candle of the timeframe closed; override for more than its close."""
        return self.evaluate(candle.close, True, ctx)

    def bars_needed(self) -> int:
        """Closed candles the indicators need to be ready and settled."""
        return 0

    def share(self, frame: Frame, key: Hashable, factory: Callable[[], IndicatorT]) -> IndicatorT:
        """The frame's shared indicator under ``key`` (name and parameters), made by ``factory``."""
        indicator, release = frame.acquire(self, key, factory)
        self._releases.append(release)
        return indicator

    def when(self, final: bool) -> str:
        """How a reason says when the decision was taken."""
        timeframe = self.params.timeframe
        if timeframe == "tick":
            return ""
        return f" on the {timeframe} close" if final else f" intra-candle ({timeframe}, may repaint)"

    @property
    def intra(self) -> bool:
        """Whether it decides inside a forming candle (``act_on="tick"`` on candles)."""
        return self._intra

    def closed_bar(self, tick: Ticker, ctx: BotContext) -> float | None:
        """Advance the product's series with ``tick`` (once per tick, whoever asks first) and
        return the close of the bar that closed with it, if one did: the tick's price on the tick
        timeframe. A group of identical bots decides on it once for all (not intra-candle)."""
        series = self._series
        if series is None:
            series = self._bind(ctx)
        if series.last_tick is not tick:
            series.on_tick(tick)
        frame = self._candles
        if frame is None:
            return tick.price
        closed = frame.just_closed
        return None if closed is None else closed.close

    def bound(self) -> tuple[ProductSeries, CandleFrame | None] | None:
        """What ``closed_bar`` reads once bound (the product's series, the candles or None on the
        tick timeframe), for a group that reads the bar itself on every tick; None before."""
        series = self._series
        return None if series is None else (series, self._candles)

    # --- the Strategy protocol ----------------------------------------------------------------

    def on_tick(self, tick: Ticker, ctx: BotContext) -> Signal | None:
        series = self._series
        if series is None:
            series = self._bind(ctx)
        if series.last_tick is not tick:
            series.on_tick(tick)
        frame = self._candles
        if frame is None:
            return self.evaluate(tick.price, True, ctx)
        closed = frame.just_closed
        if not self._intra:
            return None if closed is None else self.on_candle(closed, ctx)
        bar = frame.builder.closed_count
        if closed is not None:
            signal = self._once(self.on_candle(closed, ctx), bar - 1)
            if signal is not None:
                return signal
        return self._once(self.evaluate(tick.price, False, ctx), bar)

    def warm_up(self, history: Sequence[Candle], ctx: BotContext) -> None:
        """Seed the frame (shared: bots already running keep their values) from closed candles."""
        if self._series is None:
            self._bind(ctx)
        frame = self._candles
        if frame is None:
            return
        frame.seed(history)
        last = frame.last_closed
        if last is not None:
            # Sets state such as "fast above slow" so the first live candle can already be a cross;
            # a signal on history would be stale, so it is dropped.
            self.on_candle(last, ctx)

    def history_needed(self) -> WarmUpRequest | None:
        timeframe = self.params.timeframe
        if timeframe == "tick":
            return None
        return WarmUpRequest(Timeframe(timeframe), min(WARM_UP_LIMIT, max(1, self.bars_needed())))

    def close(self) -> None:
        releases, self._releases = self._releases, []
        for release in releases:
            release()
        self._series = None
        self._candles = None

    # --- internals ----------------------------------------------------------------------------

    def _bind(self, ctx: BotContext) -> ProductSeries:
        series = ctx.hub.series(ctx.product_id)
        frame = series.frame(self.params.timeframe)
        self._candles = frame if isinstance(frame, CandleFrame) else None
        self.setup(frame)
        self._series = series
        return series

    def _once(self, signal: Signal | None, bar: int) -> Signal | None:
        if signal is None:
            return None
        if signal.side is Side.BUY:
            if bar == self._bought_bar:
                return None
            self._bought_bar = bar
        else:
            if bar == self._sold_bar:
                return None
            self._sold_bar = bar
        return signal
