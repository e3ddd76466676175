"""The bots: their stored records (the manager keeps the running ones in memory)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from streambot.domain import BotId, BotRecord, BotState
from streambot.store.models import BotRow
from streambot.store.sql import SqlRepository, check_changes

_BOT_CHANGES = frozenset({"name", "params", "budget", "state", "error_reason", "streaming"})


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


class BotRepository(SqlRepository):
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
        check_changes(changes, _BOT_CHANGES, "bot")
        if "state" in changes:
            changes["state"] = BotState(changes["state"]).value
        if not changes:
            return await self.get_bot(bot_id)
        statement = (
            update(BotRow)
            .where(BotRow.id == bot_id)
            .values(**changes, updated_at=self._clock.now())
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
