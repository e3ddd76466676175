"""Equity snapshots: the account's and each bot's curve over time."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, insert, select

from streambot.domain import BotId
from streambot.risk.state import EquitySnapshot
from streambot.store.models import EquitySnapshotRow
from streambot.store.sql import SqlRepository, check_limit, columns


class EquitySnapshotRepository(SqlRepository):
    async def insert_equity_snapshots(self, snapshots: Iterable[EquitySnapshot]) -> None:
        rows = [columns(snapshot) for snapshot in snapshots]
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
        check_limit(limit)
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


def _snapshot(row: EquitySnapshotRow) -> EquitySnapshot:
    return EquitySnapshot(
        taken_at=row.taken_at,
        bot_id=None if row.bot_id is None else BotId(row.bot_id),
        equity=row.equity,
        realized_pnl=row.realized_pnl,
        unrealized_pnl=row.unrealized_pnl,
        id=row.id,
    )
