"""A consumer's tick mailbox: the newest unprocessed tick per product, older ones counted and dropped.

A tick superseded before its consumer got to it is worthless (the newer price is what matters), so
each consumer's mailbox holds at most one pending tick per product and counts what it skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from streambot.domain import ProductId, Ticker


class TickMailbox:
    """Newest unprocessed tick per product, drained in the order products became pending."""

    __slots__ = ("_pending", "_waiter", "name", "skipped", "skipped_by_product")

    def __init__(self, name: str) -> None:
        self.name = name
        self._pending: dict[ProductId, Ticker] = {}
        self._waiter: asyncio.Future[None] | None = None
        self.skipped = 0
        self.skipped_by_product: dict[ProductId, int] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def put(self, tick: Ticker) -> None:
        pending = self._pending
        product = tick.product_id
        if product in pending:
            self.skipped += 1
            self.skipped_by_product[product] = self.skipped_by_product.get(product, 0) + 1
        pending[product] = tick
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def put_latest(self, latest: Mapping[ProductId, Ticker], counts: Mapping[ProductId, int]) -> None:
        """``put`` of a run of ticks, given as each product's last one (``latest``, in the order the
        products first came) and how many each product had (``counts``). Counts what the run
        superseded exactly as one ``put`` per tick would have."""
        pending = self._pending
        skipped_by_product = self.skipped_by_product
        for product, tick in latest.items():
            superseded = counts[product] - 1
            if product in pending:
                superseded += 1
            if superseded:
                self.skipped += superseded
                skipped_by_product[product] = skipped_by_product.get(product, 0) + superseded
            pending[product] = tick
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def get_nowait(self) -> Ticker | None:
        pending = self._pending
        if len(pending) == 1:  # the usual case: the one pending is the oldest, and no iterator
            return pending.popitem()[1]
        if not pending:
            return None
        for product in pending:  # the oldest pending (cheaper than next(iter(...)))
            return pending.pop(product)
        return None

    async def get(self) -> Ticker:
        while not self._pending:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        tick = self.get_nowait()
        assert tick is not None
        return tick
