"""EMA crossover: buy when the fast EMA crosses above the slow one, sell when it crosses below."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, model_validator

from streambot.domain import Side, Signal, Ticker
from streambot.strategies.base import BotContext, StrategyParams, StrategySpec, register
from streambot.strategies.indicators import ema


class EmaCrossoverParams(StrategyParams):
    fast: int = Field(default=12, ge=2, le=500, description="Period of the fast EMA, in ticks.")
    slow: int = Field(default=26, ge=3, le=2000, description="Period of the slow EMA, in ticks.")
    order_pct: Decimal = Field(
        default=Decimal(25), gt=0, le=100, description="Percent of the budget each buy spends."
    )

    @model_validator(mode="after")
    def _fast_below_slow(self) -> EmaCrossoverParams:
        if self.fast >= self.slow:
            raise ValueError("fast must be shorter than slow")
        return self


class EmaCrossover:
    __slots__ = ("_fast", "_slow", "_was_above", "params")

    def __init__(self, params: EmaCrossoverParams) -> None:
        self.params = params
        self._fast = ema(params.fast)
        self._slow = ema(params.slow)
        self._was_above: bool | None = None

    def on_tick(self, tick: Ticker, ctx: BotContext) -> Signal | None:
        fast = self._fast.update(tick.price)
        slow = self._slow.update(tick.price)
        if fast is None or slow is None:
            return None
        above = fast > slow
        was_above = self._was_above
        self._was_above = above
        if was_above is None or above == was_above:
            return None
        if above and not ctx.holding:
            return Signal(
                Side.BUY,
                f"EMA{self.params.fast} crossed above EMA{self.params.slow}",
                budget_pct=self.params.order_pct,
            )
        if not above and ctx.holding:
            return Signal(
                Side.SELL,
                f"EMA{self.params.fast} crossed below EMA{self.params.slow}",
                budget_pct=Decimal(100),
            )
        return None


SPEC = register(
    StrategySpec(
        name="ema_crossover",
        description="Buy when the fast EMA crosses above the slow EMA; "
        "sell the position when it crosses below.",
        params_model=EmaCrossoverParams,
        factory=EmaCrossover,
    )
)
