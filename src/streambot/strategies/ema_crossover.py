"""EMA crossover: buy when the fast EMA crosses above the slow one, sell when it crosses below.

Parameters (besides the exits every strategy has):

- ``fast`` (12), ``slow`` (26): the averages' periods, in bars of ``timeframe``; fast < slow.
- ``order_pct`` (25): percent of the budget each buy spends; a sell sells the whole position.
- ``sell_on_cross`` (true): sell on the cross below; false leaves selling to the exits, e.g. a
  ``take_profit_pct`` above the round-trip fee, so every sell of the strategy's own is a profit.
- ``timeframe`` ("tick"): every tick is a bar by default, as bots stored before candles existed
  expect; "1m", "5m", "15m" or "1h" for candles built from ticks.
- ``act_on`` ("close"): on candles, decide on each close, or on every tick ("tick", may repaint).

A cross is a change of which average is above, from one closed bar to the next; the bot buys only
when flat and sells only when holding.
"""

from __future__ import annotations

from collections.abc import Hashable
from decimal import Decimal
from typing import ClassVar

from pydantic import Field, model_validator

from streambot.domain import Side, Signal
from streambot.strategies.base import WHOLE_POSITION, BotContext, ChartLine, StrategySpec
from streambot.strategies.candle_strategy import CandleParams, CandleStrategy
from streambot.strategies.candles import BarTimeframe
from streambot.strategies.crossover_group import CrossoverGroup
from streambot.strategies.groups import BotGroup
from streambot.strategies.indicators import StreamIndicator, ema
from streambot.strategies.indicators.hub import Frame
from streambot.strategies.search import search


class CrossoverParams(CandleParams):
    fast: int = Field(
        default=12,
        ge=2,
        le=500,
        description="Period of the fast average, in bars.",
        json_schema_extra=search(3, 50, step=1),
    )
    slow: int = Field(
        default=26,
        ge=3,
        le=2000,
        description="Period of the slow average, in bars.",
        json_schema_extra=search(10, 200, step=1),
    )
    order_pct: Decimal = Field(
        default=Decimal(25), gt=0, le=100, description="Percent of the budget each buy spends."
    )
    sell_on_cross: bool = Field(
        default=True,
        strict=True,
        json_schema_extra=search(),
        description="Sell the position when the fast average crosses below the slow one. Off: only "
        "the exits (take_profit_pct, stop_loss_pct, trailing_stop_pct) sell, so a cross that comes "
        "back within the round-trip fee does not turn into a loss.",
    )

    @model_validator(mode="after")
    def _fast_below_slow(self) -> CrossoverParams:
        if self.fast >= self.slow:
            raise ValueError("fast must be shorter than slow")
        return self


class EmaCrossoverParams(CrossoverParams):
    timeframe: BarTimeframe = Field(
        default="tick",
        description="What one bar is: 'tick' (every tick, the default) or a candle length built from ticks.",
    )


class MovingAverageCrossover(CandleStrategy[CrossoverParams]):
    """Crossover of two moving averages of one kind (EMA here, SMA in ``sma_crossover``)."""

    __slots__ = ("_fast", "_slow", "_was_above")

    kind: ClassVar[str] = "EMA"

    def __init__(self, params: CrossoverParams) -> None:
        super().__init__(params)
        self._was_above: bool | None = None

    def setup(self, frame: Frame) -> None:
        fast, slow, average = self.params.fast, self.params.slow, self.average
        self._fast: StreamIndicator[float] = self.share(frame, (self.kind, fast), lambda: average(fast))
        self._slow: StreamIndicator[float] = self.share(frame, (self.kind, slow), lambda: average(slow))

    def average(self, period: int) -> StreamIndicator[float]:
        return ema(period)

    def bars_needed(self) -> int:
        # EMA seeds on an SMA of its first bars; three periods later that seed weighs under 1%.
        return 3 * self.params.slow

    def evaluate(self, price: float, final: bool, ctx: BotContext) -> Signal | None:
        if final:
            fast, slow = self._fast.value, self._slow.value
        else:
            fast, slow = self._fast.peek(price), self._slow.peek(price)
        if fast is None or slow is None:
            return None
        above = fast > slow
        was_above = self._was_above
        if final:
            self._was_above = above
        if was_above is None or above == was_above:
            return None
        if above and not ctx.holding:
            return self.buy_signal(final)
        if not above and ctx.holding and self.params.sell_on_cross:
            return self.sell_signal(final)
        return None

    def averages(self) -> tuple[StreamIndicator[float], StreamIndicator[float]] | None:
        """The fast and the slow average once bound (``setup``), for a group that reads the cross
        itself; None before."""
        return None if self.bound() is None else (self._fast, self._slow)

    def buy_signal(self, final: bool) -> Signal:
        params = self.params
        return Signal(
            Side.BUY,
            f"{self.kind}{params.fast} crossed above {self.kind}{params.slow}{self.when(final)}",
            budget_pct=params.order_pct,
        )

    def sell_signal(self, final: bool) -> Signal:
        params = self.params
        return Signal(
            Side.SELL,
            f"{self.kind}{params.fast} crossed below {self.kind}{params.slow}{self.when(final)}",
            budget_pct=WHOLE_POSITION,
        )

    # --- sharing: identical bots on one product are one group (``strategies.groups``) ----------

    def group_key(self) -> Hashable | None:
        # Intra-candle bots remember which candle they last traded in: that is each bot's own.
        return None if self.intra else self.params

    def new_group(self) -> BotGroup:
        return CrossoverGroup(type(self)(self.params))

    @property
    def was_above(self) -> bool | None:
        """Which average was above at the last closed bar; None before one was ready."""
        return self._was_above

    @was_above.setter
    def was_above(self, value: bool | None) -> None:
        self._was_above = value


class EmaCrossover(MovingAverageCrossover):
    __slots__ = ()


def chart(params: CrossoverParams) -> list[ChartLine]:
    return [ChartLine("ema", f"EMA {n}", {"period": n}) for n in (params.fast, params.slow)]


SPEC = StrategySpec(
    name="ema_crossover",
    description="Buy when the fast EMA crosses above the slow EMA; sell the position when it crosses below.",
    params_model=EmaCrossoverParams,
    factory=EmaCrossover,
    chart=chart,
)
