"""Every record a backtest writes, kept in memory: bots, orders, fills, trades, holds, risk state.

It satisfies the same narrow protocols as the SQL store (``trading.protocols``, ``bots.BotStore``,
``risk.engine.RiskStateStore``), so the order path, settlement, risk engine and bot manager run
unchanged. Every method completes without suspending: a replay on a ManualClock relies on the
engine's coroutines waiting only on the clock, never on a thread or a socket, which is what makes
a run deterministic. The run's orders, fills and trades are read back from here for the report.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from streambot.clock import Clock
from streambot.domain import BotId, BotRecord, BotState, Fill, OrderRecord, ProductHold, Trade, evolve
from streambot.risk.state import EquitySnapshot, ScopeState


class MemoryStore:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._bots: dict[BotId, BotRecord] = {}
        self._order_seq: dict[BotId, int] = {}
        self.orders: dict[str, OrderRecord] = {}  # by client_order_id, in the order they were stored
        self._unresolved: dict[str, OrderRecord] = {}
        self._submitted: list[tuple[int, datetime]] = []
        self.fills: dict[str, tuple[Fill, int, str]] = {}  # trade_id → (fill, bot_id, client_order_id)
        self._fills_by_bot: dict[int, list[Fill]] = {}
        self.trades: dict[str, Trade] = {}  # by client_order_id
        self._holds: dict[str, ProductHold] = {}
        self._risk: dict[str, ScopeState] = {}
        self.snapshots: list[EquitySnapshot] = []

    # --- bots --------------------------------------------------------------------------------

    async def create_bot(
        self,
        name: str,
        strategy: str,
        product_id: str,
        params: dict[str, Any],
        budget: Decimal,
        state: BotState = BotState.STOPPED,
        streaming: bool = True,
    ) -> BotRecord:
        now = self._clock.now()
        bot_id = BotId(len(self._order_seq) + 1)
        record = BotRecord(
            id=bot_id,
            name=name,
            strategy=strategy,
            product_id=product_id,
            params=params,
            budget=budget,
            state=BotState(state),
            error_reason="",
            streaming=streaming,
            created_at=now,
            updated_at=now,
        )
        self._bots[bot_id] = record
        self._order_seq[bot_id] = 0
        return record

    async def list_bots(self) -> list[BotRecord]:
        return list(self._bots.values())

    async def update_bot(self, bot_id: int, **changes: Any) -> BotRecord | None:
        record = self._bots.get(BotId(bot_id))
        if record is None:
            return None
        if "state" in changes:
            changes["state"] = BotState(changes["state"])
        record = evolve(record, **changes, updated_at=self._clock.now())
        self._bots[record.id] = record
        return record

    async def delete_bot(self, bot_id: int) -> bool:
        return self._bots.pop(BotId(bot_id), None) is not None

    async def fills_for_bot(self, bot_id: int) -> list[Fill]:
        return list(self._fills_by_bot.get(bot_id, ()))

    # --- orders ------------------------------------------------------------------------------

    async def insert_order_with_seq(self, bot_id: int, make: Callable[[int], OrderRecord]) -> OrderRecord:
        key = BotId(bot_id)
        if key not in self._order_seq:
            raise LookupError(f"no bot with id {bot_id}")
        seq = self._order_seq[key] = self._order_seq[key] + 1
        order = make(seq)
        if order.client_order_id in self.orders:
            raise ValueError(f"an order with client_order_id {order.client_order_id!r} is already stored")
        self._keep(order)
        return order

    async def update_order(self, client_order_id: str, **changes: Any) -> OrderRecord:
        found = self.orders.get(client_order_id)
        if found is None:
            raise LookupError(f"no order with client_order_id {client_order_id!r} is stored")
        if not changes:
            return found
        order = evolve(found, **changes)
        if order.submitted_at is not None and found.submitted_at is None:
            self._submitted.append((order.bot_id, order.submitted_at))
        self._keep(order)
        return order

    def _keep(self, order: OrderRecord) -> None:
        key = order.client_order_id
        self.orders[key] = order
        if order.status.is_final:
            self._unresolved.pop(key, None)
        else:
            self._unresolved[key] = order

    async def get_orders(self, client_order_ids: Collection[str]) -> dict[str, OrderRecord]:
        return {key: self.orders[key] for key in client_order_ids if key in self.orders}

    async def unresolved_orders(self) -> list[OrderRecord]:
        return sorted(self._unresolved.values(), key=lambda o: (o.created_at, o.client_order_id))

    async def submitted_since(self, since: datetime) -> list[tuple[int, datetime]]:
        return [(bot, at) for bot, at in self._submitted if at >= since]

    # --- fills and trades ----------------------------------------------------------------------

    async def insert_fill(self, fill: Fill, *, bot_id: int, client_order_id: str) -> bool:
        if fill.trade_id in self.fills:
            return False
        if client_order_id not in self.orders:
            raise LookupError(f"no order with client_order_id {client_order_id!r} is stored")
        self.fills[fill.trade_id] = (fill, bot_id, client_order_id)
        self._fills_by_bot.setdefault(bot_id, []).append(fill)
        return True

    async def upsert_trade(self, trade: Trade) -> Trade:
        known = self.trades.get(trade.client_order_id)
        stored = evolve(trade, id=known.id if known is not None else len(self.trades) + 1)
        self.trades[trade.client_order_id] = stored
        return stored

    async def net_base_by_product(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for fill, _, _ in self.fills.values():
            signed = fill.size if fill.side.value == "BUY" else -fill.size
            totals[fill.product_id] = totals.get(fill.product_id, Decimal(0)) + signed
        return totals

    async def known_trade_ids(self, trade_ids: Collection[str]) -> set[str]:
        return {trade_id for trade_id in trade_ids if trade_id in self.fills}

    async def insert_equity_snapshots(self, snapshots: Iterable[EquitySnapshot]) -> None:
        self.snapshots.extend(snapshots)

    # --- holds and risk state ------------------------------------------------------------------

    async def product_holds(self) -> list[ProductHold]:
        return list(self._holds.values())

    async def save_product_hold(self, hold: ProductHold) -> None:
        self._holds[hold.product_id] = hold

    async def delete_product_hold(self, product_id: str) -> bool:
        return self._holds.pop(product_id, None) is not None

    async def load_risk_states(self) -> list[ScopeState]:
        return list(self._risk.values())

    async def save_risk_state(self, state: ScopeState) -> None:
        self._risk[state.key] = state
