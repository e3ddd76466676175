"""The latest tick of every product, and how many ticks each product has had.

Readers that want "the price now" (polling bots, P&L, the dashboard) read the board; the bus only
moves ticks to their consumers. Whoever receives ticks (the feed, the REST poller, a stream
consumer in another process) records each one here before publishing it.
"""

from __future__ import annotations

from collections.abc import Mapping

from streambot.domain import ProductId, Ticker


class PriceBoard:
    __slots__ = ("_latest", "ticks_by_product")

    def __init__(self) -> None:
        self._latest: dict[ProductId, Ticker] = {}
        self.ticks_by_product: dict[ProductId, int] = {}

    @property
    def ticks_published(self) -> int:
        """Every tick recorded: summed when read (a few products), not counted twice per tick."""
        return sum(self.ticks_by_product.values())

    @property
    def latest(self) -> Mapping[ProductId, Ticker]:
        """Each product's newest tick (read-only view; products without a tick yet are absent)."""
        return self._latest

    def get(self, product_id: ProductId) -> Ticker | None:
        return self._latest.get(product_id)

    def record(self, tick: Ticker) -> None:
        product = tick.product_id
        self._latest[product] = tick
        counts = self.ticks_by_product
        counts[product] = counts.get(product, 0) + 1

    def record_latest(self, latest: Mapping[ProductId, Ticker], counts: Mapping[ProductId, int]) -> None:
        """``record`` of a run of ticks, given as each product's last one (``latest``) and how
        many each product had (``counts``): the same board and counts as one by one."""
        self._latest.update(latest)
        tallies = self.ticks_by_product
        for product, count in counts.items():
            tallies[product] = tallies.get(product, 0) + count
