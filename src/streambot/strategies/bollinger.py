"""Bollinger bands, in one of two modes.

- ``reversion``: buy when the price touches the lower band (stretched down, expected back);
  sell at the middle band (or the upper one, with ``reversion_exit="upper"``).
- ``breakout``: buy when the price closes above the upper band (a move starting); sell when it
  falls back to the middle band.

Parameters (besides the exits every strategy has):

- ``period`` (20): bars in the moving average and the standard deviation.
- ``deviations`` (2.0): band width, in standard deviations.
- ``mode`` ("reversion") and ``reversion_exit`` ("middle"): as above.
- ``order_pct`` (25): percent of the budget each buy spends; a sell sells the whole position.
- ``timeframe`` ("1m") and ``act_on`` ("close"): see ``CandleParams``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field

from streambot.domain import Side, Signal
from streambot.strategies.base import WHOLE_POSITION, BotContext, ChartLine, StrategySpec
from streambot.strategies.candle_strategy import CandleParams, CandleStrategy
from streambot.strategies.indicators import StreamIndicator, Triple, bollinger
from streambot.strategies.indicators.hub import Frame
from streambot.strategies.search import search


class BollingerParams(CandleParams):
    period: int = Field(
        default=20,
        ge=2,
        le=500,
        description="Bars in the average and deviation.",
        json_schema_extra=search(5, 100, step=1),
    )
    deviations: float = Field(
        default=2.0,
        gt=0,
        le=10,
        description="Band width in standard deviations.",
        json_schema_extra=search(1.0, 4.0, step=0.25),
    )
    mode: Literal["reversion", "breakout"] = Field(
        default="reversion",
        json_schema_extra=search(),
        description="'reversion': buy at the lower band, sell at the middle. "
        "'breakout': buy above the upper band, sell back at the middle.",
    )
    reversion_exit: Literal["middle", "upper"] = Field(
        default="middle", description="In reversion mode, the band at which to sell."
    )
    order_pct: Decimal = Field(
        default=Decimal(25), gt=0, le=100, description="Percent of the budget each buy spends."
    )


class Bollinger(CandleStrategy[BollingerParams]):
    __slots__ = ("_bands", "_breakout", "_exit_upper")

    def __init__(self, params: BollingerParams) -> None:
        super().__init__(params)
        self._breakout = params.mode == "breakout"
        self._exit_upper = params.reversion_exit == "upper"

    def setup(self, frame: Frame) -> None:
        period, deviations = self.params.period, self.params.deviations
        self._bands: StreamIndicator[Triple] = self.share(
            frame, ("BBANDS", period, deviations), lambda: bollinger(period, deviations)
        )

    def bars_needed(self) -> int:
        return self.params.period

    def evaluate(self, price: float, final: bool, ctx: BotContext) -> Signal | None:
        bands = self._bands.value if final else self._bands.peek(price)
        if bands is None:
            return None
        upper, middle, lower = bands
        holding = ctx.holding
        if self._breakout:
            if not holding and price > upper:
                return self._buy(f"price {price:g} broke above the upper band {upper:g}", final)
            if holding and price <= middle:
                return self._sell(f"price {price:g} fell back to the middle band {middle:g}", final)
            return None
        if not holding and price <= lower:
            return self._buy(f"price {price:g} touched the lower band {lower:g}", final)
        if holding:
            target, name = (upper, "upper") if self._exit_upper else (middle, "middle")
            if price >= target:
                return self._sell(f"price {price:g} reverted to the {name} band {target:g}", final)
        return None

    def _buy(self, reason: str, final: bool) -> Signal:
        return Signal(Side.BUY, f"Bollinger {reason}{self.when(final)}", budget_pct=self.params.order_pct)

    def _sell(self, reason: str, final: bool) -> Signal:
        return Signal(Side.SELL, f"Bollinger {reason}{self.when(final)}", budget_pct=WHOLE_POSITION)


def chart(params: BollingerParams) -> list[ChartLine]:
    period, deviations = params.period, params.deviations
    return [
        ChartLine("bollinger", f"BB {period} ±{deviations:g}σ", {"period": period, "deviations": deviations})
    ]


SPEC = StrategySpec(
    name="bollinger",
    description="Bollinger bands: buy at the lower band and sell at the middle (reversion), "
    "or buy above the upper band and sell back at the middle (breakout).",
    params_model=BollingerParams,
    factory=Bollinger,
    chart=chart,
)
