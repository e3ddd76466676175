"""Reconciling orders over REST when the ``user`` channel may have lost an order update.

A sequence gap (one counter spans every channel) or a reconnect means an update may be gone; the
trading engine's ``on_user_gap(reason)`` then reads the orders back over REST. Never two at once:
a gap during a reconciliation queues exactly one more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("streambot.feed.client")

UserGapHandler = Callable[[str], Awaitable[object]]
"""``on_user_gap(reason)``: reconcile orders over REST; user-channel updates may have been lost."""


class UserGapReconciler:
    def __init__(self, handler: UserGapHandler) -> None:
        self._handler = handler
        self._task: asyncio.Task[None] | None = None
        self._again = ""

    def trigger(self, reason: str) -> None:
        """Start a reconciliation, or queue one more if one is under way."""
        task = self._task
        if task is not None and not task.done():
            self._again = reason
            return
        self._task = asyncio.create_task(self._reconcile(reason), name="feed-user-reconcile")

    async def _reconcile(self, reason: str) -> None:
        while True:
            log.warning("🔍 User channel may have lost order updates (%s); reconciling over REST", reason)
            try:
                await self._handler(reason)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("❌ Order reconciliation after a user-channel gap failed")
            reason, self._again = self._again, ""
            if not reason:
                return

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
