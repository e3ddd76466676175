"""Reconciliation: every order we have not seen to a final state is compared with the exchange.

At start-up this books what happened while the process was down (fills, cancels, orders that
never reached the exchange); periodically it settles orders whose outcome was lost or that stay
open (limit orders). An order is never sent again.

The exchange allows 30 private requests a second, so one request per order would take half a
minute for 1,000 open orders. Orders are read in batches instead (``BatchReads``):
  1. orders we know the exchange id of: List Orders filtered by ``order_ids``;
  2. the others (the answer to the create call was lost): List Orders of their products since the
     oldest of them was created, matched by client_order_id;
  3. the fills of every matched order that has any: List Fills filtered by ``order_ids``.
Only orders the batch cannot account for (never seen by the exchange, outside the listed window,
fills not all listed yet) are looked up one by one, as before: by exchange id when we have one,
else by client_order_id. An order the exchange never saw is marked failed ``NEVER_SUBMITTED``; one
whose outcome is unknown (``unknown``: the create call's answer was lost) only once the grace period
since it was sent has passed, since a queued request may still reach the exchange. In a cluster the
same holds for any order stored but never acknowledged (``risk_checked``: the send is not stored):
the worker that stored it may be alive yet (slow, its bot's lease just taken over) and send it
after we looked, and an order marked never sent that then fills is a position sold twice once the
bot's new owner reads it from the store (``unacknowledged_grace_s``).
Fills are booked by trade_id through the ``Settler``, so positions stay the sum of their fills
however often an order is looked at.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from streambot.clock import Clock
from streambot.domain import (
    BotId,
    ExchangeOrder,
    ExchangeOrderStatus,
    Fill,
    OrderRecord,
    OrderStatus,
    ProductId,
)
from streambot.exchange import CircuitOpen, Exchange, ExchangeError
from streambot.trading.protocols import BotDirectory, OrderStore
from streambot.trading.settlement import NEVER_SUBMITTED, UNKNOWN_GRACE_S, OrderOwner, Settler, fills_cover

__all__ = ["NEVER_SUBMITTED", "BatchReads", "ReconcileReport", "Reconciler", "owner_of"]

log = logging.getLogger(__name__)

# Our clock and the exchange's may disagree; an order's created_time is later than our intent's
# created_at on one clock, so the listed window starts this much earlier.
CLOCK_SKEW = timedelta(minutes=5)
# A fill's size converted from quote currency is a quotient; sums may miss by a rounding digit.


@runtime_checkable
class BatchReads(Protocol):
    """List Orders / List Fills with filters (``CoinbaseRest``); without them, one read per order."""

    async def list_orders(
        self,
        *,
        product_ids: Sequence[ProductId] = (),
        statuses: Sequence[ExchangeOrderStatus] = (),
        order_ids: Sequence[str] = (),
        since: datetime | None = None,
    ) -> list[ExchangeOrder]: ...

    async def list_fills(
        self,
        order_id: str = "",
        *,
        order_ids: Sequence[str] = (),
        product_ids: Sequence[ProductId] = (),
        since: datetime | None = None,
    ) -> list[Fill]: ...


def owner_of(bots: BotDirectory, bot_id: BotId) -> OrderOwner:
    """Who an order is booked to. Before the bots load there is no context: they replay every
    stored fill when they do."""
    runtime = bots.runtime(bot_id)
    return OrderOwner(bots.context(bot_id), runtime.name if runtime is not None else f"bot {bot_id}")


@dataclass(slots=True)
class ReconcileReport:
    checked: int = 0
    settled: int = 0  # reached a final state
    still_open: int = 0
    never_submitted: int = 0
    errors: int = 0
    skipped_in_flight: int = 0
    batched: int = 0  # accounted for by the batch reads
    looked_up: int = 0  # needed a lookup of their own
    problems: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Batch:
    orders: dict[str, ExchangeOrder] = field(default_factory=dict)  # client_order_id → order
    fills: dict[str, list[Fill]] = field(default_factory=dict)  # exchange order id → fills


class Reconciler:
    def __init__(
        self,
        *,
        store: OrderStore,
        exchange: Exchange,
        settler: Settler,
        bots: BotDirectory,
        in_flight: Collection[str],
        clock: Clock,
        concurrency: int = 16,
        unknown_grace_s: float = UNKNOWN_GRACE_S,
        followed_elsewhere: Callable[[OrderRecord], bool] | None = None,
        unacknowledged_grace_s: float = 0.0,
    ) -> None:
        self._store = store
        self._exchange = exchange
        self._settler = settler
        self._bots = bots
        # The order path's orders on their way out (a live view): not ours to settle yet.
        self._in_flight = in_flight
        # A cluster: orders another live worker follows itself (it runs their bot): not ours either.
        self._followed_elsewhere = followed_elsewhere
        self._clock = clock
        self._unknown_grace_s = unknown_grace_s
        # How long after it was stored an order the exchange never acknowledged may still reach it.
        # A process alone reconciles only what its own previous, dead life stored (one process per
        # database): nothing of that is on its way any more. A cluster worker also settles orders
        # another worker stored, which may not be dead, only slow: its send may come later.
        self._unacknowledged_grace_s = unacknowledged_grace_s
        self._limit = asyncio.Semaphore(concurrency)
        self._lock = asyncio.Lock()

    async def run_once(self) -> ReconcileReport:
        async with self._lock:  # a periodic run never overlaps the start-up one
            report = ReconcileReport()
            busy = set(self._in_flight)
            stored = await self._store.unresolved_orders()
            # Also after the read: an order committed while we read it may be on its way out now.
            busy |= set(self._in_flight)
            orders = []
            elsewhere = self._followed_elsewhere
            for order in stored:
                if order.client_order_id in busy or (elsewhere is not None and elsewhere(order)):
                    report.skipped_in_flight += 1
                else:
                    orders.append(order)
            report.checked = len(orders)
            batch = await self._read_batch(orders, report) if orders else _Batch()
            if batch is not None:
                await asyncio.gather(*(self._reconcile(order, batch, report) for order in orders))
            if report.settled or report.never_submitted or report.errors:
                log.info(
                    "🔄 Reconciled %d orders: %d settled, %d still open, %d never reached the exchange, "
                    "%d errors",
                    report.checked,
                    report.settled,
                    report.still_open,
                    report.never_submitted,
                    report.errors,
                )
            return report

    # --- batch reads -------------------------------------------------------------------------

    async def _read_batch(self, orders: list[OrderRecord], report: ReconcileReport) -> _Batch | None:
        """What a few List Orders / List Fills requests say about ``orders``.

        An empty batch (every order looked up on its own) when the exchange cannot list or a
        listing failed; None when the circuit is open, since every lookup would fail too.
        """
        exchange = self._exchange
        if not isinstance(exchange, BatchReads):
            return _Batch()
        batch = _Batch()
        try:
            known = {o.exchange_order_id: o for o in orders if o.exchange_order_id}
            if known:
                for found in await exchange.list_orders(order_ids=list(known)):
                    record = known.get(found.order_id)
                    if record is not None:
                        batch.orders[record.client_order_id] = found
            unknown = {o.client_order_id: o for o in orders if o.client_order_id not in batch.orders}
            if unknown:
                # The answer to the create call was lost (or it was never sent): the order, if
                # the exchange has it, was created after we stored the intent.
                since = min(o.created_at for o in unknown.values()) - CLOCK_SKEW
                products = sorted({o.product_id for o in unknown.values()})
                for found in await exchange.list_orders(product_ids=products, since=since):
                    if found.client_order_id in unknown:
                        batch.orders.setdefault(found.client_order_id, found)
            with_fills = [o.order_id for o in batch.orders.values() if o.filled_size > 0]
            if with_fills:
                for fill in await exchange.list_fills(order_ids=with_fills):
                    batch.fills.setdefault(fill.order_id, []).append(fill)
        except ExchangeError as exc:
            if isinstance(exc, CircuitOpen):  # not sent; every other call would fail the same way
                report.errors += len(orders)
                report.problems.append(f"{len(orders)} orders not reconciled: {exc}")
                return None
            log.warning("⚠️ Batch reads for reconciliation failed (%s); looking orders up one by one", exc)
            return _Batch()
        return batch

    async def _reconcile(self, order: OrderRecord, batch: _Batch, report: ReconcileReport) -> None:
        found = batch.orders.get(order.client_order_id)
        if found is not None:
            fills = batch.fills.get(found.order_id, [])
            if fills_cover(found, fills):
                report.batched += 1
                async with self._limit:
                    await self._settle(order, found, fills, report)
                return
            # The order moved on between the two listings: it is read again with its fills.
        report.looked_up += 1
        await self._one(order, report, found.order_id if found is not None else "")

    # --- one order at a time -----------------------------------------------------------------

    async def _one(self, order: OrderRecord, report: ReconcileReport, exchange_order_id: str = "") -> None:
        async with self._limit:
            found: ExchangeOrder | None
            exchange_order_id = order.exchange_order_id or exchange_order_id
            try:
                if exchange_order_id:
                    found = await self._exchange.get_order(exchange_order_id)
                else:
                    found = await self._exchange.find_order(order.client_order_id, order.product_id)
            except ExchangeError as exc:
                report.errors += 1
                report.problems.append(f"{order.client_order_id}: {exc}")
                return
            if found is None:
                if order.client_order_id in self._in_flight:
                    # The order path took it up while we looked: it is being sent now.
                    report.skipped_in_flight += 1
                    return
                if self._may_still_arrive(order):
                    report.still_open += 1
                    return
                await self._settler.never_submitted(order)
                report.never_submitted += 1
                return
            await self._settle(order, found, None, report)

    async def _settle(
        self,
        order: OrderRecord,
        found: ExchangeOrder,
        fills: Sequence[Fill] | None,
        report: ReconcileReport,
    ) -> None:
        try:
            settled = await self._settler.settle(order, found, owner_of(self._bots, order.bot_id), fills)
        except ExchangeError as exc:
            report.errors += 1
            report.problems.append(f"{order.client_order_id}: {exc}")
            return
        if settled.status.is_final:
            report.settled += 1
        else:
            report.still_open += 1

    def _may_still_arrive(self, order: OrderRecord) -> bool:
        """An order the exchange does not list that may reach it yet: one with an unknown outcome,
        sent less than the grace period ago; or one never acknowledged, stored less than
        ``unacknowledged_grace_s`` ago (a cluster: its worker may still send it)."""
        now = self._clock.now()
        if order.status is OrderStatus.UNKNOWN:
            sent_at = order.submitted_at or order.created_at
            return (now - sent_at).total_seconds() < self._unknown_grace_s
        if order.exchange_order_id or order.status.is_final:
            return False
        stored_at = max(order.created_at, order.risk_checked_at or order.created_at)
        return (now - stored_at).total_seconds() < self._unacknowledged_grace_s

    async def run_every(self, interval: float) -> None:
        while True:
            await self._clock.sleep(interval)
            try:
                await self.run_once()
            except Exception:
                log.exception("❌ Reconciliation failed; trying again in %.0fs", interval)
