"""The live ``user`` channel in a cluster: the feed process hears it, the account's worker acts.

Coinbase's user channel arrives on the feed process's socket. Orders are confirmed over REST by
the worker that placed them, so what the channel is for is noticing that an order update may have
been lost (a sequence gap, a reconnect). The feed process does not reconcile then (reconciliation
runs once per account, on the worker holding the ``account`` lease): it announces the loss on the
event stream (``UserUpdatesLost``), and that worker reconciles at once instead of at its next
round. Announcements during a reconciliation queue exactly one more.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from streambot.bus import Bus
from streambot.events import UserUpdatesLost

log = logging.getLogger(__name__)


async def announce_user_gap(bus: Bus, reason: str) -> None:
    """The feed process's ``on_user_gap``: tell the cluster, reconcile nothing here."""
    bus.publish(UserUpdatesLost(reason=reason))


class UserGapFollower:
    """A worker's side: reconcile when a loss is announced, if this worker holds the account."""

    def __init__(
        self,
        bus: Bus,
        *,
        holds_account: Callable[[], bool],
        reconcile: Callable[[], Awaitable[object]],
    ) -> None:
        self._holds_account = holds_account
        self._reconcile = reconcile
        self._announced = asyncio.Event()
        self._reason = ""
        self.reconciliations = 0
        bus.subscribe(UserUpdatesLost, self._on_lost)

    def _on_lost(self, event: UserUpdatesLost) -> None:
        self._reason = event.reason
        self._announced.set()

    async def run(self) -> None:
        while True:
            await self._announced.wait()
            self._announced.clear()
            if not self._holds_account():
                continue  # the worker holding the account's duties reconciles
            log.warning("🔍 User channel may have lost order updates (%s); reconciling", self._reason)
            try:
                await self._reconcile()
                self.reconciliations += 1
            except Exception:
                log.exception("❌ Order reconciliation after a user-channel gap failed")
