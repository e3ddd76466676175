"""What the platform asks of the store, as async methods that return domain dataclasses.

Every method is one short transaction, and every write is a single statement (``UPDATE ...
RETURNING``, ``INSERT ... ON CONFLICT``): atomic on both backends without locks held across
awaits, and on SQLite a transaction that begins with its write waits for the writer lock instead of
failing with ``SQLITE_BUSY`` as a read-then-write transaction can.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import fields
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from streambot.domain import (
    BotId,
    BotRecord,
    BotState,
    ClientOrderId,
    Fill,
    OrderRecord,
    OrderStatus,
    Side,
    Trade,
)
from streambot.risk.state import EquitySnapshot, ScopeState
from streambot.store.models import (
    BotRow,
    EquitySnapshotRow,
    FillRow,
    OrderRow,
    RiskStateRow,
    TradeRow,
)


class StoreError(Exception):
    """A write the store refused; the stored rows are unchanged."""


class DuplicateOrder(StoreError):
    def __init__(self, client_order_id: str) -> None:
        super().__init__(f"an order with client_order_id {client_order_id!r} is already stored")
        self.client_order_id = client_order_id


class OrderNotFound(StoreError, LookupError):
    def __init__(self, client_order_id: str) -> None:
        super().__init__(f"no order with client_order_id {client_order_id!r} is stored")
        self.client_order_id = client_order_id


_BOT_CHANGES = frozenset({"name", "params", "budget", "state", "error_reason", "streaming"})
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
# A re-booked trade updates its amounts and outcome; who traded what, and when it began, stay.
_TRADE_CHANGES = (
    "base_size",
    "price",
    "quote_amount",
    "fee",
    "net_total",
    "status",
    "exchange_order_id",
    "reason",
    "filled_at",
)
_FINAL_STATUSES = tuple(status.value for status in OrderStatus if status.is_final)


def _now() -> datetime:
    return datetime.now(UTC)


def _check_changes(changes: Mapping[str, Any], allowed: Iterable[str], what: str) -> None:
    unknown = set(changes) - set(allowed)
    if unknown:
        raise TypeError(f"cannot change {what} field(s) {', '.join(sorted(unknown))}")


def _check_limit(limit: int) -> None:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")


def _columns(record: Any, **extra: Any) -> dict[str, Any]:
    """A domain dataclass as column values: each field under its own name, enums as their text.

    Not listed by hand, so a field added to the dataclass is stored, or the insert fails on a
    column the table lacks; never silently left out. ``id`` is the database's to assign.
    """
    values = {f.name: getattr(record, f.name) for f in fields(record) if f.name != "id"}
    values.update(extra)
    return {name: value.value if isinstance(value, Enum) else value for name, value in values.items()}


def _bot(row: BotRow) -> BotRecord:
    return BotRecord(
        id=BotId(row.id),
        name=row.name,
        strategy=row.strategy,
        product_id=row.product_id,
        params=dict(row.params),
        budget=row.budget,
        state=BotState(row.state),
        error_reason=row.error_reason,
        streaming=row.streaming,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


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


def _fill(row: FillRow) -> Fill:
    return Fill(
        trade_id=row.trade_id,
        order_id=row.order_id,
        product_id=row.product_id,
        side=Side(row.side),
        price=row.price,
        size=row.size,
        commission=row.commission,
        trade_time=row.trade_time,
    )


def _trade(row: TradeRow) -> Trade:
    return Trade(
        bot_id=BotId(row.bot_id),
        product_id=row.product_id,
        side=Side(row.side),
        base_size=row.base_size,
        price=row.price,
        quote_amount=row.quote_amount,
        fee=row.fee,
        net_total=row.net_total,
        status=OrderStatus(row.status),
        client_order_id=ClientOrderId(row.client_order_id),
        exchange_order_id=row.exchange_order_id,
        reason=row.reason,
        created_at=row.created_at,
        filled_at=row.filled_at,
        id=row.id,
    )


class Repositories:
    """The store's queries; ``Store`` supplies the engine (see ``database.py``)."""

    _sessions: async_sessionmaker[AsyncSession] | None = None
    _dialect: str = ""

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        """One short transaction, committed on success, rolled back on any error."""
        if self._sessions is None:
            raise RuntimeError("the store is not open: await Store.open() first")
        async with self._sessions() as session:
            try:
                async with session.begin():
                    yield session
            except StatementError as exc:
                # A value our column types refused (a float for money, a naive datetime) is the
                # caller's mistake: give them that TypeError/ValueError, not a wrapped SQL error.
                if not isinstance(exc, DBAPIError) and isinstance(exc.orig, TypeError | ValueError):
                    raise exc.orig from None
                raise

    def _dialect_insert(self, table: type[Any]) -> postgresql.Insert | sqlite.Insert:
        """``INSERT`` with ``ON CONFLICT``, which both backends spell the same way."""
        if self._dialect == "postgresql":
            return postgresql.insert(table)
        if self._dialect == "sqlite":
            return sqlite.insert(table)
        raise NotImplementedError(f"the store supports SQLite and PostgreSQL, not {self._dialect}")

    # --- bots ------------------------------------------------------------------------------

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
        now = _now()
        statement = (
            insert(BotRow)
            .values(
                name=name,
                strategy=strategy,
                product_id=product_id,
                params=params,
                budget=budget,
                state=BotState(state).value,
                error_reason="",
                streaming=streaming,
                order_seq=0,
                created_at=now,
                updated_at=now,
            )
            .returning(BotRow)
        )
        async with self._transaction() as session:
            return _bot((await session.scalars(statement)).one())

    async def get_bot(self, bot_id: int) -> BotRecord | None:
        async with self._transaction() as session:
            row = await session.get(BotRow, bot_id)
            return None if row is None else _bot(row)

    async def list_bots(self) -> list[BotRecord]:
        async with self._transaction() as session:
            rows = await session.scalars(select(BotRow).order_by(BotRow.id))
            return [_bot(row) for row in rows]

    async def count_bots(self) -> int:
        async with self._transaction() as session:
            return (await session.scalar(select(func.count()).select_from(BotRow))) or 0

    async def update_bot(self, bot_id: int, **changes: Any) -> BotRecord | None:
        """Change any of name, params, budget, state, error_reason, streaming; None if no such bot."""
        _check_changes(changes, _BOT_CHANGES, "bot")
        if "state" in changes:
            changes["state"] = BotState(changes["state"]).value
        if not changes:
            return await self.get_bot(bot_id)
        statement = (
            update(BotRow)
            .where(BotRow.id == bot_id)
            .values(**changes, updated_at=_now())
            .returning(BotRow)
            .execution_options(synchronize_session=False)
        )
        async with self._transaction() as session:
            row = (await session.scalars(statement)).one_or_none()
            return None if row is None else _bot(row)

    async def delete_bot(self, bot_id: int) -> bool:
        """Remove the bot; its orders, fills and trades stay as history."""
        statement = (
            delete(BotRow)
            .where(BotRow.id == bot_id)
            .returning(BotRow.id)
            .execution_options(synchronize_session=False)
        )
        async with self._transaction() as session:
            return (await session.scalars(statement)).one_or_none() is not None

    # --- orders ----------------------------------------------------------------------------

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
            .values(_columns(order))
            .on_conflict_do_nothing(index_elements=[OrderRow.client_order_id])
            .returning(OrderRow.client_order_id)
        )

    async def update_order(self, client_order_id: str, **changes: Any) -> OrderRecord:
        """Change the order's lifecycle fields; ``OrderNotFound`` if it is not stored."""
        _check_changes(changes, _ORDER_CHANGES, "order")
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

    # --- fills -----------------------------------------------------------------------------

    async def insert_fill(self, fill: Fill, *, bot_id: int, client_order_id: str) -> bool:
        """Store the fill; False if its trade_id was already stored (fills arrive more than once)."""
        statement = (
            self._dialect_insert(FillRow)
            .values(_columns(fill, client_order_id=client_order_id, bot_id=bot_id))
            .on_conflict_do_nothing(index_elements=[FillRow.trade_id])
            .returning(FillRow.trade_id)
        )
        try:
            async with self._transaction() as session:
                return (await session.scalars(statement)).one_or_none() is not None
        except IntegrityError as exc:
            # The duplicate trade_id is absorbed above, so what is left is the foreign key.
            raise OrderNotFound(client_order_id) from exc

    async def fills_for_bot(self, bot_id: int) -> list[Fill]:
        """Every fill of the bot, oldest first: replaying them rebuilds its position."""
        statement = (
            select(FillRow).where(FillRow.bot_id == bot_id).order_by(FillRow.trade_time, FillRow.trade_id)
        )
        async with self._transaction() as session:
            rows = await session.scalars(statement)
            return [_fill(row) for row in rows]

    # --- trades ----------------------------------------------------------------------------

    async def upsert_trade(self, trade: Trade) -> Trade:
        """Insert the trade, or update the one with the same client_order_id; returned with its id."""
        values = _columns(trade)
        statement = (
            self._dialect_insert(TradeRow)
            .values(**values)
            .on_conflict_do_update(
                index_elements=[TradeRow.client_order_id],
                set_={name: values[name] for name in _TRADE_CHANGES},
            )
            .returning(TradeRow)
        )
        try:
            async with self._transaction() as session:
                return _trade((await session.scalars(statement)).one())
        except IntegrityError as exc:
            raise OrderNotFound(trade.client_order_id) from exc

    async def list_trades(
        self,
        *,
        bot_id: int | None = None,
        product_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[Trade]:
        """Newest first. For the next page pass the last trade's id as ``before_id``.

        ``since`` is inclusive and ``until`` exclusive, on the time the order was created.
        """
        _check_limit(limit)
        filters: list[ColumnElement[bool]] = []
        if bot_id is not None:
            filters.append(TradeRow.bot_id == bot_id)
        if product_id is not None:
            filters.append(TradeRow.product_id == product_id)
        if since is not None:
            filters.append(TradeRow.created_at >= since)
        if until is not None:
            filters.append(TradeRow.created_at < until)
        if before_id is not None:
            filters.append(TradeRow.id < before_id)
        statement = select(TradeRow).where(*filters).order_by(TradeRow.id.desc()).limit(limit)
        async with self._transaction() as session:
            rows = await session.scalars(statement)
            return [_trade(row) for row in rows]

    # --- orders: queries for the trading engine ---------------------------------------------

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
        _check_limit(limit)
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

    # --- risk state ------------------------------------------------------------------------

    async def load_risk_states(self) -> list[ScopeState]:
        async with self._transaction() as session:
            rows = await session.scalars(select(RiskStateRow).order_by(RiskStateRow.scope_key))
            return [_scope_state(row) for row in rows]

    async def save_risk_state(self, state: ScopeState) -> None:
        """Insert or replace the scope's row."""
        values = _columns(state, updated_at=_now())
        statement = (
            self._dialect_insert(RiskStateRow)
            .values(scope_key=state.key, **values)
            .on_conflict_do_update(index_elements=[RiskStateRow.scope_key], set_=values)
        )
        async with self._transaction() as session:
            await session.execute(statement)

    # --- equity snapshots ------------------------------------------------------------------

    async def insert_equity_snapshots(self, snapshots: Iterable[EquitySnapshot]) -> None:
        rows = [_columns(snapshot) for snapshot in snapshots]
        if not rows:
            return
        async with self._transaction() as session:
            await session.execute(insert(EquitySnapshotRow), rows)

    async def list_equity_snapshots(
        self,
        *,
        bot_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 500,
    ) -> list[EquitySnapshot]:
        """Oldest first within the window; ``bot_id`` None gives the account's curve."""
        _check_limit(limit)
        filters: list[ColumnElement[bool]] = [
            EquitySnapshotRow.bot_id.is_(None) if bot_id is None else EquitySnapshotRow.bot_id == bot_id
        ]
        if since is not None:
            filters.append(EquitySnapshotRow.taken_at >= since)
        if until is not None:
            filters.append(EquitySnapshotRow.taken_at < until)
        # The newest ``limit`` points, returned in time order for drawing.
        statement = (
            select(EquitySnapshotRow)
            .where(*filters)
            .order_by(EquitySnapshotRow.taken_at.desc(), EquitySnapshotRow.id.desc())
            .limit(limit)
        )
        async with self._transaction() as session:
            rows = list(await session.scalars(statement))
        return [_snapshot(row) for row in reversed(rows)]


def _scope_state(row: RiskStateRow) -> ScopeState:
    return ScopeState(
        bot_id=None if row.bot_id is None else BotId(row.bot_id),
        halted=row.halted,
        halt_code=row.halt_code,
        halt_reason=row.halt_reason,
        halted_at=row.halted_at,
        kill_switch=row.kill_switch,
        kill_reason=row.kill_reason,
        kill_at=row.kill_at,
        day=row.day,
        day_start_equity=row.day_start_equity,
        equity_peak=row.equity_peak,
        last_loss_at=row.last_loss_at,
    )


def _snapshot(row: EquitySnapshotRow) -> EquitySnapshot:
    return EquitySnapshot(
        taken_at=row.taken_at,
        bot_id=None if row.bot_id is None else BotId(row.bot_id),
        equity=row.equity,
        realized_pnl=row.realized_pnl,
        unrealized_pnl=row.unrealized_pnl,
        id=row.id,
    )
