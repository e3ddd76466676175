"""In-process fan-out: ticks into bounded latest-wins mailboxes, events to topic subscribers.

Ticks and events take different paths on purpose. A tick superseded before its consumer got to it
is worthless (the newer price is what matters), so each consumer's mailbox holds at most one
pending tick per product and counts what it skipped. Events (orders, fills, feed state) must
never be lost, so they are delivered synchronously to every subscriber, whose handler must be
quick (typically: put into its own queue).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from streambot.domain import Event, ProductId, Ticker

log = logging.getLogger(__name__)

EventHandler = Callable[[Event], None]


class TickMailbox:
    """Newest unprocessed tick per product, drained in the order products became pending."""

    __slots__ = ("_pending", "_waiter", "delivered", "name", "skipped", "skipped_by_product")

    def __init__(self, name: str) -> None:
        self.name = name
        self._pending: dict[ProductId, Ticker] = {}
        self._waiter: asyncio.Future[None] | None = None
        self.skipped = 0
        self.delivered = 0
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

    def get_nowait(self) -> Ticker | None:
        pending = self._pending
        if not pending:
            return None
        product = next(iter(pending))
        self.delivered += 1
        return pending.pop(product)

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


class Bus:
    """The one in-process bus. Topics are dotted, product last: ``ticks.BTC-USD``, ``orders.filled``."""

    def __init__(self) -> None:
        self._mailboxes: list[TickMailbox] = []
        self._urgent: list[TickMailbox] = []
        self._subscribers: dict[str, list[EventHandler]] = {}
        self.latest: dict[ProductId, Ticker] = {}
        self.ticks_published = 0
        self.ticks_by_product: dict[ProductId, int] = {}

    def tick_mailbox(self, name: str, *, urgent: bool = False) -> TickMailbox:
        """A consumer's mailbox. ``urgent``: its consumer decides on trades (see ``ticks_urgent``)."""
        box = TickMailbox(name)
        self._mailboxes.append(box)
        if urgent:
            self._urgent.append(box)
        return box

    def ticks_urgent(self) -> bool:
        """Whether a tick waits for a consumer that decides on trades.

        Work that can wait a turn of the loop (a dashboard client's write, say) checks this and
        yields first: the waiting consumer's wake-up is already queued, so it runs before it.
        """
        return any(len(box) for box in self._urgent)

    def remove_mailbox(self, box: TickMailbox) -> None:
        if box in self._mailboxes:
            self._mailboxes.remove(box)
        if box in self._urgent:
            self._urgent.remove(box)

    def publish_tick(self, tick: Ticker) -> None:
        self.latest[tick.product_id] = tick
        self.ticks_published += 1
        counts = self.ticks_by_product
        counts[tick.product_id] = counts.get(tick.product_id, 0) + 1
        for box in self._mailboxes:
            box.put(tick)

    def subscribe(self, prefix: str, handler: EventHandler) -> Callable[[], None]:
        """Call ``handler`` for every event whose topic equals or starts with ``prefix.``.

        ``""`` receives everything. Returns a function that unsubscribes.
        """
        self._subscribers.setdefault(prefix, []).append(handler)

        def unsubscribe() -> None:
            handlers = self._subscribers.get(prefix, [])
            if handler in handlers:
                handlers.remove(handler)

        return unsubscribe

    def publish(self, topic: str, **data: Any) -> Event:
        event = Event(topic=topic, data=data, ts=time.time())
        for prefix, handlers in self._subscribers.items():
            if prefix and topic != prefix and not topic.startswith(prefix + "."):
                continue
            for handler in list(handlers):
                try:
                    handler(event)
                except Exception:
                    # One broken subscriber must not stop the others from hearing the event.
                    log.exception("❌ event subscriber failed on %s", topic)
        return event
