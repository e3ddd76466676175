"""Every few minutes: does the account hold what the bots' fills say it should, asset by asset?

What is compared, and why. The account may hold coins no bot bought: the simulator's starting
balances, a person's own coins, a deleted bot's kept coins. So the check does not compare the
balance with the bots' positions directly; it compares *changes*: at the first check after
start-up (after reconciliation booked the downtime) it notes, per asset, how much of the balance
the bots' fills do not account for (``balance - net fills``). From then on that part must stay
put: ``balance == unowned + net fills``, within the product's base increment. A fill the store
missed, a fill booked that never happened, or an order placed behind streambot's back moves the
balance without the fills (or the other way) and is found. The net fills are summed over every
stored fill, deleted bots' too, so deleting a bot that keeps its coins changes nothing. One
direction holds from the very first check too: the bots can never own more than the account has.

A difference found is read again ``confirm_after`` seconds later (a fill being booked while the
balance was read is no mismatch); if it stays, ``PositionMismatchFound`` is published (the alert
manager raises an alert) and entries on the asset's products are halted until a person
acknowledges it. A deposit or withdrawal of a traded asset trips it as well: on purpose, a person
should look; after acknowledging, the unowned part is measured again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal

from streambot.bus import Bus
from streambot.clock import Clock
from streambot.domain import Balance, Product, ProductId
from streambot.events import PositionMismatchAcknowledged, PositionMismatchFound
from streambot.trading.holds import POSITION_MISMATCH, ProductHolds
from streambot.trading.protocols import FillTotals

log = logging.getLogger(__name__)

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class AssetReading:
    asset: str
    product_ids: tuple[ProductId, ...]
    balance: Decimal  # available + hold, as the exchange reports it
    fills: Decimal  # net base of every stored fill on the asset's products
    tolerance: Decimal  # the coarsest base increment of those products


class BalanceCheck:
    def __init__(
        self,
        *,
        accounts: Callable[[], Awaitable[list[Balance]]],
        fills: FillTotals,
        holds: ProductHolds,
        bus: Bus,
        products: Mapping[ProductId, Product],
        busy: Collection[str],
        clock: Clock,
        interval: float,
        confirm_after: float = 10.0,
    ) -> None:
        self._accounts = accounts
        self._fills = fills
        self._holds = holds
        self._bus = bus
        self._products = products
        # The order path's orders on their way out: their fills may be half booked.
        self._busy = busy
        self._clock = clock
        self._interval = interval
        self.confirm_after = confirm_after
        self.unowned: dict[str, Decimal] = {}  # per asset: the balance the bots' fills do not explain
        self.checks = 0
        self.mismatches = 0
        bus.subscribe(PositionMismatchAcknowledged, self._on_acknowledged)

    async def run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception as exc:
                log.warning("Balance check failed (%s); trying again in %.0fs", exc, self._interval)
            await self._clock.sleep(self._interval)

    async def check(self) -> list[PositionMismatchFound]:
        """Compare every traded asset once; the mismatches found (and confirmed) this time."""
        self.checks += 1
        suspects = [
            r
            for r in await self._read()
            if not all(self._holds.held(p) for p in r.product_ids) and self._difference(r) is not None
        ]
        if not suspects:
            return []
        await self._clock.sleep(self.confirm_after)
        again = {r.asset: r for r in await self._read()}
        found = []
        for first in suspects:
            reading = again.get(first.asset)
            if reading is None or self._difference(reading) is None:
                continue
            found.append(await self._flag(reading))
        return found

    # --- readings ----------------------------------------------------------------------------

    async def _read(self) -> list[AssetReading]:
        if self._busy:
            return []  # an order on its way: its fills and the balance may disagree for a moment
        balances = {b.currency: b.total for b in await self._accounts()}
        net = await self._fills.net_base_by_product()
        by_asset: dict[str, list[Product]] = {}
        for product in self._products.values():
            by_asset.setdefault(product.base_currency, []).append(product)
        return [
            AssetReading(
                asset=asset,
                product_ids=tuple(p.product_id for p in products),
                balance=balances.get(asset, _ZERO),
                fills=sum((net.get(p.product_id, _ZERO) for p in products), _ZERO),
                tolerance=max(p.base_increment for p in products),
            )
            for asset, products in sorted(by_asset.items())
        ]

    def _difference(self, reading: AssetReading) -> Decimal | None:
        """How far the balance is from what the fills explain, when beyond the tolerance."""
        if reading.balance < reading.fills - reading.tolerance:
            return reading.balance - reading.fills  # the bots own more than the account holds
        unowned = self.unowned.get(reading.asset)
        if unowned is None:
            self.unowned[reading.asset] = reading.balance - reading.fills
            return None
        difference = reading.balance - (unowned + reading.fills)
        return difference if abs(difference) > reading.tolerance else None

    async def _flag(self, reading: AssetReading) -> PositionMismatchFound:
        unowned = self.unowned.get(reading.asset, _ZERO)
        expected = unowned + reading.fills if reading.balance >= reading.fills else reading.fills
        event = PositionMismatchFound(
            asset=reading.asset,
            product_ids=list(reading.product_ids),
            expected=expected,
            actual=reading.balance,
            difference=reading.balance - expected,
        )
        self.mismatches += 1
        reason = (
            f"the account holds {reading.balance} {reading.asset}, the bots' fills account for "
            f"{expected} (difference {event.difference})"
        )
        log.error("❌ Position mismatch on %s: %s", reading.asset, reason)
        held = [await self._holds.hold(p, POSITION_MISMATCH, reason) for p in reading.product_ids]
        if any(held):
            self._bus.publish(event)
        return event

    def _on_acknowledged(self, event: PositionMismatchAcknowledged) -> None:
        # Measured again at the next check: what a person accepted becomes the unowned part.
        product = self._products.get(event.product_id)
        if product is not None:
            self.unowned.pop(product.base_currency, None)
