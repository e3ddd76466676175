"""Candles for the dashboard's charts, built from the live ticks (GET /api/v1/market/candles).

Fed from a latest-wins bus mailbox in its own task, so charting never slows the evaluator. When
ticks arrive faster than this task runs, a skipped tick's price can be missing from a candle's
high or low; the close is always the latest price.

At start-up the charts are seeded with the exchange's closed candles (Coinbase's, or the
simulator's seeded history), one request per product and timeframe, beside the tick loop: a chart
opens on a history instead of the few candles since start. A venue that cannot answer leaves the
chart to the ticks (logged once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, Literal, get_args

from streambot.bus import Bus
from streambot.clock import Clock
from streambot.domain import Candle, ProductId, Timeframe
from streambot.strategies.candles import CandleBuilder

log = logging.getLogger(__name__)

ChartTimeframe = Literal["1m", "5m", "15m", "1h"]
CHART_TIMEFRAMES: Final[tuple[ChartTimeframe, ...]] = get_args(ChartTimeframe)
KEEP: Final = 500
SEED_CANDLES: Final = 300  # one request's worth per product and timeframe

# The Exchange's candles call: closed candles starting in [start, end), oldest first.
CandleSource = Callable[[ProductId, Timeframe, int, int], Awaitable[list[Candle]]]


class MarketCandles:
    def __init__(
        self,
        bus: Bus,
        products: Sequence[ProductId],
        keep: int = KEEP,
        *,
        history: CandleSource | None = None,
        clock: Clock | None = None,
    ) -> None:
        if (history is None) != (clock is None):
            raise ValueError("MarketCandles needs a clock with its candle history (and none without)")
        self._bus = bus
        self._history = history
        self._clock = clock
        self.builders: dict[tuple[ProductId, str], CandleBuilder] = {
            (product, tf): CandleBuilder(Timeframe(tf).seconds, keep=keep)
            for product in products
            for tf in CHART_TIMEFRAMES
        }

    async def run(self) -> None:
        mailbox = self._bus.tick_mailbox("chart-candles")
        seeding = asyncio.create_task(self.seed(), name="chart-history") if self._history else None
        try:
            while True:
                tick = await mailbox.get()
                for tf in CHART_TIMEFRAMES:
                    builder = self.builders.get((tick.product_id, tf))
                    if builder is not None:
                        builder.on_tick(tick.price, tick.time, tick.volume_24h)
        finally:
            self._bus.remove_mailbox(mailbox)
            if seeding is not None:
                seeding.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await seeding

    async def seed(self) -> None:
        """Each chart's closed candles from the exchange, merged under what the ticks built."""
        history, clock = self._history, self._clock
        if history is None or clock is None:
            return
        failed = ""
        for (product, tf), builder in self.builders.items():
            seconds = builder.seconds
            end = int(clock.time()) // seconds * seconds  # the interval under way is built from ticks
            try:
                candles = await history(product, Timeframe(tf), end - SEED_CANDLES * seconds, end)
            except Exception as exc:  # a chart without history is no reason to stop anything
                failed = failed or f"{product} {tf}: {type(exc).__name__}: {exc}"
                continue
            builder.seed(candles)
        if failed:
            log.warning("⚠️ Chart history not loaded for every chart (first failure: %s)", failed)
        else:
            log.debug("📊 Chart history loaded for %d charts", len(self.builders))

    def candles(self, product_id: ProductId, timeframe: str, limit: int) -> list[tuple[Candle, bool]]:
        """The newest ``limit`` candles, oldest first; the flag marks the one still forming."""
        builder = self.builders.get((product_id, timeframe))
        if builder is None:
            return []
        out: list[tuple[Candle, bool]] = [(c, False) for c in builder.closed]
        if builder.forming is not None:
            out.append((builder.forming.freeze(), True))
        return out[-limit:]
