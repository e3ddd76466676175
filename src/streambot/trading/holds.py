"""Products whose entries are halted until a person acknowledges why: a position mismatch.

The balance check (``balance_check.py``) holds a product when the account's balance of its base
asset no longer matches the bots' fills; the order path then refuses new buys on it (exits stay
possible, so a bot can still get out). Holds are stored, so a restart does not lift one; only
``acknowledge`` does (``POST /api/v1/risk/acknowledge``).
"""

from __future__ import annotations

import logging

from streambot.bus import Bus
from streambot.clock import Clock
from streambot.domain import ProductHold, ProductId
from streambot.events import PositionMismatchAcknowledged
from streambot.trading.protocols import HoldStore

log = logging.getLogger(__name__)

POSITION_MISMATCH = "POSITION_MISMATCH"


class ProductHolds:
    def __init__(self, *, store: HoldStore, bus: Bus, clock: Clock) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self._held: dict[ProductId, ProductHold] = {}

    async def load(self) -> None:
        self._held = {hold.product_id: hold for hold in await self._store.product_holds()}
        for hold in self._held.values():
            log.warning(
                "⛔ Entries on %s are halted (%s); acknowledge through the API", hold.product_id, hold.reason
            )

    def held(self, product_id: ProductId) -> ProductHold | None:
        return self._held.get(product_id)

    def all(self) -> list[ProductHold]:
        return sorted(self._held.values(), key=lambda hold: hold.product_id)

    async def hold(self, product_id: ProductId, code: str, reason: str) -> bool:
        """Halt entries on the product; False when it already was."""
        if product_id in self._held:
            return False
        hold = ProductHold(product_id, code, reason, self._clock.now())
        self._held[product_id] = hold
        await self._store.save_product_hold(hold)
        log.error("⛔ Entries on %s halted: %s", product_id, reason)
        return True

    async def acknowledge(self, product_id: ProductId, by: str) -> bool:
        """A person looked at it: entries resume. False when the product was not held."""
        hold = self._held.pop(product_id, None)
        deleted = await self._store.delete_product_hold(product_id)
        if hold is None and not deleted:
            return False
        log.warning("▶️ Entries on %s resumed: acknowledged by %s", product_id, by)
        self._bus.publish(PositionMismatchAcknowledged(product_id=product_id, by=by))
        return True
