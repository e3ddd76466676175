"""Orders executing in pieces over time (the ``partial_fills`` fault): the schedule of their fills.

The matching engine fills one piece when asked (``MatchingEngine.fill_piece``); this runs one task
per such order that asks every ``piece_interval`` seconds and hands each piece on like any other
change of the account (the ``user`` channel and the account file). The pieces still to come are
stored with the order, so a simulator restarted between two pieces resumes the order and
finishes it, as Coinbase finishes an order whatever happens to the client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from streambot.clock import Clock
from streambot.simulator.faults import Faults
from streambot.venues.matcher.engine import MatchingEngine
from streambot.venues.matcher.orders import OPEN, SimOrder

log = logging.getLogger(__name__)


class PieceFiller:
    def __init__(
        self,
        book: MatchingEngine,
        faults: Faults,
        save: Callable[[], Awaitable[None]],
        *,
        clock: Clock,
    ) -> None:
        self._book = book
        self._faults = faults
        self._save = save  # hands the account's changes on and waits until they are on disk
        self._clock = clock
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def pieces(self) -> tuple[int, float]:
        """How an order placed now executes: (fills, seconds between two of them)."""
        fault = self._faults.partial_fills()
        return (fault.pieces, fault.piece_interval) if fault is not None else (1, 0.0)

    def follow(self, order: SimOrder) -> None:
        """Fill the order's remaining pieces on schedule (nothing if it has none)."""
        if order.pieces_left > 0 and order.status == OPEN and order.order_id not in self._tasks:
            task = asyncio.get_running_loop().create_task(
                self._run(order.order_id, order.piece_interval), name=f"simulator-pieces-{order.order_id}"
            )
            self._tasks[order.order_id] = task
            task.add_done_callback(lambda _: self._tasks.pop(order.order_id, None))

    def resume(self) -> None:
        """After the account was restored: the orders a stop or a crash cut off between two pieces."""
        for order in self._book.sliced():
            self.follow(order)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, order_id: str, interval: float) -> None:
        while True:
            await self._clock.sleep(interval)
            order = self._book.get_order(order_id)
            if order is None or order.pieces_left <= 0 or order.status != OPEN:
                return
            self._book.fill_piece(order_id, self._clock.time())
            await self._save()
