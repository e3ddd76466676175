"""The sweep: what the exchange shows that the store does not know, adopted or flagged.

Reconciliation starts from the store (every order not final is compared with the exchange); the
sweep starts from the exchange. Periodically it lists the account's open orders and the fills of
the last ``window`` and looks each one up in the store:
  * an order the store has, under another outcome (failed while the exchange filled it; a fill
    never booked): adopted, booked through the ``Settler`` like any order, so the fills move the
    bot's position once;
  * an order or fill the store has no record of (placed by hand, by another program, or by a
    process whose records are gone): flagged, logged and published as ``ExchangeActivityFlagged``
    (the alert manager raises an alert), once each.
Orders on their way out through the order path are left to it.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import timedelta

from streambot.bus import Bus
from streambot.clock import Clock
from streambot.domain import ExchangeOrder, ExchangeOrderStatus, Fill
from streambot.events import ExchangeActivityFlagged
from streambot.exchange import Exchange, ExchangeError
from streambot.trading.protocols import BotDirectory, FillTotals, OrderStore
from streambot.trading.reconcile import BatchReads, owner_of
from streambot.trading.settlement import Settler, fills_cover, our_status

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SweepReport:
    open_orders: int = 0
    recent_fills: int = 0
    adopted: int = 0
    flagged: int = 0
    problems: list[str] = field(default_factory=list)


class ExchangeSweep:
    def __init__(
        self,
        *,
        exchange: Exchange,
        store: OrderStore,
        fills: FillTotals,
        settler: Settler,
        bots: BotDirectory,
        bus: Bus,
        in_flight: Collection[str],
        clock: Clock,
        window: float = 3600.0,
    ) -> None:
        self._exchange = exchange
        self._store = store
        self._fills = fills
        self._settler = settler
        self._bots = bots
        self._bus = bus
        self._in_flight = in_flight
        self._clock = clock
        self._window = window
        self._flagged: set[tuple[str, str]] = set()

    async def run_once(self) -> SweepReport:
        report = SweepReport()
        exchange = self._exchange
        if not isinstance(exchange, BatchReads):
            return report  # a venue that cannot list: reconciliation alone
        since = self._clock.now() - timedelta(seconds=self._window)
        open_orders = await exchange.list_orders(statuses=[ExchangeOrderStatus.OPEN])
        fills = await exchange.list_fills(since=since)
        report.open_orders, report.recent_fills = len(open_orders), len(fills)
        in_flight = self._in_flight  # orders the order path is placing now: it books them itself
        by_order: dict[str, list[Fill]] = {}
        for fill in fills:
            by_order.setdefault(fill.order_id, []).append(fill)
        known = await self._fills.known_trade_ids([f.trade_id for f in fills])
        unbooked = {
            order_id for order_id, listed in by_order.items() if any(f.trade_id not in known for f in listed)
        }
        orders = {o.order_id: o for o in open_orders if o.client_order_id not in in_flight}
        for order_id in unbooked - orders.keys():
            try:
                order = await self._exchange.get_order(order_id)
            except ExchangeError as exc:
                report.problems.append(f"order {order_id} of an unbooked fill: {exc}")
                continue
            if order.client_order_id not in in_flight:
                orders[order_id] = order
        stored = await self._store.get_orders([o.client_order_id for o in orders.values()])
        for order in orders.values():
            kind = "fill" if order.order_id in unbooked else "order"
            record = stored.get(order.client_order_id)
            if record is None:
                self._flag(order, kind, report)
                continue
            if kind == "order" and our_status(order) is record.status:
                continue  # open on both sides: reconciliation follows it
            listed = by_order.get(order.order_id, [])
            try:
                await self._settler.settle(
                    record,
                    order,
                    owner_of(self._bots, record.bot_id),
                    listed if fills_cover(order, listed) else None,
                )
            except ExchangeError as exc:
                report.problems.append(f"{record.client_order_id}: {exc}")
                continue
            report.adopted += 1
            log.warning(
                "🔎 Sweep adopted order %s (%s on the exchange, %s in the store)",
                record.client_order_id,
                order.status.value,
                record.status.value,
            )
        return report

    def _flag(self, order: ExchangeOrder, kind: str, report: SweepReport) -> None:
        key = (kind, order.order_id)
        if key in self._flagged:
            return
        self._flagged.add(key)
        report.flagged += 1
        detail = (
            f"the exchange has {'a fill of ' if kind == 'fill' else ''}{order.side.value} order "
            f"{order.order_id} ({order.status.value}, client_order_id {order.client_order_id or '-'}) "
            "that streambot has no record of"
        )
        log.error("❌ Unknown exchange activity on %s: %s", order.product_id, detail)
        self._bus.publish(
            ExchangeActivityFlagged(
                kind="fill" if kind == "fill" else "order",
                product_id=order.product_id,
                exchange_order_id=order.order_id,
                client_order_id=order.client_order_id,
                detail=detail,
            )
        )

    async def run_every(self, interval: float) -> None:
        while True:
            await self._clock.sleep(interval)
            try:
                report = await self.run_once()
                for problem in report.problems:
                    log.warning("Sweep: %s", problem)
            except Exception as exc:
                log.warning(
                    "Sweep of the exchange's orders failed (%s); trying again in %.0fs", exc, interval
                )
