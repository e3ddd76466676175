"""The old bot's log lines, per product, once every few seconds instead of once per tick.

Its users grep ``logs/backend.log`` for "📈 Ticker update", "🤖 Triggering bot evaluations for
ETH-USD", "✅ Bot evaluations completed for ETH-USD" and "💾 Using cached balances": the same
words come out here, each a summary of the interval (a product with no tick in it says nothing),
read from counters the hot path keeps anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from streambot.bus import PriceBoard
from streambot.clock import Clock

log = logging.getLogger("streambot.activity")


@dataclass(slots=True, frozen=True)
class ProductBots:
    """The bots on one product right now: how many run and their evaluations so far."""

    running: int
    evaluations: int


@dataclass(slots=True, frozen=True)
class CacheReading:
    age_s: float | None  # None before the first fetch
    hit_rate: float  # 0..1


class ActivityLog:
    def __init__(
        self,
        prices: PriceBoard,
        bots_by_product: Callable[[], Mapping[str, ProductBots]],
        cache: Callable[[], CacheReading],
        clock: Clock,
        *,
        interval_s: float = 30.0,
    ) -> None:
        self._prices = prices
        self._bots = bots_by_product
        self._cache = cache
        self._clock = clock
        self._interval_s = interval_s
        self._ticks: dict[str, int] = dict(prices.ticks_by_product)
        self._evaluations: dict[str, int] = {p: b.evaluations for p, b in bots_by_product().items()}

    async def run(self) -> None:
        while True:
            await self._clock.sleep(self._interval_s)
            for line in self.lines():
                log.info(line)

    def lines(self) -> list[str]:
        """The interval's lines, and the counters moved on to now."""
        out: list[str] = []
        every = f"in the last {self._interval_s:g}s"
        bots = self._bots()
        for product, count in sorted(self._prices.ticks_by_product.items()):
            ticks = count - self._ticks.get(product, 0)
            self._ticks[product] = count
            on_product = bots.get(product, ProductBots(0, 0))
            evaluations = on_product.evaluations - self._evaluations.get(product, 0)
            self._evaluations[product] = on_product.evaluations
            tick = self._prices.get(product)
            if ticks <= 0 or tick is None:
                continue
            out.append(f"📈 Ticker update: {product} @ ${tick.price} ({ticks} ticks {every})")
            if on_product.running:
                out.append(
                    f"🤖 Triggering bot evaluations for {product} "
                    f"({on_product.running} bots, {ticks} ticks {every})"
                )
                out.append(
                    f"✅ Bot evaluations completed for {product} ({max(evaluations, 0)} evaluations {every})"
                )
        cache = self._cache()
        if cache.age_s is not None:
            out.append(
                f"💾 Using cached balances (cache age: {cache.age_s:.1f}s, hit rate {cache.hit_rate:.0%})"
            )
        return out
