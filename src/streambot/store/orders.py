"""Orders: the intent stored before it is sent, its lifecycle, and the queries over them."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from streambot.domain import BotId, ClientOrderId, FencingTokens, OrderRecord, OrderStatus, Side
from streambot.store.bot_leases import FencedOut
from streambot.store.models import BotLeaseRow, BotRow, OrderRow, TradeRow
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
_SELECT_SEQ = f"SELECT order_seq FROM {BotRow.__tablename__} WHERE id = ?"
_UPDATE_SEQ = f"UPDATE {BotRow.__tablename__} SET order_seq = ? WHERE id = ?"
_SELECT_TOKEN = f"SELECT token FROM {BotLeaseRow.__tablename__} WHERE bot_id = ? AND worker_id = ?"
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

        The executor's path from decision to exchange has this single durable write in it. On
        SQLite it is one call on the writer connection's thread (``_write_intent``); on
        PostgreSQL one transaction of the session.
        """
        if self._writer is not None:
            return await self._writer.run(self._write_intent, bot_id, make)
        async with self._transaction() as session:
            if self._fencing is not None:
                await self._check_fence(session, bot_id, self._fencing)
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

    def _write_intent(
        self, connection: sqlite3.Connection, bot_id: int, make: Callable[[int], OrderRecord]
    ) -> OrderRecord:
        """On the writer's thread: the bot's next number from memory (read from its row once per
        bot and process; only this thread writes it), the counter and the order in one commit.

        The counter is stored with the order, so a restart reads on from the last stored intent;
        a failed commit leaves the number in memory where it was. The unique client_order_id
        still refuses a clash (``DuplicateOrder``), as on PostgreSQL.
        """
        seqs = self._order_seqs
        connection.execute("BEGIN IMMEDIATE")
        try:
            fencing = self._fencing
            if fencing is not None:
                token = fencing.get(BotId(bot_id))
                row = connection.execute(_SELECT_TOKEN, (bot_id, fencing.worker_id)).fetchone()
                if token is None or row is None or int(row[0]) != token:
                    raise FencedOut(bot_id, fencing.worker_id, token)
            seq = seqs.get(bot_id)
            if seq is None:
                row = connection.execute(_SELECT_SEQ, (bot_id,)).fetchone()
                if row is None:
                    raise LookupError(f"no bot with id {bot_id}")
                seq = int(row[0])
            seq += 1
            order = make(seq)
            sql, params = self._intent_insert(order)
            if connection.execute(_UPDATE_SEQ, (seq, bot_id)).rowcount != 1:
                raise LookupError(f"no bot with id {bot_id}")
            if connection.execute(sql, params).rowcount != 1:
                raise DuplicateOrder(order.client_order_id)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        seqs[bot_id] = seq
        return order

    @staticmethod
    async def _check_fence(session: AsyncSession, bot_id: int, fencing: FencingTokens) -> None:
        """In the intent's transaction: the bot's lease is still ours under our token. The row is
        read ``FOR SHARE``, so a takeover (an UPDATE of it) waits until this intent is committed
        and the new owner's reconciliation sees it."""
        token = fencing.get(BotId(bot_id))
        current = await session.scalar(
            select(BotLeaseRow.token)
            .where(BotLeaseRow.bot_id == bot_id, BotLeaseRow.worker_id == fencing.worker_id)
            .with_for_update(read=True)
        )
        if token is None or current != token:
            raise FencedOut(bot_id, fencing.worker_id, token)

    def _intent_insert(self, order: OrderRecord) -> tuple[str, list[Any]]:
        """The prepared INSERT for these columns and the order's values as the column types bind
        them (Money as fixed-point text, timestamps as naive UTC text): as the session would."""
        values = columns(order)
        names = tuple(values)
        prepared = self._intent_inserts.get(names)
        if prepared is None:
            assert self._bind_dialect is not None
            table = OrderRow.__table__.c
            processors = [
                table[name].type.dialect_impl(self._bind_dialect).bind_processor(self._bind_dialect)
                for name in names
            ]
            sql = (
                f"INSERT INTO {OrderRow.__tablename__} ({', '.join(names)}) "
                f"VALUES ({', '.join('?' * len(names))}) ON CONFLICT (client_order_id) DO NOTHING"
            )
            prepared = self._intent_inserts[names] = (sql, processors)
        sql, processors = prepared
        params = [
            value if process is None else process(value)
            for value, process in zip(values.values(), processors, strict=True)
        ]
        return sql, params

    def _insert_order_statement(self, order: OrderRecord) -> Any:
        return (
            self._dialect_insert(OrderRow)
            .values(columns(order))
            .on_conflict_do_nothing(index_elements=[OrderRow.client_order_id])
            .returning(OrderRow.client_order_id)
        )

    async def update_order(self, client_order_id: str, **changes: Any) -> OrderRecord:
        """Change the order's lifecycle fields; ``OrderNotFound`` if it is not stored.

        An order's filled size never goes down: a change to a smaller ``filled_size`` than the
        stored one is from an older read of the exchange (two settlements of the order, here or
        in another process, the older one last) and changes nothing; the stored order is returned.
        """
        check_changes(changes, _ORDER_CHANGES, "order")
        if "status" in changes:
            changes["status"] = OrderStatus(changes["status"]).value
        if not changes:
            found = await self.get_order(client_order_id)
            if found is None:
                raise OrderNotFound(client_order_id)
            return found
        statement = update(OrderRow).where(OrderRow.client_order_id == client_order_id)
        filled = changes.get("filled_size")
        if filled is not None:
            # In the UPDATE itself, so no settlement can come in between the check and the write.
            statement = statement.where(
                self._at_most(OrderRow.filled_size, literal(filled, OrderRow.filled_size.type))
            )
        statement = (
            statement.values(**changes).returning(OrderRow).execution_options(synchronize_session=False)
        )
        async with self._transaction() as session:
            row = (await session.scalars(statement)).one_or_none()
            if row is None and filled is not None:
                row = await session.get(OrderRow, client_order_id)  # ahead of this change: kept
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

    async def final_orders_without_their_trade(self) -> list[OrderRecord]:
        """Final orders with fills whose trade is not stored, or is stored with another size, oldest
        first: a process stopped between storing an order's last update and its trade (they are
        two writes) left them so, and reconciliation, which reads only unfinished orders, never
        looks at them again. ``TradingDesk.recover`` books their trades from the stored orders."""
        zero = literal(Decimal(0), OrderRow.filled_size.type)
        statement = (
            select(OrderRow)
            .outerjoin(TradeRow, TradeRow.client_order_id == OrderRow.client_order_id)
            .where(
                OrderRow.status.in_(_FINAL_STATUSES),
                ~self._at_most(OrderRow.filled_size, zero),
                or_(
                    TradeRow.id.is_(None),
                    # Compared as amounts: on SQLite "10" and "10.00" are one size.
                    ~and_(
                        self._at_most(TradeRow.base_size, OrderRow.filled_size),
                        self._at_most(OrderRow.filled_size, TradeRow.base_size),
                    ),
                ),
            )
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
