"""Trades: one per order that filled, with every amount; the trades list pages them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError

from streambot.domain import BotId, ClientOrderId, OrderStatus, Side, Trade
from streambot.store.models import TradeRow
from streambot.store.orders import OrderNotFound
from streambot.store.sql import SqlRepository, check_limit, columns

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


class TradeRepository(SqlRepository):
    async def upsert_trade(self, trade: Trade) -> Trade:
        """Insert the trade, or update the one with the same client_order_id; returned with its id.

        A trade's size never goes down, as its order's filled size never does: an update to a
        smaller ``base_size`` than the stored one is from an older read of the exchange (two
        settlements of the order, the older one last) and changes nothing; the stored trade is
        returned.
        """
        values = columns(trade)
        insert = self._dialect_insert(TradeRow).values(**values)
        statement = insert.on_conflict_do_update(
            index_elements=[TradeRow.client_order_id],
            set_={name: values[name] for name in _TRADE_CHANGES},
            # Evaluated only when the trade is stored already: a first booking pays nothing for it.
            where=self._at_most(TradeRow.base_size, insert.excluded.base_size),
        ).returning(TradeRow)
        try:
            async with self._transaction() as session:
                row = (await session.scalars(statement)).one_or_none()
                if row is None:  # the stored trade is ahead of this one: kept
                    row = (
                        await session.scalars(
                            select(TradeRow).where(TradeRow.client_order_id == trade.client_order_id)
                        )
                    ).one()
                return _trade(row)
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
        check_limit(limit)
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
