"""Prices from REST while the socket cannot give them, and a refresh after each (re)connect.

``RestFallback`` owns the poller's two background tasks: the polling loop while the socket is down
(or the user stopped the stream), and the one-off refresh right after subscribing, which fills
every product the stream has not ticked yet so a product that trades rarely does not wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from streambot.feed.poller import RestPricePoller

log = logging.getLogger("streambot.feed.client")


class RestFallback:
    def __init__(self, poller: RestPricePoller) -> None:
        self.poller = poller
        self._poll_task: asyncio.Task[None] | None = None
        self._refresh_task: asyncio.Task[None] | None = None

    @property
    def interval(self) -> float:
        return self.poller.interval

    def start_polling(self, first_delay: float, on_published: Callable[[], None]) -> None:
        """Poll every interval after ``first_delay`` (no-op while already polling)."""
        if self._poll_task is not None and not self._poll_task.done():
            return
        self._poll_task = asyncio.create_task(
            self.poller.run(first_delay=first_delay, on_published=on_published), name="feed-rest-poller"
        )

    def stop_polling(self) -> None:
        task = self._poll_task
        if task is not None and not task.done():
            task.cancel()
        self._poll_task = None

    def refresh_after_connect(self, connected_ns: int) -> None:
        """Fill every product with no ticker since ``connected_ns`` (``perf_counter_ns``) from REST."""
        if self._refresh_task is not None and not self._refresh_task.done():
            return
        self._refresh_task = asyncio.create_task(self._refresh(connected_ns), name="feed-rest-refresh")

    async def _refresh(self, connected_ns: int) -> None:
        published = await self.poller.poll_once(only_older_than_ns=connected_ns)
        log.debug("Feed (re)connected: %d prices refreshed from REST", published)

    async def close(self) -> None:
        tasks = [t for t in (self._poll_task, self._refresh_task) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._poll_task = self._refresh_task = None
