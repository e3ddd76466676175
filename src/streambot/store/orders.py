"""Orders: the intent stored before it is sent, its lifecycle, and the queries over them."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update

from streambot.domain import BotId, ClientOrderId, OrderRecord, OrderStatus, Side
from streambot.store.models import BotRow, OrderRow
from streambot.store.sql import SqlRepository, StoreError, check_changes, check_limit, columns


class DuplicateOrder(StoreError):
    def __init__(self, client_order_id: str) -> None:
        super().__init__(f"an order with client_order_id {client_order_id!r} is already stored")
        self.client_order_id = client_order_id


class OrderNotFound(StoreError, LookupError):
    def __init__(self, client_order_id: str) -> None:
        super().__init__(f"no order with client_order_id {client_order_id!r} is stored")
        self.client_order_id = client_order_id


# Identity of an order (who, what, which way, when intended) is fixed once stored as an intent.
_ORDER_CHANGES = frozenset(
    {
        "status",
        "reason",
        "quote_size",
        "base_size",
        "limit_price",
        "exchange_order_id",
        "error",
        "filled_size",
        "average_price",
        "filled_value",
        "fees",
        "submitted_at",
        "acknowledged_at",
        "completed_at",
        "error_code",
        "risk_checked_at",
    }
)
_FINAL_STATUSES = tuple(status.value for status in OrderStatus if status.is_final)


def _order(row: OrderRow) -> OrderRecord:
    return OrderRecord(
        client_order_id=ClientOrderId(row.client_order_id),
        bot_id=BotId(row.bot_id),
        product_id=row.product_id,
        side=Side(row.side),
        status=OrderStatus(row.status),
        reason=row.reason,
        created_at=row.created_at,
        quote_size=row.quote_size,
        base_size=row.base_size,
        limit_price=row.limit_price,
        exchange_order_id=row.exchange_order_id,
        error=row.error,
        filled_size=row.filled_size,
        average_price=row.average_price,
        filled_value=row.filled_value,
        fees=row.fees,
        submitted_at=row.submitted_at,
        acknowledged_at=row.acknowledged_at,
        completed_at=row.completed_at,
        error_code=row.error_code,
        risk_checked_at=row.risk_checked_at,
    )


class OrderRepository(SqlRepository):
    async def insert_order(self, order: OrderRecord) -> None:
        """Store a new order; ``DuplicateOrder`` if its client_order_id is already stored."""
        async with self._transaction() as session:
            stored = (await session.scalars(self._insert_order_statement(order))).one_or_none()
        if stored is None:
            raise DuplicateOrder(order.client_order_id)

    async def insert_order_with_seq(self, bot_id: int, make: Callable[[int], OrderRecord]) -> OrderRecord:
        """Take the bot's next order number and store ``make(seq)``: one transaction, one commit.

        The executor's path from decision to exchange has this single durable write in it.
        """
        async with self._transaction() as session:
            # One UPDATE ... RETURNING: the row lock (PostgreSQL) or the writer lock (SQLite) makes
            # reading and incrementing the counter one step, so concurrent intents never share it.
            counter = (
                update(BotRow)
                .where(BotRow.id == bot_id)
                .values(order_seq=BotRow.order_seq + 1)
                .returning(BotRow.order_seq)
                .execution_options(synchronize_session=False)
            )
            seq = (await session.scalars(counter)).one_or_none()
            if seq is None:
                raise LookupError(f"no bot with id {bot_id}")
            order = make(seq)
            stored = (await session.scalars(self._insert_order_statement(order))).one_or_none()
            if stored is None:
                raise DuplicateOrder(order.client_order_id)
        return order

    def _insert_order_statement(self, order: OrderRecord) -> Any:
        return (
            self._dialect_insert(OrderRow)
            .values(columns(order))
            .on_conflict_do_nothing(index_elements=[OrderRow.client_order_id])
            .returning(OrderRow.client_order_id)
        )

    async def update_order(self, client_order_id: str, **changes: Any) -> OrderRecord:
        """Change the order's lifecycle fields; ``OrderNotFound`` if it is not stored."""
        check_changes(changes, _ORDER_CHANGES, "order")
        if "status" in changes:
            changes["status"] = OrderStatus(changes["status"]).value
        if not changes:
            found = await self.get_order(client_order_id)
            if found is None:
                raise OrderNotFound(client_order_id)
            return found
        statement = (
            update(OrderRow)
            .where(OrderRow.client_order_id == client_order_id)
            .values(**changes)
            .returning(OrderRow)
            .execution_options(synchronize_session=False)
        )
        async with self._transaction() as session:
            row = (await session.scalars(statement)).one_or_none()
            if row is None:
                raise OrderNotFound(client_order_id)
            return _order(row)

    async def get_order(self, client_order_id: str) -> OrderRecord | None:
        async with self._transaction() as session:
            row = await session.get(OrderRow, client_order_id)
            return None if row is None else _order(row)

    async def get_orders(self, client_order_ids: Collection[str]) -> dict[str, OrderRecord]:
        """The stored ones of these orders, by client_order_id, in one query."""
        if not client_order_ids:
            return {}
        statement = select(OrderRow).where(OrderRow.client_order_id.in_(client_order_ids))
        async with self._transaction() as session:
            return {row.client_order_id: _order(row) for row in await session.scalars(statement)}

    async def unresolved_orders(self) -> list[OrderRecord]:
        """Every order not in a final state, oldest first: what reconciliation must settle."""
        statement = (
            select(OrderRow)
            .where(OrderRow.status.not_in(_FINAL_STATUSES))
            .order_by(OrderRow.created_at, OrderRow.client_order_id)
        )
        async with self._transaction() as session:
            return [_order(row) for row in await session.scalars(statement)]

    async def page_orders(
        self,
        *,
        bot_id: int | None = None,
        product_id: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        before: tuple[datetime, str] | None = None,
    ) -> list[OrderRecord]:
        """Newest first; for the next page pass the last order's (created_at, client_order_id)."""
        check_limit(limit)
        filters: list[ColumnElement[bool]] = []
        if bot_id is not None:
            filters.append(OrderRow.bot_id == bot_id)
        if product_id is not None:
            filters.append(OrderRow.product_id == product_id)
        if status is not None:
            filters.append(OrderRow.status == OrderStatus(status).value)
        if since is not None:
            filters.append(OrderRow.created_at >= since)
        if until is not None:
            filters.append(OrderRow.created_at < until)
        if before is not None:
            at, client_order_id = before
            filters.append(
                or_(
                    OrderRow.created_at < at,
                    and_(OrderRow.created_at == at, OrderRow.client_order_id < client_order_id),
                )
            )
        statement = (
            select(OrderRow)
            .where(*filters)
            .order_by(OrderRow.created_at.desc(), OrderRow.client_order_id.desc())
            .limit(limit)
        )
        async with self._transaction() as session:
            return [_order(row) for row in await session.scalars(statement)]

    async def submitted_since(self, since: datetime) -> list[tuple[int, datetime]]:
        """(bot_id, submitted_at) of every order sent to the exchange since ``since``."""
        statement = select(OrderRow.bot_id, OrderRow.submitted_at).where(OrderRow.submitted_at >= since)
        async with self._transaction() as session:
            rows = (await session.execute(statement)).all()
        return [(int(bot), at) for bot, at in rows if at is not None]
