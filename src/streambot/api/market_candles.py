"""Candles for the dashboard's charts, built from the live ticks (GET /api/v1/market/candles).

Fed from a latest-wins bus mailbox in its own task, so charting never slows the evaluator. When
ticks arrive faster than this task runs, a skipped tick's price can be missing from a candle's
high or low; the close is always the latest price.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal, get_args

from streambot.bus import Bus
from streambot.domain import Candle, ProductId, Timeframe
from streambot.strategies.candles import CandleBuilder

ChartTimeframe = Literal["1m", "5m", "15m", "1h"]
CHART_TIMEFRAMES: Final[tuple[ChartTimeframe, ...]] = get_args(ChartTimeframe)
KEEP: Final = 500


class MarketCandles:
    def __init__(self, bus: Bus, products: Sequence[ProductId], keep: int = KEEP) -> None:
        self._bus = bus
        self.builders: dict[tuple[ProductId, str], CandleBuilder] = {
            (product, tf): CandleBuilder(Timeframe(tf).seconds, keep=keep)
            for product in products
            for tf in CHART_TIMEFRAMES
        }

    async def run(self) -> None:
        mailbox = self._bus.tick_mailbox("chart-candles")
        try:
            while True:
                tick = await mailbox.get()
                for tf in CHART_TIMEFRAMES:
                    builder = self.builders.get((tick.product_id, tf))
                    if builder is not None:
                        builder.on_tick(tick.price, tick.time, tick.volume_24h)
        finally:
            self._bus.remove_mailbox(mailbox)

    def candles(self, product_id: ProductId, timeframe: str, limit: int) -> list[tuple[Candle, bool]]:
        """The newest ``limit`` candles, oldest first; the flag marks the one still forming."""
        builder = self.builders.get((product_id, timeframe))
        if builder is None:
            return []
        out: list[tuple[Candle, bool]] = [(c, False) for c in builder.closed]
        if builder.forming is not None:
            out.append((builder.forming.freeze(), True))
        return out[-limit:]
