"""Fills, stored once per trade_id: a bot's position is the sum of its fills."""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from streambot.domain import Fill, Side
from streambot.store.models import FillRow
from streambot.store.orders import OrderNotFound
from streambot.store.sql import SqlRepository, columns


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


class FillRepository(SqlRepository):
    async def insert_fill(self, fill: Fill, *, bot_id: int, client_order_id: str) -> bool:
        """Store the fill; False if its trade_id was already stored (fills arrive more than once)."""
        statement = (
            self._dialect_insert(FillRow)
            .values(columns(fill, client_order_id=client_order_id, bot_id=bot_id))
            .on_conflict_do_nothing(index_elements=[FillRow.trade_id])
            .returning(FillRow.trade_id)
        )
        try:
            async with self._transaction() as session:
                return (await session.scalars(statement)).one_or_none() is not None
        except IntegrityError as exc:
            # The duplicate trade_id is absorbed above, so what is left is the foreign key.
            raise OrderNotFound(client_order_id) from exc

    async def net_base_by_product(self) -> dict[str, Decimal]:
        """Per product, the base bought minus the base sold over every stored fill (deleted bots'
        too): what the bots' trading moved the account's holdings by. Summed here, not in SQL:
        SQLite keeps money as text."""
        statement = select(FillRow.product_id, FillRow.side, FillRow.size)
        totals: dict[str, Decimal] = {}
        async with self._transaction() as session:
            for product_id, side, size in (await session.execute(statement)).all():
                signed = size if side == Side.BUY.value else -size
                totals[product_id] = totals.get(product_id, Decimal(0)) + signed
        return totals

    async def known_trade_ids(self, trade_ids: Collection[str]) -> set[str]:
        """Which of these trade ids are stored."""
        if not trade_ids:
            return set()
        statement = select(FillRow.trade_id).where(FillRow.trade_id.in_(list(trade_ids)))
        async with self._transaction() as session:
            return set(await session.scalars(statement))

    async def fills_for_bot(self, bot_id: int) -> list[Fill]:
        """Every fill of the bot, oldest first: replaying them rebuilds its position."""
        statement = (
            select(FillRow).where(FillRow.bot_id == bot_id).order_by(FillRow.trade_time, FillRow.trade_id)
        )
        async with self._transaction() as session:
            rows = await session.scalars(statement)
            return [_fill(row) for row in rows]
