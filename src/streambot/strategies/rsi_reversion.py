"""RSI mean reversion: buy when the RSI says oversold, sell when it says overbought.

Parameters (besides the exits every strategy has):

- ``period`` (14): RSI period, in bars of ``timeframe``.
- ``oversold`` (30): buy, when flat, once the RSI is at or below this.
- ``overbought`` (70): sell the whole position, when holding, once the RSI is at or above this.
- ``order_pct`` (25): percent of the budget each buy spends.
- ``timeframe`` ("1m") and ``act_on`` ("close"): see ``CandleParams``.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, model_validator

from streambot.domain import Side, Signal
from streambot.strategies.base import WHOLE_POSITION, BotContext, ChartLine, StrategySpec
from streambot.strategies.candle_strategy import CandleParams, CandleStrategy
from streambot.strategies.indicators import StreamIndicator, rsi
from streambot.strategies.indicators.hub import Frame
from streambot.strategies.search import search


class RsiReversionParams(CandleParams):
    period: int = Field(
        default=14, ge=2, le=200, description="RSI period, in bars.", json_schema_extra=search(5, 50)
    )
    oversold: float = Field(
        default=30.0,
        gt=0,
        lt=100,
        description="Buy at or below this RSI.",
        json_schema_extra=search(10.0, 45.0, step=1.0),
    )
    overbought: float = Field(
        default=70.0,
        gt=0,
        lt=100,
        description="Sell at or above this RSI.",
        json_schema_extra=search(55.0, 90.0, step=1.0),
    )
    order_pct: Decimal = Field(
        default=Decimal(25), gt=0, le=100, description="Percent of the budget each buy spends."
    )

    @model_validator(mode="after")
    def _oversold_below_overbought(self) -> RsiReversionParams:
        if self.oversold >= self.overbought:
            raise ValueError("oversold must be lower than overbought")
        return self


class RsiReversion(CandleStrategy[RsiReversionParams]):
    __slots__ = ("_rsi",)

    def setup(self, frame: Frame) -> None:
        period = self.params.period
        self._rsi: StreamIndicator[float] = self.share(frame, ("RSI", period), lambda: rsi(period))

    def bars_needed(self) -> int:
        # Wilder smoothing forgets its seed slowly: ten periods leave well under 1% of it.
        return 10 * self.params.period

    def evaluate(self, price: float, final: bool, ctx: BotContext) -> Signal | None:
        value = self._rsi.value if final else self._rsi.peek(price)
        if value is None:
            return None
        params = self.params
        if value <= params.oversold:
            if ctx.holding:
                return None
            return Signal(
                Side.BUY,
                f"RSI{params.period} {value:.1f} ≤ oversold {params.oversold:g}{self.when(final)}",
                budget_pct=params.order_pct,
            )
        if value >= params.overbought and ctx.holding:
            return Signal(
                Side.SELL,
                f"RSI{params.period} {value:.1f} ≥ overbought {params.overbought:g}{self.when(final)}",
                budget_pct=WHOLE_POSITION,
            )
        return None


def chart(params: RsiReversionParams) -> list[ChartLine]:
    levels = (float(params.oversold), float(params.overbought))
    return [ChartLine("rsi", f"RSI {params.period}", {"period": params.period}, "oscillator", levels)]


SPEC = StrategySpec(
    name="rsi_reversion",
    description="Mean reversion on the RSI: buy when oversold, sell the position when overbought.",
    params_model=RsiReversionParams,
    factory=RsiReversion,
    chart=chart,
)
