"""MACD cross: buy when the MACD line crosses above its signal line, sell when it crosses below.

Parameters (besides the exits every strategy has):

- ``fast`` (12), ``slow`` (26): the EMAs whose difference is the MACD line; fast < slow.
- ``signal`` (9): period of the signal line, an EMA of the MACD line.
- ``order_pct`` (25): percent of the budget each buy spends; a sell sells the whole position.
- ``timeframe`` ("1m") and ``act_on`` ("close"): see ``CandleParams``.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, model_validator

from streambot.domain import Side, Signal
from streambot.strategies.base import WHOLE_POSITION, BotContext, ChartLine, StrategySpec
from streambot.strategies.candle_strategy import CandleParams, CandleStrategy
from streambot.strategies.indicators import StreamIndicator, Triple, macd
from streambot.strategies.indicators.hub import Frame
from streambot.strategies.search import search


class MacdCrossParams(CandleParams):
    fast: int = Field(
        default=12, ge=2, le=500, description="Fast EMA period, in bars.", json_schema_extra=search(3, 50)
    )
    slow: int = Field(
        default=26, ge=3, le=1000, description="Slow EMA period, in bars.", json_schema_extra=search(10, 200)
    )
    signal: int = Field(
        default=9,
        ge=2,
        le=500,
        description="Signal line (EMA of MACD) period, in bars.",
        json_schema_extra=search(3, 30),
    )
    order_pct: Decimal = Field(
        default=Decimal(25), gt=0, le=100, description="Percent of the budget each buy spends."
    )

    @model_validator(mode="after")
    def _fast_below_slow(self) -> MacdCrossParams:
        if self.fast >= self.slow:
            raise ValueError("fast must be shorter than slow")
        return self


class MacdCross(CandleStrategy[MacdCrossParams]):
    __slots__ = ("_macd", "_was_above")

    def __init__(self, params: MacdCrossParams) -> None:
        super().__init__(params)
        self._was_above: bool | None = None

    def setup(self, frame: Frame) -> None:
        fast, slow, signal = self.params.fast, self.params.slow, self.params.signal
        self._macd: StreamIndicator[Triple] = self.share(
            frame, ("MACD", fast, slow, signal), lambda: macd(fast, slow, signal)
        )

    def bars_needed(self) -> int:
        return 3 * (self.params.slow + self.params.signal)

    def evaluate(self, price: float, final: bool, ctx: BotContext) -> Signal | None:
        value = self._macd.value if final else self._macd.peek(price)
        if value is None:
            return None
        line, signal_line, _ = value
        above = line > signal_line
        was_above = self._was_above
        if final:
            self._was_above = above
        if was_above is None or above == was_above:
            return None
        if above and not ctx.holding:
            return Signal(
                Side.BUY,
                f"MACD {line:.4g} crossed above its signal {signal_line:.4g}{self.when(final)}",
                budget_pct=self.params.order_pct,
            )
        if not above and ctx.holding:
            return Signal(
                Side.SELL,
                f"MACD {line:.4g} crossed below its signal {signal_line:.4g}{self.when(final)}",
                budget_pct=WHOLE_POSITION,
            )
        return None


def chart(params: MacdCrossParams) -> list[ChartLine]:
    fast, slow, signal = params.fast, params.slow, params.signal
    return [
        ChartLine(
            "macd",
            f"MACD {fast}/{slow}/{signal}",
            {"fast": fast, "slow": slow, "signal": signal},
            "oscillator",
            (0.0,),
        )
    ]


SPEC = StrategySpec(
    name="macd_cross",
    description="Buy when the MACD line crosses above its signal line; "
    "sell the position when it crosses below.",
    params_model=MacdCrossParams,
    factory=MacdCross,
    chart=chart,
)
