"""What trading needs from the parts around it, as narrow protocols.

The SQLAlchemy store (``streambot.store``) satisfies the store protocols and an in-memory store
can (backtests); the bot manager satisfies ``BotDirectory``. Trading imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from streambot.domain import BotId, BotRecord, Fill, OrderRecord, Position, ProductHold, Trade
from streambot.evaluator import BotRuntime
from streambot.risk.state import EquitySnapshot
from streambot.strategies.base import BotContext


class OrderStore(Protocol):
    """Orders: the intent stored before it is sent, then its lifecycle.

    ``update_order`` never moves an order's ``filled_size`` down: such a change (an older read of
    the exchange, settled last) is not made and the stored order is returned.
    """

    async def insert_order_with_seq(self, bot_id: int, make: Callable[[int], OrderRecord]) -> OrderRecord: ...
    async def update_order(self, client_order_id: str, **changes: Any) -> OrderRecord: ...
    async def get_orders(self, client_order_ids: Collection[str]) -> dict[str, OrderRecord]: ...
    async def unresolved_orders(self) -> list[OrderRecord]: ...
    async def final_orders_without_their_trade(self) -> list[OrderRecord]: ...
    async def submitted_since(self, since: datetime) -> list[tuple[int, datetime]]: ...


class FillStore(Protocol):
    async def insert_fill(self, fill: Fill, *, bot_id: int, client_order_id: str) -> bool: ...
    async def fills_for_bot(self, bot_id: int) -> list[Fill]: ...


class TradeStore(Protocol):
    """``upsert_trade`` never moves a trade's ``base_size`` down: such an update is not made and
    the stored trade is returned."""

    async def upsert_trade(self, trade: Trade) -> Trade: ...


class TradingStore(OrderStore, FillStore, TradeStore, Protocol):
    """Everything the order path, settlement and reconciliation write and read."""


class HoldStore(Protocol):
    """Products whose entries are halted until a person acknowledges why."""

    async def product_holds(self) -> list[ProductHold]: ...
    async def save_product_hold(self, hold: ProductHold) -> None: ...
    async def delete_product_hold(self, product_id: str) -> bool: ...


class FillTotals(Protocol):
    async def net_base_by_product(self) -> dict[str, Decimal]: ...
    async def known_trade_ids(self, trade_ids: Collection[str]) -> set[str]: ...


class SnapshotStore(Protocol):
    async def insert_equity_snapshots(self, snapshots: Iterable[EquitySnapshot]) -> None: ...


class BotDirectory(Protocol):
    """The platform's bots: their records, and each one's context (position, fills) by id."""

    async def list(self) -> list[BotRecord]: ...
    def position(self, bot_id: BotId) -> Position: ...
    def context(self, bot_id: BotId) -> BotContext | None: ...
    def runtime(self, bot_id: BotId) -> BotRuntime | None: ...
