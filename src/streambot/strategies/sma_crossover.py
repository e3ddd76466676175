"""SMA crossover: buy when the fast SMA crosses above the slow one, sell when it crosses below.

Parameters (besides the exits every strategy has):

- ``fast`` (12), ``slow`` (26): the averages' periods, in bars of ``timeframe``; fast < slow.
- ``order_pct`` (25): percent of the budget each buy spends; a sell sells the whole position.
- ``sell_on_cross`` (true): sell on the cross below; false leaves selling to the exits.
- ``timeframe`` ("1m"): candle length built from ticks, or "tick" for every tick.
- ``act_on`` ("close"): decide on each candle close, or on every tick ("tick", may repaint).
"""

from __future__ import annotations

from typing import ClassVar

from streambot.strategies.base import ChartLine, StrategySpec
from streambot.strategies.ema_crossover import CrossoverParams, MovingAverageCrossover
from streambot.strategies.indicators import StreamIndicator, sma


class SmaCrossoverParams(CrossoverParams):
    pass


class SmaCrossover(MovingAverageCrossover):
    __slots__ = ()

    kind: ClassVar[str] = "SMA"

    def average(self, period: int) -> StreamIndicator[float]:
        return sma(period)

    def bars_needed(self) -> int:
        return self.params.slow  # an SMA forgets everything older than its period


def chart(params: CrossoverParams) -> list[ChartLine]:
    return [ChartLine("sma", f"SMA {n}", {"period": n}) for n in (params.fast, params.slow)]


SPEC = StrategySpec(
    name="sma_crossover",
    description="Buy when the fast SMA crosses above the slow SMA; sell the position when it crosses below.",
    params_model=SmaCrossoverParams,
    factory=SmaCrossover,
    chart=chart,
)
