"""Booking what the exchange reports about an order: fills, positions, status and the trade record.

Shared by the order path (right after placing) and reconciliation (after a restart or a lost
answer), so an order is booked the same way whoever sees its outcome first. A fill changes a
position only when its trade_id is stored for the first time, which makes booking idempotent:
positions stay the sum of the stored fills however often an order is looked at.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from streambot.bus import Bus
from streambot.clock import Clock
from streambot.domain import (
    BotId,
    ExchangeOrder,
    ExchangeOrderStatus,
    Fill,
    OrderRecord,
    OrderStatus,
    Product,
    ProductId,
    Side,
    Trade,
    evolve,
)
from streambot.events import OrderUpdated, TradeBooked
from streambot.exchange import Exchange
from streambot.risk.base import amount
from streambot.risk.engine import RiskEngine
from streambot.strategies.base import BotContext
from streambot.trading.open_orders import OpenOrders
from streambot.trading.protocols import TradingStore

log = logging.getLogger(__name__)

FINAL_EXCHANGE_STATUSES = frozenset(s for s in ExchangeOrderStatus if s.is_final)
# The error code of an order the exchange says it never saw (looked up by client_order_id).
NEVER_SUBMITTED = "NEVER_SUBMITTED"
# An order whose outcome is unknown may reach the exchange late (a queued request); only when the
# exchange still does not list it this long after it was sent was it never placed.
UNKNOWN_GRACE_S = 30.0
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class OrderOwner:
    """The bot an order is booked to, as the caller knows it: the order path has the runtime that
    signalled; reconciliation looks the bot up by id.

    ``ctx`` None: the bot is not loaded yet (it replays every stored fill when it loads) or no
    longer exists; either way the order's fills move no position here.
    """

    ctx: BotContext | None
    name: str


def our_status(order: ExchangeOrder) -> OrderStatus:
    if order.status is ExchangeOrderStatus.FILLED:
        return OrderStatus.FILLED
    if order.status in {ExchangeOrderStatus.CANCELLED, ExchangeOrderStatus.EXPIRED}:
        return OrderStatus.CANCELLED
    if order.status is ExchangeOrderStatus.FAILED:
        return OrderStatus.FAILED
    return OrderStatus.PARTIALLY_FILLED if order.filled_size > 0 else OrderStatus.ACKNOWLEDGED


# Fills listed in one request add up to the order's filled size within this (rounding of the sums).
_SIZE_TOLERANCE = Decimal("1e-12")


def fills_cover(order: ExchangeOrder, fills: Sequence[Fill]) -> bool:
    """Whether ``fills`` (read in a batch) are all of the order's fills as the exchange reports it;
    if not, the order moved on between the two reads and ``Settler.settle`` lists them itself."""
    return sum((f.size for f in fills), Decimal(0)) >= order.filled_size * (1 - _SIZE_TOLERANCE)


def _as_listed(order: ExchangeOrder, fills: Sequence[Fill]) -> ExchangeOrder:
    """The order as far as ``fills`` go: what of it is booked."""
    size = sum((f.size for f in fills), _ZERO)
    value = sum((f.size * f.price for f in fills), _ZERO)
    fees = sum((f.commission for f in fills), _ZERO)
    return dataclasses.replace(order, filled_size=size, filled_value=value, total_fees=fees)


class Settler:
    def __init__(
        self,
        *,
        bus: Bus,
        exchange: Exchange,
        store: TradingStore,
        open_orders: OpenOrders,
        risk: RiskEngine,
        products: Mapping[ProductId, Product],
        clock: Clock,
    ) -> None:
        self._bus = bus
        self._exchange = exchange
        self._store = store
        self.open_orders = open_orders
        self._risk = risk
        self.products = products
        self._clock = clock
        self.trades_booked = 0

    async def transition(self, record: OrderRecord, status: OrderStatus, **changes: Any) -> OrderRecord:
        """Store the new status (and fields), then publish ``orders.<status>``.

        A ``filled_size`` below the stored one is not stored (``OrderStore.update_order``): the
        stored order is returned, and nothing is published, since it was when it was stored.
        """
        changes = {k: v for k, v in changes.items() if v is not None}
        updated = await self._store.update_order(record.client_order_id, status=status, **changes)
        filled = changes.get("filled_size")
        if filled is not None and updated.filled_size > filled:
            return updated
        self.open_orders.follow_status(updated)
        self.publish(updated)
        return updated

    async def never_submitted(self, record: OrderRecord) -> OrderRecord:
        """The exchange has no order with this client_order_id and will not get one: final."""
        self.open_orders.remove(record.client_order_id)
        return await self.transition(
            record,
            OrderStatus.FAILED,
            error_code=NEVER_SUBMITTED,
            error="the exchange has no order with this client_order_id; it was never placed",
            completed_at=self._clock.now(),
        )

    def publish(self, record: OrderRecord, tick_price: float | None = None) -> None:
        self._bus.publish(OrderUpdated(order=record, tick_price=tick_price))

    async def settle(
        self,
        record: OrderRecord,
        order: ExchangeOrder,
        owner: OrderOwner,
        fills: Sequence[Fill] | None = None,
    ) -> OrderRecord:
        """Book the order's fills and its status as the exchange reports them now.

        ``fills`` are the order's fills when the caller already read them all (reconciliation and
        the sweep read many orders' fills in one request: see ``fills_cover``); otherwise they are
        listed here. An order not among the open orders (found by reconciliation or the sweep)
        counts as exposure until the exchange says it is done.
        """
        if record.client_order_id not in self.open_orders:
            self.open_orders.add(record)
        if fills is None:
            fills = await self._exchange.list_fills(order.order_id) if order.filled_size > 0 else []
        new = 0
        # What the new fills realized, as the bot's position books them (None: no position here).
        realized = _ZERO if owner.ctx is not None else None
        ctx = owner.ctx
        unbooked_here = False  # a fill stored before by someone else, not booked in this context
        for fill in fills:
            if ctx is None:
                if await self._store.insert_fill(
                    fill, bot_id=record.bot_id, client_order_id=record.client_order_id
                ):
                    new += 1
                continue
            async with ctx.booking:  # stored and booked as one step for a rebuild of the position
                if await self._store.insert_fill(
                    fill, bot_id=record.bot_id, client_order_id=record.client_order_id
                ):
                    new += 1
                    gained = await self._apply(record.bot_id, ctx, fill)
                    if realized is not None:
                        realized += gained
                elif not ctx.has_booked(fill.trade_id):
                    unbooked_here = True
        if unbooked_here and ctx is not None:
            # Another process stored it first: in a cluster, the sweep or reconciliation of the
            # worker holding the account's duties can see an order's fills before the worker
            # that placed it does. The position is read from the store, or the bot would sell
            # again what it has already sold.
            async with ctx.booking:
                stored = await self._store.fills_for_bot(record.bot_id)
                ctx.rebuild(sorted(stored, key=lambda f: f.trade_time))
        status = our_status(order)
        listed = order
        if status.is_final and order.filled_size > 0 and not fills_cover(order, fills):
            # Done at the exchange, but its fills listing trails the order (Coinbase's does, for a
            # moment): booked as far as listed, the order stays open until every fill is, so its
            # unbooked rest still counts against the bot's budget and nothing trades past it.
            # Reconciliation and the sweep look again and book the rest.
            status = OrderStatus.PARTIALLY_FILLED
            listed = _as_listed(order, fills)
            log.warning(
                "⏳ Order %s is %s at the exchange but only %s of its %s are listed as fills; "
                "it stays open until the rest are booked",
                record.client_order_id,
                order.status.value,
                listed.filled_size,
                order.filled_size,
            )
        unchanged = _unchanged(record, status, order)
        if not unchanged and not new and order.filled_size > 0:
            # Nothing new was stored, yet the record differs: it may be a stale read (reconciliation
            # and the sweep each read the order before the other settled it). The store says
            # whether this settlement has anything left to book, log and announce.
            current = (await self._store.get_orders([record.client_order_id])).get(record.client_order_id)
            if current is not None and _unchanged(current, status, order):
                record, unchanged = current, True
        stale = False
        if not unchanged:
            record = await self.transition(
                record,
                status,
                exchange_order_id=order.order_id or None,
                filled_size=order.filled_size,
                average_price=order.average_filled_price,
                filled_value=order.filled_value,
                fees=order.total_fees,
                completed_at=self._clock.now() if status.is_final else None,
            )
            if record.filled_size > order.filled_size:
                # The store has the order further filled than this read of it: a settlement of a
                # later read came first (reconciliation and the sweep each read the order, here or
                # in another process) and the store kept its figures. They are the order as known
                # now: its open order follows them, and so does a trade booked for fills stored here.
                stale = True
                status = record.status
                listed = order  # the stored record is what the open order follows
        if status.is_final:
            self.open_orders.remove(record.client_order_id)
        else:
            self.open_orders.update_filled(
                record
                if listed is order
                else evolve(
                    record,
                    filled_size=listed.filled_size,
                    filled_value=listed.filled_value,
                    fees=listed.total_fees,
                )
            )
        moved = not unchanged and not stale  # this settlement changed the stored order
        # ``record`` now has the order's figures: this read's, stored (or equal to the stored
        # ones), or, read stale, the newer ones the store kept.
        if record.filled_size > 0 and (new or moved):
            # Fills stored here are announced even from an older read (their P&L, and in a cluster
            # the other processes read the bot's position again); the stored trade stays the newer.
            await self._book_trade(record, owner.name, realized, fresh=new > 0)
        return record

    async def book_stored_trade(self, record: OrderRecord) -> Trade:
        """Store (and announce) the trade of a final order from its stored figures: for an order
        whose trade a stopped process did not get to store (``final_orders_without_their_trade``).
        Its fills, position and P&L were booked with them; only the trade record is made."""
        log.warning("🧾 Order %s was final without its trade stored; booking it", record.client_order_id)
        return await self._book_trade(record, f"bot {record.bot_id}", None, fresh=True)

    async def _apply(self, bot_id: BotId, ctx: BotContext | None, fill: Fill) -> Decimal:
        """Book the fill into the bot's position; what it realized (0 for a buy or without a ctx)."""
        if ctx is None:
            return _ZERO
        before = ctx.position.realized_pnl
        ctx.record_fill(fill)  # the strategy sees it too: its entry price, its recent fills
        gained = ctx.position.realized_pnl - before
        if fill.side is Side.SELL and gained < 0:
            await self._risk.record_loss(bot_id, fill.trade_time)
        return gained

    async def _book_trade(
        self, record: OrderRecord, name: str, realized: Decimal | None, *, fresh: bool
    ) -> Trade:
        """Store the order's trade with the figures of its stored ``record``, then announce and
        log it.

        ``fresh``: this settlement stored fills of the order. When it did not and the store kept a
        trade further filled than ``record`` (a settlement of a later read booked it in between),
        that trade has been announced already and nothing is announced again.
        """
        quote = record.filled_value or record.filled_size * record.average_price
        fee = record.fees
        net = quote + fee if record.side is Side.BUY else quote - fee
        trade = await self._store.upsert_trade(
            Trade(
                bot_id=record.bot_id,
                product_id=record.product_id,
                side=record.side,
                base_size=record.filled_size,
                price=record.average_price,
                quote_amount=quote,
                fee=fee,
                net_total=net,
                status=record.status,
                client_order_id=record.client_order_id,
                exchange_order_id=record.exchange_order_id,
                reason=record.reason,
                created_at=record.created_at,
                filled_at=record.completed_at,
            )
        )
        if not fresh and trade.base_size > record.filled_size:
            return trade
        self.trades_booked += 1
        self._bus.publish(TradeBooked(trade=trade, realized_pnl=realized))
        if not log.isEnabledFor(logging.INFO):
            return trade  # the line's amounts are worked out only for a log that shows it
        product = self.products.get(trade.product_id)
        log.info(
            "✅ %s %s %s %s @ %s = %s %s (fee %s) — %s",
            name,
            trade.side.value,
            shown_amount(trade.base_size, product.base_increment if product else None),
            trade.product_id.split("-")[0],
            shown_amount(trade.price, product.quote_increment if product else None),
            quote.quantize(Decimal("0.01")),
            trade.product_id.split("-")[-1],
            fee.quantize(Decimal("0.0001")),
            trade.reason,
        )
        return trade


def _unchanged(record: OrderRecord, status: OrderStatus, order: ExchangeOrder) -> bool:
    return (
        status is record.status
        and order.filled_size == record.filled_size
        and record.exchange_order_id == order.order_id
    )


def shown_amount(value: Decimal, increment: Decimal | None) -> str:
    """For people: on the product's increment, in plain notation (3600, never 3.6E+3), without
    trailing zeros. Records keep the exchange's exact figures."""
    return amount(value.quantize(increment) if increment else value)
