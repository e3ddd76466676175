"""Reconciliation: every order we have not seen to a final state is compared with the exchange.

At start-up this books what happened while the process was down (fills, cancels, orders that
never reached the exchange); periodically it settles orders whose outcome was lost or that stay
open (limit orders). An order is looked up by its exchange id when we have one, else by its
client_order_id; it is never sent again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

from streambot.domain import ExchangeOrder, OrderRecord, OrderStatus
from streambot.exchange.base import Exchange, ExchangeError
from streambot.trading.settlement import Settler, now_utc

log = logging.getLogger(__name__)

NEVER_SUBMITTED = "NEVER_SUBMITTED"


class ReconcileStore(Protocol):
    async def unresolved_orders(self) -> list[OrderRecord]: ...


@dataclass(slots=True)
class ReconcileReport:
    checked: int = 0
    settled: int = 0  # reached a final state
    still_open: int = 0
    never_submitted: int = 0
    errors: int = 0
    skipped_in_flight: int = 0
    problems: list[str] = field(default_factory=list)


class Reconciler:
    def __init__(
        self,
        *,
        store: ReconcileStore,
        exchange: Exchange,
        settler: Settler,
        in_flight: Callable[[], Collection[str]] = frozenset,
        concurrency: int = 16,
    ) -> None:
        self._store = store
        self._exchange = exchange
        self._settler = settler
        self._in_flight = in_flight
        self._limit = asyncio.Semaphore(concurrency)
        self.runs = 0
        self.last: ReconcileReport | None = None
        self._lock = asyncio.Lock()

    async def run_once(self) -> ReconcileReport:
        async with self._lock:  # a periodic run never overlaps the start-up one
            report = ReconcileReport()
            busy = set(self._in_flight())
            orders = []
            for order in await self._store.unresolved_orders():
                if order.client_order_id in busy:
                    report.skipped_in_flight += 1
                else:
                    orders.append(order)
            report.checked = len(orders)
            await asyncio.gather(*(self._one(order, report) for order in orders))
            self.runs += 1
            self.last = report
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

    async def _one(self, order: OrderRecord, report: ReconcileReport) -> None:
        async with self._limit:
            found: ExchangeOrder | None
            try:
                if order.exchange_order_id:
                    found = await self._exchange.get_order(order.exchange_order_id)
                else:
                    found = await self._exchange.find_order(order.client_order_id, order.product_id)
            except ExchangeError as exc:
                report.errors += 1
                report.problems.append(f"{order.client_order_id}: {exc}")
                return
            # The book counts it as exposure until the exchange says otherwise.
            if order.client_order_id not in self._settler.book and found is not None:
                self._settler.book.add(order, order.limit_price or order.average_price)
            if found is None:
                await self._never_submitted(order)
                report.never_submitted += 1
                return
            try:
                settled = await self._settler.settle(order, found)
            except ExchangeError as exc:
                report.errors += 1
                report.problems.append(f"{order.client_order_id}: {exc}")
                return
            if settled.status.is_final:
                report.settled += 1
            else:
                report.still_open += 1

    async def _never_submitted(self, order: OrderRecord) -> None:
        changes: dict[str, Any] = {
            "error_code": NEVER_SUBMITTED,
            "error": "the exchange has no order with this client_order_id; it was never placed",
            "completed_at": now_utc(),
        }
        await self._settler.transition(order, OrderStatus.FAILED, **changes)
        self._settler.book.remove(order.client_order_id)

    async def run_every(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.run_once()
            except Exception:
                log.exception("❌ Reconciliation failed; trying again in %.0fs", interval)
