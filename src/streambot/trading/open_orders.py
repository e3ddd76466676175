"""Orders sent and not yet settled, in memory: what the risk rules count as open exposure.

Kept by the order path and reconciliation on the one event loop, rebuilt from the store at
start-up (every unresolved order), so exposure is never forgotten across a restart. Also the
orders sent per bot in the last hour, for the trades-per-hour limit (times on the caller's clock),
and the orders whose outcome is unknown: while one is, its bot places no new order on its product.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from streambot.domain import BotId, OrderRecord, OrderStatus, ProductId, Side

_ZERO = Decimal(0)
_HOUR_S = 3600.0


@dataclass(slots=True)
class OpenOrder:
    client_order_id: str
    bot_id: BotId
    side: Side
    notional: Decimal  # buys: quote committed
    base: Decimal  # sells: base committed


class OpenOrders:
    def __init__(self) -> None:
        self._open: dict[str, OpenOrder] = {}
        self._sent: dict[BotId, deque[float]] = {}
        self._unknown: dict[tuple[BotId, ProductId], set[str]] = {}

    def __len__(self) -> int:
        return len(self._open)

    def __contains__(self, client_order_id: object) -> bool:
        return client_order_id in self._open

    def add(self, order: OrderRecord, price: Decimal | None = None) -> None:
        """An order that may fill: its remaining size counts against the bot's limits.

        ``price`` values a base-sized order without a limit; a stored order is valued at its
        average fill price.
        """
        price = order.average_price if price is None else price
        notional = order.quote_size or (order.base_size or _ZERO) * (order.limit_price or price)
        self._open[order.client_order_id] = OpenOrder(
            order.client_order_id, order.bot_id, order.side, notional, order.base_size or _ZERO
        )
        self.follow_status(order)

    def update_filled(self, order: OrderRecord) -> None:
        """Shrink what stays committed once part of the order has filled."""
        entry = self._open.get(order.client_order_id)
        if entry is None:
            return
        if entry.side is Side.BUY:
            spent = order.filled_value + order.fees
            entry.notional = max(_ZERO, (order.quote_size or entry.notional) - spent)
            if order.quote_size is None and order.base_size:
                left = max(_ZERO, order.base_size - order.filled_size)
                entry.notional = left * (order.limit_price or order.average_price)
        else:
            entry.base = max(_ZERO, (order.base_size or _ZERO) - order.filled_size)

    def remove(self, client_order_id: str) -> None:
        self._open.pop(client_order_id, None)
        self._forget_unknown(client_order_id)

    # --- unknown outcomes --------------------------------------------------------------------

    def follow_status(self, order: OrderRecord) -> None:
        """Note whether the order's outcome is unknown now (``OrderStatus.UNKNOWN``)."""
        if order.status is OrderStatus.UNKNOWN:
            key = (order.bot_id, order.product_id)
            self._unknown.setdefault(key, set()).add(order.client_order_id)
        else:
            self._forget_unknown(order.client_order_id)

    def unknown_order(self, bot_id: BotId, product_id: ProductId) -> str | None:
        """An order of this bot on this product whose outcome is unknown, if there is one."""
        pending = self._unknown.get((bot_id, product_id))
        return min(pending) if pending else None

    def _forget_unknown(self, client_order_id: str) -> None:
        if not self._unknown:  # the usual case, asked at every status an order reaches
            return
        for key, pending in list(self._unknown.items()):
            if client_order_id in pending:
                pending.discard(client_order_id)
                if not pending:
                    del self._unknown[key]

    def open_orders(self, bot_id: BotId | None = None) -> list[OpenOrder]:
        return [o for o in self._open.values() if bot_id is None or o.bot_id == bot_id]

    def open_buy_notional(self, bot_id: BotId) -> Decimal:
        return sum(
            (o.notional for o in self._open.values() if o.bot_id == bot_id and o.side is Side.BUY), _ZERO
        )

    def open_sell_base(self, bot_id: BotId) -> Decimal:
        return sum((o.base for o in self._open.values() if o.bot_id == bot_id and o.side is Side.SELL), _ZERO)

    def total_open_notional(self) -> Decimal:
        return sum((o.notional for o in self._open.values() if o.side is Side.BUY), _ZERO)

    # --- orders per hour ---------------------------------------------------------------------

    def record_sent(self, bot_id: BotId, at: float) -> None:
        self._sent.setdefault(bot_id, deque()).append(at)

    def sent_last_hour(self, bot_id: BotId, now: float) -> int:
        sent = self._sent.get(bot_id)
        if not sent:
            return 0
        while sent and sent[0] <= now - _HOUR_S:
            sent.popleft()
        return len(sent)
